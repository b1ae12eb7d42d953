"""Column types and the bookkeeping every editable table shares.

Area codes are compared as byte strings: on PostgreSQL the code columns are declared
``COLLATE "C"`` so that a prefix range (``code >= '2301' AND code < '2301~'``) is answered
from an ordinary B-tree index; the server's default collation (often ``C.UTF-8``) is not
treated as "C" by PostgreSQL 15 and would fall back to a filter. SQLite compares with
BINARY already, and knows no collation called "C", hence the variant.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from sqlmodel import Field, SQLModel


def AreaCode() -> sa.types.TypeEngine:  # noqa: N802 - reads like a type at use sites
    """A type for area-code columns: binary collation on every backend."""
    return sa.String(15).with_variant(sa.String(15, collation="C"), "postgresql")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes for ``timestamptz`` columns; they are UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=timezone.utc)


class Stamped(SQLModel):
    """Who made and last changed a row, when, and an optimistic-lock ``version``.

    ``version`` is how two grid workers editing the same resident find out: every update
    states the version it read, and a stale one is refused instead of silently winning.
    """

    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    updated_by: int | None = Field(default=None, foreign_key="app_user.id")
    version: int = Field(default=1, nullable=False)
