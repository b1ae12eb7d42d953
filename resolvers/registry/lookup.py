"""``lookupResident``: finding one person by national ID number, as an audited, bounded act.

Searches, filters, orderings and counts never match on personal values for a viewer who
may not read them in clear (``resolvers.registry.filters``): a masked ID such as
``230102********3278`` plus the visible age leaves about 34 valid numbers, and an exact-match
search let an officer test all of them in one request. Yet an officer or supervisor
sometimes has to find the one person a paper form names. This is that way, and it is
made expensive to abuse:

- it answers at most one record (ID numbers are unique), inside the areas where the
  caller holds ``resident.lookup``, masked as any read is;
- every call, found or not, writes a ``resident.lookup`` audit row carrying only
  HMAC-SHA256(server secret, ID number): an auditor holding the secret can tell which
  number was looked up; the trail itself does not hold it;
- each user has a daily quota (``Settings.lookup_quota``, default 20, counted in the
  deployment's zone); beyond it the answer is ``QUOTA_EXCEEDED`` and nothing is looked up.

The quota is enforced atomically: the caller's user row is locked (``FOR UPDATE``) and the
call's audit row written before today's rows are counted, so parallel calls of one user
are counted one after another (PostgreSQL by the row lock, SQLite by its single writer).
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, time, timezone
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from db.accounts import User
from db.audit import AuditEvent
from db.base import utcnow
from db.errors import Forbidden, QuotaExceeded
from db.registry import Resident
from resolvers.unit_of_work import Requires, UnitOfWork, command

ACTION = "resident.lookup"


@dataclass(frozen=True)
class LookupAnswer:
    resident: Resident | None
    lookups_left: int


def fingerprint(secret: str, id_number: str) -> str:
    """The keyed hash the audit row carries instead of the number itself."""
    return hmac.new(secret.encode(), id_number.encode(), hashlib.sha256).hexdigest()


def day_start(zone: str, now: datetime | None = None) -> datetime:
    """Midnight today in the deployment's zone, as an aware UTC time."""
    local = (now or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone))
    return datetime.combine(local.date(), time(0), tzinfo=local.tzinfo).astimezone(timezone.utc)


async def lock_caller(w: UnitOfWork) -> None:
    """Lock the caller's user row: on PostgreSQL, one user's lookups run one after another."""
    async with w.ctx.unscoped("the caller's own user row, locked to serialise their lookups") as system:
        await system.execute(select(User.id).where(User.id == w.user.id).with_for_update())


async def lookups_today(w: UnitOfWork) -> int:
    """The caller's lookups today, this one included (its audit row is already flushed)."""
    since = day_start(w.ctx.settings.timezone)
    async with w.ctx.unscoped("the caller's own lookups in the trail, wherever they were") as system:
        return (await system.execute(
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.actor_id == w.user.id, AuditEvent.action == ACTION, AuditEvent.at >= since)
        )).scalar_one()


@command(Requires("resident", "lookup", "the areas searched"))
async def lookup_resident(w: UnitOfWork, inp) -> LookupAnswer:
    """The resident holding ``inp.id_number`` inside the caller's lookup scope (or none), audited.

    Order matters for the quota: lock the caller, write the audit row (on SQLite the first
    write takes the database's write lock), then count today's rows including it; over
    the quota, the whole unit of work rolls back and the answer is ``QUOTA_EXCEEDED``.
    """
    c = w.checker()
    id_number = c.id_number(inp.id_number)
    c.done()
    scope, quota = w.ctx.scope, w.ctx.settings.lookup_quota
    if not scope.prefixes("resident", "lookup"):
        raise Forbidden("you may not look up residents by ID number", field="idNumber")
    w.noted("resident", "lookup", "the areas searched")  # the search is limited to them below
    await lock_caller(w)
    found = (await w.session.execute(
        select(Resident).where(Resident.id_number == id_number,
                               scope.condition(Resident.area_code, "resident", "lookup")).limit(1)
    )).scalars().first()
    w.session.add(AuditEvent(
        at=utcnow(), actor_id=w.user.id, actor_username=w.user.username, action=ACTION, resource="resident",
        record_ids=str(found.id) if found else None, area_code=found.area_code if found else None,
        detail={"idNumberHmac": fingerprint(w.ctx.settings.secret, id_number), "found": found is not None}))
    await w.session.flush()
    used = await lookups_today(w)
    if used > quota:
        raise QuotaExceeded(f"idNumber: you have used today's {quota} lookups; they start again at midnight",
                            field="idNumber")
    return LookupAnswer(found, quota - used)
