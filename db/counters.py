"""Counters by grid and by day: declared once by each domain, moved with its rows, recounted.

A domain declares what it counts next to its tables (the registry's are at the end of
``db/registry.py``)::

    declare("residents", Resident, Resident.status == "active")      # a total per grid
    declare("residents_removed", Resident, Resident.status != "active",
            day="removed_on")                                        # per grid and local day

- ``model``: the table whose rows are counted; it carries its grid's ``area_code``.
- ``where``: the SQL condition a row must meet to count (None: every row counts).
- ``day``: for a per-day counter, a ``date`` column of the model holding the row's local
  day, which the domain stores when it writes the row (``local_day``, in the deployment's
  zone, ``WANGGE_TIMEZONE``). Recounting is then a plain ``GROUP BY area_code, day`` on
  every backend: no time-zone arithmetic in SQL, which SQLite cannot do and an index on a
  timestamp cannot answer. Rows whose day is NULL are not counted per day.

Writers move counters through a ``Tally`` (``resolvers.unit_of_work.UnitOfWork.count``),
flushed by ``apply`` in the same transaction as the rows; an unknown counter name is
refused when it is added, not at commit. ``db.counters_recount`` recounts every declared
counter from the rows; nothing about a counter is written twice.

Where counters are stored (``db.stats``), chosen by how they are read:

- **Totals stay wide**, one column per counter in ``grid_stats``. Every area page reads
  them: a city's figure is one statement summing ~6,000 rows of a few columns (0.3-0.6 ms
  on the 8M-resident database, a pinned benchmark story). A new total counter is a column
  added by its domain's migration (``ADD COLUMN ... DEFAULT 0`` is instant on PostgreSQL
  11+); ``declare`` refuses a total without its column, and a test checks that every
  column has a declaration, so nothing in ``grid_stats`` goes unrecounted.
- **Per-day counts are long**, ``grid_day_stats(counter, area_code, day, n)``, for the
  reads of the "figures for command offices" issue. ``series(from, to)`` of an area is
  ``counter IN (...) AND area_code in range AND day BETWEEN ...`` grouped by day and
  counter, and ``stats(date:)`` the same with one day: one statement each, reading only
  the counters asked for, through the key ``(counter, area_code, day)`` for small areas and
  ``(counter, day, area_code)`` for one day or a short window of a large one. The table is
  sparse (a row only where a counter moved that day: most workflows are quiet most days,
  and a wide row per grid and day would carry every other workflow's zeros), a new
  workflow's per-day counters need no migration, and two workflows writing in one grid on
  one day do not queue on one row. The price, k rows instead of one for k counters of a
  day, is paid only by reads of past days, not by the area pages.
- **Totals of a part** (``per=``): figures that belong to one record above the grid as well
  as to the grid, such as a survey campaign's coverage, which is counted per campaign and
  grid. The domain declares a wide table keyed by (part column, ``area_code``), one column
  per counter, with ``counted_per(column)``; a counter declared ``per=column`` counts rows
  of its model by their own part column and grid. A campaign's figure for a city is then
  one range of that table's key, as a city's totals are a range of ``grid_stats``.
- Rows are per grid only: no office above the grid has a row that all its grids' writes
  would queue on; an office's figure is always a sum over its grids.

Locks are taken in one order by every mover (``Tally.statements``): ``grid_stats`` rows by
grid code, then each part table's rows by (part, grid), then ``grid_day_stats`` rows by
(grid, day, counter), so two transactions moving the same grids cannot deadlock on each
other's counters.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from db.stats import GridDayStats, GridStats

#: The deployment's zone unless ``WANGGE_TIMEZONE`` says otherwise (``server.settings``).
DEFAULT_ZONE = "Asia/Shanghai"

_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")


class UnknownCounter(ValueError):
    """A writer named a counter nobody declared: a programming error, never data."""


@dataclass(frozen=True)
class Counter:
    """One declared counter: which rows of ``model`` count, and (per day) on which day."""

    name: str
    model: type
    where: Any = None  # a SQL boolean expression over ``model``'s columns, or None
    day: str | None = None  # per-day counters: the model's ``date`` column of the row's local day
    per: str | None = None  # totals of a part: the column naming the part, in ``model`` and its table

    @property
    def per_day(self) -> bool:
        return self.day is not None

    @property
    def table(self) -> type:
        """Where the counter is stored: ``grid_stats``, a part's table or ``grid_day_stats``."""
        if self.per is not None:
            return _PART_TABLES[self.per]
        return GridDayStats if self.per_day else GridStats

    def day_column(self):
        return getattr(self.model, self.day)


_DECLARED: dict[str, Counter] = {}
#: ``{part column: its stats table}`` (``counted_per``).
_PART_TABLES: dict[str, type] = {}


def counted_per(column: str):
    """Class decorator for a part's stats table: keyed by (``column``, ``area_code``), one
    integer column per counter declared ``per=column``."""

    def register(table_model: type) -> type:
        keys = [c.name for c in table_model.__table__.primary_key.columns]
        if keys != [column, "area_code"]:
            raise TypeError(f"{table_model.__name__}: the key must be ({column}, area_code), not {keys}")
        known = _PART_TABLES.get(column)
        if known is not None and known is not table_model:
            raise ValueError(f"the part {column!r} already has its table {known.__name__}")
        _PART_TABLES[column] = table_model
        return table_model

    return register


def part_tables() -> dict[str, type]:
    return dict(_PART_TABLES)


def declare(name: str, model: type, where=None, *, day: str | None = None, per: str | None = None) -> Counter:
    """Declare counter ``name``: rows of ``model`` meeting ``where``, per grid (and per
    ``day``, or per part ``per``)."""
    if not _NAME.fullmatch(name) or name == "area_code":
        raise ValueError(f"counter name {name!r}: lower-case letters, digits and _, at most 40")
    if name in _DECLARED:
        raise ValueError(f"counter {name!r} is declared twice")
    table = getattr(model, "__table__", None)
    if table is None or "area_code" not in table.c:
        raise TypeError(f"counter {name!r}: {getattr(model, '__name__', model)!r} is not a table with an area_code")
    if day is not None and per is not None:
        raise ValueError(f"counter {name!r}: a part's counters are totals, not per day")
    if day is not None:
        column = table.c.get(day)
        if column is None or not isinstance(column.type, sa.Date):
            raise TypeError(f"counter {name!r}: {table.name}.{day} must be a date column (the row's local day)")
    elif per is not None:
        stats = _PART_TABLES.get(per)
        if stats is None:
            raise ValueError(f"counter {name!r}: no table is counted per {per!r} (db.counters.counted_per)")
        if per not in table.c:
            raise TypeError(f"counter {name!r}: {table.name} has no column {per!r}")
        if name not in stats.__table__.c:
            raise ValueError(f"counter {name!r} has no column in {stats.__table__.name}: add it (and its migration)")
    elif name not in GridStats.__table__.c:
        raise ValueError(f"total counter {name!r} has no column in grid_stats: add it (and its migration)")
    counter = _DECLARED[name] = Counter(name, model, where, day, per)
    return counter


def forget(name: str) -> None:
    """Drop a declaration: for tests that declare a throwaway counter and must leave none behind."""
    _DECLARED.pop(name, None)


def counter(name: str) -> Counter:
    found = _DECLARED.get(name)
    if found is None:
        raise UnknownCounter(f"unknown counter {name!r} (declared: {', '.join(_DECLARED) or 'none'})")
    return found


def declared() -> tuple[Counter, ...]:
    """Every declared counter, in declaration order (import ``db.models`` to have them all)."""
    return tuple(_DECLARED.values())


def totals() -> tuple[Counter, ...]:
    """The grid totals (``grid_stats``), not the parts'."""
    return tuple(c for c in _DECLARED.values() if not c.per_day and c.per is None)


def of_part(per: str) -> tuple[Counter, ...]:
    """The counters stored in the table of part ``per``."""
    return tuple(c for c in _DECLARED.values() if c.per == per)


def per_day() -> tuple[Counter, ...]:
    return tuple(c for c in _DECLARED.values() if c.per_day)


def local_day(zone: str, now: datetime | None = None) -> date:
    """The calendar day in ``zone`` at ``now`` (default: now); a naive ``now`` is UTC."""
    now = now or datetime.now(timezone.utc)
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    return now.astimezone(ZoneInfo(zone)).date()


# -- moving them ------------------------------------------------------------------------


class Tally:
    """The counter moves of one transaction, merged per grid (and day) before they are written."""

    def __init__(self) -> None:
        self._totals: dict[str, dict[str, int]] = {}
        self._parts: dict[str, dict[tuple[Any, str], dict[str, int]]] = {}
        self._days: dict[tuple[str, date, str], int] = {}

    def add(self, area_code: str, deltas: Mapping[str, int], day: date | None = None, part: Any = None) -> None:
        """Add ``deltas`` to ``area_code``'s counters; per-day ones on ``day``, a part's in ``part``."""
        for name, delta in deltas.items():
            declared_as = counter(name)
            if declared_as.per is not None:
                if part is None:
                    raise ValueError(f"counter {name!r} is counted per {declared_as.per}: give the part")
                row = self._parts.setdefault(declared_as.per, {}).setdefault((part, area_code), {})
                row[name] = row.get(name, 0) + delta
            elif declared_as.per_day:
                if day is None:
                    raise ValueError(f"counter {name!r} is counted per day: give the day")
                key = (area_code, day, name)
                self._days[key] = self._days.get(key, 0) + delta
            else:
                grid = self._totals.setdefault(area_code, {})
                grid[name] = grid.get(name, 0) + delta

    def totals(self) -> dict[str, dict[str, int]]:
        """``{grid: {counter: delta}}``, zeros dropped."""
        out = {a: {k: v for k, v in d.items() if v} for a, d in self._totals.items()}
        return {a: d for a, d in out.items() if d}

    def parts(self, per: str) -> dict[tuple[Any, str], dict[str, int]]:
        """``{(part, grid): {counter: delta}}`` of part ``per``, zeros dropped."""
        out = {k: {n: v for n, v in d.items() if v} for k, d in self._parts.get(per, {}).items()}
        return {k: d for k, d in out.items() if d}

    def days(self) -> dict[tuple[str, date, str], int]:
        """``{(grid, day, counter): delta}``, zeros dropped."""
        return {k: v for k, v in self._days.items() if v}

    def statements(self, dialect_name: str) -> list:
        """A few upserts, in the one order every mover locks in (module docstring): the
        totals of every grid moved, then each part's rows (parts by column name), then every
        per-day row moved, each one multi-row statement whose rows are sorted (the database
        locks them in that order)."""
        out = []
        totals = self.totals()
        if totals:
            out.append(add_to_totals(dialect_name, {a: totals[a] for a in sorted(totals)}))
        for per in sorted(self._parts):
            moved = self.parts(per)
            if moved:
                out.append(add_to_part(dialect_name, per, {k: moved[k] for k in sorted(moved)}))
        days = self.days()
        if days:
            out.append(add_to_days(dialect_name, [(a, d, c, days[(a, d, c)]) for a, d, c in sorted(days)]))
        return out


async def apply(session, tally: Tally) -> None:
    """Run ``tally``'s upserts on ``session`` (an ``AsyncSession``, the writer's transaction)."""
    for stmt in tally.statements(session.bind.dialect.name):
        await session.execute(stmt)


def _insert(dialect_name: str, model):
    """The dialect's upsert-capable ``insert`` of ``model``'s table, as Core: the counters'
    upserts name their columns, and the ORM's bulk path added nothing but its own cost."""
    return (postgresql.insert if dialect_name == "postgresql" else sqlite.insert)(model.__table__)


@functools.lru_cache(maxsize=None)
def _excluded(table: sa.Table):
    """The ``excluded`` row of an upsert on ``table``, built once: ``insert(...).excluded``
    builds a new alias, a proxy of every column, for every statement (half the cost of
    building a write's counter upserts)."""
    return sa.alias(table, name="excluded")


def add_to_totals(dialect_name: str, deltas: Mapping[str, Mapping[str, int]]):
    """``INSERT ... VALUES (grid, deltas), ... ON CONFLICT (area_code) DO UPDATE SET
    n = grid_stats.n + excluded.n`` for ``{grid: {counter: delta}}`` (rows in the given order).

    Atomic (two grid workers registering people in one grid at once both count), no prior
    SELECT, and it creates the counter row of a grid that has none yet. Every row names
    the same counters (zero where a grid's did not move): one statement for any number of grids.
    """
    names = sorted({name for grid in deltas.values() for name in grid})
    values = [dict(area_code=a, **{n: grid.get(n, 0) for n in names}) for a, grid in deltas.items()]
    stmt, excluded = _insert(dialect_name, GridStats).values(values), _excluded(GridStats.__table__)
    return stmt.on_conflict_do_update(
        index_elements=[GridStats.area_code],
        set_={name: getattr(GridStats, name) + excluded.c[name] for name in names})


def add_to_part(dialect_name: str, per: str, deltas: Mapping[tuple[Any, str], Mapping[str, int]]):
    """The upsert of ``add_to_totals`` on part ``per``'s table, for ``{(part, grid): {counter: delta}}``."""
    table = _PART_TABLES[per]
    names = sorted({name for row in deltas.values() for name in row})
    values = [{per: part, "area_code": a, **{n: row.get(n, 0) for n in names}} for (part, a), row in deltas.items()]
    stmt, excluded = _insert(dialect_name, table).values(values), _excluded(table.__table__)
    return stmt.on_conflict_do_update(
        index_elements=[getattr(table, per), table.area_code],
        set_={name: getattr(table, name) + excluded.c[name] for name in names})


def set_part(dialect_name: str, per: str, part: Any, area_code: str, values: Mapping[str, int]):
    """Set (not add) one part row's counters to ``values``, creating the row if missing."""
    table = _PART_TABLES[per]
    stmt = _insert(dialect_name, table).values({per: part, "area_code": area_code, **values})
    return stmt.on_conflict_do_update(index_elements=[getattr(table, per), table.area_code],
                                      set_={name: getattr(stmt.excluded, name) for name in values})


def add_to_days(dialect_name: str, rows: Iterable[tuple[str, date, str, int]]):
    """One multi-row ``INSERT ... ON CONFLICT DO UPDATE SET n = grid_day_stats.n + excluded.n``
    for ``(grid, day, counter, delta)`` rows (each key once: merge them first)."""
    values = [dict(area_code=a, day=d, counter=c, n=n) for a, d, c, n in rows]
    stmt = _insert(dialect_name, GridDayStats).values(values)
    return stmt.on_conflict_do_update(
        index_elements=[GridDayStats.counter, GridDayStats.area_code, GridDayStats.day],
        set_={"n": GridDayStats.n + _excluded(GridDayStats.__table__).c.n})


def set_totals(dialect_name: str, area_code: str, values: Mapping[str, int]):
    """Set (not add) ``area_code``'s totals to ``values``, creating the row if missing."""
    stmt = _insert(dialect_name, GridStats).values(area_code=area_code, **values)
    return stmt.on_conflict_do_update(index_elements=[GridStats.area_code],
                                      set_={name: getattr(stmt.excluded, name) for name in values})


def set_days(dialect_name: str, rows: Iterable[tuple[str, date, str, int]]):
    """Set (not add) per-day counters: ``(grid, day, counter, n)`` rows, created if missing."""
    values = [dict(area_code=a, day=d, counter=c, n=n) for a, d, c, n in rows]
    stmt = _insert(dialect_name, GridDayStats).values(values)
    return stmt.on_conflict_do_update(
        index_elements=[GridDayStats.counter, GridDayStats.area_code, GridDayStats.day],
        set_={"n": stmt.excluded.n})
