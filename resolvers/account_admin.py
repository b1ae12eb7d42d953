"""What area administrators change: accounts and grants, under the delegation rules.

Each rule is a Casbin decision through the request's :class:`Scope`:

- a grant is made only where the admin holds ``grant grant``, and only of a role whose every
  permission the admin holds there (``authz.delegation.check_can_grant``); ``createUser``
  also needs ``user create`` there;
- a grant is revoked, and an account deactivated, only by someone who could have granted
  every grant concerned (for a deactivation: every current and future grant of the user,
  or, if there are none, every expired one) and holds ``user update`` there, so an office
  cannot remove the supervisors who inspect it (admins lack the ``finding`` rights
  supervisors hold) nor switch off someone who also works elsewhere;
- nobody grants to, revokes from or deactivates themselves;
- the target of a change must be visible to the admin (``resolvers.account.visible_users``).

Every change is written with its audit row in one transaction on the request's session;
an expected failure rolls the whole transaction back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from authz.delegation import check_can_grant, check_within_own_term
from authz.passwords import hash_password
from db.accounts import AreaGrant, LoginSession, User
from db.area import Area
from db.base import aware, utcnow
from db.codes import validate_code
from db.errors import Conflict, DomainError, Forbidden, InvalidField, NotFound
from db.seed_users import create_user as create_account
from resolvers.account import require_user, transaction, visible_users
from resolvers.audit import common_area, event, utc


@dataclass
class NewUser:
    username: str
    display_name: str
    password: str
    role: str
    area_code: str
    valid_until: datetime | None = None


async def create_user(ctx, new: NewUser) -> User:
    """A user and their first grant, in one transaction; the grant passes the delegation rules."""
    actor = require_user(ctx)
    area = validate_code(new.area_code, "areaCode")
    if not ctx.scope.allows(area, "user", "create"):
        raise Forbidden(f"you may not create users at area {area}", field="areaCode")
    check_can_grant(ctx.scope, ctx.scope.enforcer, new.role, area)
    valid_until = utc(new.valid_until, "validUntil")
    check_within_own_term(ctx.scope, ctx.scope.enforcer, new.role, area, valid_until, also=(("user", "create"),))
    if not isinstance(new.password, str) or len(new.password) > 1024:
        raise InvalidField("password", "at most 1024 characters")
    password_hash = await asyncio.to_thread(hash_password, new.password)  # off the event loop
    async with transaction(ctx) as session:
        user = await session.run_sync(lambda s: create_account(
            s, new.username, new.display_name, new.password, new.role, area, valid_until,
            policies_path=ctx.settings.policies_path, granted_by=actor.id, password_hash=password_hash))
        user.created_by = actor.id
        grant = (await session.execute(select(AreaGrant).where(AreaGrant.user_id == user.id))).scalar_one()
        session.add(event(actor, "user.create", resource="user", record_ids=[user.id], area_code=area, detail={
            "after": {"username": user.username, "displayName": user.display_name, "isActive": True},
            "grant": _grant_detail(grant)}))
    return user


def _grant_detail(g: AreaGrant) -> dict:
    return {"id": g.id, "userId": g.user_id, "role": g.role, "areaCode": g.area_code,
            "validFrom": g.valid_from, "validUntil": g.valid_until, "revokedAt": g.revoked_at}


async def _visible_user(ctx, session, user_id: int, field: str = "userId") -> User:
    user = (await session.execute(select(User).where(User.id == user_id, visible_users(ctx.scope)))).scalar_one_or_none()
    if user is None:
        raise NotFound("no such user in your area", field=field)
    return user


@dataclass
class NewGrant:
    user_id: int
    role: str
    area_code: str
    valid_from: datetime | None = None
    valid_until: datetime | None = None


async def grant_role(ctx, new: NewGrant) -> AreaGrant:
    actor = require_user(ctx)
    now = utcnow()
    area = validate_code(new.area_code, "areaCode")
    # A grant starts no earlier than it is made: a back-dated validFrom would make the grant
    # record claim the user held the role before anyone gave it (what audits and reviews read).
    valid_from = max(utc(new.valid_from, "validFrom") or now, now)
    valid_until = utc(new.valid_until, "validUntil")
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidField("validUntil", "must be later than validFrom")
    if valid_until is not None and valid_until <= now:
        raise InvalidField("validUntil", "must be in the future")
    if new.user_id == actor.id:
        raise Forbidden("you may not grant roles to yourself; ask another administrator", field="userId")
    check_can_grant(ctx.scope, ctx.scope.enforcer, new.role, area)
    check_within_own_term(ctx.scope, ctx.scope.enforcer, new.role, area, valid_until)
    async with transaction(ctx) as session:
        user = await _visible_user(ctx, session, new.user_id)
        if not user.is_active:
            raise InvalidField("userId", "this account is deactivated")
        if (await session.execute(select(Area.code).where(Area.code == area))).scalar_one_or_none() is None:
            raise InvalidField("areaCode", f"no area has code '{area}'")
        grant = AreaGrant(user_id=user.id, role=new.role, area_code=area, valid_from=valid_from,
                          valid_until=valid_until, granted_by=actor.id, created_at=now)
        session.add(grant)
        await session.flush()
        session.add(event(actor, "grant.create", resource="grant", record_ids=[grant.id], area_code=area,
                          detail={"after": _grant_detail(grant)}))
    return grant


async def revoke_grant(ctx, grant_id: int) -> AreaGrant:
    actor = require_user(ctx)
    now = utcnow()
    async with transaction(ctx) as session:
        # The gate hides grants outside this request's ``grant read`` scope: not found.
        grant = (await session.execute(select(AreaGrant).where(AreaGrant.id == grant_id))).scalar_one_or_none()
        if grant is None:
            raise NotFound("no such grant in your area", field="grantId")
        if grant.user_id == actor.id:
            raise Forbidden("you may not revoke your own grants; ask another administrator", field="grantId")
        _check_may_take_back(ctx, grant, "grantId")
        if grant.revoked_at is not None:
            raise Conflict("this grant is already revoked", field="grantId")
        before = _grant_detail(grant)
        grant.revoked_at, grant.revoked_by = now, actor.id
        session.add(event(actor, "grant.revoke", resource="grant", record_ids=[grant.id],
                          area_code=grant.area_code, detail={"before": before, "after": _grant_detail(grant)}))
    return grant


def _check_may_take_back(ctx, grant: AreaGrant, field: str) -> None:
    """Only who could have made a grant may end it (see the module docstring)."""
    try:
        check_can_grant(ctx.scope, ctx.scope.enforcer, grant.role, grant.area_code)
    except DomainError as exc:
        raise Forbidden(f"you may not take back role '{grant.role}' at {grant.area_code}: {exc.message}",
                        field=field) from None


async def deactivate_user(ctx, user_id: int) -> User:
    actor = require_user(ctx)
    now = utcnow()
    if user_id == actor.id:
        raise Forbidden("you may not deactivate yourself; ask another administrator", field="userId")
    concerned = await _grants_concerned(ctx, user_id, now)
    async with transaction(ctx) as session:
        user = await _visible_user(ctx, session, user_id)
        for grant in concerned:
            if not ctx.scope.allows(grant.area_code, "user", "update"):
                raise Forbidden(f"this user also holds a role at {grant.area_code}, outside your area",
                                field="userId")
            _check_may_take_back(ctx, grant, "userId")
        if not user.is_active:
            raise Conflict("this account is already deactivated", field="userId")
        user.is_active = False
        user.version += 1
        ended = await session.execute(update(LoginSession)
                                      .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                                      .values(revoked_at=now).execution_options(synchronize_session=False))
        session.add(event(actor, "user.deactivate", resource="user", record_ids=[user.id],
                          area_code=common_area(g.area_code for g in concerned),
                          detail={"before": {"isActive": True}, "after": {"isActive": False},
                                  "sessionsRevoked": ended.rowcount}))
    return user


async def _grants_concerned(ctx, user_id: int, now: datetime) -> list[AreaGrant]:
    """The grants a deactivation ends: current and future ones; if none, the expired ones.

    Read on the system session, because every grant counts, including those this
    request's gate would hide. (An empty list means the user is not visible anyway.)
    """
    async with ctx.system_read() as system:
        standing = list((await system.execute(select(AreaGrant).where(
            AreaGrant.user_id == user_id, AreaGrant.revoked_at.is_(None)))).scalars())
    pending = [g for g in standing if g.valid_until is None or aware(g.valid_until) > now]
    return pending or standing

