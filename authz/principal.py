"""From a bearer token to the user and the grants valid right now.

Runs on the unscoped system session (the scope does not exist yet: it is built from what
this reads). One indexed SELECT per request: the login session joined to its user and
outer-joined to the user's active grants. Grants are read fresh every request, so a
revocation or expiry takes effect on the very next request in every process.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import and_, bindparam, null, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from authz.grants import ActiveGrant
from authz.tokens import ACCESS, decode_token
from db.accounts import AreaGrant, LoginSession, User
from db.base import aware
from db.errors import Unauthenticated


@dataclass(frozen=True)
class Principal:
    user: User
    session_id: str
    grants: tuple[ActiveGrant, ...]

    @property
    def subject(self) -> str:
        return subject_of(self.user.id)


def subject_of(user_id: int) -> str:
    return f"user:{user_id}"


def active_at(now: datetime) -> tuple:
    """Conditions of a grant in force at ``now``: not revoked, begun, not ended."""
    return (AreaGrant.revoked_at.is_(None), AreaGrant.valid_from <= now,
            or_(AreaGrant.valid_until.is_(None), AreaGrant.valid_until > now))


def active_grants_stmt(user_id: int, now: datetime):
    return select(AreaGrant).where(AreaGrant.user_id == user_id, *active_at(now))


async def authenticate(session: AsyncSession, authorization: str | None, secret: str, *,
                       also: ColumnElement | None = None) -> tuple[Principal | None, Any]:
    """``(principal, also's value)``: None for an anonymous request; ``Unauthenticated`` for
    any bad or revoked token.

    One round trip: the login session, its user and the active grants come from one
    statement (the grants outer-joined, so a user without any still gets a row), and
    ``also``, a scalar subquery the caller needs on every request (the policy version),
    rides along. The value of ``also`` is None when no statement ran (no token, or one
    refused before the database is asked).
    """
    if not authorization:
        return None, None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    claims = decode_token(token.strip(), secret, ACCESS)
    now = datetime.now(timezone.utc)
    params = {"user_id": int(claims["sub"]), "session_id": claims["sid"], "now": now}
    rows = (await session.execute(_login_statement(also), params)).all()
    if not rows:
        raise Unauthenticated("invalid or expired token")
    first = rows[0]
    user = first.User
    if not user.is_active or first.revoked_at is not None or aware(first.expires_at) <= now:
        raise Unauthenticated("invalid or expired token")
    grants = tuple(ActiveGrant(r.role, r.area_code, aware(r.valid_until)) for r in rows if r.role is not None)
    return Principal(user, first.login_id, grants), first.also


@functools.cache
def _login_statement(also: ColumnElement | None):
    """The one statement of ``authenticate``, built once (with bound parameters), not per request.

    The login session and the grants come back as columns, not ORM objects: only a few of
    their values are read, once, and building the objects was a tenth of authenticating.
    """
    now = bindparam("now")  # typed by the columns it is compared with
    return (
        select(User, LoginSession.id.label("login_id"), LoginSession.revoked_at, LoginSession.expires_at,
               AreaGrant.role, AreaGrant.area_code, AreaGrant.valid_until,
               (also if also is not None else null()).label("also"))
        .join(LoginSession, LoginSession.user_id == User.id)
        .outerjoin(AreaGrant, and_(AreaGrant.user_id == User.id, *active_at(now)))
        .where(User.id == bindparam("user_id"), LoginSession.id == bindparam("session_id"))
    )
