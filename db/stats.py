"""Where the counters of ``db.counters`` are stored: per grid, and per grid and local day.

Higher offices read numbers, not rows: a city's total is the sum over the counters of
its grids (a few thousand rows) rather than a count over millions of residents. Both
tables hold rows of grids only, never of an area above the grid, so no office's figure is
one hot row that every write in its subtree would queue on. ``db.counters`` says why
totals are wide (a column per counter) and per-day counts long (a row per counter);
``db.counters_recount`` recounts both from the rows and reports any drift.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.base import AreaCode
from db.registration import place_bound


@place_bound("aggregate", bookkeeping="counters moved in the same transaction as a row change that passed the gate")
class GridStats(SQLModel, table=True):
    """A grid's totals, one column per declared total counter."""

    __tablename__ = "grid_stats"

    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", primary_key=True)
    buildings: int = Field(default=0, nullable=False)
    households: int = Field(default=0, nullable=False)
    residents: int = Field(default=0, nullable=False)
    floating_residents: int = Field(default=0, nullable=False)
    # key_person: entries in the ledger, and per category
    key_persons: int = Field(default=0, nullable=False)
    key_persons_elderly_alone: int = Field(default=0, nullable=False)
    key_persons_child_in_difficulty: int = Field(default=0, nullable=False)
    key_persons_limited_mobility: int = Field(default=0, nullable=False)
    key_persons_pregnant: int = Field(default=0, nullable=False)
    key_persons_hardship: int = Field(default=0, nullable=False)
    key_persons_chronic_illness: int = Field(default=0, nullable=False)
    key_persons_disability: int = Field(default=0, nullable=False)
    # returnee: entries being followed up
    returnees_following: int = Field(default=0, nullable=False)
    # isolation: people isolated now, at home and at a central site, and open fever alerts
    isolated_home: int = Field(default=0, nullable=False)
    isolated_central: int = Field(default=0, nullable=False)
    isolation_alerts_open: int = Field(default=0, nullable=False)


@place_bound("aggregate", bookkeeping="per-day counters moved in the same transaction as a row change that passed "
                                      "the gate")
class GridDayStats(SQLModel, table=True):
    """One per-day counter of one grid on one local day; days with nothing counted have no row.

    The key leads with the counter, so a grid's (or a community's) series of one counter
    is one range of the primary key; the second index answers "one day, a whole city"
    (``stats(date:)``) and short series over large areas without reading older days.
    """

    __tablename__ = "grid_day_stats"
    __table_args__ = (sa.Index("ix_grid_day_stats_counter_day_area", "counter", "day", "area_code"),)

    counter: str = Field(sa_type=sa.String(40), primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", primary_key=True)
    day: date = Field(primary_key=True)
    n: int = Field(default=0, nullable=False)
