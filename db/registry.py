"""The population registry below the grid: building (楼栋), household (户), resident (人).

Each row carries the ``area_code`` of its grid, copied on write, so that every scope
filter is the same one-column prefix range and no query needs to join up the tree.
What the registry counts per grid (and per grid and day) is declared at the end.
"""

from __future__ import annotations

import enum
from datetime import date

import sqlalchemy as sa
from sqlmodel import Field

from db.base import AreaCode, Stamped
from db.counters import DEFAULT_ZONE, declare, local_day
from db.registration import personal, place_bound


class HouseholdKind(str, enum.Enum):
    OWNER = "owner"  # 自住
    TENANT = "tenant"  # 租住
    COLLECTIVE = "collective"  # 集体户 (dormitories, institutions)


class PopulationKind(str, enum.Enum):
    REGISTERED = "registered"  # 户籍人口
    FLOATING = "floating"  # 流动人口


class ResidentStatus(str, enum.Enum):
    ACTIVE = "active"
    MOVED_AWAY = "moved_away"
    DECEASED = "deceased"


class Gender(str, enum.Enum):
    MALE = "male"
    FEMALE = "female"


@place_bound("building")
class Building(Stamped, table=True):
    __tablename__ = "building"
    __table_args__ = (sa.Index("ix_building_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    name: str = Field(sa_type=sa.String(100), nullable=False)
    address: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("address"))
    units: int = Field(default=1, nullable=False)
    floors: int | None = Field(default=None)


@place_bound("household")
class Household(Stamped, table=True):
    __tablename__ = "household"
    __table_args__ = (sa.Index("ix_household_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    building_id: int | None = Field(default=None, foreign_key="building.id", index=True)
    unit: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("withheld"))
    room: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("withheld"))
    address: str = Field(sa_type=sa.String(200), nullable=False, sa_column_kwargs=personal("address"))
    kind: str = Field(default=HouseholdKind.OWNER.value, sa_type=sa.String(12), nullable=False)


@place_bound("resident")
class Resident(Stamped, table=True):
    __tablename__ = "resident"
    __table_args__ = (sa.Index("ix_resident_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    household_id: int = Field(foreign_key="household.id", nullable=False, index=True)
    name: str = Field(sa_type=sa.String(50), nullable=False, sa_column_kwargs=personal("name"))
    gender: str = Field(sa_type=sa.String(8), nullable=False)
    id_number: str = Field(sa_type=sa.String(18), nullable=False, unique=True, sa_column_kwargs=personal("id_number"))
    birth_date: date = Field(nullable=False, sa_column_kwargs=personal("hidden"))
    phone: str | None = Field(default=None, sa_type=sa.String(20), index=True, sa_column_kwargs=personal("phone"))
    relation_to_head: str = Field(default="head", sa_type=sa.String(20), nullable=False)
    population_kind: str = Field(default=PopulationKind.REGISTERED.value, sa_type=sa.String(12), nullable=False)
    moved_in_on: date | None = Field(default=None)
    status: str = Field(default=ResidentStatus.ACTIVE.value, sa_type=sa.String(12), nullable=False)
    removed_reason: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))
    removed_on: date | None = Field(default=None)
    #: The local day the resident was entered in the registry (the writer sets it in the
    #: deployment's zone, ``UnitOfWork.local_today``; the default is for seeds and tests).
    registered_on: date = Field(default_factory=lambda: local_day(DEFAULT_ZONE), nullable=False)


# -- counters (db.counters) ---------------------------------------------------------------
# Removal is soft: moved-away and deceased residents stay in the registry but no longer count
# as residents. Per-day counters count rows by the grid they are in now, so a move carries a
# resident's registration day to the new grid (``resolvers.registry.people.move_resident``),
# and an area's residents on a past day D read as its registrations up to D minus its removals
# up to D (of the people it holds now).

_ACTIVE = Resident.status == ResidentStatus.ACTIVE.value
declare("buildings", Building)
declare("households", Household)
declare("residents", Resident, _ACTIVE)
declare("floating_residents", Resident, _ACTIVE & (Resident.population_kind == PopulationKind.FLOATING.value))
declare("residents_registered", Resident, day="registered_on")
declare("residents_removed", Resident, Resident.status != ResidentStatus.ACTIVE.value, day="removed_on")
