"""The returnee ledger (返乡人员台账): residents back from elsewhere, and their daily follow-ups.

A returnee entry is opened for a resident of the registry and lies in the resident's grid
(``area_code`` copied when it is opened). While it is ``following_up`` a grid worker records
one follow-up (随访) a day, for ``follow_up_days`` days from arrival, then closes it as
completed or moved away. Entries are removed softly, with a reason: they stay in history,
are no longer listed by default and no longer counted.

Which columns are personal, and why (``db.registration.personal``):

- ``origin`` (where from) and ``transport_number`` (train/flight/plate) are free text that,
  with the arrival day, pinpoints one trip and so one person: withheld (****).
- ``removed_reason`` is free text about the person ("moved to his daughter's"): withheld.
- a follow-up's ``health`` and ``temperature`` are health answers: hidden (null), since a
  fixed mask would not be a value of the field's kind; its ``note`` is free text: withheld.
- Not personal: ``from_key_area`` is the category the ledger is planned by (officers drill
  down on key-area returnees, masked, and the filter must be usable by them); dates, the
  transport mode and the status are what the due/overdue lists are cut on. None of these
  names anyone, and the resident's own name stays masked through the registry.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlmodel import Field

from db.base import AreaCode, Stamped
from db.counters import DEFAULT_ZONE, declare, local_day
from db.registration import personal, place_bound


class ReturneeStatus(str, enum.Enum):
    FOLLOWING_UP = "following_up"  # 随访中
    COMPLETED = "completed"  # 期满解除
    MOVED_AWAY = "moved_away"  # 已离开


class Transport(str, enum.Enum):
    TRAIN = "train"
    PLANE = "plane"
    COACH = "coach"
    CAR = "car"
    OTHER = "other"


class Health(str, enum.Enum):
    WELL = "well"  # 无异常
    FEVER = "fever"  # 发热
    OTHER_SYMPTOMS = "other_symptoms"  # 其他症状


DEFAULT_FOLLOW_UP_DAYS = 14


@place_bound("returnee")
class Returnee(Stamped, table=True):
    __tablename__ = "returnee"
    __table_args__ = (sa.Index("ix_returnee_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    resident_id: int = Field(foreign_key="resident.id", nullable=False, index=True)
    origin: str = Field(sa_type=sa.String(100), nullable=False, sa_column_kwargs=personal("withheld"))
    from_key_area: bool = Field(default=False, nullable=False)
    departed_on: date = Field(nullable=False)
    arrived_on: date = Field(nullable=False)
    transport: str = Field(sa_type=sa.String(8), nullable=False)
    transport_number: str | None = Field(default=None, sa_type=sa.String(20), sa_column_kwargs=personal("withheld"))
    follow_up_days: int = Field(default=DEFAULT_FOLLOW_UP_DAYS, nullable=False)
    #: ``arrived_on + follow_up_days``, the last day of the follow-up period, stored when the
    #: entry is written (days are stored, not computed): the due and overdue lists compare
    #: it with a day, the same SQL on SQLite and PostgreSQL.
    follow_up_until: date = Field(nullable=False)
    status: str = Field(default=ReturneeStatus.FOLLOWING_UP.value, sa_type=sa.String(12), nullable=False)
    removed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    removed_by: int | None = Field(default=None, foreign_key="app_user.id")
    removed_reason: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))


@place_bound("returnee")
class FollowUp(Stamped, table=True):
    """One day's follow-up of a returnee; at most one per returnee and local day."""

    __tablename__ = "returnee_follow_up"
    __table_args__ = (
        sa.UniqueConstraint("returnee_id", "on", name="uq_returnee_follow_up_day"),
        sa.Index("ix_returnee_follow_up_area_id", "area_code", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    returnee_id: int = Field(foreign_key="returnee.id", nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    #: The local day of the follow-up (``WANGGE_TIMEZONE``), the day it is counted on.
    on: date = Field(default_factory=lambda: local_day(DEFAULT_ZONE), nullable=False)
    health: str = Field(sa_type=sa.String(16), nullable=False, sa_column_kwargs=personal("hidden"))
    temperature: float | None = Field(default=None, sa_type=sa.Float(), sa_column_kwargs=personal("hidden"))
    note: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))


# -- counters (db.counters) ---------------------------------------------------------------
# A removed entry no longer counts; its follow-ups stay counted on their days (they were
# made). A follow-up is counted on its own stored day, in its returnee's grid.

FOLLOWING = (Returnee.status == ReturneeStatus.FOLLOWING_UP.value) & Returnee.removed_at.is_(None)
declare("returnees_following", Returnee, FOLLOWING)
declare("follow_ups", FollowUp, day="on")
declare("follow_up_fevers", FollowUp, FollowUp.health == Health.FEVER.value, day="on")
