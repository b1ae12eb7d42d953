"""Isolation (居家隔离 / 集中隔离): who is isolated where, their temperatures, alerts and supplies.

An **isolation record** is opened for a resident, at home or at a central **site** (集中隔离点),
for a reason and a planned period (default 14 days), with the door seal applied (none, paper,
electronic); it ends released, moved to hospital or moved to another site. A resident has
at most one active record. The record lies in the resident's grid (``area_code``).

A **site** belongs to an area (usually a district) and names no one: it is declared
``seen_from_below`` so the community staff placing someone there read it, while only the
site's own office changes it. Its capacity is checked against its active records when a
person is placed.

**Readings** (twice a day, morning and evening windows of the deployment's local time) are
taken only inside the isolation period; one of 37.3 °C or more raises an **alert** on the
record, open until a staff member acknowledges it with a note. **Deliveries** record the
supplies brought (生活物资保障).

Which columns are personal, and why (``db.registration.personal``):

- a record's ``reason`` (close contact, fever...) is health data: hidden (null);
- free text about the person (release reason, symptoms, alert notes, items delivered):
  withheld (****);
- a reading's ``celsius`` is health data: hidden. An alert's existence is not: officers plan
  by the number of open alerts, as they do by fevers counted.
"""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlmodel import Field

from db.base import AreaCode, Stamped
from db.counters import declare
from db.registration import personal, place_bound


class IsolationKind(str, enum.Enum):
    HOME = "home"  # 居家隔离
    CENTRAL = "central"  # 集中隔离


class IsolationReason(str, enum.Enum):
    CLOSE_CONTACT = "close_contact"  # 密切接触者
    KEY_AREA_RETURNEE = "key_area_returnee"  # 重点地区返乡
    FEVER_FOLLOW_UP = "fever_follow_up"  # 发热随访
    OTHER = "other"


class DoorSeal(str, enum.Enum):
    NONE = "none"
    PAPER = "paper"  # 封条
    ELECTRONIC = "electronic"  # 电子门磁


class IsolationStatus(str, enum.Enum):
    ACTIVE = "active"
    RELEASED = "released"  # 解除隔离
    HOSPITAL = "hospital"  # 转送医院
    MOVED_SITE = "moved_site"  # 转其他隔离点


class ReadingWindow(str, enum.Enum):
    MORNING = "morning"
    EVENING = "evening"


DEFAULT_ISOLATION_DAYS = 14
#: The two daily reading windows, local time (``WANGGE_READING_WINDOWS``).
DEFAULT_READING_WINDOWS = "06:00-12:00,16:00-22:00"


def parse_windows(text: str) -> tuple[tuple[time, time], tuple[time, time]]:
    """``"06:00-12:00,16:00-22:00"``: the morning and the evening window, each start < end,
    the morning's before the evening's; anything else is refused (at start-up)."""
    try:
        parts = [tuple(time.fromisoformat(t.strip()) for t in w.split("-")) for w in text.split(",")]
    except ValueError:
        parts = []
    if len(parts) != 2 or any(len(p) != 2 or p[0] >= p[1] for p in parts) or parts[0][1] > parts[1][0]:
        raise ValueError(f"expected two windows such as {DEFAULT_READING_WINDOWS!r}, got {text!r}")
    return parts[0], parts[1]
#: A reading from which an alert is raised (°C).
ALERT_FROM = 37.3


@place_bound("isolation_site", seen_from_below=True)
class IsolationSite(Stamped, table=True):
    __tablename__ = "isolation_site"
    __table_args__ = (sa.Index("ix_isolation_site_area_id", "area_code", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    name: str = Field(sa_type=sa.String(100), nullable=False)
    address: str = Field(sa_type=sa.String(200), nullable=False)
    capacity: int = Field(nullable=False)
    active: bool = Field(default=True, nullable=False)


@place_bound("isolation")
class Isolation(Stamped, table=True):
    __tablename__ = "isolation"
    __table_args__ = (
        sa.Index("ix_isolation_area_id", "area_code", "id"),
        sa.Index("ix_isolation_site_status", "site_id", "status"),
        # one active isolation per person; a concurrent second loses here
        sa.Index("uq_isolation_active_resident", "resident_id", unique=True,
                 sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'")),
    )

    id: int | None = Field(default=None, primary_key=True)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    resident_id: int = Field(foreign_key="resident.id", nullable=False)
    kind: str = Field(sa_type=sa.String(8), nullable=False)
    site_id: int | None = Field(default=None, foreign_key="isolation_site.id")
    reason: str = Field(sa_type=sa.String(20), nullable=False, sa_column_kwargs=personal("hidden"))
    starts_on: date = Field(nullable=False)
    planned_end: date = Field(nullable=False)
    seal: str = Field(default=DoorSeal.NONE.value, sa_type=sa.String(12), nullable=False)
    sealed_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    status: str = Field(default=IsolationStatus.ACTIVE.value, sa_type=sa.String(12), nullable=False)
    ended_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    #: The local day it ended, the day the release is counted on.
    ended_on: date | None = Field(default=None)
    ended_by: int | None = Field(default=None, foreign_key="app_user.id")
    end_reason: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))
    #: An alert raised by a reading and not yet acknowledged.
    alert_open: bool = Field(default=False, nullable=False)


@place_bound("isolation")
class TemperatureReading(Stamped, table=True):
    __tablename__ = "isolation_reading"
    __table_args__ = (
        sa.Index("ix_isolation_reading_area_id", "area_code", "id"),
        sa.Index("ix_isolation_reading_isolation_day", "isolation_id", "on", "window"),
    )

    id: int | None = Field(default=None, primary_key=True)
    isolation_id: int = Field(foreign_key="isolation.id", nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    on: date = Field(nullable=False)
    #: The reading window ``at`` fell in (None: taken outside both).
    window: str | None = Field(default=None, sa_type=sa.String(8))
    celsius: float = Field(sa_type=sa.Float(), nullable=False, sa_column_kwargs=personal("hidden"))
    symptoms: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))
    alert: bool = Field(default=False, nullable=False)
    acknowledged_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    acknowledged_by: int | None = Field(default=None, foreign_key="app_user.id")
    acknowledgement: str | None = Field(default=None, sa_type=sa.String(200), sa_column_kwargs=personal("withheld"))


@place_bound("isolation")
class SupplyDelivery(Stamped, table=True):
    __tablename__ = "isolation_delivery"
    __table_args__ = (sa.Index("ix_isolation_delivery_area_id", "area_code", "id"),
                      sa.Index("ix_isolation_delivery_isolation", "isolation_id"))

    id: int | None = Field(default=None, primary_key=True)
    isolation_id: int = Field(foreign_key="isolation.id", nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False)
    at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    on: date = Field(nullable=False)
    items: str = Field(sa_type=sa.String(300), nullable=False, sa_column_kwargs=personal("withheld"))


# -- counters (db.counters) ---------------------------------------------------------------

ACTIVE = Isolation.status == IsolationStatus.ACTIVE.value
declare("isolated_home", Isolation, ACTIVE & (Isolation.kind == IsolationKind.HOME.value))
declare("isolated_central", Isolation, ACTIVE & (Isolation.kind == IsolationKind.CENTRAL.value))
declare("isolation_alerts_open", Isolation, ACTIVE & Isolation.alert_open.is_(True))
declare("isolations_started", Isolation, day="starts_on")
declare("isolations_ended", Isolation, day="ended_on")
declare("isolation_readings", TemperatureReading, day="on")
declare("isolation_fever_alerts", TemperatureReading, TemperatureReading.alert.is_(True), day="on")
declare("isolation_deliveries", SupplyDelivery, day="on")
