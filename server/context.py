"""Everything one GraphQL operation needs: who asks, what they may see, and one session.

Built per operation (not per connection), closed by ``RequestLifecycle`` when the
operation ends. Database access of sibling resolvers is serialised by a per-request lock:
an ``AsyncSession`` refuses concurrent use, and DataLoaders batch the work anyway.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from authz.scope import Scope
from db.accounts import User
from db.errors import QueryTooLarge
from server.settings import Settings


@dataclass
class ClearRead:
    """Personal data shown in clear during this request, audited when it ends."""

    resource: str
    record_id: int | str  # a row id, or an area code for a grid worker's contact
    area_code: str


@dataclass
class RequestContext:
    request: Any
    response: Any
    settings: Settings
    app_state: Any
    session: AsyncSession
    scope: Scope
    user: User | None = None
    session_id: str | None = None
    auth_error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    clear_reads: dict[tuple[str, int | str], ClearRead] = field(default_factory=dict)
    loaders: Any = None
    #: Objects this operation may still ask for; see ``charge``.
    budget: int = 20_000

    def charge(self, objects: int) -> None:
        """Spend ``objects`` of the budget before a batch is fetched, or refuse the query.

        Page sizes are capped, but pages nest: 100 streets x 100 communities x 100 residents
        is a million rows from one innocent query. Each batched page load asks for
        (parents x page size) objects; the sum over an operation must stay under the budget,
        checked before the database is asked, so a refused query costs nothing.
        """
        self.budget -= objects
        if self.budget < 0:
            raise QueryTooLarge(
                "this query asks for too many objects at once: request smaller pages or fewer levels"
            )

    async def run(self, statement):
        """Execute on this request's session, one statement at a time."""
        async with self.lock:
            return await self.session.execute(statement)

    def may(self, resource: str, action: str, area_code: str) -> bool:
        """Cheap check against the compiled prefixes (no Casbin call per row)."""
        return any(area_code.startswith(p) for p in self.scope.prefixes(resource, action))

    def note_clear_read(self, resource: str, record_id: int | str, area_code: str) -> None:
        self.clear_reads.setdefault((resource, record_id), ClearRead(resource, record_id, area_code))
