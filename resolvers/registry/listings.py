"""Listings of the population registry: buildings, households and residents under an area.

Ordered by ``(area_code, id)``, the order of each table's index, so that a district's
first page reads 51 index entries instead of walking the primary key past every row
registered before the district's (``bench/``: 50-76 ms became about 1 ms).
"""

from __future__ import annotations

from db.registry import Building, Household, Resident
from resolvers.listing import Listing, ListingQuery, register_listing
from resolvers.registry.filters import ResidentFilter

ORDER = ("area_code", "id")


def _resident_filters(q: ListingQuery):
    flt: ResidentFilter | None = q.filters
    return flt.conditions(q.scope, q.today) if flt is not None else []


BUILDINGS = register_listing(Listing("buildings", Building, ORDER))
HOUSEHOLDS = register_listing(Listing("households", Household, ORDER))
RESIDENTS = register_listing(Listing("residents", Resident, ORDER, where=_resident_filters))
