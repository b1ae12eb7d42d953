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
from db.base import utcnow
from db.counters import local_day
from db.registration import resource_of
from db.counters import of_part, part_tables
from db.stats import GridDayStats, GridStats
from resolvers.listing import ListingQuery, listing_named
from resolvers.pagination import Page, PageArgs, count_many, fetch_pages


@dataclass(frozen=True)
class ListKey:
    """One listing asked for by a resolver: which registered listing, under which parent,
    how filtered (``resolvers.listing``)."""

    kind: str
    parent: str | None
    filters: Hashable = None


@functools.lru_cache(maxsize=256)
def _stats_statement(n: int):
    """The sums of ``n`` subtrees in one statement, built once per ``n`` (bounds filled per call).

    Every total counter of every domain (each a column of ``grid_stats``) is summed at once:
    the registry's figures, the ledgers' and the next workflows' come from one statement per
    batch of areas, whichever of them the query asks for.
    """
    counters = [c for c in GridStats.__table__.columns if c.name != "area_code"]
    parts = [
        select(literal(i, Integer).label("batch_no"),
               *(func.coalesce(func.sum(c), 0).label(c.name) for c in counters))
        .where(GridStats.area_code >= bindparam(f"low{i}", type_=String, literal_execute=True),
               GridStats.area_code < bindparam(f"high{i}", type_=String, literal_execute=True))
        for i in range(n)
    ]
    return parts[0] if n == 1 else union_all(*parts)


@functools.lru_cache(maxsize=64)
def _part_statement(per: str, names: tuple[str, ...]):
    """The sums of part ``per``'s counters ``names`` in one subtree, built once (the part
    and the bounds filled per call, the bounds inlined as every range): building the select
    and its cache key anew on every call was a tenth of a campaign progress request's CPU."""
    table = part_tables()[per]
    return select(*(func.coalesce(func.sum(getattr(table, n)), 0).label(n) for n in names)).where(
        getattr(table, per) == bindparam("part"),
        table.area_code >= bindparam("low", type_=String, literal_execute=True),
        table.area_code < bindparam("high", type_=String, literal_execute=True))


class Loaders:
    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.area = DataLoader(self._load_areas)
        self.page = DataLoader(self._load_pages)
        self.count = DataLoader(self._load_counts)
        self.stats = DataLoader(self._load_stats)
        self._by_id: dict[type, DataLoader] = {}
        self._grouped: dict[tuple, DataLoader] = {}
        self._parts: dict[str, DataLoader] = {}
        self._days: dict[tuple[str, ...], DataLoader] = {}

    def of(self, model) -> DataLoader:
        """Rows of ``model`` by id, batched (a row outside the scope loads as None)."""
        loader = self._by_id.get(model)
        if loader is None:
            loader = self._by_id[model] = DataLoader(self._rows_by_id(model))
        return loader

    def grouped(self, column, order_by) -> DataLoader:
        """Rows whose ``column`` equals each key (a household's members), in ``order_by``."""
        key = (column, order_by)
        loader = self._grouped.get(key)
        if loader is None:
            loader = self._grouped[key] = DataLoader(self._rows_grouped(column, order_by))
        return loader

    def part_stats(self, per: str) -> DataLoader:
        """The sums of part ``per``'s counters (``db.counters.counted_per``) by ``(part, area
        code)``: a campaign's coverage of a city is one range of its table's key."""
        loader = self._parts.get(per)
        if loader is None:
            loader = self._parts[per] = DataLoader(functools.partial(self._load_part_stats, per))
        return loader

    def day_stats(self, names: list[str]) -> DataLoader:
        """Per-day counters ``names`` by ``(area code, from, to)``: ``{(day, counter): n}``
        summed over the area's grids, one statement per key (the counter-leading index)."""
        key = tuple(names)
        loader = self._days.get(key)
        if loader is None:
            loader = self._days[key] = DataLoader(functools.partial(self._load_day_stats, key))
        return loader

    # -- by key ---------------------------------------------------------------------
    async def _load_areas(self, codes: list[str]) -> list[Area | None]:
        rows = (await self.ctx.run(select(Area).where(Area.code.in_(codes)))).scalars().all()
        found = {a.code: a for a in rows}
        return [found.get(c) for c in codes]

    def _rows_by_id(self, model):
        async def load(ids: list[int]):
            rows = (await self.ctx.run(select(model).where(model.id.in_(ids)))).scalars().all()
            found = {r.id: r for r in rows}
            return [found.get(i) for i in ids]

        return load

    def _rows_grouped(self, column, order_by):
        async def load(keys: list) -> list[list]:
            model = column.class_
            stmt = select(model).where(column.in_(keys)).order_by(order_by)
            grouped: dict = defaultdict(list)
            for r in (await self.ctx.run(stmt)).scalars().all():
                grouped[getattr(r, column.key)].append(r)
            return [grouped.get(k, []) for k in keys]

        return load

    async def _load_stats(self, codes: list[str]) -> list[dict[str, int]]:
        self.ctx.charge(len(codes))  # one sum per area, whatever its rows
        params = {}
        for i, code in enumerate(codes):
            params[f"low{i}"], params[f"high{i}"] = subtree_bounds(code, "code")  # inlined, as every range
        result = await self.ctx.run(_stats_statement(len(codes)), params)
        found = {row.batch_no: row._mapping for row in result.all()}
        return [dict(found[i]) for i in range(len(codes))]

    async def _load_part_stats(self, per: str, keys: list[tuple[Any, str]]) -> list[dict[str, int]]:
        self.ctx.charge(len(keys))
        stmt = _part_statement(per, tuple(c.name for c in of_part(per)))
        out = []
        for part, code in keys:  # a query asks for one campaign's progress in a few areas
            low, high = subtree_bounds(code, "code")
            out.append(dict((await self.ctx.run(stmt, {"part": part, "low": low, "high": high})).one()._mapping))
        return out

    async def _load_day_stats(self, names: tuple[str, ...], keys: list[tuple[str, date, date]]) -> list[dict]:
        self.ctx.charge(len(keys))
        out = []
        for code, first, last in keys:
            stmt = (select(GridDayStats.day, GridDayStats.counter, func.sum(GridDayStats.n))
                    .where(GridDayStats.counter.in_(names), in_subtree(GridDayStats.area_code, code, "code"),
                           GridDayStats.day >= first, GridDayStats.day <= last)
                    .group_by(GridDayStats.day, GridDayStats.counter))
            out.append({(day, name): int(n) for day, name, n in (await self.ctx.run(stmt)).all()})
        return out

    # -- listings -------------------------------------------------------------------
    def base(self, key: ListKey):
        """The registered listing's statement for one parent and filter, before paging."""
        listing = listing_named(key.kind)
        model = listing.model
        stmt = select(model)
        if listing.under_area and not self._scope_within(model, key.parent):
            stmt = stmt.where(in_subtree(model.area_code, key.parent, "code"))
        if listing.where is not None:
            stmt = stmt.where(*listing.where(ListingQuery(self.ctx.scope, key.parent, key.filters,
                                                          local_day(self.ctx.settings.timezone), utcnow(),
                                                          self.ctx.settings)))
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
            listing = listing_named(kind)
            pages = await fetch_pages(self.ctx.run, listing.model, listing.order, [self.base(keys[i][0]) for i in idxs],
                                      args, read_only=listing.plain_rows)
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
