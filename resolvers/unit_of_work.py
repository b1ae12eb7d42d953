"""One unit of work for every change: the registry's, the accounts', the policy's, the CLI's.

A command is a plain async function ``operation(w: UnitOfWork, input)`` declared with
:func:`command`: what it requires (resource, action, at which input's area), whether it
may run without a login, and which unique constraints it reports as which error. It
follows one order, so every refusal comes before any write:

1. validate the input alone (``BAD_USER_INPUT``, every bad field at once: ``w.checker()``);
2. load the records it names through the scoped session (``NOT_FOUND``: a record outside
   the user's view is indistinguishable from one that does not exist);
3. ``w.require`` the permission at every area involved (``FORBIDDEN``);
4. compare the client's ``version`` (``CONFLICT``), then the rules that depend on the
   record's current state;
5. write the rows (``add``, ``change``), the counters per grid and per grid and day
   (``count``, ``db.counters``) and the audit row (``audit``); :func:`run_command` commits
   them together or writes nothing.

It answers a :class:`Done`: the value, or the domain errors (nothing written). No GraphQL
here: ``schema.mutations`` turns a ``Done`` into a payload, the CLI into a message.

Access is checked twice. The command asks ``w.require`` at every area it touches; the
session's gate (``authz.gate``) then filters the version-claiming ``UPDATE`` by the user's
update scope and checks every flushed row at its old and new area, so a command that
forgot a check still cannot write outside the user's slice. And a command that succeeds
without having asked one of its declared requirements is a bug, raised as such.

Optimistic locking: ``claim`` runs ``UPDATE ... SET version = version + 1 WHERE id = :id
AND version = :v`` before the row's fields are flushed. Of two concurrent edits sending
the same version, the database lets exactly one claim the row; the other updates no row
(PostgreSQL re-checks the condition after waiting for the first's lock) and gets
``CONFLICT``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Awaitable, Callable

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm.attributes import set_committed_value
from strawberry import UNSET  # the sentinel of an input left out; plain callers (the CLI) pass it too

from db.area import Area
from db.base import utcnow
from db.codes import Level
from db.counters import Tally, apply, local_day
from db.errors import Conflict, DomainError, Forbidden, InvalidField, NotFound, Unauthenticated
from db.registration import resource_of
from resolvers.audit import event
from resolvers.validation import Checker, InputErrors


@dataclass(frozen=True)
class Requires:
    """A right a command needs: ``action`` on ``resource`` at the area of input ``at``."""

    resource: str
    action: str
    #: The input (as the client names it) whose area the right is checked at; inputs
    #: that stand for each other as ``"buildingId|areaCode"``; or a phrase such as "a whole
    #: province" for a right checked otherwise (``UnitOfWork.noted``).
    at: str
    #: A right needed only in some cases, said as a phrase ("a new person is registered"):
    #: the command asks it in those cases, and may succeed without asking it otherwise.
    when: str | None = None

    @property
    def inputs(self) -> tuple[str, ...]:
        return tuple(self.at.split("|"))

    def sentence(self) -> str:
        """How the SDL states it: "`resident create` at the area of `householdId`"."""
        if all(i.isidentifier() for i in self.inputs):
            said = f"`{self.resource} {self.action}` at the area of " + " or ".join(f"`{i}`" for i in self.inputs)
        else:
            said = f"`{self.resource} {self.action}` for {self.at}"
        return said if self.when is None else f"{said} when {self.when}"


@dataclass(frozen=True)
class Command:
    """What :func:`command` declares about an operation (read by the runner and the schema)."""

    name: str
    operation: Callable[..., Awaitable[Any]]
    requires: tuple[Requires, ...] = ()
    #: Runs without a login (login, token refresh); everything else needs one.
    public: bool = False
    #: Unique constraints (a word of the database's message) and the error each stands for.
    collisions: tuple[tuple[str, Callable[[], DomainError]], ...] = ()
    #: Why the command keeps its own transactions instead of the runner's (None: it does not).
    own_transactions: str | None = None


def command(*requires: Requires, public: bool = False, collisions: dict | None = None,
            own_transactions: str | None = None):
    """Declare an operation as a command (decorator); see the module docstring."""

    def declare(operation):
        operation.command = Command(operation.__name__, operation, tuple(requires), public,
                                    tuple((collisions or {}).items()), own_transactions)
        return operation

    return declare


def declaration(operation) -> Command:
    found = getattr(operation, "command", None)
    if found is None:
        raise TypeError(f"{operation.__qualname__} is not declared with @command")
    return found


@dataclass
class Done:
    """What a command answers: the value (committed) or the errors (nothing written)."""

    value: Any | None
    errors: list[DomainError] = field(default_factory=list)


def plain(value):
    """A JSON-friendly form of a column value, for the audit detail."""
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return value.value
    return value


def snapshot(row, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: plain(getattr(row, f)) for f in fields}


def given(**values) -> dict[str, Any]:
    """The update's fields the caller sent (``UNSET`` means: leave unchanged)."""
    return {k: v for k, v in values.items() if v is not UNSET}


def enum_value(e):
    """The stored string of an enum input (a member or its value)."""
    return e.value if isinstance(e, enum.Enum) else e


class UnitOfWork:
    """One command's work on the request session (held under the request lock)."""

    def __init__(self, ctx) -> None:
        self.ctx = ctx
        self.session = ctx.session
        self.user = ctx.user
        #: Today in the deployment's zone (``WANGGE_TIMEZONE``): what "today" means to a
        #: community worker (defaults, "not in the future"), the day a row written now is
        #: stamped with, and the day per-day counters are booked on unless told otherwise.
        #: One day for all of them: the server's own date is a UTC day in most deployments,
        #: and from 16:00 UTC on it is yesterday in Shanghai.
        self.today = self.local_today = local_day(ctx.settings.timezone)
        self._tally = Tally()
        #: (resource, action, input) of every ``require`` asked, for the declared-rights check.
        self.checked: set[tuple[str, str, str | None]] = set()
        self._after_commit: list[Callable[[], None]] = []

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
        self.checked.add((resource, action, field))
        if not self.ctx.scope.allows(area_code, resource, action):
            raise Forbidden(f"you may not {action} {resource}s in area {area_code}", field=field)

    def noted(self, resource: str, action: str, at: str) -> None:
        """Record a declared right checked by other means (the delegation rules, a province rule)."""
        self.checked.add((resource, action, at))

    async def grid(self, code: str, field: str) -> Area:
        row = (await self.session.execute(select(Area).where(Area.code == code))).scalars().first()
        if row is None or row.level != Level.GRID.value:
            raise InvalidField(field, f"no grid with code {code}")
        return row

    def unscoped(self, why: str):
        """An unscoped session joined to this unit's transaction (``RequestContext.unscoped``)."""
        return self.ctx.unscoped(why)

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
            raise Conflict(f"this {resource_of(model)} was changed by someone else just now; reload it and try again",
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
        await self.add_all([row])

    async def add_all(self, rows) -> None:
        """``add`` for several rows at once, one flush: rows of one table go in one INSERT."""
        for row in rows:
            if hasattr(row, "updated_by"):
                row.created_by = row.updated_by = self.user.id
        self.session.add_all(rows)
        await self.session.flush()  # the gate checks ``create`` at each row's area here

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the change is committed (never if it is rolled back)."""
        self._after_commit.append(action)

    def count(self, area_code: str, *, on: date | None = None, part=None, **deltas: int) -> None:
        """Move ``area_code``'s counters by ``deltas`` with this transaction: totals, per-day
        counters on day ``on`` (the row's stored day; default ``local_today``), and the
        counters of a part (``per=`` in ``db.counters``, e.g. a campaign) in ``part``.

        An undeclared counter name raises ``db.counters.UnknownCounter`` here, before any write.
        """
        self._tally.add(area_code, deltas, on or self.local_today, part)

    def audit(self, action: str, row=None, detail: dict | None = None, *, resource: str | None = None,
              record_ids=None, area_code: str | None = None) -> None:
        """The audit row of this change, written with it. For a record, its resource, id and
        area are the row's unless given."""
        if row is not None:
            resource = resource or resource_of(type(row))
            record_ids = record_ids if record_ids is not None else [row.id]
            area_code = area_code or row.area_code
        self.session.add(event(self.user, action, resource=resource, record_ids=record_ids or (),
                               area_code=area_code, detail=detail))

    async def finish(self) -> None:
        await apply(self.session, self._tally)
        await self.session.flush()


def _flatten(exc: DomainError) -> list[DomainError]:
    return list(exc.errors) if isinstance(exc, InputErrors) else [exc]


async def run_command(ctx, operation, *args) -> Done:
    """Run the declared ``operation`` as one transaction; commit on success, roll back on any error."""
    declared = declaration(operation)
    if ctx.user is None and not declared.public:
        # Anonymous mutations are refused before execution (server.lifecycle.RequireLogin);
        # this is the same rule for callers that are not GraphQL (the CLI passes a user).
        raise Unauthenticated("log in first")
    if declared.own_transactions is not None:
        try:
            return Done(await operation(ctx, *args))
        except DomainError as exc:
            return Done(None, _flatten(exc))
    async with ctx.lock:
        await ctx.settle()  # this command is a transaction of its own
        session = ctx.session
        try:
            w = UnitOfWork(ctx)
            value = await operation(w, *args)
            _check_declared_rights(declared, w)
            await w.finish()
            await session.commit()
        except DomainError as exc:
            await session.rollback()
            return Done(None, _flatten(exc))
        except IntegrityError as exc:
            await session.rollback()
            for word, error in declared.collisions:
                if word in str(exc.orig):  # a concurrent change won the race
                    return Done(None, [error()])
            return Done(None, [Conflict("the change collides with one made at the same time; reload and retry")])
        except OperationalError as exc:
            await session.rollback()
            if "locked" in str(exc.orig):  # SQLite: another writer held the database too long
                return Done(None, [Conflict("the registry is busy with another change; try again")])
            raise
        except BaseException:
            await session.rollback()
            raise
    for action in w._after_commit:
        action()
    ctx.loaders = type(ctx.loaders)(ctx) if ctx.loaders is not None else None  # no cached rows from before
    return Done(value)


def _check_declared_rights(declared: Command, w: UnitOfWork) -> None:
    asked = {(resource, action, at) for resource, action, at in w.checked}
    missing = [r for r in declared.requires
               if r.when is None and not any((r.resource, r.action, i) in asked for i in r.inputs)]
    if missing:
        raise RuntimeError(f"command {declared.name} succeeded without checking {missing}: "
                           "a declared right must be asked with UnitOfWork.require")

