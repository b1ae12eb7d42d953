"""Per-grid counters, kept in the same transaction as the rows they count.

Higher offices read numbers, not rows: a city's total is the sum over the counters of
its grids (a few thousand rows) rather than a count over millions of residents. A
rebuild from the rows (``rebuild_grid_stats``) reports any drift.
"""

from __future__ import annotations

from sqlmodel import Field, SQLModel

from db.base import AreaCode
from db.registration import place_bound


@place_bound("aggregate", bookkeeping="counters moved in the same transaction as a row change that passed the gate")
class GridStats(SQLModel, table=True):
    __tablename__ = "grid_stats"

    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", primary_key=True)
    buildings: int = Field(default=0, nullable=False)
    households: int = Field(default=0, nullable=False)
    residents: int = Field(default=0, nullable=False)
    floating_residents: int = Field(default=0, nullable=False)
