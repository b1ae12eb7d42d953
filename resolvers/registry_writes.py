"""The transaction every registry mutation runs in, and the steps the mutations share.

A mutation is one unit of work on the request's scoped session: the row change, the
per-grid counters (``db.stats_counters``) and an audit row, committed together or not at
all. Any ``DomainError`` (bad input, not found, forbidden, stale version) rolls the
whole transaction back and becomes the payload's ``errors``.

Access is checked twice. Each mutation asks ``Scope.allows`` at every area it touches
before writing (``Write.require``); the session's gate (``authz.gate``) then filters the
version-claiming ``UPDATE`` by the user's update scope and checks every flushed row at
its old and new area, so a resolver that forgot a check still cannot write outside the
user's slice.

Optimistic locking: ``Write.claim`` runs ``UPDATE ... SET version = version + 1 WHERE
id = :id AND version = :v`` before the row's fields are flushed. Of two concurrent edits
sending the same version, the database lets exactly one claim the row; the other updates
no row (PostgreSQL re-checks the condition after waiting for the first's lock) and gets
``CONFLICT``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Awaitable, Callable

from sqlalchemy import literal, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from strawberry import UNSET

from db.area import Area
from db.audit import AuditEvent
from db.base import utcnow
from db.codes import Level
from db.errors import Conflict, DomainError, Forbidden, InvalidField, NotFound
from db.registration import resource_of
from db.registry import Resident
from db.stats_counters import apply_deltas, merge_deltas
from resolvers.account import require_user
from resolvers.loaders import Loaders
from resolvers.registry_validation import Checker, InputErrors
from schema.errors import UserError, user_errors_from



@dataclass
class Outcome:
    """What a mutation answers: the row (committed) or the errors (nothing written)."""

    row: Any | None
    errors: list[UserError]


def errors_of(exc: DomainError) -> list[UserError]:
    if isinstance(exc, InputErrors):
        return [e for err in exc.errors for e in user_errors_from(err)]
    return user_errors_from(exc)


def plain(value):
    """A JSON-friendly form of a column value, for the audit detail."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def given(**values) -> dict[str, Any]:
    """The update's fields the client sent (``UNSET`` means: leave unchanged)."""
    return {k: v for k, v in values.items() if v is not UNSET}


def enum_value(e):
    """The stored string of a GraphQL enum input (Strawberry may hand over member or value)."""
    return e.value if isinstance(e, enum.Enum) else e


def snapshot(row, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: plain(getattr(row, f)) for f in fields}


class Write:
    """One mutation's unit of work on the request session (held under the request lock)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.session = ctx.session
        self.user = ctx.user
        self.today = date.today()
        self._deltas: list[tuple[str, dict[str, int]]] = []

    def checker(self) -> Checker:
        return Checker(today=self.today)

    # -- reading and authorising ----------------------------------------------------
    async def load(self, model, node_id: int, field: str):
        """The row through the scoped session: a row outside the reader's scope is missing."""
        stmt = select(model).where(model.id == node_id).execution_options(populate_existing=True)
        row = (await self.session.execute(stmt)).scalars().first()
        if row is None:
            raise NotFound(f"{field}: no {resource_of(model)} with this ID", field=field)
        return row

    def require(self, area_code: str, resource: str, action: str, field: str | None = None) -> None:
        if not self.ctx.scope.allows(area_code, resource, action):
            raise Forbidden(f"you may not {action} {resource}s in area {area_code}", field=field)

    async def grid(self, code: str, field: str) -> Area:
        row = (await self.session.execute(select(Area).where(Area.code == code))).scalars().first()
        if row is None or row.level != Level.GRID.value:
            raise InvalidField(field, f"no grid with code {code}")
        return row

    async def id_number_taken(self, id_number: str, except_id: int | None = None) -> bool:
        """Whether any resident, anywhere, holds ``id_number``: a system-level yes/no.

        Uniqueness is national, so the check cannot be limited to the writer's scope; it
        runs on an unscoped session and answers one bit, nothing about who or where.
        """
        stmt = select(literal(1)).select_from(Resident).where(Resident.id_number == id_number)
        if except_id is not None:
            stmt = stmt.where(Resident.id != except_id)
        async with self.ctx.unscoped("ID numbers are unique nationwide; one yes/no, nothing about who or where") as system:
            return (await system.execute(stmt.limit(1))).first() is not None

    async def unique_id_number(self, id_number: str, except_id: int | None = None) -> None:
        if await self.id_number_taken(id_number, except_id):
            raise duplicate_id_number()

    # -- writing --------------------------------------------------------------------
    @staticmethod
    def check_version(row, version: int) -> None:
        if row.version != version:
            raise Conflict(
                f"this {resource_of(type(row))} was changed since you read it (you sent version {version}, "
                f"it is at {row.version}); reload it and try again", field="version")

    async def claim(self, row, version: int) -> None:
        """Bump ``version`` iff it still is ``version``: the atomic step of optimistic locking."""
        self.check_version(row, version)
        model, now = type(row), utcnow()
        result = await self.session.execute(
            update(model).where(model.id == row.id, model.version == version)
            .values(version=version + 1, updated_at=now, updated_by=self.user.id)
            .execution_options(synchronize_session=False))
        if result.rowcount != 1:
            # The gate filters this UPDATE by the user's update scope: no row can also mean
            # "not yours to change", which must not be reported as a version problem.
            self.require(row.area_code, resource_of(model), "update", "id")
            raise Conflict(f"this {resource_of(type(row))} was changed by someone else just now; reload it and try again",
                           field="version")
        for name, value in (("version", version + 1), ("updated_at", now), ("updated_by", self.user.id)):
            set_committed_value(row, name, value)

    async def change(self, row, version: int, changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Claim ``version`` and apply the fields that really change; their before/after.

        Nothing changing is not a write: the version is checked but not bumped.
        """
        changed = {k: v for k, v in changes.items() if getattr(row, k) != v}
        if not changed:
            self.check_version(row, version)
            return {}
        await self.claim(row, version)
        diff = {"before": {k: plain(getattr(row, k)) for k in changed}, "after": {k: plain(v) for k, v in changed.items()}}
        for name, value in changed.items():
            setattr(row, name, value)
        await self.session.flush()  # the gate checks the row at its old and new area here
        return diff

    async def add(self, row) -> None:
        row.created_by = row.updated_by = self.user.id
        self.session.add(row)
        await self.session.flush()  # the gate checks ``create`` at the row's area here

    def count(self, area_code: str, **deltas: int) -> None:
        self._deltas.append((area_code, deltas))

    def audit(self, action: str, row, detail: dict, area_code: str | None = None) -> None:
        self.session.add(AuditEvent(
            actor_id=self.user.id, actor_username=self.user.username, action=action, resource=resource_of(type(row)),
            record_ids=str(row.id), area_code=area_code or row.area_code, detail=detail))

    async def finish(self) -> None:
        await apply_deltas(self.session, merge_deltas(*self._deltas))
        await self.session.flush()


def duplicate_id_number() -> InvalidField:
    return InvalidField("idNumber", "this ID number is already registered")


async def run_mutation(ctx, operation: Callable[[Write, Any], Awaitable[Any]], input: Any) -> Outcome:
    """Run ``operation`` as one transaction; commit on success, roll back on any error."""
    require_user(ctx)  # anonymous mutations are refused before execution (server.lifecycle.RequireLogin)
    async with ctx.lock:
        await ctx.settle()  # this mutation is a transaction of its own
        session = ctx.session
        try:
            write = Write(ctx)
            row = await operation(write, input)
            await write.finish()
            await session.commit()
        except DomainError as exc:
            await session.rollback()
            return Outcome(None, errors_of(exc))
        except IntegrityError as exc:
            await session.rollback()
            if "id_number" in str(exc.orig):  # a concurrent registration won the race
                return Outcome(None, errors_of(duplicate_id_number()))
            raise
        except OperationalError as exc:
            await session.rollback()
            if "locked" in str(exc.orig):  # SQLite: another writer held the database too long
                return Outcome(None, errors_of(Conflict("the registry is busy with another change; try again")))
            raise
        except BaseException:
            await session.rollback()
            raise
    ctx.loaders = Loaders(ctx)  # later fields of the operation must not see cached rows
    return Outcome(row, [])
