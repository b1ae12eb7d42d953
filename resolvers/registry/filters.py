"""Search filters for registry listings, and the rule that keeps them from probing.

A search matches names, ID numbers and phones only on records in areas where the reader
holds ``read_pii``; elsewhere it matches nothing, not even a full ID number or phone. An
exact match used to be allowed for masked readers, and it was an oracle: a masked ID
(``230102********3278``) plus the visible age leaves about 34 valid numbers, and one
request with 34 aliased ``totalCount`` searches told the real one (and so the birth date).
Masked readers who must find one person use ``lookupResident`` (``resolvers.registry.lookup``):
audited, one answer, a daily quota.

The other filters (status, population kind, age band) are on values every reader sees,
so their answers are the same whatever the hidden parts hold (``tests/registry/test_masking_noninterference.py``).
The age band is cut on ``birth_date`` exactly as ``Resident.age`` is computed, so it tells
nothing finer than the visible age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, false, or_

from authz.scope import Scope
from db.errors import InvalidField
from db.names import camel
from db.registry import Resident
from db.validators import has_unstorable_chars
from resolvers.listing import MAX_SEARCH



@dataclass(frozen=True)
class ResidentFilter:
    search: str | None = None
    status: str | None = None
    population_kind: str | None = None
    age_min: int | None = None
    age_max: int | None = None

    def validated(self) -> "ResidentFilter":
        if self.search is not None and len(self.search.strip()) > MAX_SEARCH:
            raise InvalidField("search", f"at most {MAX_SEARCH} characters")
        if self.search is not None and has_unstorable_chars(self.search):
            # NUL failed on PostgreSQL (internal error) and cut SQLite's LIKE pattern to "%".
            raise InvalidField("search", "must not contain control characters")
        for name in ("age_min", "age_max"):
            v = getattr(self, name)
            if v is not None and not 0 <= v <= 150:
                raise InvalidField(camel(name), "must be between 0 and 150")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise InvalidField("ageMin", "must not be greater than ageMax")
        return self

    def conditions(self, scope: Scope, today: date) -> list:
        conds = []
        if self.status:
            conds.append(Resident.status == self.status)
        if self.population_kind:
            conds.append(Resident.population_kind == self.population_kind)
        if self.age_min is not None:  # born on or before today minus age_min years
            conds.append(Resident.birth_date <= _years_ago(today, self.age_min))
        if self.age_max is not None:  # younger than age_max + 1 years
            conds.append(Resident.birth_date > _years_ago(today, self.age_max + 1))
        if self.search and self.search.strip():
            conds.append(_search_condition(self.search.strip(), scope))
        return conds


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _search_condition(term: str, scope: Scope):
    """Name contains, or ID number / phone starts with, ``term``: only where ``read_pii`` holds."""
    if not scope.prefixes("resident", "read_pii"):
        return false()
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    partial = or_(
        Resident.name.like(f"%{escaped}%", escape="\\"),
        Resident.id_number.like(f"{escaped}%", escape="\\"),
        Resident.phone.like(f"{escaped}%", escape="\\"),
    )
    return and_(scope.condition(Resident.area_code, "resident", "read_pii"), partial)
