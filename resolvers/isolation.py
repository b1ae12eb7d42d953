"""Isolation's listings and commands (居家隔离 / 集中隔离), on the domain kit.

Decisions the brief left open:

- an isolation starts today or on an earlier day (recorded after the fact), never later; its
  planned end is not before its start (default: 14 days after it);
- a central isolation names an active site; the site's occupancy is counted over every
  record at the site (an unscoped count: one number, nobody named), under a lock on the
  site's row, so two placements at once cannot both take the last bed;
- a reading is taken now or earlier, on a day of the isolation period; its window is the
  one its local time falls in (none outside both); a reading of 37.3 °C or more raises an
  alert, which marks the record until every alert of it is acknowledged with a note;
- ending: ``released`` before the planned end needs a reason; ``hospital`` and
  ``moved_site`` always do (a move to another site is ended here and opened there);
- an active isolation follows its person: ``moveResident`` moves it (and its counters) to
  the new grid (``resolvers.followers``); readings and deliveries stay where they were taken;
- the due and missed lists use the windows of the deployment's local time: due, an active
  record in its period with no reading in the window open now; missed, one with no reading
  in the last window that closed (today's morning, or yesterday's evening) inside its period.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, not_, select

from db.area import Area
from db.base import utcnow
from db.codes import validate_code
from db.errors import Forbidden, InvalidField, NotFound
from db.isolation import (ALERT_FROM, DEFAULT_ISOLATION_DAYS, DoorSeal, Isolation, IsolationKind, IsolationReason,
                          IsolationSite, IsolationStatus, ReadingWindow, SupplyDelivery, TemperatureReading,
                          parse_windows)
from db.registry import Resident, ResidentStatus
from resolvers.followers import follows_resident
from resolvers.listing import Listing, ListingQuery, reaching, register_listing
from resolvers.unit_of_work import Requires, UnitOfWork, command, enum_value, given, snapshot
from resolvers.validation import Checker

ORDER = ("area_code", "id")
ACTIVE = IsolationStatus.ACTIVE.value
ISOLATION_FIELDS = ("area_code", "resident_id", "kind", "site_id", "reason", "starts_on", "planned_end", "seal",
                    "sealed_at", "status")
SITE_FIELDS = ("area_code", "name", "address", "capacity", "active")
MIN_TEMPERATURE, MAX_TEMPERATURE = 34.0, 43.0
MAX_CAPACITY, MAX_DAYS = 5000, 60


# -- windows ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Windows:
    """The reading windows of a deployment, and where a moment lies among them."""

    zone: str
    text: str

    def of(self, at: datetime) -> tuple[date, str | None]:
        """The local day of ``at`` and the window it falls in (None: outside both)."""
        local = at.astimezone(ZoneInfo(self.zone))
        for window, (start, end) in zip(ReadingWindow, parse_windows(self.text)):
            if start <= local.time() < end:
                return local.date(), window.value
        return local.date(), None

    def last_closed(self, now: datetime) -> tuple[date, str]:
        """The last window that has closed by ``now``: today's morning or yesterday's evening."""
        local = now.astimezone(ZoneInfo(self.zone))
        (_m_start, m_end), (_e_start, e_end) = parse_windows(self.text)
        if local.time() >= e_end:
            return local.date(), ReadingWindow.EVENING.value
        if local.time() >= m_end:
            return local.date(), ReadingWindow.MORNING.value
        return local.date() - timedelta(days=1), ReadingWindow.EVENING.value


def windows_of(settings) -> Windows:
    return Windows(settings.timezone, settings.reading_windows)


# -- listings -----------------------------------------------------------------------------

def _read_in(day: date, window: str):
    return exists().where(TemperatureReading.isolation_id == Isolation.id, TemperatureReading.on == day,
                          TemperatureReading.window == window)


def _in_period(day: date):
    return and_(Isolation.status == ACTIVE, Isolation.starts_on <= day, Isolation.planned_end >= day)


@dataclass(frozen=True)
class IsolationFilter:
    """Filters on what every reader of the records sees (never the reason: it is hidden)."""

    status: str | None = None
    kind: str | None = None
    site_id: int | None = None
    alert_open: bool | None = None
    #: True: only records due a reading in the window open now (none when no window is open).
    due_now: bool | None = None
    #: True: only records that missed the last window that closed.
    missed: bool | None = None

    def conditions(self, q: ListingQuery) -> list:
        conds = []
        if self.status is not None:
            conds.append(Isolation.status == self.status)
        if self.kind is not None:
            conds.append(Isolation.kind == self.kind)
        if self.site_id is not None:
            conds.append(Isolation.site_id == self.site_id)
        if self.alert_open is not None:
            conds.append(Isolation.alert_open.is_(self.alert_open))
        if self.due_now is not None or self.missed is not None:
            now, windows = q.now, windows_of(q.settings)
            if self.due_now is not None:
                day, window = windows.of(now)
                due = and_(_in_period(day), not_(_read_in(day, window))) if window else None
                if due is None:
                    conds.append(Isolation.id.is_(None) if self.due_now else Isolation.id.is_not(None))
                else:
                    conds.append(due if self.due_now else not_(due))
            if self.missed is not None:
                day, window = windows.last_closed(now)
                missed = and_(_in_period(day), not_(_read_in(day, window)))
                conds.append(missed if self.missed else not_(missed))
        return conds


# An active isolation is the care of the grid the person lives in: it moves with them.
follows_resident(Isolation, Isolation.status == ACTIVE)

ISOLATIONS = register_listing(Listing("isolations", Isolation, ORDER,
                                      where=lambda q: (q.filters or IsolationFilter()).conditions(q)))


SITES = register_listing(Listing("isolation_sites", IsolationSite, ORDER, under_area=False,
                                 where=lambda q: [reaching(IsolationSite.area_code, q.parent)]))


# -- checks -------------------------------------------------------------------------------

def _temperature(c: Checker, value) -> float | None:
    if value is None or not MIN_TEMPERATURE <= value <= MAX_TEMPERATURE:
        c.fail("celsius", f"must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE} °C, got {value}")
    return value


async def _active_of(w: UnitOfWork, resident_id: int) -> bool:
    stmt = select(Isolation.id).where(Isolation.resident_id == resident_id, Isolation.status == ACTIVE).limit(1)
    async with w.unscoped("a person has one active isolation wherever it lies; one yes/no") as system:
        return (await system.execute(stmt)).first() is not None


async def _occupancy(w: UnitOfWork, site_id: int) -> int:
    stmt = select(func.count()).select_from(Isolation).where(Isolation.site_id == site_id, Isolation.status == ACTIVE)
    async with w.unscoped("a site's occupancy counts every grid's records; one number, nobody named") as system:
        return (await system.execute(stmt)).scalar_one()


def _count_kind(w: UnitOfWork, row: Isolation, sign: int) -> None:
    w.count(row.area_code, isolated_home=sign * int(row.kind == IsolationKind.HOME.value),
            isolated_central=sign * int(row.kind == IsolationKind.CENTRAL.value),
            isolation_alerts_open=sign * int(row.alert_open))


def already_active() -> InvalidField:
    return InvalidField("residentId", "this person is already in isolation: end that record first")


COLLISIONS = {"uq_isolation_active_resident": already_active, "isolation.resident_id": already_active}


# -- sites --------------------------------------------------------------------------------

@command(Requires("isolation_site", "create", "areaCode"))
async def open_isolation_site(w: UnitOfWork, inp) -> IsolationSite:
    c = w.checker()
    code = c.run(validate_code, inp.area_code, "areaCode")
    name = c.text(inp.name, "name", 100, required=True)
    address = c.text(inp.address, "address", 200, required=True)
    capacity = c.number(inp.capacity, "capacity", 1, MAX_CAPACITY, required=True)
    c.done()
    area = (await w.session.execute(select(Area).where(Area.code == code))).scalars().first()
    if area is None:
        raise NotFound("areaCode: no area with this code", field="areaCode")
    w.require(area.code, "isolation_site", "create", "areaCode")
    row = IsolationSite(area_code=area.code, name=name, address=address, capacity=capacity)
    await w.add(row)
    w.audit("isolation_site.open", row, {"after": snapshot(row, SITE_FIELDS)})
    return row


@command(Requires("isolation_site", "update", "id"))
async def update_isolation_site(w: UnitOfWork, inp) -> IsolationSite:
    c = w.checker()
    site_id = c.global_id(inp.id, "IsolationSite", "id")
    changes = given(name=c.text(inp.name, "name", 100, required=True),
                    address=c.text(inp.address, "address", 200, required=True),
                    capacity=c.number(inp.capacity, "capacity", 1, MAX_CAPACITY, required=True),
                    active=c.required(inp.active, "active"))
    c.done()
    row = await w.load(IsolationSite, site_id, "id")
    w.require(row.area_code, "isolation_site", "update", "id")
    w.check_version(row, inp.version)
    if "capacity" in changes:
        placed = await _occupancy(w, row.id)
        if changes["capacity"] < placed:
            raise InvalidField("capacity", f"{placed} people are placed here now: the capacity cannot be below that")
    diff = await w.change(row, inp.version, changes)
    if diff:
        w.audit("isolation_site.update", row, diff)
    return row


# -- isolations ---------------------------------------------------------------------------

@command(Requires("isolation", "create", "residentId"), collisions=COLLISIONS)
async def start_isolation(w: UnitOfWork, inp) -> Isolation:
    c = w.checker()
    resident_id = c.global_id(inp.resident_id, "Resident", "residentId")
    kind = c.one_of(inp.kind, IsolationKind, "kind")
    reason = c.one_of(inp.reason, IsolationReason, "reason")
    seal = c.one_of(inp.seal, DoorSeal, "seal")
    site_id = c.global_id(inp.site_id, "IsolationSite", "siteId") if inp.site_id is not None else None
    if kind == IsolationKind.CENTRAL.value and inp.site_id is None:
        c.fail("siteId", "a central isolation names its site")
    if kind == IsolationKind.HOME.value and inp.site_id is not None:
        c.fail("siteId", "a home isolation has no site")
    starts = inp.starts_on or w.local_today
    c.not_future(starts, "startsOn")
    planned = inp.planned_end or starts + timedelta(days=DEFAULT_ISOLATION_DAYS)
    c.not_before(planned, starts, "plannedEnd", "start date")
    if (planned - starts).days > MAX_DAYS:
        c.fail("plannedEnd", f"at most {MAX_DAYS} days after the start")
    sealed_at = c.moment(inp.sealed_at, w.ctx.settings.timezone, "sealedAt") if seal != DoorSeal.NONE.value else None
    c.done()
    resident = await w.load(Resident, resident_id, "residentId")
    w.require(resident.area_code, "isolation", "create", "residentId")
    if resident.status != ResidentStatus.ACTIVE.value:
        raise InvalidField("residentId", f"only an active resident can be isolated; this one is {resident.status}")
    if await _active_of(w, resident.id):
        raise already_active()
    if site_id is not None:
        site = await w.load(IsolationSite, site_id, "siteId")
        # the site's row locked while its beds are counted (PostgreSQL; SQLite has one writer)
        await w.session.execute(select(IsolationSite.id).where(IsolationSite.id == site.id).with_for_update())
        if not site.active:
            raise InvalidField("siteId", f"{site.name} takes no one now (closed)")
        placed = await _occupancy(w, site.id)
        if placed >= site.capacity:
            raise InvalidField("siteId", f"{site.name} is full: {placed} of {site.capacity} places taken")
    row = Isolation(area_code=resident.area_code, resident_id=resident.id, kind=kind, site_id=site_id, reason=reason,
                    starts_on=starts, planned_end=planned, seal=seal, sealed_at=sealed_at, status=ACTIVE)
    await w.add(row)
    _count_kind(w, row, +1)
    w.count(row.area_code, on=starts, isolations_started=1)
    w.audit("isolation.start", row, {"after": snapshot(row, ISOLATION_FIELDS)})
    return row


async def _active_isolation(w: UnitOfWork, isolation_id: int, field: str, action: str = "create") -> Isolation:
    row = await w.load(Isolation, isolation_id, field)
    w.require(row.area_code, "isolation", action, field)
    if row.status != ACTIVE:
        raise InvalidField(field, f"this isolation has ended ({row.status})")
    return row


@command(Requires("isolation", "create", "isolationId"),
         Requires("isolation", "update", "isolationId", when="the reading raises an alert on the record"))
async def record_reading(w: UnitOfWork, inp) -> TemperatureReading:
    c = w.checker()
    isolation_id = c.global_id(inp.isolation_id, "Isolation", "isolationId")
    celsius = _temperature(c, inp.celsius)
    symptoms = c.text(inp.symptoms, "symptoms", 200, required=False)
    at = c.moment(inp.at, w.ctx.settings.timezone, "at")
    c.done()
    isolation = await _active_isolation(w, isolation_id, "isolationId")
    day, window = windows_of(w.ctx.settings).of(at)
    if not isolation.starts_on <= day <= isolation.planned_end:
        raise InvalidField("at", f"{day.isoformat()} is outside the isolation ({isolation.starts_on.isoformat()} "
                                 f"to {isolation.planned_end.isoformat()})")
    alert = celsius >= ALERT_FROM
    row = TemperatureReading(isolation_id=isolation.id, area_code=isolation.area_code, at=at, on=day, window=window,
                             celsius=celsius, symptoms=symptoms, alert=alert)
    await w.add(row)
    w.count(row.area_code, on=day, isolation_readings=1, isolation_fever_alerts=int(alert))
    w.audit("isolation.reading", row, {"after": snapshot(row, ("isolation_id", "at", "on", "window", "celsius",
                                                                "symptoms", "alert"))})
    if alert and not isolation.alert_open:
        w.require(isolation.area_code, "isolation", "update", "isolationId")
        await w.change(isolation, isolation.version, {"alert_open": True})
        w.count(isolation.area_code, isolation_alerts_open=1)
    return row


@command(Requires("isolation", "update", "readingId"))
async def acknowledge_alert(w: UnitOfWork, inp) -> TemperatureReading:
    c = w.checker()
    reading_id = c.global_id(inp.reading_id, "TemperatureReading", "readingId")
    note = c.text(inp.note, "note", 200, required=True)
    c.done()
    row = await w.load(TemperatureReading, reading_id, "readingId")
    w.require(row.area_code, "isolation", "update", "readingId")
    if not row.alert:
        raise InvalidField("readingId", "this reading raised no alert")
    if row.acknowledged_at is not None:
        raise InvalidField("readingId", "this alert was acknowledged already")
    # The record may have followed its person to another grid since the reading (readings stay
    # where they were taken): its alert is cleared there, by someone who reaches both grids.
    isolation = (await w.session.execute(select(Isolation).where(Isolation.id == row.isolation_id))).scalars().first()
    if isolation is None:
        raise Forbidden("readingId: this person's isolation has moved to a grid out of your reach; someone who "
                        "reaches both grids acknowledges the alert", field="readingId")
    w.require(isolation.area_code, "isolation", "update", "readingId")
    diff = await w.change(row, row.version, {"acknowledged_at": utcnow(), "acknowledged_by": w.user.id,
                                             "acknowledgement": note})
    w.audit("isolation.alert.acknowledge", row, diff)
    others = select(TemperatureReading.id).where(TemperatureReading.isolation_id == isolation.id,
                                                 TemperatureReading.alert.is_(True),
                                                 TemperatureReading.acknowledged_at.is_(None)).limit(1)
    async with w.unscoped("a record's alerts may lie in grids it has left; one yes/no") as system:
        unacknowledged = (await system.execute(others)).first() is not None
    if isolation.alert_open and not unacknowledged:
        await w.change(isolation, isolation.version, {"alert_open": False})
        if isolation.status == ACTIVE:
            w.count(isolation.area_code, isolation_alerts_open=-1)
    return row


@command(Requires("isolation", "create", "isolationId"))
async def record_delivery(w: UnitOfWork, inp) -> SupplyDelivery:
    c = w.checker()
    isolation_id = c.global_id(inp.isolation_id, "Isolation", "isolationId")
    items = c.text(inp.items, "items", 300, required=True)
    at = c.moment(inp.at, w.ctx.settings.timezone, "at")
    c.done()
    isolation = await _active_isolation(w, isolation_id, "isolationId")
    day, _window = windows_of(w.ctx.settings).of(at)
    row = SupplyDelivery(isolation_id=isolation.id, area_code=isolation.area_code, at=at, on=day, items=items)
    await w.add(row)
    w.count(row.area_code, on=day, isolation_deliveries=1)
    w.audit("isolation.delivery", row, {"after": snapshot(row, ("isolation_id", "at", "on", "items"))})
    return row


ENDINGS = (IsolationStatus.RELEASED.value, IsolationStatus.HOSPITAL.value, IsolationStatus.MOVED_SITE.value)


@command(Requires("isolation", "update", "id"))
async def end_isolation(w: UnitOfWork, inp) -> Isolation:
    c = w.checker()
    isolation_id = c.global_id(inp.id, "Isolation", "id")
    status = enum_value(inp.status)
    if status not in ENDINGS:
        c.fail("status", f"must be one of {', '.join(ENDINGS)}")
    reason = c.text(inp.reason, "reason", 200, required=False)
    c.done()
    row = await _active_isolation(w, isolation_id, "id", "update")
    w.check_version(row, inp.version)
    today = w.local_today
    if status == IsolationStatus.RELEASED.value and today < row.planned_end and not reason:
        raise InvalidField("reason", f"released before the planned end ({row.planned_end.isoformat()}): say why")
    if status != IsolationStatus.RELEASED.value and not reason:
        raise InvalidField("reason", "say where they went")
    _count_kind(w, row, -1)  # before the change: the kind and the open alert it counted
    diff = await w.change(row, inp.version, {"status": status, "ended_at": utcnow(), "ended_on": today,
                                             "ended_by": w.user.id, "end_reason": reason})
    w.count(row.area_code, on=today, isolations_ended=1)
    w.audit("isolation.end", row, diff)
    return row
