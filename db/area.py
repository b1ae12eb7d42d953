"""The administrative tree: province, city, district, street, community, grid.

One table for all six levels, keyed by the significant-digit statistical code, so that
"this office's slice" is a prefix of the key. See ``db.codes``.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import Field

from db.base import AreaCode, Stamped
from db.registration import personal, place_bound


@place_bound("area", column="code")
class Area(Stamped, table=True):
    __tablename__ = "area"

    code: str = Field(sa_type=AreaCode(), primary_key=True)
    level: str = Field(sa_type=sa.String(12), nullable=False, index=True)
    name: str = Field(sa_type=sa.String(100), nullable=False)
    parent_code: str | None = Field(default=None, sa_type=AreaCode(), foreign_key="area.code", index=True)
    # Grids only: the grid worker (网格员) responsible, as residents see on the notice board.
    grid_worker_name: str | None = Field(default=None, sa_type=sa.String(50), sa_column_kwargs=personal("name"))
    grid_worker_phone: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("phone"))

    @property
    def area_code(self) -> str:
        """Areas are scoped by their own code, like every place-bound record."""
        return self.code
