"""Which tables are place-bound, under which policy resource: declared once, on the table.

Every table that holds an ``area_code`` is a record of some place, and the request gate
(``authz.gate``) must filter it by the reader's scope. Before this registry, a new table
had to be added by hand to the gate's table list, the enforcer's resource list and the
writers' label map; forgetting the first left its rows readable by everyone. Now a table
says what it is where it is defined::

    @place_bound("resident")
    class Resident(Stamped, table=True): ...

    @place_bound("aggregate", bookkeeping="counters moved after the user's write passed the gate")
    class GridStats(SQLModel, table=True): ...

and the gate, the enforcer, audit labels and the generated scope tests read it from
here. ``unregistered(metadata)`` lists the tables that carry an area code and are not
declared; a test runs it over the whole metadata, so an undeclared table fails the
suite instead of leaking.

This module imports no domain: domains import it.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa


@dataclass(frozen=True)
class PlaceBound:
    """How one table is scoped: its policy resource and the column holding its area code."""

    model: type
    resource: str
    column: str = "area_code"
    #: Why rows of this table are written on the user's behalf without a write check of
    #: their own (None: every write is checked at the row's area, like a resident's).
    bookkeeping: str | None = None
    #: Rows are also read from below: a reader who may read the resource anywhere under the
    #: row's area sees the row (a city's survey campaign, read by every grid worker it
    #: reaches), as every reader sees the areas above their own. Writes are checked at the
    #: row's area all the same. Only for rows that name no one (``personal`` is refused).
    seen_from_below: bool = False


#: Every declared place-bound table, in declaration order (the gate keeps that order).
_TABLES: dict[type, PlaceBound] = {}

#: Resources that are not tables with an area code, with what they govern. The enforcer
#: accepts these in ``policies.csv`` besides the tables' resources.
OTHER_RESOURCES: dict[str, str] = {
    "user": "staff accounts; visible where the user holds a grant (resolvers.accounts.users.visible_users)",
    "policy": "policies.csv itself (reloadPolicies)",
    "finding": "supervision findings (督查); rules kept for the supervision workflow",
}


def place_bound(resource: str, *, column: str = "area_code", bookkeeping: str | None = None,
                seen_from_below: bool = False):
    """Class decorator: declare ``model``'s policy resource (and, for bookkeeping, why).

    ``bookkeeping`` must say why the API may write such rows without checking the writer's
    right at their area: a counter moves because a checked write happened, an audit row
    records one. Reads are gated all the same. ``seen_from_below``: see ``PlaceBound``.
    """
    if bookkeeping is not None and not bookkeeping.strip():
        raise ValueError("bookkeeping tables must say why they are written unchecked")

    def register(model: type) -> type:
        table = getattr(model, "__table__", None)
        if table is None or column not in table.c:
            raise TypeError(f"{model.__name__} has no column {column!r} to scope by")
        if seen_from_below and personal_columns(model):
            raise TypeError(f"{model.__name__} holds personal columns: it cannot be read from below its area")
        _TABLES[model] = PlaceBound(model, resource, column, bookkeeping, seen_from_below)
        return model

    return register


def declared(model: type) -> PlaceBound | None:
    """The declaration of ``model`` (or of the table class it inherits), if any."""
    for cls in getattr(model, "__mro__", (model,)):
        found = _TABLES.get(cls)
        if found is not None:
            return found
    return None


def place_bound_tables() -> tuple[PlaceBound, ...]:
    """Every declaration, in declaration order."""
    return tuple(_TABLES.values())


def resource_of(model: type) -> str:
    """The policy resource of a declared table; ``KeyError`` for an undeclared one."""
    found = declared(model)
    if found is None:
        raise KeyError(f"{model.__name__} is not a declared place-bound table")
    return found.resource


def table_resources() -> frozenset[str]:
    """The resources that govern tables."""
    return frozenset(t.resource for t in _TABLES.values())


def unregistered(metadata: sa.MetaData) -> list[str]:
    """Tables of ``metadata`` with an ``area_code`` column that no declaration covers."""
    covered = {t.model.__table__.name for t in _TABLES.values() if t.model.__table__.metadata is metadata}
    return sorted(name for name, table in metadata.tables.items() if "area_code" in table.c and name not in covered)


def forget(model: type) -> None:
    """Drop a declaration: for tests that declare a throwaway table and must leave none behind."""
    _TABLES.pop(model, None)


#: How a personal column is shown to a reader without ``read_pii`` (``authz.masking.MASKS``):
#: name 张**, id_number 230102********123X, phone 138****0000, address up to the street,
#: withheld a fixed ****, hidden null.
PERSONAL_KINDS = frozenset({"name", "id_number", "phone", "address", "withheld", "hidden"})


def personal(kind: str) -> dict:
    """Column keyword arguments declaring a personal column and how it is masked::

        name: str = Field(sa_type=sa.String(50), sa_column_kwargs=personal("name"))

    The GraphQL field (``schema.personal``), the audit trail's ``detail`` masking and the
    generated masking tests all read this one declaration.
    """
    if kind not in PERSONAL_KINDS:
        raise ValueError(f"unknown personal kind {kind!r}; one of {sorted(PERSONAL_KINDS)}")
    return {"info": {"personal": kind}}


def personal_columns(model: type) -> dict[str, str]:
    """``{column name: mask kind}`` of ``model``'s personal columns."""
    return {c.name: c.info["personal"] for c in model.__table__.columns if "personal" in c.info}
