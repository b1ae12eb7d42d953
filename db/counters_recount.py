"""Recount every declared counter (``db.counters``) from the rows and report where it drifted.

The counters move with every write in the same transaction, so they should never drift;
this is the nightly (or on demand) proof, ``wangge check-stats [--fix]``. It runs on a
plain, unscoped system session: it must see every row, and it writes nothing unless asked
to (``fix=True``), so a report can be read before anything is corrected.

Nothing here knows what a domain counts: each counter's declaration (model, condition,
day column) is the whole recipe. Counters of one table and one day column are recounted
together, one ``GROUP BY area_code[, day]`` with a ``SUM(CASE WHEN <condition> ...)`` per
counter, so the registry's resident totals cost one pass over the residents, not one per
counter (the hard-coded recount before this made two).

Totals are one row per grid (a few thousand) and are recounted in one pass. Per-day counts
are walked in slices of ``SLICE_GRIDS`` grids (consecutive ranges of area codes that
together cover every code, so no row falls between two slices): a province's years of
per-day counts, millions of (grid, day) pairs, are never held in memory at once. Each slice
is a range of the tables' ``(area_code, id)`` index.

The totals of a part (a survey campaign's coverage, ``per=`` in ``db.counters``) are
recounted per part table in one pass each: one ``GROUP BY area_code, <part>`` per model.

Run ``--fix`` while nobody writes: a write that commits between a slice's recount and its
fix is overwritten by the recounted value (and found by the next check).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import and_, case, delete, func, select
from sqlalchemy.orm import Session

from db import counters as kit
from db.codes import Level
from db.stats import GridDayStats, GridStats

SLICE_GRIDS = 1000
#: Rows per statement when fixing per-day counters (4 parameters each; SQLite allows 999).
FIX_BATCH = 200

#: ``(grid, day)``: a grid's totals have day None.
Key = tuple[str, date | None]


@dataclass(frozen=True)
class Drift:
    """One counter of one grid (on one day, for per-day counters) that disagrees with the rows."""

    area_code: str
    counter: str
    stored: int | None  # None: no stored counter at all (no grid_stats row, no grid_day_stats row)
    actual: int
    day: date | None = None  # None: a total
    #: For a part's counter (``per=``): the part column and its value, e.g. ("campaign_id", 3).
    part: tuple[str, Any] | None = None

    def describe(self) -> str:
        where = self.area_code if self.day is None else f"{self.area_code} {self.day.isoformat()}"
        if self.part is not None:
            where += f" {self.part[0]}={self.part[1]}"
        return f"{where} {self.counter}: stored {self.stored}, counted {self.actual}"


def _in_range(column, low: str | None, high: str | None) -> list:
    return [c for c in (column >= low if low is not None else None, column < high if high is not None else None)
            if c is not None]


def count_from_rows(session: Session, low: str | None = None, high: str | None = None,
                    counters: tuple[kit.Counter, ...] | None = None) -> dict[Key, dict[str, int]]:
    """``{(grid, day): {counter: n}}`` recounted from the rows of grids ``low <= code < high``.

    Totals are under day None; only counters that count something appear. ``counters``:
    which (default: every declared one).
    """
    groups: dict[tuple[type, str | None], list[kit.Counter]] = defaultdict(list)
    for c in kit.declared() if counters is None else counters:
        if c.per is None:  # a part's counters are recounted per part (``_recount_part``)
            groups[(c.model, c.day)].append(c)
    actual: dict[Key, dict[str, int]] = defaultdict(dict)
    for (model, day), members in groups.items():
        keys = [model.area_code] + ([getattr(model, day)] if day else [])
        sums = [func.count() if c.where is None else func.sum(case((c.where, 1), else_=0)) for c in members]
        stmt = select(*keys, *sums).where(*_in_range(model.area_code, low, high)).group_by(*keys)
        if day:
            stmt = stmt.where(getattr(model, day).is_not(None))
        for row in session.execute(stmt):
            key = (row[0], row[1] if day else None)
            for c, n in zip(members, row[len(keys):]):
                if n:
                    actual[key][c.name] = int(n)
    return dict(actual)


def stored_counts(session: Session, low: str | None = None, high: str | None = None,
                  counters: tuple[kit.Counter, ...] | None = None) -> dict[Key, dict[str, int]]:
    """The stored values of ``counters`` (default: every declared one), in the shape of
    ``count_from_rows`` (a ``grid_stats`` row lists every total, zeros included)."""
    counters = [c for c in (kit.declared() if counters is None else counters) if c.per is None]
    stored: dict[Key, dict[str, int]] = defaultdict(dict)
    totals = [c.name for c in counters if not c.per_day]
    if totals:
        stmt = select(GridStats.area_code, *(getattr(GridStats, n) for n in totals)).where(
            *_in_range(GridStats.area_code, low, high))
        for row in session.execute(stmt):
            stored[(row[0], None)] = dict(zip(totals, row[1:]))
    names = [c.name for c in counters if c.per_day]
    if names:
        stmt = select(GridDayStats.area_code, GridDayStats.day, GridDayStats.counter, GridDayStats.n).where(
            GridDayStats.counter.in_(names), *_in_range(GridDayStats.area_code, low, high))
        for area_code, day, name, n in session.execute(stmt):
            stored[(area_code, day)][name] = n
    return dict(stored)


def slices(session: Session) -> list[tuple[str | None, str | None]]:
    """Consecutive ``[low, high)`` ranges of area codes, ``SLICE_GRIDS`` grids each, covering all codes."""
    from db.area import Area

    grids = session.scalars(select(Area.code).where(Area.level == Level.GRID.value).order_by(Area.code)).all()
    edges = [None, *grids[SLICE_GRIDS::SLICE_GRIDS], None]
    return list(zip(edges[:-1], edges[1:]))


def recount(session: Session, *, fix: bool = False) -> list[Drift]:
    """Every declared counter that differs from the rows: totals by grid, then per-day
    counts by grid and day.

    With ``fix=True`` the stored counters are set to the recounted values (rows created
    where missing, per-day rows that count nothing deleted) in ``session``; the caller commits.
    """
    import db.models  # noqa: F401 - every domain's declarations, not only those imported so far

    order = {c.name: i for i, c in enumerate(kit.declared())}
    drift: list[Drift] = []
    totals, per_day = kit.totals(), kit.per_day()
    passes = [(None, None, totals)] if totals else []  # a few thousand rows: one pass
    if per_day:
        passes += [(low, high, per_day) for low, high in slices(session)]
    for low, high, counters in passes:
        actual = count_from_rows(session, low, high, counters)
        found = _compare(actual, stored_counts(session, low, high, counters))
        found.sort(key=lambda d: (d.area_code, d.day or date.min, order[d.counter]))
        if fix and found:
            _fix(session, found, actual)
        drift += found
    for per in sorted(kit.part_tables()):
        drift += _recount_part(session, per, fix)
    if fix:
        session.flush()
    return drift


def _recount_part(session: Session, per: str, fix: bool) -> list[Drift]:
    """The drift of part ``per``'s counters, per (part, grid); fixed in place when asked."""
    counters = kit.of_part(per)
    if not counters:
        return []
    table = kit.part_tables()[per]
    names = [c.name for c in counters]
    groups: dict[type, list[kit.Counter]] = defaultdict(list)
    for c in counters:
        groups[c.model].append(c)
    actual: dict[tuple[Any, str], dict[str, int]] = defaultdict(dict)
    for model, members in groups.items():
        sums = [func.count() if c.where is None else func.sum(case((c.where, 1), else_=0)) for c in members]
        stmt = select(getattr(model, per), model.area_code, *sums).group_by(getattr(model, per), model.area_code)
        for row in session.execute(stmt):
            for c, n in zip(members, row[2:]):
                if n:
                    actual[(row[0], row[1])][c.name] = int(n)
    stored = {(row[0], row[1]): dict(zip(names, row[2:])) for row in session.execute(
        select(getattr(table, per), table.area_code, *(getattr(table, n) for n in names)))}
    drift = []
    for key in sorted(set(actual) | set(stored), key=lambda k: (k[1], k[0])):
        want, have = actual.get(key, {}), stored.get(key)
        for name in names:
            stored_n = None if have is None else have.get(name)
            if (stored_n or 0) != want.get(name, 0):
                drift.append(Drift(key[1], name, stored_n, want.get(name, 0), part=(per, key[0])))
    if fix:
        dialect = session.get_bind().dialect.name
        for part, area_code in {(d.part[1], d.area_code) for d in drift}:
            want = actual.get((part, area_code), {})
            session.execute(kit.set_part(dialect, per, part, area_code, {n: want.get(n, 0) for n in names}))
    return drift


def _compare(actual: dict[Key, dict[str, int]], stored: dict[Key, dict[str, int]]) -> list[Drift]:
    totals, days = [c.name for c in kit.totals()], [c.name for c in kit.per_day()]
    drift = []
    for key in set(actual) | set(stored):
        area_code, day = key
        want, have = actual.get(key, {}), stored.get(key)
        for name in (totals if day is None else days):
            stored_n = None if have is None else have.get(name)
            if (stored_n or 0) != want.get(name, 0):
                drift.append(Drift(area_code, name, stored_n, want.get(name, 0), day))
    return drift


def _fix(session: Session, drift: list[Drift], actual: dict[Key, dict[str, int]]) -> None:
    dialect = session.get_bind().dialect.name
    totals = [c.name for c in kit.totals()]
    for area_code in sorted({d.area_code for d in drift if d.day is None}):
        want = actual.get((area_code, None), {})
        session.execute(kit.set_totals(dialect, area_code, {n: want.get(n, 0) for n in totals}))
    per_day = [d for d in drift if d.day is not None]
    rows = [(d.area_code, d.day, d.counter, d.actual) for d in per_day if d.actual]
    for i in range(0, len(rows), FIX_BATCH):
        session.execute(kit.set_days(dialect, rows[i:i + FIX_BATCH]))
    for d in per_day:
        if not d.actual:
            session.execute(delete(GridDayStats).where(and_(
                GridDayStats.counter == d.counter, GridDayStats.area_code == d.area_code, GridDayStats.day == d.day)))
