"""Accounts and grants managed by area administrators: who is visible, who may change what.

Accounts belong to no place, so the request gate cannot scope them; the rules are here,
written out, and each one is a Casbin decision through the request's :class:`Scope`:

- a user is *visible* to an admin (``users``, ``node``) when they hold a non-revoked grant
  (current, future or expired) inside the admin's ``user read`` scope: one EXISTS in SQL;
- a grant is made only where the admin holds ``grant grant``, and only of a role whose every
  permission the admin holds there (``authz.delegation.check_can_grant``);
- a grant is revoked, and an account deactivated, only by someone who could have granted
  every grant concerned (for a deactivation: every current and future grant of the user,
  or, if there are none, every expired one) and holds ``user update`` there, so an office
  cannot remove the supervisors who inspect it (admins lack the ``finding`` rights
  supervisors hold) nor switch off someone who also works elsewhere;
- nobody grants to, revokes from or deactivates themselves.

Every change is written with its audit row in one transaction on the request's session;
an expected failure rolls the whole transaction back.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from strawberry import relay
from strawberry.dataloader import DataLoader

from authz.delegation import check_can_grant
from authz.passwords import hash_password
from db.accounts import AreaGrant, LoginSession, User
from db.area import Area
from db.base import utcnow
from db.codes import validate_code
from db.errors import Conflict, DomainError, Forbidden, InvalidField, NotFound, Unauthenticated
from db.seed_users import create_user as create_account
from resolvers.audit import aware, common_area, event
from resolvers.pagination import Page, PageArgs, count_many, fetch_pages


def require_user(ctx) -> User:
    """The acting user; :class:`Unauthenticated` (a GraphQL error, not a payload error) if anonymous."""
    if ctx.user is None:
        raise Unauthenticated("log in first")
    return ctx.user


def decode_id(value: str, type_name: str, field: str) -> int:
    """The integer key inside a Relay global ID of ``type_name``."""
    try:
        gid = relay.GlobalID.from_id(value)
        if gid.type_name != type_name:
            raise ValueError
        return int(gid.node_id)
    except Exception:  # noqa: BLE001 - every malformed id is the same user error
        raise InvalidField(field, f"not the id of a {type_name}") from None


@contextlib.asynccontextmanager
async def transaction(ctx):
    """The request session, held for the whole change; committed on success, else rolled back."""
    async with ctx.lock:
        try:
            yield ctx.session
            await ctx.session.commit()
        except IntegrityError:
            await ctx.session.rollback()
            raise Conflict("the change collides with one made at the same time; reload and retry") from None
        except BaseException:
            await ctx.session.rollback()
            raise


# -- visibility ---------------------------------------------------------------------------


def visible_users(scope):
    """SQL: the user holds a non-revoked grant inside ``scope``'s ``user read`` areas."""
    return exists(select(AreaGrant.id).where(
        AreaGrant.user_id == User.id,
        AreaGrant.revoked_at.is_(None),
        scope.condition(AreaGrant.area_code, "user", "read"),
    ))


@dataclass(frozen=True)
class UserFilter:
    search: str | None = None
    active: bool | None = None

    def conditions(self) -> list:
        conds = []
        if self.search:
            conds.append(or_(User.username.contains(self.search, autoescape=True),
                             User.display_name.contains(self.search, autoescape=True)))
        if self.active is not None:
            conds.append(User.is_active.is_(self.active))
        return conds


def users_stmt(ctx, flt: UserFilter):
    require_user(ctx)
    if not ctx.scope.prefixes("user", "read"):
        raise Forbidden("you may not read user accounts anywhere")
    return select(User).where(visible_users(ctx.scope), *flt.conditions())


async def users_page(ctx, flt: UserFilter, args: PageArgs) -> tuple[Page, object]:
    base = users_stmt(ctx, flt)
    page = (await fetch_pages(ctx.run, User, "id", [base], args))[0]

    async def count() -> int:
        return (await count_many(ctx.run, [base]))[0]

    return page, count


class AccountLoaders:
    """Per-operation loaders for account fields, created on first use (see :func:`loaders`)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.user = DataLoader(self._load_users)
        self.grants = DataLoader(self._load_grants)

    async def _load_users(self, ids: list[int]) -> list[User | None]:
        if self.ctx.user is None or not self.ctx.scope.prefixes("user", "read"):
            return [None] * len(ids)
        rows = (await self.ctx.run(select(User).where(User.id.in_(ids), visible_users(self.ctx.scope)))).scalars()
        found = {u.id: u for u in rows}
        return [found.get(i) for i in ids]

    async def _load_grants(self, keys: list[tuple[int, bool]]) -> list[list[tuple[AreaGrant, str | None]]]:
        """Grants of users, as the gate lets this request see them (``grant read``)."""
        now = utcnow()
        stmt = (select(AreaGrant, Area.name).outerjoin(Area, Area.code == AreaGrant.area_code)
                .where(AreaGrant.user_id.in_({uid for uid, _ in keys}))
                .order_by(AreaGrant.area_code, AreaGrant.role, AreaGrant.id))
        grouped: dict[int, list] = defaultdict(list)
        for grant, name in (await self.ctx.run(stmt)).all():
            grouped[grant.user_id].append((grant, name))
        return [[(g, n) for g, n in grouped.get(uid, []) if everything or is_active(g, now)]
                for uid, everything in keys]


def loaders(ctx) -> AccountLoaders:
    found = getattr(ctx.loaders, "accounts", None)
    if found is None:
        found = ctx.loaders.accounts = AccountLoaders(ctx)
    return found


def is_active(grant: AreaGrant, now: datetime) -> bool:
    until = aware(grant.valid_until)
    return grant.revoked_at is None and aware(grant.valid_from) <= now and (until is None or until > now)


# -- changes ------------------------------------------------------------------------------


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
    if not isinstance(new.password, str) or len(new.password) > 1024:
        raise InvalidField("password", "at most 1024 characters")
    password_hash = await asyncio.to_thread(hash_password, new.password)  # off the event loop
    async with transaction(ctx) as session:
        user = await session.run_sync(lambda s: create_account(
            s, new.username, new.display_name, new.password, new.role, area, new.valid_until,
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
    valid_from = aware(new.valid_from) or now
    valid_until = aware(new.valid_until)
    if valid_until is not None and valid_until <= valid_from:
        raise InvalidField("validUntil", "must be later than validFrom")
    if valid_until is not None and valid_until <= now:
        raise InvalidField("validUntil", "must be in the future")
    if new.user_id == actor.id:
        raise Forbidden("you may not grant roles to yourself; ask another administrator", field="userId")
    check_can_grant(ctx.scope, ctx.scope.enforcer, new.role, area)
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
    async with ctx.app_state.system_sessions() as system:
        standing = list((await system.execute(select(AreaGrant).where(
            AreaGrant.user_id == user_id, AreaGrant.revoked_at.is_(None)))).scalars())
    pending = [g for g in standing if g.valid_until is None or aware(g.valid_until) > now]
    return pending or standing

