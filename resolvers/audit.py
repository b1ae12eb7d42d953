"""Writing and reading the audit trail (``audit_event``, append-only).

Writes: every account, grant and policy change adds its row in the same transaction as
the change (``event``), so a change and its record commit or fail together; logins are
recorded on the system session because there is no request scope yet.

Reads: ``auditEvents`` is scoped like every listing. A row belongs to the area in its
``area_code`` and is visible to whoever holds ``audit read`` there. Some events belong to
no area: failed logins under unknown names, logins of users without grants (or with grants
in several provinces), policy reloads (which affect the whole deployment). Those are
visible only to readers whose ``audit read`` covers a whole province. The request's gate
filters ``audit_event`` by ``area_code`` and so can never return a NULL-area row; for
province-level readers the listing therefore runs on the system session with the same
scope condition written out explicitly, plus ``area_code IS NULL``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime, timezone
from functools import partial
from typing import Any, Iterable

from sqlalchemy import and_, func, or_, select

from authz.masking import mask_detail
from authz.role_manager import is_area_code
from db.audit import AuditEvent
from db.base import aware
from db.codes import LEVEL_CODE_LENGTH, Level
from db.errors import Forbidden, InvalidField, Unauthenticated
from db.validators import has_unstorable_chars
from resolvers.pagination import cursor_key, encode_cursor

PROVINCE_DIGITS = LEVEL_CODE_LENGTH[Level.PROVINCE]
#: Longest action name a filter may ask for (the column is 40 characters).
MAX_ACTION = 40


def utc(value: datetime | None, field: str) -> datetime | None:
    """An input time as aware UTC (naive means UTC); ``InvalidField`` if UTC cannot hold it.

    Normalised before storing or comparing, because SQLite keeps a ``timestamptz`` as the
    naive wall-clock time and drops the offset: a grant ending at 18:00+08:00 would end
    eight hours late there. And a time such as 9999-12-31T23:00-14:00 is past the year
    9999 in UTC: refused here as bad input instead of failing in the driver.
    """
    if value is None:
        return None
    try:
        return aware(value).astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise InvalidField(field, "out of the supported range of times") from None


def jsonable(value: Any) -> Any:
    """Audit ``detail`` is JSON: datetimes as ISO strings, everything else as is."""
    if isinstance(value, (datetime, date)):
        return aware(value).isoformat() if isinstance(value, datetime) else value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def common_area(codes: Iterable[str]) -> str | None:
    """The smallest area containing all ``codes`` (None if they span provinces, or none given).

    Used to file an event about a person (a login, a deactivation) under the area whose
    administrators look after that person.
    """
    valid = [c for c in codes if is_area_code(c)]
    if not valid:
        return None
    prefix = os.path.commonprefix(valid)
    for n in sorted(LEVEL_CODE_LENGTH.values(), reverse=True):
        if n <= len(prefix):
            return prefix[:n]
    return None


def event(actor, action: str, *, resource: str | None = None, record_ids: Iterable[int] = (),
          area_code: str | None = None, detail: dict | None = None, actor_username: str | None = None,
          at: datetime | None = None) -> AuditEvent:
    """One audit row; ``actor`` is the acting ``User`` (or None), ``actor_username`` overrides its name."""
    name = actor_username if actor_username is not None else (actor.username if actor is not None else None)
    if name:  # a name typed at login may hold NUL, which PostgreSQL text refuses: the row must still be written
        name = name.replace("\x00", "\ufffd")
    ids = ",".join(str(i) for i in sorted(set(record_ids))) or None
    row = AuditEvent(actor_id=actor.id if actor is not None else None, actor_username=name[:64] if name else None,
                     action=action, resource=resource, record_ids=ids, area_code=area_code,
                     detail=jsonable(detail) if detail is not None else None)
    if at is not None:
        row.at = at
    return row


# -- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def validated(self) -> "AuditFilter":
        if self.action is not None and not (0 < len(self.action.strip()) <= MAX_ACTION and not has_unstorable_chars(self.action)):
            raise InvalidField("action", f"1 to {MAX_ACTION} characters")  # NUL: PostgreSQL text refuses it
        since, until = utc(self.since, "since"), utc(self.until, "until")
        if since is not None and until is not None and until <= since:
            raise InvalidField("until", "must be later than since")
        return AuditFilter(self.action.strip() if self.action else None, since, until)

    def conditions(self) -> list:
        conds = []
        if self.action:
            conds.append(AuditEvent.action == self.action)
        if self.since is not None:
            conds.append(AuditEvent.at >= self.since)
        if self.until is not None:
            conds.append(AuditEvent.at < self.until)
        return conds


def sees_unfiled_events(scope) -> bool:
    """Whether the reader's ``audit read`` covers a whole province (see the module docstring)."""
    return any(len(p) == PROVINCE_DIGITS for p in scope.prefixes("audit", "read"))


@dataclass
class AuditPage:
    rows: list[AuditEvent]
    has_next: bool
    count: Any  # () -> awaitable int


async def audit_page(ctx, flt: AuditFilter, first: int, after: str | None) -> AuditPage:
    """Newest first, keyset on ``id`` (``after`` is the cursor of the last row seen)."""
    if ctx.user is None:
        raise Unauthenticated("log in to read the audit trail")
    scope = ctx.scope
    if not scope.prefixes("audit", "read"):
        raise Forbidden("you may not read the audit trail anywhere")
    in_scope = scope.condition(AuditEvent.area_code, "audit", "read")
    unfiled = sees_unfiled_events(scope)
    visible = or_(in_scope, AuditEvent.area_code.is_(None)) if unfiled else in_scope
    conds = [visible, *flt.conditions()]
    page = select(AuditEvent).where(and_(*conds))
    if after is not None:
        page = page.where(AuditEvent.id < cursor_key(after, "after", [AuditEvent.id]))
    page = page.order_by(AuditEvent.id.desc()).limit(first + 1)
    count_stmt = select(func.count()).select_from(AuditEvent).where(and_(*conds))

    if unfiled:
        # The gate would drop the NULL-area rows; the condition above is the scope, explicitly.
        run = partial(ctx.run_unscoped, why="events without an area; the scope is the condition written out above")
    else:
        run = ctx.run

    rows = list((await run(page)).scalars().all()) if first > 0 else []

    async def count() -> int:
        return int((await run(count_stmt)).scalar_one())

    return AuditPage(rows[:first], len(rows) > first, count)


def cursor_of(row: AuditEvent) -> str:
    return encode_cursor(row.id)


def record_keys(row: AuditEvent) -> list[str]:
    """The keys of the records an event concerns, as written: database ids or area codes.

    Stored as one comma-separated text and answered as strings: a grid worker's contact is
    keyed by its grid's 15-digit code, which no GraphQL ``Int`` (32 bits) holds; as an
    ``Int`` list one such ``pii.read`` row made every page containing it fail whole.
    """
    return [k.strip() for k in row.record_ids.split(",") if k.strip()] if row.record_ids else []


def shown_detail(ctx, row: AuditEvent):
    """An event's ``detail`` as this reader may see it; a clear personal value is a clear read.

    Before/after values of registry writes are the records' personal data (names, ID
    numbers, phones, addresses), so they follow the record's own rule: in clear only where
    the reader holds ``read_pii`` on the event's resource at the event's area (the same
    ``may`` check and the same masks as the registry types, see
    ``authz.masking.personal_detail_keys``), masked otherwise. Shown in clear, the event's
    records are noted like any other clear read (``pii.read`` rows committed with the
    answer, ``server.lifecycle``), keyed by the record (``resident`` 42), so "who saw
    resident 42 in clear" has one answer whichever field or trail showed it. An event filed
    under no area has no area to hold ``read_pii`` in: its personal values stay masked.
    """
    masked, personal = mask_detail(row.resource, row.detail)
    if not personal:
        return row.detail
    if row.area_code is None or not ctx.may(row.resource, "read_pii", row.area_code):
        return masked
    for key in record_keys(row):
        ctx.note_clear_read(row.resource, int(key) if key.isdigit() else key, row.area_code)
    return row.detail
