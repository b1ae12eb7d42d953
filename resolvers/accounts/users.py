"""Accounts as area administrators see them: which users are visible, and their grants.

Accounts belong to no place, so the request gate cannot scope them; the rule is here,
written out (:func:`visible_users`, one condition in SQL): a user is *visible* to an admin
(``users``, ``node``, and as the target of an admin mutation) when they hold a non-revoked
grant (current, future or expired) inside the admin's ``user read`` scope, or, having no
current or future grant at all, when their most recent grant (revoked or expired) was
there: a user whose last grant was revoked stays with the admins of the area they left
(who may reactivate them or grant them a role again), instead of vanishing for everyone.
Grants themselves are place-bound and go through the gate (``grant read``). The changes
admins make live in ``resolvers/accounts/admin.py``.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, exists, or_, select
from strawberry.dataloader import DataLoader

from db.accounts import AreaGrant, User
from db.area import Area
from db.base import aware, utcnow
from db.errors import Forbidden, InvalidField, Unauthenticated
from db.validators import has_unstorable_chars, parse_db_id
from resolvers.pagination import Page, PageArgs, count_many, fetch_pages


def require_user(ctx) -> User:
    """The acting user; :class:`Unauthenticated` (a GraphQL error, not a payload error) if anonymous."""
    if ctx.user is None:
        raise Unauthenticated("log in first")
    return ctx.user


def node_key(node_id: object) -> int | None:
    """The integer key of a node id (``"12"``), or None if it cannot be one of ours.

    ``node(id:)`` answers null for such ids, as for any id that does not exist, rather than
    an internal error (``int("abc")``, or a key the database's ``integer`` cannot hold).
    """
    return parse_db_id(str(node_id))


# -- visibility ---------------------------------------------------------------------------


def visible_users(scope, now: datetime | None = None):
    """SQL: the user is visible in ``scope``'s ``user read`` areas (see the module docstring).

    "No current or future grant anywhere" and "the most recent grant" are about all of the
    user's grants, including those the request's gate hides (it filters ``AreaGrant`` in
    subqueries too), so those two parts read the grant *table*, which the gate does not
    touch. They reveal no more than that rule says: whether a user who once held a grant in
    the admin's area has left it for another one.
    """
    now = now or utcnow()
    held = exists(select(AreaGrant.id).where(
        AreaGrant.user_id == User.id,
        AreaGrant.revoked_at.is_(None),
        scope.condition(AreaGrant.area_code, "user", "read"),
    ))
    table = AreaGrant.__table__
    standing, last, later = table.alias("standing"), table.alias("last_grant"), table.alias("later_grant")
    none_standing = ~exists(select(standing.c.id).where(
        standing.c.user_id == User.id,
        standing.c.revoked_at.is_(None),
        or_(standing.c.valid_until.is_(None), standing.c.valid_until > now),
    ))
    last_in_scope = exists(select(last.c.id).where(
        last.c.user_id == User.id,
        scope.condition(last.c.area_code, "user", "read"),
        ~exists(select(later.c.id).where(later.c.user_id == last.c.user_id, later.c.id > last.c.id)),
    ))
    return or_(held, and_(none_standing, last_in_scope))


@dataclass(frozen=True)
class UserFilter:
    search: str | None = None
    active: bool | None = None

    def conditions(self) -> list:
        conds = []
        if self.search and has_unstorable_chars(self.search):  # PostgreSQL text refuses NUL; no name holds one
            raise InvalidField("search", "must not contain control characters")
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
    page = (await fetch_pages(ctx.run, User, ("id",), [base], args))[0]

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
