"""Search filters for registry listings, including the rule on probing personal data.

A user who sees names and numbers masked could otherwise recover them by searching
("ID numbers starting 23010219900101..."). So for them a search matches an ID number or
phone only in full, and never a name; partial matching is applied only to records in
areas where the user holds ``read_pii``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import and_, false, or_

from db.errors import InvalidField
from db.registry import Resident
from db.validators import has_unstorable_chars, validate_national_id, validate_phone
from authz.scope import Scope

MAX_SEARCH = 50


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
                raise InvalidField(_camel(name), "must be between 0 and 150")
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


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(w.title() for w in rest)


def _years_ago(today: date, years: int) -> date:
    try:
        return today.replace(year=today.year - years)
    except ValueError:  # 29 February
        return today.replace(year=today.year - years, day=28)


def _search_condition(term: str, scope: Scope):
    exact = []
    try:
        exact.append(Resident.id_number == validate_national_id(term, "search"))
    except InvalidField:
        pass
    try:
        exact.append(Resident.phone == validate_phone(term, "search"))
    except InvalidField:
        pass
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    partial = or_(
        Resident.name.like(f"%{escaped}%", escape="\\"),
        Resident.id_number.like(f"{escaped}%", escape="\\"),
        Resident.phone.like(f"{escaped}%", escape="\\"),
    )
    clauses = list(exact)
    if scope.prefixes("resident", "read_pii"):
        clauses.append(and_(scope.condition(Resident.area_code, "resident", "read_pii"), partial))
    return or_(*clauses) if clauses else false()
