"""GraphQL of the audit trail (read only: nothing in the API edits or deletes it)."""

from __future__ import annotations

from datetime import datetime
from functools import partial

import strawberry
from strawberry.scalars import JSON

from db.audit import AuditEvent
from db.base import aware
from db.errors import InvalidField
from resolvers import audit as audit_log
from schema.connection import Connection, Edge, page_info_of
from schema.extend import fields_of


@strawberry.type(name="AuditEvent", description="Who did or saw what, when, where. Append-only.")
class AuditEventType:
    id: int
    at: datetime
    actor_id: int | None = strawberry.field(description="Database id of the acting user; null for failed logins.")
    actor_username: str | None = strawberry.field(description="The acting user, or the name tried in a failed login.")
    action: str = strawberry.field(description="login, login.failed, logout, user.create, user.deactivate, user.reactivate, grant.create, resident.lookup, grant.revoke, policy.reload, pii.read, ...")
    resource: str | None
    record_ids: list[str] = strawberry.field(description="Keys of the records concerned, as strings: database ids (`42`), or for a grid worker's contact (resource `area`) the grid's code (`230102001001001`).")
    area_code: str | None = strawberry.field(description="The area the event is filed under; null for deployment-wide events.")
    row: strawberry.Private[AuditEvent]

    @strawberry.field(description="Before/after values and other particulars (never a password). Personal values (names, ID numbers, phones, addresses) are masked as on the records themselves unless you may read personal data of that kind in the event's area; shown in clear, they are audited like any clear read.")
    def detail(self, info: strawberry.Info) -> JSON | None:
        return audit_log.shown_detail(info.context, self.row)

    @classmethod
    def from_row(cls, e: AuditEvent) -> "AuditEventType":
        return cls(id=e.id, at=aware(e.at), actor_id=e.actor_id, actor_username=e.actor_username, action=e.action,
                   resource=e.resource, record_ids=audit_log.record_keys(e), area_code=e.area_code, row=e)


@fields_of("Query")
@strawberry.type
class AuditQuery:
    @strawberry.field(description="Audit events of the areas where you may read the audit trail, newest first. Events filed under no area (failed logins of unknown names, policy reloads) only for readers covering a whole province.")
    async def audit_events(self, info: strawberry.Info, first: int | None = None, after: str | None = None,
                           action: str | None = None, since: datetime | None = None,
                           until: datetime | None = None) -> Connection[AuditEventType]:
        ctx = info.context
        s = ctx.settings
        size = s.default_page_size if first is None else first
        if not 0 <= size <= s.max_page_size:
            raise InvalidField("first", f"between 0 and {s.max_page_size}")
        flt = audit_log.AuditFilter(action, since, until).validated()
        page = await audit_log.audit_page(ctx, flt, size, after)
        edges = [Edge(node=AuditEventType.from_row(e), cursor_of=partial(audit_log.cursor_of, e)) for e in page.rows]
        return Connection.ready(edges, page_info_of(edges, page.has_next, after is not None), page.count)
