"""Per-operation DataLoaders: every relation and nested page loads in batches.

A nested query over a city (communities -> grids -> households -> residents) asks for
hundreds of parents' children; each loader collects the keys of one level and answers
them with one statement (a ``WHERE key IN (...)``, or a UNION ALL of keyset pages), so
the number of statements depends on the depth of the query, not on the number of rows.
Every statement still goes through the session's scope gate (``authz.gate``).
"""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Hashable

from sqlalchemy import Integer, String, bindparam, func, literal, select, union_all
from strawberry.dataloader import DataLoader

from authz.scope import in_subtree, subtree_bounds
from db.area import Area
from db.registration import resource_of
from db.registry import Building, Household, Resident
from db.stats import GridStats
from resolvers.filters import ResidentFilter
from resolvers.pagination import Page, PageArgs, count_many, fetch_pages


@dataclass(frozen=True)
class ListKey:
    """One listing asked for by a resolver: which kind, under which parent, how filtered."""

    kind: str  # children | areas | buildings | households | residents
    parent: str | None
    filters: Hashable = None


#: Each listing's table and order (unique per row; registry lists follow their index).
LIST_MODEL: dict[str, tuple[type, tuple[str, ...]]] = {
    "children": (Area, ("code",)),
    "areas": (Area, ("code",)),
    "buildings": (Building, ("area_code", "id")),
    "households": (Household, ("area_code", "id")),
    "residents": (Resident, ("area_code", "id")),
}


@functools.lru_cache(maxsize=256)
def _stats_statement(n: int):
    """The sums of ``n`` subtrees in one statement, built once per ``n`` (bounds filled per call)."""
    parts = [
        select(literal(i, Integer).label("batch_no"),
               func.coalesce(func.sum(GridStats.buildings), 0).label("buildings"),
               func.coalesce(func.sum(GridStats.households), 0).label("households"),
               func.coalesce(func.sum(GridStats.residents), 0).label("residents"),
               func.coalesce(func.sum(GridStats.floating_residents), 0).label("floating"))
        .where(GridStats.area_code >= bindparam(f"low{i}", type_=String, literal_execute=True),
               GridStats.area_code < bindparam(f"high{i}", type_=String, literal_execute=True))
        for i in range(n)
    ]
    return parts[0] if n == 1 else union_all(*parts)


class Loaders:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.area = DataLoader(self._load_areas)
        self.building = DataLoader(self._by_id(Building))
        self.household = DataLoader(self._by_id(Household))
        self.resident = DataLoader(self._by_id(Resident))
        self.members = DataLoader(self._load_members)
        self.page = DataLoader(self._load_pages)
        self.count = DataLoader(self._load_counts)
        self.stats = DataLoader(self._load_stats)

    # -- by key ---------------------------------------------------------------------
    async def _load_areas(self, codes: list[str]) -> list[Area | None]:
        rows = (await self.ctx.run(select(Area).where(Area.code.in_(codes)))).scalars().all()
        found = {a.code: a for a in rows}
        return [found.get(c) for c in codes]

    def _by_id(self, model):
        async def load(ids: list[int]):
            rows = (await self.ctx.run(select(model).where(model.id.in_(ids)))).scalars().all()
            found = {r.id: r for r in rows}
            return [found.get(i) for i in ids]

        return load

    async def _load_members(self, household_ids: list[int]) -> list[list[Resident]]:
        stmt = select(Resident).where(Resident.household_id.in_(household_ids)).order_by(Resident.id)
        grouped: dict[int, list[Resident]] = defaultdict(list)
        for r in (await self.ctx.run(stmt)).scalars().all():
            grouped[r.household_id].append(r)
        return [grouped.get(h, []) for h in household_ids]

    async def _load_stats(self, codes: list[str]) -> list[dict[str, int]]:
        self.ctx.charge(len(codes))  # one sum per area, whatever its rows
        params = {}
        for i, code in enumerate(codes):
            params[f"low{i}"], params[f"high{i}"] = subtree_bounds(code, "code")  # inlined, as every range
        result = await self.ctx.run(_stats_statement(len(codes)), params)
        found = {row.batch_no: row._mapping for row in result.all()}
        return [dict(found[i]) for i in range(len(codes))]

    # -- listings -------------------------------------------------------------------
    def base(self, key: ListKey):
        model, _ = LIST_MODEL[key.kind]
        if key.kind == "children":
            return select(Area).where(Area.parent_code == key.parent)
        if key.kind == "areas":
            level, parent_code, search = key.filters
            stmt = select(Area)
            if level:
                stmt = stmt.where(Area.level == level)
            if parent_code:
                stmt = stmt.where(Area.parent_code == parent_code)
            if search:
                stmt = stmt.where(Area.name.contains(search, autoescape=True))
            return stmt
        stmt = select(model)
        if not self._scope_within(model, key.parent):
            stmt = stmt.where(in_subtree(model.area_code, key.parent, "code"))
        if key.kind == "residents" and key.filters is not None:
            flt: ResidentFilter = key.filters
            stmt = stmt.where(*flt.conditions(self.ctx.scope, date.today()))
        return stmt

    def _scope_within(self, model, parent: str) -> bool:
        """Whether the gate's own range already keeps the rows inside ``parent``'s subtree.

        A city officer listing the city, a grid worker their grid: the scope is the area
        itself (or lies below it), and the listing's range was a second copy of the gate's,
        which the planner had to combine on every count of millions of rows.
        """
        prefixes = self.ctx.scope.prefixes(resource_of(model), "read")
        return bool(prefixes) and all(p.startswith(parent) for p in prefixes)

    async def _load_pages(self, keys: list[tuple[ListKey, PageArgs]]) -> list[Page]:
        # A page is a read even when empty: ``first: 0`` pages used to cost nothing.
        self.ctx.charge(sum(max(args.size, 1) for _key, args in keys))
        groups: dict[tuple[str, Hashable, PageArgs], list[int]] = defaultdict(list)
        for i, (lk, args) in enumerate(keys):
            groups[(lk.kind, lk.filters, args)].append(i)
        out: list[Any] = [None] * len(keys)
        for (kind, _filters, args), idxs in groups.items():
            model, key_names = LIST_MODEL[kind]
            pages = await fetch_pages(self.ctx.run, model, key_names, [self.base(keys[i][0]) for i in idxs], args)
            for i, page in zip(idxs, pages):
                out[i] = page
        return out

    async def _load_counts(self, keys: list[ListKey]) -> list[int]:
        self.ctx.charge(len(keys))  # a totalCount is a count over the whole list
        groups: dict[tuple[str, Hashable], list[int]] = defaultdict(list)
        for i, lk in enumerate(keys):
            groups[(lk.kind, lk.filters)].append(i)
        out = [0] * len(keys)
        for idxs in groups.values():
            counts = await count_many(self.ctx.run, [self.base(keys[i]) for i in idxs])
            for i, n in zip(idxs, counts):
                out[i] = n
        return out
