"""GraphQL type of the administrative tree: one ``Area`` for all six levels.

Its own fields are the tree's; the lists of records under an area (buildings, residents,
and each workflow's) are added by their domains (``schema.extend``), so this module
imports none of them.
"""

from __future__ import annotations

from typing import Annotated

import strawberry
from strawberry import relay

from authz.role_manager import is_area_code
from db import area as rows
from db.codes import Level, ancestor_codes
from resolvers import area as listings
from schema.extend import mixins
from schema.paging import listing_field
from schema.personal import personal_field
from schema.scalars import AreaLevel


@strawberry.type(name="Area", description="An area of the administrative tree: province (省), city (市), district (区/县), street (街道/乡镇), community (社区/村) or grid (网格).")
class AreaType(*mixins("Area"), relay.Node):
    key: relay.NodeID[str]
    code: str = strawberry.field(description="Statistical division code (统计用区划代码), significant digits: 2, 4, 6, 9, 12 or 15.")
    row: strawberry.Private[rows.Area]
    level: AreaLevel = strawberry.field(description="Level in the tree: province (省) down to grid (网格).")
    name: str = strawberry.field(description="Official name, e.g. 道里区, 乡政社区第一网格.")
    parent_code: str | None = strawberry.field(description="Code of the parent area (上级); null for a province.")

    @classmethod
    def from_row(cls, r: rows.Area) -> "AreaType":
        return cls(key=r.code, code=r.code, row=r, level=Level(r.level), name=r.name, parent_code=r.parent_code)

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        # Only well-formed codes reach the database: ``Area:\x00`` failed on PostgreSQL
        # (INTERNAL_SERVER_ERROR); a malformed code answers null like an unknown one.
        codes = [c if is_area_code(c) else None for c in node_ids]
        info.context.charge(len(codes))  # nodes(ids:) counts against the query's budget
        found = iter(await info.context.loaders.area.load_many([c for c in codes if c is not None]))
        rows = [next(found) if c is not None else None for c in codes]
        return [cls.from_row(a) if a else None for a in rows]

    grid_worker_name = personal_field(rows.Area.grid_worker_name, "Grids only: the grid worker (网格员) responsible; masked unless you may read personal data here.",
                                      also_readers=("resident",))

    grid_worker_phone = personal_field(rows.Area.grid_worker_phone, "Grids only: the grid worker's phone; masked unless you may read personal data here.",
                                       also_readers=("resident",))

    @strawberry.field(description="The parent area (上级), null for a province.")
    async def parent(self, info: strawberry.Info) -> "AreaType | None":
        if not self.parent_code:
            return None
        a = await info.context.loaders.area.load(self.parent_code)
        return AreaType.from_row(a) if a else None

    @strawberry.field(description="All areas above this one, from the province down to the parent.")
    async def ancestors(self, info: strawberry.Info) -> list["AreaType"]:
        found = await info.context.loaders.area.load_many(ancestor_codes(self.code))
        return [AreaType.from_row(a) for a in found if a]

    children = listing_field(listings.CHILDREN, Annotated["AreaType", strawberry.lazy("schema.area")],
                             "The areas directly below (下级), ordered by code.",
                             to_node=lambda row: AreaType.from_row(row))
