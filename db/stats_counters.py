"""Moving the per-grid counters in the same transaction as the rows they count.

One statement per grid and write: ``INSERT ... ON CONFLICT (area_code) DO UPDATE SET
n = grid_stats.n + excluded.n``. It is atomic (two grid workers registering people in
the same grid at once both count), needs no prior SELECT, and creates the counter row of
a grid that has none yet. A counter is bookkeeping written on the user's behalf after
their change to the row itself passed the scope gate; ``authz.gate`` exempts
``GridStats`` from its write checks for that reason. Drift, if ever, is found and
reported by ``db.stats_rebuild``.
"""

from __future__ import annotations

from sqlalchemy.dialects import postgresql, sqlite

from db.stats import GridStats

COUNTERS = ("buildings", "households", "residents", "floating_residents")


def upsert_counters(dialect_name: str, area_code: str, deltas: dict[str, int]):
    """The statement that adds ``deltas`` to ``area_code``'s counters (row created if missing)."""
    unknown = set(deltas) - set(COUNTERS)
    if unknown:
        raise ValueError(f"unknown counters: {sorted(unknown)}")
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    values = {name: deltas.get(name, 0) for name in COUNTERS}
    stmt = insert(GridStats).values(area_code=area_code, **values)
    return stmt.on_conflict_do_update(
        index_elements=[GridStats.area_code],
        set_={name: getattr(GridStats, name) + getattr(stmt.excluded, name) for name in deltas},
    )


def merge_deltas(*changes: tuple[str, dict[str, int]]) -> dict[str, dict[str, int]]:
    """Per grid, the sum of the deltas given as ``(area_code, {counter: delta})``; zeros dropped."""
    out: dict[str, dict[str, int]] = {}
    for area_code, deltas in changes:
        grid = out.setdefault(area_code, {})
        for name, delta in deltas.items():
            grid[name] = grid.get(name, 0) + delta
    return {a: {k: v for k, v in d.items() if v} for a, d in out.items() if any(d.values())}


async def apply_deltas(session, changes: dict[str, dict[str, int]]) -> None:
    """Run the upserts for ``merge_deltas``' result on ``session`` (an ``AsyncSession``)."""
    dialect = session.bind.dialect.name
    for area_code in sorted(changes):  # a fixed order: no deadlock between two movers
        await session.execute(upsert_counters(dialect, area_code, changes[area_code]))
