"""From a bearer token to the user and the grants valid right now.

Runs on the unscoped system session (the scope does not exist yet: it is built from what
this reads). Two indexed SELECTs per request: the login session joined to its user, and
the user's active grants. Grants are read fresh every request, so a revocation or expiry
takes effect on the very next request in every process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

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


def active_grants_stmt(user_id: int, now: datetime):
    return select(AreaGrant).where(
        AreaGrant.user_id == user_id,
        AreaGrant.revoked_at.is_(None),
        AreaGrant.valid_from <= now,
        or_(AreaGrant.valid_until.is_(None), AreaGrant.valid_until > now),
    )


async def authenticate(session: AsyncSession, authorization: str | None, secret: str) -> Principal | None:
    """None for an anonymous request; ``Unauthenticated`` for any bad or revoked token."""
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("expected 'Authorization: Bearer <token>'")
    claims = decode_token(token.strip(), secret, ACCESS)
    now = datetime.now(timezone.utc)
    row = (await session.execute(
        select(User, LoginSession)
        .join(LoginSession, LoginSession.user_id == User.id)
        .where(User.id == int(claims["sub"]), LoginSession.id == claims["sid"])
    )).first()
    if row is None:
        raise Unauthenticated("invalid or expired token")
    user, login = row
    if not user.is_active or login.revoked_at is not None or aware(login.expires_at) <= now:
        raise Unauthenticated("invalid or expired token")
    grants = (await session.execute(active_grants_stmt(user.id, now))).scalars().all()
    return Principal(user, login.id, tuple(ActiveGrant(g.role, g.area_code, aware(g.valid_until)) for g in grants))

