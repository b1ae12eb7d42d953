"""Listings of the administrative tree: an area's children, and areas by level, parent or name."""

from __future__ import annotations

from db.area import Area
from resolvers.listing import Listing, ListingQuery, register_listing


def _children(q: ListingQuery):
    return [Area.parent_code == q.parent]


def _areas(q: ListingQuery):
    level, parent_code, search = q.filters
    conds = []
    if level:
        conds.append(Area.level == level)
    if parent_code:
        conds.append(Area.parent_code == parent_code)
    if search:
        conds.append(Area.name.contains(search, autoescape=True))
    return conds


# ORM rows: an area's ``area_code`` (what the masking of the grid worker's contact reads) is
# a property of the class, not a column.
CHILDREN = register_listing(Listing("children", Area, ("code",), under_area=False, where=_children, plain_rows=False))
AREAS = register_listing(Listing("areas", Area, ("code",), under_area=False, where=_areas, plain_rows=False))
