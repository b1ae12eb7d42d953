"""Recount the per-grid counters from the rows and report where they drifted.

The counters (``db.stats.GridStats``) move with every write in the same transaction, so
they should never drift; this is the nightly (or on demand) proof. It runs on a plain,
unscoped system session: it must see every row, and it writes nothing unless asked to
(``fix=True``), so a report can be read before anything is corrected.

What is counted, per grid: all buildings, all households, *active* residents, and
active residents of the floating population (流动人口). Moved-away and deceased
residents stay in the registry (removal is soft) but no longer count.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from db.registry import Building, Household, PopulationKind, Resident, ResidentStatus
from db.stats import GridStats
from db.stats_counters import COUNTERS


@dataclass(frozen=True)
class Drift:
    """One counter of one grid that disagrees with the rows."""

    area_code: str
    counter: str
    stored: int | None  # None: the grid has no counter row at all
    actual: int


def count_from_rows(session: Session) -> dict[str, dict[str, int]]:
    """``{grid code: {counter: value}}`` recomputed from the registry rows."""
    actual: dict[str, dict[str, int]] = {}

    def put(rows, counter: str) -> None:
        for area_code, n in rows:
            actual.setdefault(area_code, dict.fromkeys(COUNTERS, 0))[counter] = n

    put(session.execute(select(Building.area_code, func.count()).group_by(Building.area_code)), "buildings")
    put(session.execute(select(Household.area_code, func.count()).group_by(Household.area_code)), "households")
    active = Resident.status == ResidentStatus.ACTIVE.value
    put(session.execute(select(Resident.area_code, func.count()).where(active).group_by(Resident.area_code)),
        "residents")
    put(session.execute(
        select(Resident.area_code, func.count())
        .where(active, Resident.population_kind == PopulationKind.FLOATING.value)
        .group_by(Resident.area_code)), "floating_residents")
    return actual


def rebuild_grid_stats(session: Session, *, fix: bool = False) -> list[Drift]:
    """Every counter that differs from the rows, sorted by grid and counter.

    With ``fix=True`` the stored counters are set to the recounted values (rows created
    where missing) in ``session``; the caller commits.
    """
    actual = count_from_rows(session)
    stored = {s.area_code: s for s in session.scalars(select(GridStats))}
    drift: list[Drift] = []
    for area_code in sorted(set(actual) | set(stored)):
        want = actual.get(area_code, dict.fromkeys(COUNTERS, 0))
        row = stored.get(area_code)
        for counter in COUNTERS:
            have = getattr(row, counter) if row is not None else None
            if have != want[counter] and not (have is None and want[counter] == 0):
                drift.append(Drift(area_code, counter, have, want[counter]))
        if fix and row is None and any(want.values()):
            session.add(GridStats(area_code=area_code, **want))
        elif fix and row is not None:
            for counter in COUNTERS:
                setattr(row, counter, want[counter])
    if fix:
        session.flush()
    return drift
