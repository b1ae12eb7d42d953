"""The household survey's listings and commands (入户排查登记), on the domain kit.

A campaign is opened by an office for its area; its grid workers record visits to the
households of their grids, and with a reached visit what each person said. Every command
validates its whole input first (each person of a visit by index: ``people.1.temperature``),
loads through the scoped session, checks the declared rights at the record's area, then
writes the rows, the campaign's and the day's counters and the audit rows in one transaction.

Decisions the brief left open:

- a visit is recorded by the user who made it (``createdBy``); ``visitedAt`` may be earlier
  today or on an earlier day of the campaign (visits are often entered after the walk),
  never in the future; a time without a zone is the deployment's local time;
- a visit's household must lie under the campaign's area, and the visit's day inside the
  campaign (from its start, up to its end if it has one), the campaign open;
- person records come only with a reached visit; a resident has one record per campaign
  (corrected with ``updateSurveyPerson``, not recorded twice); a person found at the
  household who is not registered is registered into it (``newResident``, checked as
  ``createResident`` checks, which needs ``resident create`` there too);
- a temperature of 37.3 °C or more is a fever whatever ``fever`` says;
- "from a key area" is derived: ``cameFrom`` naming one of the campaign's key areas (湖北省
  in 湖北省武汉市). Changing a campaign's key areas applies to records written afterwards;
  correcting a record's ``cameFrom`` re-derives its mark;
- closing a campaign ends it today (unless it ended earlier); a closed campaign takes no
  visits, and neither it nor its person records can be changed: its figures stay;
- a person's departure and arrival are not after the visit that records them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import exists, not_, select
from strawberry import UNSET

from authz.scope import prefix_condition
from db.area import Area
from db.codes import validate_code
from db.errors import InvalidField, NotFound
from db.registry import Household, Resident, ResidentStatus
from db.survey import (MAX_KEY_AREA_LENGTH, MAX_KEY_AREAS, CampaignStatus, ContactMethod, SurveyCampaign,
                       SurveyPerson, SurveyVisit, Transport, VisitOutcome, key_area_list, person_counts)
from resolvers.listing import Listing, ListingQuery, reaching, register_listing
from resolvers.registry.people import checked_new_resident, register_resident
from resolvers.returnee import MAX_DAYS, MIN_DAYS, open_entry
from resolvers.unit_of_work import Requires, UnitOfWork, command, given, snapshot
from resolvers.validation import Checker

ORDER = ("area_code", "id")
CAMPAIGN_FIELDS = ("area_code", "name", "starts_on", "ends_on", "status", "key_areas")
VISIT_FIELDS = ("campaign_id", "household_id", "area_code", "visited_at", "on", "method", "outcome", "first_reach")
PERSON_FIELDS = ("campaign_id", "visit_id", "resident_id", "area_code", "on", "came_from", "from_key_area",
                 "departed_on", "arrived_on", "transport", "transport_number", "fever", "temperature", "cough",
                 "close_contact", "under_observation")
OPEN = CampaignStatus.OPEN.value
REACHED = VisitOutcome.REACHED.value
#: A temperature from which a person has a fever (°C), and the range a thermometer reads.
FEVER_FROM, MIN_TEMPERATURE, MAX_TEMPERATURE = 37.3, 34.0, 43.0
#: Most people recorded with one visit (the registry's largest households are collective).
MAX_PEOPLE = 30


# -- listings -----------------------------------------------------------------------------

@dataclass(frozen=True)
class CampaignFilter:
    status: str | None = None

    def conditions(self, q: ListingQuery) -> list:
        return [SurveyCampaign.status == self.status] if self.status else []


def _reaching(q: ListingQuery) -> list:
    """Campaigns that reach the area (held there or above it) and those held inside it:
    a grid worker sees the city's campaign, a district office its streets' as well."""
    return [reaching(SurveyCampaign.area_code, q.parent), *(q.filters or CampaignFilter()).conditions(q)]


CAMPAIGNS = register_listing(Listing("survey_campaigns", SurveyCampaign, ORDER, under_area=False, where=_reaching))


@dataclass(frozen=True)
class VisitFilter:
    """Filters on what every reader of visits sees (no column of a visit is personal)."""

    campaign_id: int | None = None
    outcome: str | None = None
    reached: bool | None = None  # the household's first reach in the campaign

    def conditions(self, q: ListingQuery) -> list:
        conds = []
        if self.campaign_id is not None:
            conds.append(SurveyVisit.campaign_id == self.campaign_id)
        if self.outcome is not None:
            conds.append(SurveyVisit.outcome == self.outcome)
        if self.reached is not None:
            conds.append(SurveyVisit.first_reach.is_(self.reached))
        return conds


VISITS = register_listing(Listing("survey_visits", SurveyVisit, ORDER,
                                  where=lambda q: (q.filters or VisitFilter()).conditions(q)))


@dataclass(frozen=True)
class PersonFilter:
    """Filters on what every reader of person records sees: the campaign and the key-area
    mark, never a health answer or where someone came from (both hidden from masked readers,
    and a filter on them would tell them apart)."""

    campaign_id: int | None = None
    from_key_area: bool | None = None

    def conditions(self, q: ListingQuery) -> list:
        conds = []
        if self.campaign_id is not None:
            conds.append(SurveyPerson.campaign_id == self.campaign_id)
        if self.from_key_area is not None:
            conds.append(SurveyPerson.from_key_area.is_(self.from_key_area))
        return conds


PEOPLE = register_listing(Listing("survey_people", SurveyPerson, ORDER,
                                  where=lambda q: (q.filters or PersonFilter()).conditions(q)))


@dataclass(frozen=True)
class NotReached:
    """The households of a campaign's area that no visit has reached yet."""

    campaign_id: int


def reached_in(campaign_id: int):
    """Households with a reached visit in the campaign: the partial unique index answers it."""
    return exists().where(SurveyVisit.household_id == Household.id, SurveyVisit.campaign_id == campaign_id,
                          SurveyVisit.first_reach.is_(True))


def _not_reached(q: ListingQuery) -> list:
    # Whether a household was reached is survey data: only for readers of the survey there
    # (the visits inside the EXISTS are gated too; without this, a reader of households
    # without survey rights would be told "not reached" for every household).
    return [not_(reached_in(q.filters.campaign_id)),
            prefix_condition(Household.area_code, q.scope.prefixes("survey", "read"))]


NOT_REACHED = register_listing(Listing("survey_not_reached", Household, ORDER, where=_not_reached))


# -- checks -------------------------------------------------------------------------------

def _key_areas(c: Checker, value) -> str | None:
    """The campaign's key areas as stored (one per line), checked; UNSET when not sent."""
    if value is UNSET:
        return UNSET
    names = []
    for i, raw in enumerate(value or []):
        name = c.text(raw, f"keyAreas.{i}", MAX_KEY_AREA_LENGTH, required=True)
        if name and name not in names:
            names.append(name)
    if len(names) > MAX_KEY_AREAS:
        c.fail("keyAreas", f"at most {MAX_KEY_AREAS} key areas, got {len(names)}")
    return "\n".join(names)


def _in_campaign(campaign: SurveyCampaign, day: date, field: str) -> None:
    if campaign.status != OPEN:
        raise InvalidField("campaignId", "this campaign is closed")
    if day < campaign.starts_on:
        raise InvalidField(field, f"{day.isoformat()} is before the campaign starts ({campaign.starts_on.isoformat()})")
    if campaign.ends_on is not None and day > campaign.ends_on:
        raise InvalidField(field, f"{day.isoformat()} is after the campaign ended ({campaign.ends_on.isoformat()})")


def _reaches(campaign: SurveyCampaign, household: Household) -> None:
    if not household.area_code.startswith(campaign.area_code):
        raise InvalidField("householdId", f"this household is not in the campaign's area ({campaign.area_code})")


def from_key_area(campaign: SurveyCampaign, came_from: str | None) -> bool:
    return bool(came_from) and any(k in came_from for k in key_area_list(campaign.key_areas))


def checked_answers(c: Checker, p, *, update: bool = False) -> dict:
    """Travel and health answers of one person (``p``: a person input or an update input),
    as the columns of ``SurveyPerson``; in an update, only those sent."""
    temperature = p.temperature
    if temperature not in (None, UNSET) and not MIN_TEMPERATURE <= temperature <= MAX_TEMPERATURE:
        c.fail("temperature", f"must be between {MIN_TEMPERATURE} and {MAX_TEMPERATURE} °C, got {temperature}")
    for day, name in ((p.departed_on, "departedOn"), (p.arrived_on, "arrivedOn")):
        if day not in (None, UNSET):
            c.not_future(day, name)
    if p.departed_on not in (None, UNSET) and p.arrived_on not in (None, UNSET):
        c.not_before(p.arrived_on, p.departed_on, "arrivedOn", "departure date")
    values = given(came_from=c.text(p.came_from, "cameFrom", 100, required=False),
                   departed_on=p.departed_on, arrived_on=p.arrived_on,
                   transport=c.one_of(p.transport, Transport, "transport", required=False),
                   transport_number=c.text(p.transport_number, "transportNumber", 20, required=False),
                   fever=c.required(p.fever, "fever") if update else bool(p.fever),
                   temperature=temperature,
                   cough=c.required(p.cough, "cough") if update else bool(p.cough),
                   close_contact=c.required(p.close_contact, "closeContact") if update else bool(p.close_contact),
                   under_observation=(c.required(p.under_observation, "underObservation") if update
                                      else bool(p.under_observation)))
    return values


def _with_fever(values: dict, current: SurveyPerson | None = None) -> dict:
    """A measured 37.3 °C or more is a fever."""
    temperature = values.get("temperature", current.temperature if current else None)
    if temperature is not None and temperature >= FEVER_FROM:
        values["fever"] = True
    return values


def _count_person(w: UnitOfWork, row: SurveyPerson, sign: int) -> None:
    moves = person_counts(row, sign)
    w.count(row.area_code, part=row.campaign_id, **{f"campaign_{k}": v for k, v in moves.items()})
    w.count(row.area_code, on=row.on, **{f"survey_{k}": v for k, v in moves.items()})


# -- campaigns ----------------------------------------------------------------------------

@command(Requires("survey_campaign", "create", "areaCode"))
async def open_survey_campaign(w: UnitOfWork, inp) -> SurveyCampaign:
    c = w.checker()
    code = c.run(validate_code, inp.area_code, "areaCode")
    name = c.text(inp.name, "name", 100, required=True)
    starts = inp.starts_on or w.local_today
    if inp.ends_on is not None:
        c.not_before(inp.ends_on, starts, "endsOn", "start date")
    key_areas = _key_areas(c, inp.key_areas or [])
    c.done()
    area = (await w.session.execute(select(Area).where(Area.code == code))).scalars().first()
    if area is None:
        raise NotFound("areaCode: no area with this code", field="areaCode")
    w.require(area.code, "survey_campaign", "create", "areaCode")
    row = SurveyCampaign(area_code=area.code, name=name, starts_on=starts, ends_on=inp.ends_on, status=OPEN,
                         key_areas=key_areas)
    await w.add(row)
    w.audit("survey_campaign.open", row, {"after": snapshot(row, CAMPAIGN_FIELDS)})
    return row


async def _open_campaign(w: UnitOfWork, campaign_id: int, version: int) -> SurveyCampaign:
    row = await w.load(SurveyCampaign, campaign_id, "id")
    w.require(row.area_code, "survey_campaign", "update", "id")
    w.check_version(row, version)
    if row.status != OPEN:
        raise InvalidField("id", "this campaign is closed")
    return row


@command(Requires("survey_campaign", "update", "id"))
async def update_survey_campaign(w: UnitOfWork, inp) -> SurveyCampaign:
    c = w.checker()
    campaign_id = c.global_id(inp.id, "SurveyCampaign", "id")
    changes = given(name=c.text(inp.name, "name", 100, required=True), ends_on=inp.ends_on,
                    key_areas=_key_areas(c, inp.key_areas))
    c.done()
    row = await _open_campaign(w, campaign_id, inp.version)
    if changes.get("ends_on") is not None:
        c.not_before(changes["ends_on"], row.starts_on, "endsOn", "start date")
        c.done()
    diff = await w.change(row, inp.version, changes)
    if diff:
        w.audit("survey_campaign.update", row, diff)
    return row


@command(Requires("survey_campaign", "update", "id"))
async def close_survey_campaign(w: UnitOfWork, inp) -> SurveyCampaign:
    c = w.checker()
    campaign_id = c.global_id(inp.id, "SurveyCampaign", "id")
    c.done()
    row = await _open_campaign(w, campaign_id, inp.version)
    ends = row.ends_on if row.ends_on is not None and row.ends_on <= w.local_today else max(w.local_today, row.starts_on)
    diff = await w.change(row, inp.version, {"status": CampaignStatus.CLOSED.value, "ends_on": ends})
    w.audit("survey_campaign.close", row, diff)
    return row


# -- visits and person records ------------------------------------------------------------

@dataclass
class _Person:
    """One checked person of a visit: an existing resident or one to register."""

    index: int
    resident_id: int | None
    new_resident: dict | None
    answers: dict


def _checked_people(c: Checker, people, outcome: str | None) -> list[_Person]:
    people = list(people or [])
    if people and outcome != REACHED:
        c.fail("people", "only a reached household has person records")
    if len(people) > MAX_PEOPLE:
        c.fail("people", f"at most {MAX_PEOPLE} people per visit, got {len(people)}")
    out = []
    for i, p in enumerate(people):
        pc = c.within(f"people.{i}.")
        resident_id = new = None
        if (p.resident_id is None) == (p.new_resident is None):
            pc.fail("residentId", "give either residentId (a registered resident) or newResident (to register one)")
        elif p.resident_id is not None:
            resident_id = pc.global_id(p.resident_id, "Resident", "residentId")
        else:
            new = checked_new_resident(pc.within("newResident."), p.new_resident)
        out.append(_Person(i, resident_id, new, checked_answers(pc, p)))
    seen: set[int] = set()
    for p in out:
        if p.resident_id is not None:
            if p.resident_id in seen:
                c.fail(f"people.{p.index}.residentId", "this resident is listed twice")
            seen.add(p.resident_id)
    return out


def duplicate_record() -> InvalidField:
    return InvalidField("people", "a person record of this resident already exists in this campaign: correct it")


def second_reach() -> InvalidField:
    return InvalidField("householdId", "another visit reached this household at the same time; reload it")


#: Concurrent writers of the same first reach or the same person lose at the unique index
#: (PostgreSQL names it, SQLite names the columns).
COLLISIONS = {"uq_survey_person_resident": duplicate_record, "survey_person.campaign_id": duplicate_record,
              "uq_survey_visit_first_reach": second_reach, "survey_visit.campaign_id": second_reach}


@dataclass(frozen=True)
class RecordedVisit:
    """A visit as recorded and its person records: the payload shows the records from here
    instead of reading back what the transaction has just written."""

    visit: SurveyVisit
    people: tuple[SurveyPerson, ...]


@command(Requires("survey", "create", "householdId"),
         Requires("resident", "create", "householdId", when="a person found there is registered (newResident)"),
         collisions=COLLISIONS)
async def record_household_visit(w: UnitOfWork, inp) -> RecordedVisit:
    c = w.checker()
    campaign_id = c.global_id(inp.campaign_id, "SurveyCampaign", "campaignId")
    household_id = c.global_id(inp.household_id, "Household", "householdId")
    method = c.one_of(inp.method, ContactMethod, "method")
    outcome = c.one_of(inp.outcome, VisitOutcome, "outcome")
    zone = w.ctx.settings.timezone
    visited_at = c.moment(inp.visited_at, zone, "visitedAt")
    people = _checked_people(c, inp.people, outcome)
    c.done()
    campaign = await w.load(SurveyCampaign, campaign_id, "campaignId")
    household = await w.load(Household, household_id, "householdId")
    w.require(household.area_code, "survey", "create", "householdId")
    _reaches(campaign, household)
    day = visited_at.astimezone(ZoneInfo(zone)).date()
    _in_campaign(campaign, day, "visitedAt")
    _travelled_before(w, people, day)
    residents, reached = await _members(w, household, people, campaign.id)
    if outcome == REACHED and reached is None:  # no member named: asked on its own
        reached = (await w.session.execute(select(_reached(campaign.id, household.id)))).scalar()
    first = outcome == REACHED and not reached
    # People found at the door are registered first, while nothing else is pending: the ID
    # number's check would otherwise flush the visit's audit row in a statement of its own.
    for p in people:
        if p.resident_id is None:
            w.require(household.area_code, "resident", "create", "householdId")
            residents[p.index] = await register_resident(w, household, p.new_resident,
                                                         f"people.{p.index}.newResident.idNumber")
    visit = SurveyVisit(campaign_id=campaign.id, household_id=household.id, area_code=household.area_code,
                        visited_at=visited_at, on=day, method=method, outcome=outcome, first_reach=bool(first))
    await w.add(visit)
    w.count(visit.area_code, part=campaign.id, campaign_visits=1, campaign_households=int(visit.first_reach))
    w.count(visit.area_code, on=day, survey_visits=1, survey_households=int(visit.first_reach))
    records = []
    for p in people:
        values = _with_fever(dict(p.answers))
        records.append(SurveyPerson(campaign_id=campaign.id, visit_id=visit.id, resident_id=residents[p.index].id,
                                    area_code=household.area_code, on=day,
                                    from_key_area=from_key_area(campaign, values.get("came_from")), **values))
    await w.add_all(records)  # one INSERT for all of them
    # the visit's audit row after its records' flush: it goes in one INSERT with theirs
    w.audit("survey.visit", visit, {"after": snapshot(visit, VISIT_FIELDS)})
    for row in records:
        _count_person(w, row, +1)
        w.audit("survey.person", row, {"after": snapshot(row, PERSON_FIELDS)})
    return RecordedVisit(visit, tuple(records))


def _travelled_before(w: UnitOfWork, people: list[_Person], day: date) -> None:
    """What people say of their journey happened before the visit that records it."""
    c = w.checker()
    for p in people:
        for column, name in (("departed_on", "departedOn"), ("arrived_on", "arrivedOn")):
            when = p.answers.get(column)
            if when is not None and when > day:
                c.fail(f"people.{p.index}.{name}", f"{when.isoformat()} is after the visit ({day.isoformat()})")
    c.done()


def _reached(campaign_id: int, household_id: int):
    """Whether a visit of the campaign has reached the household (the partial unique index)."""
    return exists().where(SurveyVisit.campaign_id == campaign_id, SurveyVisit.household_id == household_id,
                          SurveyVisit.first_reach.is_(True))


async def _members(w: UnitOfWork, household: Household, people: list[_Person],
                   campaign_id: int) -> tuple[dict[int, Resident], bool | None]:
    """The registered people of a visit by index, each checked to live in the household, be
    active and have no record in the campaign yet (every problem reported at once); and
    whether the household was reached already (None when no member is named). One
    statement: whether a resident has a record, and the household's reach, come with the residents."""
    c = w.checker()
    wanted = {p.resident_id for p in people if p.resident_id is not None}
    if not wanted:
        return {}, None
    recorded = exists().where(SurveyPerson.campaign_id == campaign_id, SurveyPerson.resident_id == Resident.id)
    rows = (await w.session.execute(select(Resident, recorded.label("recorded"),
                                           _reached(campaign_id, household.id).label("reached"))
                                    .where(Resident.id.in_(wanted)))).all()
    found = {r.id: (r, taken) for r, taken, _reached_already in rows}
    out = {}
    for p in people:
        if p.resident_id is None:
            continue
        name = f"people.{p.index}.residentId"
        r, _taken = found.get(p.resident_id, (None, False))
        if r is None:
            raise NotFound(f"{name}: no resident with this ID", field=name)
        if r.household_id != household.id:
            c.fail(name, "this resident is not a member of the household visited")
        elif r.status != ResidentStatus.ACTIVE.value:
            c.fail(name, f"this resident is {r.status}, not active")
        out[p.index] = r
    c.done()
    for index, r in out.items():
        if found[r.id][1]:
            c.fail(f"people.{index}.residentId", "already recorded in this campaign: correct that record instead")
    c.done()
    return out, rows[0][2]


@command(Requires("survey", "update", "id"))
async def update_survey_person(w: UnitOfWork, inp) -> SurveyPerson:
    c = w.checker()
    person_id = c.global_id(inp.id, "SurveyPerson", "id")
    answers = checked_answers(c, inp, update=True)
    c.done()
    row = await w.load(SurveyPerson, person_id, "id")
    w.require(row.area_code, "survey", "update", "id")
    w.check_version(row, inp.version)
    campaign = (await w.session.execute(select(SurveyCampaign).where(SurveyCampaign.id == row.campaign_id))).scalar_one()
    if campaign.status != OPEN:
        raise InvalidField("id", "this record's campaign is closed: its figures stay as they were")
    departed = answers.get("departed_on", row.departed_on)
    arrived = answers.get("arrived_on", row.arrived_on)
    for when, name in ((departed, "departedOn"), (arrived, "arrivedOn")):
        if when is not None and when > row.on:
            c.fail(name, f"{when.isoformat()} is after the visit ({row.on.isoformat()})")
    c.done()
    if departed is not None and arrived is not None and arrived < departed:
        c.fail("arrivedOn" if "arrived_on" in answers else "departedOn",
               f"arrival {arrived.isoformat()} is before departure {departed.isoformat()}")
        c.done()
    changes = _with_fever(dict(answers), row)
    if "came_from" in changes:
        changes["from_key_area"] = from_key_area(campaign, changes["came_from"])
    before = person_counts(row)
    diff = await w.change(row, inp.version, changes)
    if diff:
        after = person_counts(row)
        moves = {k: after[k] - before[k] for k in after}
        w.count(row.area_code, part=row.campaign_id, **{f"campaign_{k}": v for k, v in moves.items()})
        w.count(row.area_code, on=row.on, **{f"survey_{k}": v for k, v in moves.items()})
        w.audit("survey.person.update", row, diff)
    return row


@command(Requires("returnee", "create", "surveyPersonId"))
async def open_returnee_from_survey(w: UnitOfWork, inp):
    """Open the returnee ledger entry of a person the survey found back from elsewhere."""
    c = w.checker()
    person_id = c.global_id(inp.survey_person_id, "SurveyPerson", "surveyPersonId")
    days = c.number(inp.follow_up_days, "followUpDays", MIN_DAYS, MAX_DAYS, required=True)
    c.done()
    record = await w.load(SurveyPerson, person_id, "surveyPersonId")
    resident = await w.load(Resident, record.resident_id, "surveyPersonId")
    w.require(resident.area_code, "returnee", "create", "surveyPersonId")
    if not record.came_from:
        raise InvalidField("surveyPersonId", "this person record says nowhere they came from: use openReturnee")
    arrived = record.arrived_on or record.on
    return await open_entry(w, resident, field="surveyPersonId", origin=record.came_from,
                            from_key_area=record.from_key_area, departed_on=record.departed_on or arrived,
                            arrived_on=arrived, transport=record.transport or Transport.OTHER.value,
                            transport_number=record.transport_number, follow_up_days=days)

