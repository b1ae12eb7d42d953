"""Registered listings: each domain says once what a list of its records is.

A listing is a table, an order that is unique per row and matches an index (the registry's
``(area_code, id)``; a high-volume log's ``(area_code, at, id)``), whether its rows are
listed under an area (in the parent area's subtree), and the extra conditions its filters
add. ``resolvers.loaders`` pages and counts every registered listing the same way
(batched keyset pages, one count statement), and ``schema.paging`` builds the connection
field; there is no per-domain branch left in either.

This module imports no domain: domains register here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Hashable, Iterable

from sqlalchemy import or_

from authz.scope import in_subtree
from db.codes import ancestor_codes, validate_code

#: Longest free-text search a listing filter accepts (a longer LIKE pattern failed SQLite).
MAX_SEARCH = 50


@dataclass(frozen=True)
class ListingQuery:
    """What a listing's conditions may depend on: who asks, under what, filtered how, when."""

    scope: Any
    parent: str | None
    filters: Hashable
    today: date
    #: The moment of the request and the deployment's settings (reading windows, zone).
    now: datetime | None = None
    settings: Any = None


@dataclass(frozen=True)
class Listing:
    name: str
    model: type
    #: Column names, unique per row together, in the order of an index of ``model``.
    order: tuple[str, ...]
    #: True: the parent is an area code and rows lie in its subtree (by ``area_code``).
    under_area: bool = True
    #: Extra conditions for one query (filters, a parent that is not an area...).
    where: Callable[[ListingQuery], Iterable] | None = None
    #: A single page comes back as plain rows, not ORM objects (``resolvers.pagination``):
    #: the listed type must read nothing but columns from its row.
    plain_rows: bool = True


def reaching(column, parent: str):
    """Rows held at the area ``parent``, on the path above it, or inside it: the listing of
    records read from below (``seen_from_below``: a city's campaign listed for a grid, a
    district's sites for a community), as an area lists what reaches it."""
    above = ancestor_codes(validate_code(parent, "code"))
    held = in_subtree(column, parent, "code")
    return or_(held, column.in_(above)) if above else held


_LISTINGS: dict[str, Listing] = {}


def register_listing(listing: Listing) -> Listing:
    """Make ``listing`` known by its name; a second listing of the same name is a mistake."""
    known = _LISTINGS.get(listing.name)
    if known is not None and known != listing:
        raise ValueError(f"a listing named {listing.name!r} is already registered")
    missing = [c for c in listing.order if not hasattr(listing.model, c)]
    if missing:
        raise ValueError(f"listing {listing.name!r}: {listing.model.__name__} has no column {missing}")
    _LISTINGS[listing.name] = listing
    return listing


def listing_named(name: str) -> Listing:
    try:
        return _LISTINGS[name]
    except KeyError:
        raise KeyError(f"no listing named {name!r} is registered") from None


def registered_listings() -> tuple[Listing, ...]:
    return tuple(_LISTINGS.values())
