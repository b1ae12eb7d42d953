"""Users, their area grants and their login sessions.

Grants are our own table rather than Casbin ``g`` rules: a user's active grants are one
indexed SELECT per request, expiry is exact (``valid_until > now``), and a change is seen
by every server process on its next request. See docs/AUTHORIZATION.md.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from db.base import AreaCode, utcnow
from db.registration import place_bound


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=sa.String(64), nullable=False, unique=True)
    display_name: str = Field(sa_type=sa.String(100), nullable=False)
    password_hash: str = Field(sa_type=sa.String(255), nullable=False)
    is_active: bool = Field(default=True, nullable=False)
    failed_logins: int = Field(default=0, nullable=False)
    locked_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    created_by: int | None = Field(default=None, foreign_key="app_user.id")
    version: int = Field(default=1, nullable=False)


@place_bound("grant", bookkeeping="written only after the delegation rules (authz.delegation) allowed the grant")
class AreaGrant(SQLModel, table=True):
    """User U holds role R in area A (and everything below it), from/until a time."""

    __tablename__ = "area_grant"
    __table_args__ = (sa.Index("ix_area_grant_user_active", "user_id", "revoked_at"),)

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", nullable=False)
    role: str = Field(sa_type=sa.String(32), nullable=False)
    area_code: str = Field(sa_type=AreaCode(), foreign_key="area.code", nullable=False, index=True)
    valid_from: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    valid_until: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    granted_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    revoked_by: int | None = Field(default=None, foreign_key="app_user.id")


class LoginSession(SQLModel, table=True):
    """One login; access and refresh tokens name it (``sid``) so logout can revoke both."""

    __tablename__ = "login_session"

    id: str = Field(sa_type=sa.String(36), primary_key=True)
    user_id: int = Field(foreign_key="app_user.id", nullable=False, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True), nullable=False)
    revoked_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))


class PolicyState(SQLModel, table=True):
    """The policy version every process should be running; bumped by ``reloadPolicies``."""

    __tablename__ = "policy_state"

    id: int = Field(default=1, primary_key=True)
    version: int = Field(default=1, nullable=False)
    fingerprint: str = Field(default="", sa_type=sa.String(64), nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=sa.DateTime(timezone=True), nullable=False)
