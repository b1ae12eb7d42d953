"""Append-only audit trail: every write, every clear read of personal data, every login.

The migration installs triggers that refuse UPDATE and DELETE on this table, so not even
a bug in the API (or a careless administrator with SQL access through the app's role) can
rewrite history; expiring old rows is a retention job run with its own privileges.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.base import AreaCode, utcnow
from db.registration import place_bound


@place_bound("audit", bookkeeping="the record of a write or read that was itself checked; append-only")
class AuditEvent(SQLModel, table=True):
    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_area_at", "area_code", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    actor_id: int | None = Field(default=None, index=True)
    actor_username: str | None = Field(default=None, sa_type=sa.String(64))
    action: str = Field(sa_type=sa.String(40), nullable=False, index=True)
    resource: str | None = Field(default=None, sa_type=sa.String(32))
    record_ids: str | None = Field(default=None, sa_type=sa.Text)
    area_code: str | None = Field(default=None, sa_type=AreaCode())
    detail: dict | None = Field(default=None, sa_type=sa.JSON)
