"""Logging in and out, refreshing tokens, and what the viewer may do.

Runs on the unscoped system session: before login there is no user whose scope could
filter anything, and login sessions and failure counters are bookkeeping about the
account itself, not records of a place.

What a client can learn from a failed login is nothing: unknown user, wrong password,
deactivated account and locked account all answer the same message, and each costs one
Argon2 verification (against a dummy hash when the user does not exist), so the answer's
timing does not tell them apart either. The audit row says which it was.

Audit rows never hold a login session's id (with the signing secret it is all a token is
made of, and admins read the trail): they hold ``sessionHmac``, a 12-digit keyed
fingerprint (``authz.tokens.session_fingerprint``) that links the rows of one login.
"""

from __future__ import annotations

import asyncio
import functools
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from authz.enforcer import role_permissions
from authz.passwords import hash_password, needs_rehash, verify_password
from authz.principal import active_grants_stmt
from authz.tokens import REFRESH, decode_token, issue_access_token, issue_refresh_token, session_fingerprint
from db.accounts import AreaGrant, LoginSession, User
from db.area import Area
from db.base import aware, utcnow
from db.errors import Unauthenticated
from db.validators import has_unstorable_chars
from resolvers.audit import common_area, event
from resolvers.unit_of_work import command

INVALID_LOGIN = "invalid username or password"
#: Longer "passwords" are refused without hashing megabytes (Argon2 hashes any length).
MAX_PASSWORD_LENGTH = 1024


@functools.cache
def _dummy_hash() -> str:
    """A hash nobody knows the password of, verified when the user does not exist."""
    return hash_password(secrets.token_urlsafe(24))


@dataclass
class ViewerData:
    user: User
    grants: list[tuple[AreaGrant, str | None]]  # active grants with their area's name
    permissions: list[tuple[str, str, str]]  # (area_code, resource, action), sorted


@dataclass
class Tokens:
    access_token: str
    refresh_token: str
    expires_at: datetime  # of the access token
    viewer: ViewerData


async def load_viewer(session, user: User, enforcer, now: datetime | None = None) -> ViewerData:
    """The user's grants valid now (with area names) and what each lets them do there."""
    now = now or utcnow()
    stmt = (active_grants_stmt(user.id, now).add_columns(Area.name)
            .outerjoin(Area, Area.code == AreaGrant.area_code)
            .order_by(AreaGrant.area_code, AreaGrant.role, AreaGrant.id))
    grants = [(g, name) for g, name in (await session.execute(stmt)).all()]
    permissions = sorted({(g.area_code, resource, action)
                          for g, _ in grants for resource, action in role_permissions(enforcer, g.role)})
    return ViewerData(user, grants, permissions)


def _issue(settings, user_id: int, session_id: str, session_expires: datetime, now: datetime):
    access_ttl = timedelta(minutes=settings.access_token_minutes)
    access = issue_access_token(user_id, settings.secret, ttl=access_ttl, session_id=session_id)
    refresh = issue_refresh_token(user_id, settings.secret, ttl=session_expires - now, session_id=session_id)
    return access, refresh, now + access_ttl


@command(public=True, own_transactions="a failed login is audited and committed all the same")
async def login(ctx, username: str, password: str) -> Tokens:
    """Tokens for a new login session; :class:`Unauthenticated` (always the same message) otherwise.

    The attempt is audited either way, committed even when the login fails.
    """
    settings, now = ctx.settings, utcnow()
    async with ctx.unscoped("a login runs before there is a scope", own_transaction=True) as s:
        # A name with NUL (or any control character) cannot exist, and PostgreSQL would
        # refuse to compare it: an internal error, and a failed login left out of the audit.
        user = None if has_unstorable_chars(username) else (
            await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
        if user is None or len(password) > MAX_PASSWORD_LENGTH:
            await asyncio.to_thread(verify_password, _dummy_hash(), password[:MAX_PASSWORD_LENGTH])
            s.add(event(None, "login.failed", actor_username=username,
                        detail={"reason": "unknown user" if user is None else "password too long"}))
            await s.commit()
            raise Unauthenticated(INVALID_LOGIN)

        ok = await asyncio.to_thread(verify_password, user.password_hash, password)
        home = common_area(g.area_code for g in (await s.execute(active_grants_stmt(user.id, now))).scalars())
        locked_until = aware(user.locked_until)
        failure = ("account deactivated" if not user.is_active
                   else "account locked" if locked_until is not None and locked_until > now
                   else None if ok else "wrong password")
        if failure is not None:
            detail = {"reason": failure}
            if failure == "wrong password":
                detail.update(await _count_failure(s, user.id, settings, now))
            s.add(event(None, "login.failed", actor_username=username, resource="user", record_ids=[user.id],
                        area_code=home, detail=detail))
            await s.commit()
            raise Unauthenticated(INVALID_LOGIN)

        values = {"failed_logins": 0, "locked_until": None}
        if needs_rehash(user.password_hash):
            values["password_hash"] = await asyncio.to_thread(hash_password, password)
        await s.execute(update(User).where(User.id == user.id).values(**values)
                        .execution_options(synchronize_session=False))
        session_id = str(uuid.uuid4())
        expires = now + timedelta(days=settings.refresh_token_days)
        s.add(LoginSession(id=session_id, user_id=user.id, created_at=now, expires_at=expires))
        s.add(event(user, "login", resource="user", record_ids=[user.id], area_code=home,
                    detail={"sessionHmac": session_fingerprint(settings.secret, session_id)}))
        viewer = await load_viewer(s, user, ctx.app_state.enforcer, now)
        await s.commit()
    access, refresh, access_expires = _issue(settings, user.id, session_id, expires, now)
    return Tokens(access, refresh, access_expires, viewer)


async def _count_failure(s, user_id: int, settings, now: datetime) -> dict:
    """One more failed attempt; at the threshold the account locks and the count restarts.

    The increment is one UPDATE (``failed_logins + 1``), so concurrent guesses cannot
    overwrite each other's count.
    """
    await s.execute(update(User).where(User.id == user_id).values(failed_logins=User.failed_logins + 1)
                    .execution_options(synchronize_session=False))
    count = (await s.execute(select(User.failed_logins).where(User.id == user_id))).scalar_one()
    if count < settings.lockout_threshold:
        return {"failedLogins": count}
    until = now + timedelta(minutes=settings.lockout_minutes)
    await s.execute(update(User).where(User.id == user_id).values(failed_logins=0, locked_until=until)
                    .execution_options(synchronize_session=False))
    return {"failedLogins": count, "lockedUntil": until.isoformat()}


@command(public=True, own_transactions="a refused refresh is audited and committed all the same")
async def refresh(ctx, refresh_token: str) -> Tokens:
    """New tokens for a standing login; the old refresh (and access) token stop working.

    Audited like logins (``token.refresh``, ``token.refresh.failed``): every mutation leaves
    a row, and a refused refresh of a real session is what a stolen token looks like.

    Rotation replaces the login session by a new one with the same end: a refresh never
    extends a login beyond ``refresh_token_days`` after the password was given, and a
    stolen refresh token used after its owner refreshed is refused.
    """
    settings, now = ctx.settings, utcnow()
    claims = decode_token(refresh_token, settings.secret, REFRESH)
    async with ctx.unscoped("a refresh runs before there is a scope", own_transaction=True) as s:
        row = (await s.execute(
            select(User, LoginSession).join(LoginSession, LoginSession.user_id == User.id)
            .where(User.id == int(claims["sub"]), LoginSession.id == claims["sid"])
        )).first()
        if row is None:
            raise Unauthenticated("invalid or expired token")
        user, old = row
        expires = aware(old.expires_at)
        home = common_area(g.area_code for g in (await s.execute(active_grants_stmt(user.id, now))).scalars())
        failure = ("account deactivated" if not user.is_active
                   else "session revoked" if old.revoked_at is not None
                   else "session expired" if expires <= now else None)
        if failure is None:
            taken = await s.execute(update(LoginSession)
                                    .where(LoginSession.id == old.id, LoginSession.revoked_at.is_(None))
                                    .values(revoked_at=now).execution_options(synchronize_session=False))
            if taken.rowcount != 1:  # a concurrent refresh with the same token won
                failure = "session revoked"
        if failure is not None:
            # A replayed refresh token (its session already rotated or logged out) is the
            # sign of a stolen one: audited like a failed login, committed although refused.
            s.add(event(None, "token.refresh.failed", actor_username=user.username, resource="user",
                        record_ids=[user.id], area_code=home,
                        detail={"reason": failure, "sessionHmac": session_fingerprint(settings.secret, old.id)}))
            await s.commit()
            raise Unauthenticated("invalid or expired token")
        session_id = str(uuid.uuid4())
        s.add(LoginSession(id=session_id, user_id=user.id, created_at=now, expires_at=expires))
        s.add(event(user, "token.refresh", resource="user", record_ids=[user.id], area_code=home,
                    detail={"sessionHmac": session_fingerprint(settings.secret, session_id),
                            "replacesHmac": session_fingerprint(settings.secret, old.id)}))
        viewer = await load_viewer(s, user, ctx.app_state.enforcer, now)
        await s.commit()
    access, new_refresh, access_expires = _issue(settings, user.id, session_id, expires, now)
    return Tokens(access, new_refresh, access_expires, viewer)


@command(own_transactions="it ends the caller's own login on the system session, before any scope matters")
async def logout(ctx) -> bool:
    """Revoke the login session the request's token names; its tokens are refused from now on."""
    if ctx.user is None or ctx.session_id is None:
        raise Unauthenticated("not logged in")
    now = utcnow()
    async with ctx.unscoped("the caller's own login session, not a record of an area", own_transaction=True) as s:
        done = await s.execute(update(LoginSession)
                               .where(LoginSession.id == ctx.session_id, LoginSession.revoked_at.is_(None))
                               .values(revoked_at=now).execution_options(synchronize_session=False))
        s.add(event(ctx.user, "logout", resource="user", record_ids=[ctx.user.id],
                    area_code=common_area(g.area_code for g in ctx.scope.grants),
                    detail={"sessionHmac": session_fingerprint(ctx.settings.secret, ctx.session_id)}))
        await s.commit()
    return done.rowcount == 1


async def viewer(ctx) -> ViewerData | None:
    if ctx.user is None:
        return None
    ctx.charge(1)  # not cached: each alias reads the grants again
    async with ctx.lock, ctx.unscoped("the viewer's own grants, also those the gate would hide") as s:
        return await load_viewer(s, ctx.user, ctx.scope.enforcer)
