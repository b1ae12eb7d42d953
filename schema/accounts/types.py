"""GraphQL of accounts: the viewer, users and grants (the admin mutations on them are in
``schema.accounts.mutations``).

The rules (who sees which user, who may grant what) live in ``resolvers/accounts/users.py``;
this module only shapes answers.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry
from sqlalchemy import select
from strawberry import relay

from db import accounts as rows
from db.area import Area
from db.base import aware, utcnow
from resolvers.accounts import auth
from resolvers.accounts import users as accounts
from resolvers.pagination import encode_cursor
from schema.connection import Connection, Edge, page_info_of
from schema.extend import fields_of
from schema.paging import page_args


@strawberry.type(description="One thing a role allows in an area and everything below it: `action` on `resource`.")
class Permission:
    area_code: str
    resource: str = strawberry.field(description="Kind of record, as in policies.csv: area, resident, user, grant, audit, ...")
    action: str = strawberry.field(description="read, read_pii, create, update, delete, approve, export, grant, lookup or reactivate.")


@strawberry.type(name="Grant", description="A role held in an area (and everything below it), possibly for a limited time.")
class GrantType(relay.Node):
    id: relay.NodeID[int]
    row: strawberry.Private[rows.AreaGrant]
    role: str
    area_code: str
    area_name: str | None = strawberry.field(description="Name of the area; null if you may not see it.")
    valid_from: datetime
    valid_until: datetime | None = strawberry.field(description="End of a temporary grant (包保); null: until revoked.")
    created_at: datetime
    revoked_at: datetime | None

    @classmethod
    def from_row(cls, g: rows.AreaGrant, area_name: str | None = None) -> "GrantType":
        return cls(id=g.id, row=g, role=g.role, area_code=g.area_code, area_name=area_name,
                   valid_from=aware(g.valid_from), valid_until=aware(g.valid_until),
                   created_at=aware(g.created_at), revoked_at=aware(g.revoked_at))

    @strawberry.field(description="Whether the grant gives its rights right now (started, not ended, not revoked).")
    def active(self) -> bool:
        return accounts.is_active(self.row, utcnow())

    @strawberry.field(description="Who holds the grant; null if you may not see that account.")
    async def user(self, info: strawberry.Info) -> "UserType | None":
        u = await accounts.loaders(info.context).user.load(self.row.user_id)
        return UserType.from_row(u) if u else None

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        ctx = info.context
        if ctx.user is None:
            return [None for _ in node_ids]
        ids = [accounts.node_key(i) for i in node_ids]  # None (not an error) for ids that cannot exist
        ctx.charge(len(ids))  # nodes(ids:) counts against the query's budget
        stmt = (select(rows.AreaGrant, Area.name).outerjoin(Area, Area.code == rows.AreaGrant.area_code)
                .where(rows.AreaGrant.id.in_([i for i in ids if i is not None])))
        found = {g.id: (g, n) for g, n in (await ctx.run(stmt)).all()}
        return [cls.from_row(*found[i]) if i in found else None for i in ids]


@strawberry.type(name="User", description="A staff account. Visible to admins holding `user read` where the user holds a grant (or, with no current grant, held their most recent one).")
class UserType(relay.Node):
    id: relay.NodeID[int]
    row: strawberry.Private[rows.User]
    username: str
    display_name: str
    is_active: bool
    created_at: datetime

    @classmethod
    def from_row(cls, u: rows.User) -> "UserType":
        return cls(id=u.id, row=u, username=u.username, display_name=u.display_name, is_active=u.is_active,
                   created_at=aware(u.created_at))

    @strawberry.field(description="Locked after repeated wrong passwords, until this time passes.")
    def locked_until(self) -> datetime | None:
        until = aware(self.row.locked_until)
        return until if until is not None and until > utcnow() else None

    @strawberry.field(description="The user's grants that you may see (`grant read`); only active ones unless asked.")
    async def grants(self, info: strawberry.Info, include_inactive: bool = False) -> list[GrantType]:
        found = await accounts.loaders(info.context).grants.load((self.id, include_inactive))
        return [GrantType.from_row(g, n) for g, n in found]

    @classmethod
    async def resolve_nodes(cls, *, info, node_ids, required=False):
        keys = [accounts.node_key(i) for i in node_ids]  # None (not an error) for ids that cannot exist
        info.context.charge(len(keys))  # nodes(ids:) counts against the query's budget
        found = await accounts.loaders(info.context).user.load_many([k for k in keys if k is not None])
        by_key = dict(zip([k for k in keys if k is not None], found))
        return [cls.from_row(by_key[k]) if k is not None and by_key.get(k) else None for k in keys]


@strawberry.type(description="Who is asking: the logged-in user, the grants valid now and what they allow.")
class Viewer:
    id: relay.GlobalID = strawberry.field(description="The global ID of this user's `User` node.")
    username: str
    display_name: str
    grants: list[GrantType] = strawberry.field(description="Grants valid now, by area code.")
    permissions: list[Permission] = strawberry.field(description="For each grant, what its role allows in its area (and below), per policies.csv.")

    @classmethod
    def from_data(cls, data: auth.ViewerData) -> "Viewer":
        u = data.user
        return cls(id=relay.GlobalID("User", str(u.id)), username=u.username, display_name=u.display_name,
                   grants=[GrantType.from_row(g, n) for g, n in data.grants],
                   permissions=[Permission(area_code=a, resource=r, action=act) for a, r, act in data.permissions])


@fields_of("Query")
@strawberry.type
class AccountQuery:
    @strawberry.field(description="The logged-in user; null when the request carries no token.")
    async def viewer(self, info: strawberry.Info) -> Viewer | None:
        data = await auth.viewer(info.context)
        return Viewer.from_data(data) if data else None

    @strawberry.field(description="Accounts holding a grant inside the areas where you may read users (or, with no current grant, whose most recent grant was there), by id.")
    async def users(self, info: strawberry.Info, search: str | None = None, active: bool | None = None,
                    first: int | None = None, after: str | None = None) -> Connection[UserType]:
        flt = accounts.UserFilter((search or "").strip() or None, active)
        page, count = await accounts.users_page(info.context, flt, page_args(info, first, after, None, None))
        edges = [Edge(node=UserType.from_row(u), cursor_of=partial(encode_cursor, u.id)) for u in page.rows]
        return Connection.ready(edges, page_info_of(edges, page.has_next, page.has_previous), count)

