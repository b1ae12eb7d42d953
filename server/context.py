"""Everything one GraphQL operation needs: who asks, what they may see, and one connection.

Built per operation (not per connection), closed by the view when the operation ends.
Database access of sibling resolvers is serialised by a per-request lock: an
``AsyncSession`` refuses concurrent use, and DataLoaders batch the work anyway.

**One pooled connection per request.** The scoped session and every unscoped session
of the request (``unscoped``) are bound to the same connection, checked out once. A request
that held a connection and then asked the pool for a second one (to write its clear-read
audit, to check a national ID's uniqueness) deadlocked the pool under load: 32 parallel
clear readers froze the server for 30 s (``docs/SECURITY.md``). With one connection each,
requests can only queue for the pool, never wait on each other.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

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
    #: The request's one pooled connection; ``session`` and every ``system_*`` session use it.
    connection: AsyncConnection | None = None
    user: User | None = None
    session_id: str | None = None
    auth_error: str | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    clear_reads: dict[tuple[str, int | str], ClearRead] = field(default_factory=dict)
    loaders: Any = None
    #: ``may`` answers of this request, by (resource, action, area code).
    decided: dict[tuple[str, str, str], bool] = field(default_factory=dict)
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

    async def settle(self) -> None:
        """End the read transaction the scoped session may hold, before a unit of work.

        Fields of one operation run one after another on the same connection. Each
        mutation (and each system write such as a login) must be a transaction of its own:
        joined to a read transaction left open by an earlier field, its rollback would undo
        the earlier field's committed-looking work, or the reverse.
        """
        if self.session.in_transaction():
            await self.session.commit()

    @contextlib.asynccontextmanager
    async def unscoped(self, why: str, *, own_transaction: bool = False) -> AsyncIterator[AsyncSession]:
        """The one way request code opens a session the gate does not filter; ``why`` says why.

        Some reads must see past the reader's scope (a national ID number's uniqueness,
        every grant of a user being switched off, the caller's own lookup quota) and some
        writes happen before there is a scope (logins). Each caller states its reason, so
        every unscoped access is findable by one name and carries its justification.

        By default the session joins the request's open transaction on the same
        connection (a uniqueness check inside a registry write sees that write) and the
        caller already holds ``lock``. With ``own_transaction`` the helper takes the lock,
        ends the request's read transaction (``settle``) and the session's commit is a real
        commit: login bookkeeping, logout.
        """
        if not why or not why.strip():
            raise ValueError("an unscoped session must say why the scope does not apply")
        if own_transaction:
            async with self.lock:
                await self.settle()
                async with AsyncSession(bind=self.connection, expire_on_commit=False) as system:
                    yield system
            return
        # Begin the request's transaction first: a system session on a connection without
        # one would own (and, on close, roll back) what it did, a row lock included.
        await self.session.connection()
        async with AsyncSession(bind=self.connection, expire_on_commit=False) as system:
            yield system

    async def run_unscoped(self, statement, why: str):
        """Execute one read outside the gate (see ``unscoped``), serialised with the others."""
        async with self.lock, self.unscoped(why) as system:
            return await system.execute(statement)

    async def close(self) -> None:
        """Give the connection back to the pool (rolling back whatever is still open).

        Waits for the lock: a statement shielded from a cancelled field may still be running.
        """
        async with self.lock:
            try:
                await self.session.close()
            finally:
                if self.connection is not None:
                    await self.connection.close()

    async def run(self, statement, params: dict | None = None):
        """Execute on this request's session, one statement at a time, to the end.

        Sibling fields load concurrently; when one fails (a refused budget, say),
        graphql-core cancels the others, and a statement cancelled half-way through leaves
        the connection unusable (the final commit of the audit then failed, and the answer
        was withheld). So a statement, once started, is shielded from the cancellation
        and finishes; its caller still sees the cancellation.
        """
        return await asyncio.shield(self._run(statement, params))

    async def _run(self, statement, params):
        async with self.lock:
            return await self.session.execute(statement, params)

    def may(self, resource: str, action: str, area_code: str) -> bool:
        """Cheap check against the compiled prefixes (no Casbin call per row), kept per area:
        a page of 50 residents asks it for every personal field of every row."""
        key = (resource, action, area_code)
        allowed = self.decided.get(key)
        if allowed is None:
            allowed = self.decided[key] = any(area_code.startswith(p) for p in self.scope.prefixes(resource, action))
        return allowed

    def note_clear_read(self, resource: str, record_id: int | str, area_code: str) -> None:
        self.clear_reads.setdefault((resource, record_id), ClearRead(resource, record_id, area_code))
