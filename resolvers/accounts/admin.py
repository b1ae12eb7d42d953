"""What area administrators change: accounts and grants, under the delegation rules.

One rule decides every change, ``authz.delegation.grant_refusal``: could this admin have
made the grant concerned (its area inside their ``grant grant`` rights, every permission
of its role held there, ending no later than their own rights to make it)?

- a grant is made only if it passes the rule; ``createUser`` also needs ``user create``
  there;
- a grant is revoked only by someone who could have made it: a one-day deputy cannot end
  the open-ended grant of the admin who appointed it, and an office cannot remove the
  supervisors who inspect it (admins lack the ``finding`` rights supervisors hold);
- an account is deactivated (``user update``) or reactivated (``user reactivate``) only by
  someone who could have made every grant concerned: every current and future grant of
  the user; if there are none, every expired one and the user's most recent grant (the one
  that keeps them visible, ``resolvers.accounts.users.visible_users``). So nobody switches off
  someone who also works elsewhere, or someone whose term outlasts their own;
- nobody grants to, revokes from, deactivates or reactivates themselves;
- the target of a change must be visible to the admin (``resolvers.accounts.users.visible_users``);
- refusals name the input and a reason, never an area or a role the admin may not see.

Each change is a command (``resolvers.unit_of_work``), written with its audit row in one
transaction on the request's session; an expected failure rolls the whole transaction back.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from authz.delegation import check_could_have_granted, check_grantable
from authz.passwords import hash_password
from authz.users import create_user as create_account
from db.accounts import AreaGrant, LoginSession, User
from db.area import Area
from db.base import aware, utcnow
from db.codes import validate_code
from db.errors import Conflict, Forbidden, InvalidField, NotFound
from resolvers.accounts.users import visible_users
from resolvers.audit import common_area, utc
from resolvers.unit_of_work import Requires, UnitOfWork, command


@dataclass
class NewUser:
    username: str
    display_name: str
    password: str
    role: str
    area_code: str
    valid_until: datetime | None = None


@command(Requires("user", "create", "areaCode"), Requires("grant", "grant", "areaCode"))
async def create_user(w: UnitOfWork, new: NewUser) -> User:
    """A user and their first grant, in one transaction; the grant passes the delegation rules."""
    ctx, actor = w.ctx, w.user
    area = validate_code(new.area_code, "areaCode")
    if not ctx.scope.allows(area, "user", "create"):
        raise Forbidden("you may not create users in this area", field="areaCode")
    w.noted("user", "create", "areaCode")
    valid_until = utc(new.valid_until, "validUntil")
    check_grantable(ctx.scope, new.role, area, valid_until, also=(("user", "create"),))
    w.noted("grant", "grant", "areaCode")
    if not isinstance(new.password, str) or len(new.password) > 1024:
        raise InvalidField("password", "at most 1024 characters")
    password_hash = await asyncio.to_thread(hash_password, new.password)  # off the event loop
    session = w.session
    user = await session.run_sync(lambda s: create_account(
        s, new.username, new.display_name, new.password, new.role, area, valid_until,
        policies_path=ctx.settings.policies_path, granted_by=actor.id, password_hash=password_hash))
    user.created_by = actor.id
    grant = (await session.execute(select(AreaGrant).where(AreaGrant.user_id == user.id))).scalar_one()
    w.audit("user.create", resource="user", record_ids=[user.id], area_code=area, detail={
        "after": {"username": user.username, "displayName": user.display_name, "isActive": True},
        "grant": _grant_detail(grant)})
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


@command(Requires("grant", "grant", "areaCode"))
async def grant_role(w: UnitOfWork, new: NewGrant) -> AreaGrant:
    ctx, actor = w.ctx, w.user
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
    check_grantable(ctx.scope, new.role, area, valid_until)
    w.noted("grant", "grant", "areaCode")
    session = w.session
    user = await _visible_user(ctx, session, new.user_id)
    if not user.is_active:
        raise InvalidField("userId", "this account is deactivated")
    if (await session.execute(select(Area.code).where(Area.code == area))).scalar_one_or_none() is None:
        raise InvalidField("areaCode", f"no area has code '{area}'")
    grant = AreaGrant(user_id=user.id, role=new.role, area_code=area, valid_from=valid_from,
                      valid_until=valid_until, granted_by=actor.id, created_at=now)
    session.add(grant)
    await session.flush()
    w.audit("grant.create", resource="grant", record_ids=[grant.id], area_code=area,
            detail={"after": _grant_detail(grant)})
    return grant


@command(Requires("grant", "grant", "grantId"))
async def revoke_grant(w: UnitOfWork, grant_id: int) -> AreaGrant:
    ctx, actor = w.ctx, w.user
    now = utcnow()
    # The gate hides grants outside this request's ``grant read`` scope: not found.
    grant = (await w.session.execute(select(AreaGrant).where(AreaGrant.id == grant_id))).scalar_one_or_none()
    if grant is None:
        raise NotFound("no such grant in your area", field="grantId")
    if grant.user_id == actor.id:
        raise Forbidden("you may not revoke your own grants; ask another administrator", field="grantId")
    check_could_have_granted(ctx.scope, grant.role, grant.area_code, aware(grant.valid_until), field="grantId",
                             lead="you may not revoke this grant: it is one")
    w.noted("grant", "grant", "grantId")
    if grant.revoked_at is not None:
        raise Conflict("this grant is already revoked", field="grantId")
    before = _grant_detail(grant)
    grant.revoked_at, grant.revoked_by = now, actor.id
    w.audit("grant.revoke", resource="grant", record_ids=[grant.id], area_code=grant.area_code,
            detail={"before": before, "after": _grant_detail(grant)})
    return grant


@command(Requires("user", "update", "userId"))
async def deactivate_user(w: UnitOfWork, user_id: int) -> User:
    """Switch an account off and end its logins; see the module docstring for who may."""
    now, session = utcnow(), w.session
    user, concerned = await _switchable_user(w, user_id, now, "deactivate", ("user", "update"))
    if not user.is_active:
        raise Conflict("this account is already deactivated", field="userId")
    user.is_active = False
    user.version += 1
    ended = await session.execute(update(LoginSession)
                                  .where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
                                  .values(revoked_at=now).execution_options(synchronize_session=False))
    w.audit("user.deactivate", resource="user", record_ids=[user.id],
            area_code=common_area(g.area_code for g in concerned),
            detail={"before": {"isActive": True}, "after": {"isActive": False}, "sessionsRevoked": ended.rowcount})
    return user


@command(Requires("user", "reactivate", "userId"))
async def reactivate_user(w: UnitOfWork, user_id: int) -> User:
    """Switch a deactivated account back on, under the rules of :func:`deactivate_user`.

    Needs ``user reactivate`` (not ``user update``) at the area of every grant concerned, so
    no role may reactivate until a policy line says so. Logins ended by the deactivation
    stay ended: the user logs in again.
    """
    user, concerned = await _switchable_user(w, user_id, utcnow(), "reactivate", ("user", "reactivate"))
    if user.is_active:
        raise Conflict("this account is already active", field="userId")
    user.is_active = True
    user.version += 1
    w.audit("user.reactivate", resource="user", record_ids=[user.id],
            area_code=common_area(g.area_code for g in concerned),
            detail={"before": {"isActive": False}, "after": {"isActive": True}})
    return user


async def _switchable_user(w: UnitOfWork, user_id: int, now: datetime, verb: str,
                           permission: tuple[str, str]) -> tuple[User, list[AreaGrant]]:
    """The visible user the actor may ``verb`` and the grants that decided it, or raise."""
    ctx = w.ctx
    if user_id == w.user.id:
        raise Forbidden(f"you may not {verb} yourself; ask another administrator", field="userId")
    user = await _visible_user(ctx, w.session, user_id)
    concerned = await _grants_concerned(w, user_id, now)
    for grant in concerned:
        check_could_have_granted(ctx.scope, grant.role, grant.area_code, aware(grant.valid_until), field="userId",
                                 lead=f"you may not {verb} this user: they hold a grant", also=(permission,))
    w.noted(*permission, "userId")
    return user, concerned


async def _grants_concerned(w: UnitOfWork, user_id: int, now: datetime) -> list[AreaGrant]:
    """The grants deciding who may switch a user off or on.

    Current and future grants; if there are none, the expired ones and the most recent
    grant (revoked or not: the one that keeps a user without grants visible). Read on the
    system session, because every grant counts, including those this request's gate would
    hide. Called inside the change's transaction, after the user was found visible.
    """
    async with w.unscoped("every grant of the user decides, also those this reader cannot see") as system:
        grants = list((await system.execute(select(AreaGrant).where(AreaGrant.user_id == user_id)
                                            .order_by(AreaGrant.id))).scalars())
    standing = [g for g in grants if g.revoked_at is None]
    pending = [g for g in standing if g.valid_until is None or aware(g.valid_until) > now]
    if pending:
        return pending
    return standing + [g for g in grants[-1:] if g not in standing]
