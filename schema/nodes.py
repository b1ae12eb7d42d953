"""Relay nodes over rows of a place-bound table: found by id through the gate.

Every record type of every domain answers ``node(id:)`` the same way: the ids decoded,
charged to the query's budget, loaded in one batch by the request's loader (so a row
outside the viewer's scope is simply missing, and answers null), and an id that cannot be
a database id (``Resident:abc``, ``Resident:99999999999999999999``) answers null like a
missing row instead of reaching ``int()`` or the driver. A type says which table it wraps
(``row_model``) and gets this ``resolve_nodes``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, ClassVar, Iterable

import strawberry
from strawberry import relay

from db.validators import parse_db_id
from schema.direct import row_field

if TYPE_CHECKING:
    from schema.area import AreaType


class RowNode(relay.Node):
    """Base of a record type: ``row_model`` is its table; ``from_row`` builds it."""

    row_model: ClassVar[type]

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids: Iterable[str], required: bool = False):
        rows = await load_rows(info, cls.row_model, node_ids)
        return [cls.from_row(r) if r else None for r in rows]


async def load_rows(info, model, node_ids: Iterable[str]) -> list:
    """Rows of ``model`` for node ids, in order; None where there is none (or none to see)."""
    node_ids = list(node_ids)
    info.context.charge(len(node_ids))  # nodes(ids:) counts against the query's budget
    ids = [parse_db_id(i) for i in node_ids]
    found = iter(await info.context.loaders.of(model).load_many([i for i in ids if i is not None]))
    return [None if i is None else next(found) for i in ids]


def version_field(model):
    """``version``: what a client sends back to change the record (optimistic locking)."""
    return row_field(model.version, int, "Version for optimistic locking: send it back when updating.")


def grid_field(description: str):
    """``grid``: the grid (an ``Area``) a record lies in, through the request's loader."""

    async def grid(self, info: strawberry.Info) -> Annotated["AreaType", strawberry.lazy("schema.area")] | None:
        from schema.area import AreaType

        found = await info.context.loaders.area.load(self.area_code)
        return AreaType.from_row(found) if found else None

    return strawberry.field(resolver=grid, description=description)
