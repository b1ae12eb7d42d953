"""What happens when an operation ends: personal data shown in clear is audited.

The audit row is written before the response leaves, on the system session (the
request's own transaction may have been rolled back), one row per resource and grid.
"""

from __future__ import annotations

from collections import defaultdict

from strawberry.extensions import SchemaExtension

from sqlalchemy import insert

from db.audit import AuditEvent
from db.base import utcnow


class AuditClearReads(SchemaExtension):
    async def on_operation(self):
        yield
        ctx = self.execution_context.context
        if not getattr(ctx, "clear_reads", None):
            return
        grouped: dict[tuple[str, str], list[int]] = defaultdict(list)
        for read in ctx.clear_reads.values():
            grouped[(read.resource, read.area_code)].append(read.record_id)
        user = ctx.user
        rows = [
            dict(at=utcnow(), actor_id=user.id if user else None, actor_username=user.username if user else None,
                 action="pii.read", resource=resource, area_code=area_code,
                 record_ids=",".join(str(i) for i in sorted(ids)),
                 detail={"operation": self.execution_context.operation_name})
            for (resource, area_code), ids in sorted(grouped.items())
        ]
        async with ctx.app_state.system_sessions() as session:
            await session.execute(insert(AuditEvent), rows)  # one executemany, not one per grid
            await session.commit()
        ctx.clear_reads.clear()
