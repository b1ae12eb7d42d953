"""GraphQL type of the administrative tree: one ``Area`` for all six levels."""

from __future__ import annotations

import strawberry
from strawberry import relay

from authz.masking import mask_name, mask_phone
from authz.role_manager import is_area_code
from db import area as rows
from db.codes import Level, ancestor_codes
from db.registry import PopulationKind, ResidentStatus
from resolvers.filters import ResidentFilter
from resolvers.loaders import ListKey
from schema.connection import Connection
from schema.paging import connection, page_args
from schema.registry import BuildingType, HouseholdType, ResidentType
from schema.scalars import AreaLevel, PopulationKindEnum, ResidentStatusEnum


@strawberry.type(description="Counts for an area, summed from its grids' counters (汇总).")
class AreaStats:
    buildings: int = strawberry.field(description="Buildings (楼栋) registered.")
    households: int = strawberry.field(description="Households (户) registered.")
    residents: int = strawberry.field(description="Residents (居民) currently living here (status active).")
    floating_residents: int = strawberry.field(description="Floating population (流动人口).")


@strawberry.input(description="Filters for a list of residents.")
class ResidentFilterInput:
    search: str | None = strawberry.field(default=None, description="Name, or the start of an ID number or phone. Matches only where you may read personal data; elsewhere nothing matches (to find one person there, use lookupResident).")
    status: ResidentStatusEnum | None = strawberry.field(default=None, description="Only residents with this status.")
    population_kind: PopulationKindEnum | None = strawberry.field(default=None, description="Only registered (户籍) or only floating (流动) residents.")
    age_min: int | None = strawberry.field(default=None, description="Age band: at least this old.")
    age_max: int | None = strawberry.field(default=None, description="Age band: at most this old.")

    def to_filter(self) -> ResidentFilter:
        return ResidentFilter(
            search=self.search, status=ResidentStatus(self.status).value if self.status else None,
            population_kind=PopulationKind(self.population_kind).value if self.population_kind else None,
            age_min=self.age_min, age_max=self.age_max,
        ).validated()


@strawberry.type(name="Area", description="An area of the administrative tree: province (省), city (市), district (区/县), street (街道/乡镇), community (社区/村) or grid (网格).")
class AreaType(relay.Node):
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

    @strawberry.field(description="Grids only: the grid worker (网格员) responsible; masked unless you may read personal data here.")
    def grid_worker_name(self, info: strawberry.Info) -> str | None:
        return _worker(info, self.row, self.row.grid_worker_name, mask_name)

    @strawberry.field(description="Grids only: the grid worker's phone; masked unless you may read personal data here.")
    def grid_worker_phone(self, info: strawberry.Info) -> str | None:
        return _worker(info, self.row, self.row.grid_worker_phone, mask_phone)

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

    @strawberry.field(description="The areas directly below (下级), ordered by code.")
    async def children(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                       last: int | None = None, before: str | None = None) -> Connection["AreaType"]:
        return await connection(info, ListKey("children", self.code), page_args(info, first, after, last, before), AreaType.from_row)

    @strawberry.field(description="Buildings (楼栋) anywhere in this area.")
    async def buildings(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                        last: int | None = None, before: str | None = None) -> Connection[BuildingType]:
        return await connection(info, ListKey("buildings", self.code), page_args(info, first, after, last, before), BuildingType.from_row)

    @strawberry.field(description="Households (户) anywhere in this area.")
    async def households(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                         last: int | None = None, before: str | None = None) -> Connection[HouseholdType]:
        return await connection(info, ListKey("households", self.code), page_args(info, first, after, last, before), HouseholdType.from_row)

    @strawberry.field(description="Residents (居民) anywhere in this area, filtered.")
    async def residents(self, info: strawberry.Info, filter: ResidentFilterInput | None = None,
                        first: int | None = None, after: str | None = None, last: int | None = None,
                        before: str | None = None) -> Connection[ResidentType]:
        flt = filter.to_filter() if filter else ResidentFilter()
        return await connection(info, ListKey("residents", self.code, flt), page_args(info, first, after, last, before), ResidentType.from_row)

    @strawberry.field(description="Counts for the whole area (汇总); null unless you may read aggregates for all of it.")
    async def stats(self, info: strawberry.Info) -> AreaStats | None:
        if not info.context.may("aggregate", "read", self.code):
            return None
        s = await info.context.loaders.stats.load(self.code)
        return AreaStats(buildings=s["buildings"], households=s["households"], residents=s["residents"],
                         floating_residents=s["floating"])


def _worker(info, area: rows.Area, value, mask):
    """A grid worker's contact: clear (and audited) where the viewer may read personal data."""
    if value is None:
        return None
    ctx = info.context
    if ctx.may("area", "read_pii", area.code) or ctx.may("resident", "read_pii", area.code):
        ctx.note_clear_read("area", area.code, area.code)
        return value
    return mask(value)
