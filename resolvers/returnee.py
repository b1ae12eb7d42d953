"""The returnee ledger's listing and commands (返乡人员台账), on the domain kit.

Each command validates its input alone (every bad field at once), loads through the
scoped session (a record outside the user's view is ``NOT_FOUND``), checks the declared
rights at the record's area, the ``version`` (``CONFLICT``), then the rules of the record's
state, and writes the row, the counters and the audit row in one transaction.

Decisions the brief left open:

- days are the deployment's local days (``w.local_today``): "arrived not after today" and
  the follow-up's day are what a community worker's calendar says;
- left out, the arrival is today and the departure the arrival's day (registered on return);
- a resident has at most one open entry (following up, not removed): a second return is a
  new entry once the first is closed;
- a follow-up is always for today: it is what the worker saw today, and the day is the
  server's, not the client's (a back-dated visit would empty the overdue list);
- an update may not move the period so that a follow-up already recorded falls outside it;
- ``removeReturnee`` needs ``delete`` as well as ``update`` (as ``removeResident``); a removed
  entry stays, is not listed by default, is not counted, and cannot be changed again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, exists, func, not_, select
from strawberry import UNSET

from db.base import utcnow
from db.errors import InvalidField
from db.registry import Resident, ResidentStatus
from db.returnee import FOLLOWING, FollowUp, Health, Returnee, ReturneeStatus, Transport
from resolvers.listing import Listing, ListingQuery, register_listing
from resolvers.unit_of_work import Requires, UnitOfWork, command, enum_value, given, snapshot
from resolvers.validation import Checker

ORDER = ("area_code", "id")
RETURNEE_FIELDS = ("area_code", "resident_id", "origin", "from_key_area", "departed_on", "arrived_on", "transport",
                   "transport_number", "follow_up_days", "follow_up_until", "status")
FOLLOW_UP_FIELDS = ("returnee_id", "area_code", "on", "health", "temperature", "note")
FOLLOWING_UP = ReturneeStatus.FOLLOWING_UP.value
MIN_DAYS, MAX_DAYS = 1, 60
MIN_TEMPERATURE, MAX_TEMPERATURE = 34.0, 43.0


# -- the listing ------------------------------------------------------------------------

def _followed_up_on(day: date):
    return exists().where(FollowUp.returnee_id == Returnee.id, FollowUp.on == day)


def due_on(day: date):
    """Following up, ``day`` inside the period, no follow-up recorded on ``day``."""
    return and_(Returnee.status == FOLLOWING_UP, Returnee.arrived_on <= day, Returnee.follow_up_until >= day,
                not_(_followed_up_on(day)))


@dataclass(frozen=True)
class ReturneeFilter:
    """Filters on what every reader of the ledger sees (status, key area, dates, the
    existence of a day's follow-up), never on a personal column: a masked reader's answers
    are the same whatever the hidden parts hold."""

    status: str | None = None
    from_key_area: bool | None = None
    #: True: only entries due today; False: only entries not due today.
    due_today: bool | None = None
    #: True: only entries that missed yesterday inside their period; False: the others.
    overdue: bool | None = None
    include_removed: bool = False

    def conditions(self, q: ListingQuery) -> list:
        conds = []
        if not self.include_removed:
            conds.append(Returnee.removed_at.is_(None))
        if self.status is not None:
            conds.append(Returnee.status == self.status)
        if self.from_key_area is not None:
            conds.append(Returnee.from_key_area.is_(self.from_key_area))
        if self.due_today is not None:
            due = due_on(q.today)
            conds.append(due if self.due_today else not_(due))
        if self.overdue is not None:
            # missed yesterday, a day inside the period: a run of missed days ending yesterday
            late = due_on(q.today - timedelta(days=1))
            conds.append(late if self.overdue else not_(late))
        return conds


def _returnee_conditions(q: ListingQuery) -> list:
    return (q.filters or ReturneeFilter()).conditions(q)


RETURNEES = register_listing(Listing("returnees", Returnee, ORDER, where=_returnee_conditions))


# -- checks -----------------------------------------------------------------------------

def _checker(w: UnitOfWork) -> Checker:
    return Checker(today=w.local_today)


def _check_dates(c: Checker, departed: date | None, arrived: date | None, birth: date | None = None) -> None:
    c.not_future(arrived, "arrivedOn")
    c.not_future(departed, "departedOn")
    c.not_before(arrived, departed, "arrivedOn", "departure date")
    c.not_before(arrived, birth, "arrivedOn", "birth date")


def _transport(c: Checker, value, name: str = "transport"):
    value = enum_value(value)
    if value is None:
        c.fail(name, "must not be empty")
    elif value is not UNSET and value not in {t.value for t in Transport}:
        c.fail(name, f"must be one of {', '.join(t.value for t in Transport)}")
    return value


def _until(arrived: date, days: int) -> date:
    return arrived + timedelta(days=days)


def _not_removed(row: Returnee, field: str = "id") -> None:
    if row.removed_at is not None:
        raise InvalidField(field, "this ledger entry was removed")


async def _open_entry_of(w: UnitOfWork, resident_id: int) -> bool:
    """Whether the resident has an open entry anywhere: one yes/no on an unscoped session.

    Scoped, the check missed the entry a resident left in their old grid when they moved,
    and the new grid opened a second one, counted in both grids."""
    stmt = select(Returnee.id).where(Returnee.resident_id == resident_id, FOLLOWING).limit(1)
    async with w.unscoped("a resident has one open returnee entry wherever it lies; one yes/no") as system:
        return (await system.execute(stmt)).first() is not None


async def _follow_up_days(w: UnitOfWork, returnee_id: int) -> tuple[date | None, date | None]:
    stmt = select(func.min(FollowUp.on), func.max(FollowUp.on)).where(FollowUp.returnee_id == returnee_id)
    first, last = (await w.session.execute(stmt)).one()
    return first, last


# -- commands ---------------------------------------------------------------------------

def duplicate_day() -> InvalidField:
    return InvalidField("on", "a follow-up is already recorded for this returnee today")


#: A concurrent follow-up of the same day loses at the unique constraint (PostgreSQL names
#: the constraint, SQLite the columns).
SAME_DAY = {"uq_returnee_follow_up_day": duplicate_day, "returnee_follow_up.returnee_id": duplicate_day}


@command(Requires("returnee", "create", "residentId"))
async def open_returnee(w: UnitOfWork, inp) -> Returnee:
    c = _checker(w)
    resident_id = c.global_id(inp.resident_id, "Resident", "residentId")
    origin = c.text(inp.origin, "origin", 100, required=True)
    transport = _transport(c, inp.transport)
    number = c.text(inp.transport_number, "transportNumber", 20, required=False)
    days = c.number(inp.follow_up_days, "followUpDays", MIN_DAYS, MAX_DAYS, required=True)
    arrived = inp.arrived_on or w.local_today  # registered the day they came back, usually
    departed = inp.departed_on or arrived
    _check_dates(c, departed, arrived)
    c.done()
    resident = await w.load(Resident, resident_id, "residentId")
    w.require(resident.area_code, "returnee", "create", "residentId")
    return await open_entry(w, resident, origin=origin, from_key_area=bool(inp.from_key_area), departed_on=departed,
                            arrived_on=arrived, transport=transport, transport_number=number, follow_up_days=days)


async def open_entry(w: UnitOfWork, resident: Resident, *, field: str = "residentId", **fields) -> Returnee:
    """Open the ledger entry of ``resident`` from checked ``fields`` (origin, dates,
    transport...): the one way an entry is opened, from the ledger's form or from a survey's
    person record. The caller has checked the right to create returnees there."""
    if resident.status != ResidentStatus.ACTIVE.value:
        raise InvalidField(field, f"only an active resident can be followed up; this one is {resident.status}")
    c = _checker(w)
    c.not_before(fields["arrived_on"], resident.birth_date, "arrivedOn", "birth date")
    c.done()
    if await _open_entry_of(w, resident.id):
        raise InvalidField(field, "this resident already has an open returnee entry (perhaps in the grid they "
                                  "came from): close it first")
    row = Returnee(area_code=resident.area_code, resident_id=resident.id, status=FOLLOWING_UP,
                   follow_up_until=_until(fields["arrived_on"], fields["follow_up_days"]), **fields)
    await w.add(row)
    w.count(row.area_code, returnees_following=1)
    w.audit("returnee.open", row, {"after": snapshot(row, RETURNEE_FIELDS)})
    return row


@command(Requires("returnee", "update", "id"))
async def update_returnee(w: UnitOfWork, inp) -> Returnee:
    c = _checker(w)
    returnee_id = c.global_id(inp.id, "Returnee", "id")
    changes = given(origin=c.text(inp.origin, "origin", 100, required=True),
                    from_key_area=c.required(inp.from_key_area, "fromKeyArea"),
                    departed_on=c.required(inp.departed_on, "departedOn"),
                    arrived_on=c.required(inp.arrived_on, "arrivedOn"),
                    transport=_transport(c, inp.transport),
                    transport_number=c.text(inp.transport_number, "transportNumber", 20, required=False),
                    follow_up_days=c.number(inp.follow_up_days, "followUpDays", MIN_DAYS, MAX_DAYS, required=True))
    c.done()
    row = await w.load(Returnee, returnee_id, "id")
    w.require(row.area_code, "returnee", "update", "id")
    w.check_version(row, inp.version)
    _not_removed(row)
    arrived = changes.get("arrived_on", row.arrived_on)
    days = changes.get("follow_up_days", row.follow_up_days)
    birth = (await w.session.execute(select(Resident.birth_date).where(Resident.id == row.resident_id))).scalar()
    departed = changes.get("departed_on", row.departed_on)
    c = _checker(w)
    c.not_future(arrived, "arrivedOn")
    c.not_future(departed, "departedOn")
    if "arrived_on" in changes or "departed_on" not in changes:
        c.not_before(arrived, departed, "arrivedOn", "departure date")
    elif departed > arrived:  # only the departure was changed: it is the one out of order
        c.fail("departedOn", f"{departed.isoformat()} is after the arrival date ({arrived.isoformat()})")
    c.not_before(arrived, birth, "arrivedOn", "birth date")
    first, last = await _follow_up_days(w, row.id)
    if first is not None and arrived > first:
        c.fail("arrivedOn", f"a follow-up was recorded on {first.isoformat()}, before this arrival")
    if last is not None and _until(arrived, days) < last:
        c.fail("followUpDays", f"a follow-up was recorded on {last.isoformat()}, after the period would end")
    c.done()
    if "arrived_on" in changes or "follow_up_days" in changes:
        changes["follow_up_until"] = _until(arrived, days)
    diff = await w.change(row, inp.version, changes)
    if diff:
        w.audit("returnee.update", row, diff)
    return row


@command(Requires("returnee", "create", "returneeId"), collisions=SAME_DAY)
async def record_follow_up(w: UnitOfWork, inp) -> FollowUp:
    c = _checker(w)
    returnee_id = c.global_id(inp.returnee_id, "Returnee", "returneeId")
    health = enum_value(inp.health)
    if health not in {h.value for h in Health}:
        c.fail("health", f"must be one of {', '.join(h.value for h in Health)}")
    temperature = inp.temperature
    if temperature is not None and not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        c.fail("temperature", f"must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE} °C, got {temperature}")
    note = c.text(inp.note, "note", 200, required=False)
    c.done()
    returnee = await w.load(Returnee, returnee_id, "returneeId")
    w.require(returnee.area_code, "returnee", "create", "returneeId")
    _not_removed(returnee, "returneeId")
    if returnee.status != FOLLOWING_UP:
        raise InvalidField("returneeId", f"this returnee is no longer followed up ({returnee.status})")
    day = w.local_today
    if not returnee.arrived_on <= day <= returnee.follow_up_until:
        raise InvalidField("on", f"{day.isoformat()} is outside the follow-up period "
                                 f"({returnee.arrived_on.isoformat()} to {returnee.follow_up_until.isoformat()})")
    taken = select(FollowUp.id).where(FollowUp.returnee_id == returnee.id, FollowUp.on == day).limit(1)
    if (await w.session.execute(taken)).first() is not None:
        raise duplicate_day()
    row = FollowUp(returnee_id=returnee.id, area_code=returnee.area_code, on=day, health=health,
                   temperature=temperature, note=note)
    await w.add(row)
    w.count(row.area_code, on=day, follow_ups=1, follow_up_fevers=int(health == Health.FEVER.value))
    w.audit("returnee.follow_up", row, {"after": snapshot(row, FOLLOW_UP_FIELDS)})
    return row


@command(Requires("returnee", "update", "id"))
async def close_returnee(w: UnitOfWork, inp) -> Returnee:
    c = _checker(w)
    returnee_id = c.global_id(inp.id, "Returnee", "id")
    status = enum_value(inp.status)
    if status not in (ReturneeStatus.COMPLETED.value, ReturneeStatus.MOVED_AWAY.value):
        c.fail("status", "must be completed or moved_away")
    c.done()
    row = await w.load(Returnee, returnee_id, "id")
    w.require(row.area_code, "returnee", "update", "id")
    w.check_version(row, inp.version)
    _not_removed(row)
    if row.status != FOLLOWING_UP:
        raise InvalidField("id", f"this entry is already closed ({row.status})")
    diff = await w.change(row, inp.version, {"status": status})
    w.count(row.area_code, returnees_following=-1)
    w.audit("returnee.close", row, diff)
    return row


@command(Requires("returnee", "update", "id"), Requires("returnee", "delete", "id"))
async def remove_returnee(w: UnitOfWork, inp) -> Returnee:
    c = _checker(w)
    returnee_id = c.global_id(inp.id, "Returnee", "id")
    reason = c.text(inp.reason, "reason", 200, required=True)
    c.done()
    row = await w.load(Returnee, returnee_id, "id")
    w.require(row.area_code, "returnee", "update", "id")
    w.require(row.area_code, "returnee", "delete", "id")
    w.check_version(row, inp.version)
    _not_removed(row)
    was_following = row.status == FOLLOWING_UP
    diff = await w.change(row, inp.version, {"removed_at": utcnow(), "removed_by": w.user.id,
                                             "removed_reason": reason})
    if was_following:
        w.count(row.area_code, returnees_following=-1)
    w.audit("returnee.remove", row, diff)
    return row
