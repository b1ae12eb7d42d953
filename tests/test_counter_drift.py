"""Property: no sequence of writes through the API makes a counter drift from its rows.

Counters per grid, per grid and day and per part and grid (a survey campaign's,
``db.counters``) move in the writer's transaction, so they should always equal a recount
from the rows (``db.counters_recount.recount``, what ``wangge check-stats`` runs). The
story tests check one write at a time; this test checks that writes compose. Hypothesis
draws sequences of operations (register, update, move and remove residents; households and
buildings; the key-person and returnee ledgers with their follow-ups, well and feverish;
the household survey's campaigns, visits with the people reached, some registered on the
spot, corrected person records and returnee entries opened from them; isolation's sites,
people isolated at home or at a site, their records following them when they move, their
readings, some raising alerts, acknowledged, deliveries and the end of it), each one
GraphQL request over HTTP by a demo user with rights where it writes, and refusals of
each: bad input, a stale version, a user out of reach of the record, a second open entry
or isolation for one resident, a closed entry or campaign, a person recorded twice, a full
site. After every request the counters of ``DISTRICT`` (where all of it happens), the
campaigns' included, are recounted, so a drift is reported at the request that made it; a
refused request must have moved no counter, an accepted one only those its operation
moves. After each sequence every counter of the database is recounted on a plain session:
no drift, and the stored values equal the recounted ones.

One seeded database serves all of a test's sequences: each starts where the last one
ended. Targets are picked from the rows as they are when the step runs, in the grids
``PLAY``; a step with nothing to work on is skipped. A day may pass between steps (the
deployment's local day, moved as ``returnee_support.Clock`` moves it), so follow-ups and
removals land on several days; a survey visit's day is that of its time (``visitedAt``, by
the server's clock), sent now or a few days back, and so is an isolation reading's or
delivery's (``at``), inside an isolation started on a real day. A sequence cannot be
replayed on a database that has moved on, so Hypothesis neither shrinks nor replays a
failure: the first one ends the run and is raised with the log of its sequence (what was
sent, as whom, and the answers).

Adding a domain's operations:

1. A builder per operation, ``def build(w: World) -> Call | None``: the target from
   ``w.pick(Model, *conditions)`` (a row of ``PLAY``), the user from
   ``w.writer_of(row.area_code)``, other choices from ``w.number``, ``w.flag``,
   ``w.choice``; it returns the ``Call`` that must succeed (the user, the mutation's name,
   its ``input``, the grids it touches), or None when nothing fits. A mutation takes one
   argument ``input`` of type ``<Name>Input``. Where the right is not a grid's (a survey
   campaign is opened by an office of its area), the call names its ``outsiders``.
2. A builder per refusal of the domain (a bad field, a duplicate, a closed record), most
   often ``refused(build(w), field=bad value)``, or ``again(build(w), ...)`` when the
   refusal needs a state the database may not have yet (the same call twice).
3. An ``Operation(build, moves=(counters it may move), refusals={name: builder})`` in
   ``OPERATIONS``. Every accepted call is also sent by a user out of reach and, when its
   input has a ``version``, with a stale one (``GENERIC_REFUSALS``).

The domain's counters are recounted because it declares them; a declared counter that no
operation moves fails ``test_every_declared_counter_is_moved_by_an_operation``.
"""

from __future__ import annotations

import itertools
from collections import Counter as Tally
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from conftest import IN_CI, global_id
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from registry_support import GRID, NEIGHBOUR, TEAM_GRID, fresh, make_id_number, rows
from returnee_support import Clock
from sqlalchemy import case, exists, func, select

import db.models  # noqa: F401 - every domain's counter declarations
from db import counters
from db.codes import ancestor_codes
from db.counters import DEFAULT_ZONE, local_day
from db.counters_recount import count_from_rows, recount, stored_counts
from db.isolation import Isolation, IsolationSite, IsolationStatus, TemperatureReading
from db.key_person import KeyPerson, KeyPersonCategory
from db.registry import Building, Household, Resident
from db.returnee import FOLLOWING, FollowUp, Returnee, ReturneeStatus
from db.survey import CampaignStatus, SurveyCampaign, SurveyPerson, SurveyVisit

EXAMPLES = 25 if IN_CI else 5  # sequences per test: a few seconds locally, more in CI
STEPS = 15
DICE = 8  # numbers drawn for each step's builder to choose with (World.roll)

DISTRICT = "230102"  # 道里区: every grid written in is here, and its counters are recounted after each request
COMMUNITY = [GRID, NEIGHBOUR, GRID[:-3] + "003"]  # the grids of community_staff's community, 230102001001
PLAY = [*COMMUNITY, TEAM_GRID]  # TEAM_GRID: in another community of the same street
ELSEWHERE = "230103001001001"  # in another district: nobody playing writes there
#: Who writes where among the grids played in (their grants: authz.users.DEMO_USERS).
WRITES: dict[str, list[str]] = {
    "grid_worker": [GRID], "community_staff": COMMUNITY, "team_member": [TEAM_GRID], "district_admin": PLAY}
#: Users who read some of these grids (or none of them) and write none.
READERS = ["supervisor", "city_officer", "province_analyst"]

BAD_INPUT = frozenset({"BAD_USER_INPUT"})
OUT_OF_REACH = frozenset({"FORBIDDEN", "NOT_FOUND"})  # NOT_FOUND where the user cannot even see the record
STALE = frozenset({"CONFLICT"})

_serial = itertools.count()  # for names, phones and ID numbers no one else in the run has


# -- what a step sends ----------------------------------------------------------------

@dataclass(frozen=True)
class Call:
    """One mutation request, and how it must be answered."""

    user: str
    mutation: str
    input: dict
    #: The grids the call touches: an outsider is a user who writes none of them.
    areas: tuple[str, ...]
    #: None: it must succeed. Else it must be refused, every error's code one of these.
    refused: frozenset[str] | None = None
    #: Users out of reach of the call, where writing in its grids is not what it takes (a
    #: campaign is opened by an office of its area); empty: whoever writes none of ``areas``.
    outsiders: tuple[str, ...] = ()

    def document(self) -> str:
        kind = self.mutation[0].upper() + self.mutation[1:] + "Input"
        return f"mutation($i: {kind}!) {{ {self.mutation}(input: $i) {{ errors {{ field code message }} }} }}"


def refused(call: Call | None, codes: frozenset[str] = BAD_INPUT, **changes) -> Call | None:
    """``call`` with ``changes`` to its input, which must be refused with one of ``codes``."""
    return call and replace(call, input={**call.input, **changes}, refused=codes)


def again(first: Call | None, **changes) -> list[Call] | None:
    """``first`` (which must succeed), then the same call with ``changes``, which must be
    refused: the state a refusal needs (a closed entry, today's follow-up) made in the same
    step when the database has none yet."""
    return first and [first, refused(first, **changes)]


def bumped(call: Call) -> int:
    """The version of ``call``'s record once ``call`` has changed it."""
    return call.input["version"] + 1


class World:
    """What builders read and choose with: the committed rows, the local day, the step's dice.

    Builders never draw from Hypothesis themselves: what there is to choose from depends on
    the database, which every sequence leaves changed for the next, and Hypothesis needs
    the same choices drawn the same way each time. So each step comes with ``DICE`` numbers
    (``STEP``) and builders choose with them, modulo what there is; a number shrinks towards 0,
    the first option.
    """

    def __init__(self, session, clock: Clock) -> None:
        self.session = session
        self.clock = clock
        self._dice: list[int] = [0]
        self._next = 0
        #: What the current sequence sent and was answered, one line per step or call.
        self.log: list[str] = []
        #: Calls accepted and refused over the whole run.
        self.outcomes: Tally = Tally()

    def cast(self, dice: list[int]) -> None:
        self._dice, self._next = dice, 0

    def roll(self) -> int:
        """The step's next number (taken again in turn if a builder wants more than ``DICE``)."""
        value = self._dice[self._next % len(self._dice)]
        self._next += 1
        return value

    @property
    def today(self) -> date:
        return self.clock.today

    def number(self, low: int, high: int) -> int:
        return low + self.roll() % (high - low + 1)

    def flag(self) -> bool:
        return self.roll() % 2 == 1

    def choice(self, options):
        options = list(options)
        return options[self.roll() % len(options)]

    def days_ago(self, most: int) -> date:
        return self.today - timedelta(days=self.number(0, most))

    def writer_of(self, grid: str) -> str:
        """A user who may write in ``grid``."""
        return self.choice([user for user, grids in WRITES.items() if grid in grids])

    def rows(self, model, *where, grids=PLAY) -> list:
        return rows(self.session, model, model.area_code.in_(grids), *where)

    def pick(self, model, *where, grids=PLAY):
        """A committed row of ``model`` in ``grids`` meeting ``where``, or None if there is none."""
        found = self.rows(model, *where, grids=grids)
        return self.choice(found) if found else None

    def outsider(self, areas: tuple[str, ...]) -> str:
        """A user who writes in none of ``areas`` (some of them read there, some do not)."""
        return self.choice([u for u in [*WRITES, *READERS] if not set(WRITES.get(u, ())) & set(areas)])


def gid(row) -> str:
    """The global ID the API gives ``row`` (its type is named as its model)."""
    return global_id(type(row).__name__, row.id)


def fresh_id_number() -> str:
    """An ID number nobody holds (the demo's people are from Heilongjiang and where its tenants come from)."""
    n = next(_serial)
    return make_id_number(n, birth=f"19{60 + n // 499 % 40}0101", region="110105", male=n % 3 != 0)


def _active(*where):
    return (Resident.status == "active", *where)


# -- the registry ---------------------------------------------------------------------

KINDS = ["OWNER", "TENANT", "COLLECTIVE"]


def create_building(w: World) -> Call:
    grid = w.choice(PLAY)
    return Call(w.writer_of(grid), "createBuilding",
                {"areaCode": grid, "name": f"{next(_serial)}号楼", "units": w.number(1, 6)}, (grid,))


def update_building(w: World) -> Call | None:
    b = w.pick(Building)
    return b and Call(w.writer_of(b.area_code), "updateBuilding",
                      {"id": gid(b), "version": b.version, "floors": w.number(1, 30)}, (b.area_code,))


def create_household(w: World) -> Call:
    grid = w.choice(PLAY)
    inp = {"address": f"漂移路{next(_serial)}号", "kind": w.choice(KINDS)}
    building = w.pick(Building, grids=[grid]) if w.flag() else None
    inp.update({"buildingId": gid(building)} if building else {"areaCode": grid})
    return Call(w.writer_of(grid), "createHousehold", inp, (grid,))


def create_household_in_another_grids_building(w: World) -> Call | None:
    grid = w.choice(PLAY)
    b = w.pick(Building, grids=[g for g in PLAY if g != grid])
    # NOT_FOUND for a building the user cannot see, BAD_USER_INPUT for one they can
    return b and Call(w.writer_of(grid), "createHousehold", {"areaCode": grid, "buildingId": gid(b), "address": "错位楼"},
                      (grid,), BAD_INPUT | {"NOT_FOUND"})


def update_household(w: World) -> Call | None:
    h = w.pick(Household)
    if h is None:
        return None
    inp = {"id": gid(h), "version": h.version, "kind": w.choice(KINDS)}
    building = w.pick(Building, grids=[h.area_code]) if w.flag() else None
    if building is not None:
        inp["buildingId"] = gid(building)
    return Call(w.writer_of(h.area_code), "updateHousehold", inp, (h.area_code,))


def register_resident(w: World) -> Call | None:
    h = w.pick(Household)
    if h is None:
        return None
    inp = {"householdId": gid(h), "name": "漂移人", "idNumber": fresh_id_number(),
           "populationKind": w.choice(["REGISTERED", "FLOATING"]),
           "relationToHead": w.choice(["head", "spouse", "child", "other"])}
    if w.flag():
        inp["movedInOn"] = w.days_ago(900).isoformat()
    return Call(w.writer_of(h.area_code), "createResident", inp, (h.area_code,))


def register_resident_with_a_taken_id_number(w: World) -> Call | None:
    someone = w.pick(Resident)
    return someone and refused(register_resident(w), idNumber=someone.id_number)


def register_resident_with_a_bad_check_digit(w: World) -> Call | None:
    good = fresh_id_number()
    return refused(register_resident(w), idNumber=good[:17] + ("0" if good[17] != "0" else "1"))


def update_resident(w: World) -> Call | None:
    """Any resident, removed ones included (a removed floating resident counts nowhere)."""
    r = w.pick(Resident)
    if r is None:
        return None
    inp = {"id": gid(r), "version": r.version}
    change = w.choice(["population kind", "phone", "name"])
    if change == "population kind":
        inp["populationKind"] = "REGISTERED" if r.population_kind == "floating" else "FLOATING"
    elif change == "phone":
        inp["phone"] = f"139{next(_serial):08d}"
    else:
        inp["name"] = r.name[:40] + "改"
    return Call(w.writer_of(r.area_code), "updateResident", inp, (r.area_code,))


def move_resident(w: World, out_of_reach: bool = False) -> Call | None:
    """To another household the user writes in (of the same grid or another), or, refused,
    to one they do not."""
    r = w.pick(Resident, *_active())
    if r is None:
        return None
    user = w.writer_of(r.area_code)
    targets = [g for g in [*PLAY, ELSEWHERE] if g not in WRITES[user]] if out_of_reach else WRITES[user]
    h = w.pick(Household, Household.id != r.household_id, grids=targets)
    if h is None:
        return None
    inp = {"id": gid(r), "version": r.version, "householdId": gid(h)}
    if w.flag():
        inp["relationToHead"] = w.choice(["head", "spouse", "child", "parent", "other"])
    return Call(user, "moveResident", inp, (r.area_code, h.area_code), OUT_OF_REACH if out_of_reach else None)


def remove_resident(w: World) -> Call | None:
    r = w.pick(Resident, *_active())
    if r is None:
        return None
    inp = {"id": gid(r), "version": r.version, "reason": "漂移测试", "status": w.choice(["MOVED_AWAY", "DECEASED"])}
    if w.flag():  # a day in the past, not before the birth or the moving in
        earliest = max(d for d in (r.birth_date, r.moved_in_on) if d is not None)
        inp["removedOn"] = max(w.days_ago(60), earliest).isoformat()
    return Call(w.writer_of(r.area_code), "removeResident", inp, (r.area_code,))


def remove_a_removed_resident(w: World) -> Call | list[Call] | None:
    r = w.pick(Resident, Resident.status != "active")
    if r is None:
        first = remove_resident(w)
        return first and again(first, version=bumped(first))
    return Call(w.writer_of(r.area_code), "removeResident",
                {"id": gid(r), "version": r.version, "reason": "再次", "status": "DECEASED"}, (r.area_code,), BAD_INPUT)


def remove_resident_tomorrow(w: World) -> Call | None:
    return refused(remove_resident(w), removedOn=(w.today + timedelta(days=1)).isoformat())


# -- the key-person ledger ------------------------------------------------------------

KEPT = KeyPerson.removed_at.is_(None)
CATEGORIES = [c.name for c in KeyPersonCategory]


def _categories(w: World) -> list[str]:
    left, chosen = list(CATEGORIES), []
    for _ in range(w.number(1, 3)):
        chosen.append(left.pop(w.roll() % len(left)))
    return chosen


def add_key_person(w: World) -> Call | None:
    r = w.pick(Resident, *_active(~exists().where(KeyPerson.resident_id == Resident.id, KEPT)))
    return r and Call(w.writer_of(r.area_code), "addKeyPerson",
                      {"residentId": gid(r), "categories": _categories(w), "helperName": "李建华",
                       "helperPhone": "13800001111"}, (r.area_code,))


def _still_in_its_grid(model):
    """Entries whose resident is active and still in the entry's grid (the user who sees one sees the other)."""
    return exists().where(Resident.id == model.resident_id, Resident.area_code == model.area_code, *_active())


def add_key_person_twice(w: World) -> Call | list[Call] | None:
    """A second entry for a resident whose entry the user sees."""
    entry = w.pick(KeyPerson, KEPT, _still_in_its_grid(KeyPerson))
    if entry is None:
        return again(add_key_person(w), categories=_categories(w))
    return Call(w.writer_of(entry.area_code), "addKeyPerson",
                {"residentId": global_id("Resident", entry.resident_id), "categories": _categories(w)},
                (entry.area_code,), BAD_INPUT)


def add_key_person_without_category(w: World) -> Call | None:
    return refused(add_key_person(w), categories=[])


def change_key_person_categories(w: World) -> Call | None:
    entry = w.pick(KeyPerson, KEPT)
    return entry and Call(w.writer_of(entry.area_code), "updateKeyPerson",
                          {"id": gid(entry), "version": entry.version, "categories": _categories(w)},
                          (entry.area_code,))


def end_key_person_help(w: World) -> Call | None:
    """The ledger has no closing: the help ends with ``until``, and the entry stays counted."""
    entry = w.pick(KeyPerson, KEPT)
    return entry and Call(w.writer_of(entry.area_code), "updateKeyPerson",
                          {"id": gid(entry), "version": entry.version, "until": max(entry.since, w.today).isoformat()},
                          (entry.area_code,))


def remove_key_person(w: World) -> Call | None:
    entry = w.pick(KeyPerson, KEPT)
    return entry and Call(w.writer_of(entry.area_code), "removeKeyPerson",
                          {"id": gid(entry), "version": entry.version, "reason": "迁居"}, (entry.area_code,))


def remove_a_removed_key_person(w: World) -> Call | list[Call] | None:
    entry = w.pick(KeyPerson, ~KEPT)
    if entry is None:
        first = remove_key_person(w)
        return first and again(first, version=bumped(first))
    return Call(w.writer_of(entry.area_code), "removeKeyPerson",
                {"id": gid(entry), "version": entry.version, "reason": "再次"}, (entry.area_code,), BAD_INPUT)


# -- the returnee ledger --------------------------------------------------------------

NOT_REMOVED = Returnee.removed_at.is_(None)
CLOSED = NOT_REMOVED & (Returnee.status != ReturneeStatus.FOLLOWING_UP.value)
TRANSPORTS = ["TRAIN", "PLANE", "COACH", "CAR", "OTHER"]


def _opening(w: World, resident_id: int) -> dict:
    """Arrived in the last few days, followed up for long enough to be due today."""
    arrived = w.days_ago(5)
    return {"residentId": global_id("Resident", resident_id), "origin": "湖北省武汉市", "fromKeyArea": w.flag(),
            "arrivedOn": arrived.isoformat(), "departedOn": (arrived - timedelta(days=w.number(0, 2))).isoformat(),
            "transport": w.choice(TRANSPORTS), "followUpDays": w.number(max(1, (w.today - arrived).days), 21)}


def open_returnee(w: World) -> Call | None:
    r = w.pick(Resident, *_active(~exists().where(Returnee.resident_id == Resident.id, FOLLOWING)))
    return r and Call(w.writer_of(r.area_code), "openReturnee", _opening(w, r.id), (r.area_code,))


def open_a_second_returnee_entry(w: World) -> Call | list[Call] | None:
    """A second open entry for a resident whose open entry the user sees."""
    entry = w.pick(Returnee, FOLLOWING, _still_in_its_grid(Returnee))
    if entry is None:
        return again(open_returnee(w), origin="辽宁省大连市")
    return Call(w.writer_of(entry.area_code), "openReturnee", _opening(w, entry.resident_id), (entry.area_code,),
                BAD_INPUT)


def open_returnee_arriving_tomorrow(w: World) -> Call | None:
    tomorrow = (w.today + timedelta(days=1)).isoformat()
    return refused(open_returnee(w), arrivedOn=tomorrow, departedOn=tomorrow)


def _last_follow_up(w: World, entry: Returnee) -> date | None:
    return max((f.on for f in rows(w.session, FollowUp, FollowUp.returnee_id == entry.id)), default=None)


def update_returnee(w: World) -> Call | None:
    entry = w.pick(Returnee, NOT_REMOVED)
    if entry is None:
        return None
    inp = {"id": gid(entry), "version": entry.version}
    change = w.choice(["follow-up days", "transport", "origin", "key area"])
    if change == "follow-up days":  # long enough to keep every follow-up recorded inside the period
        last = _last_follow_up(w, entry)
        least = max(1, (last - entry.arrived_on).days) if last else 1
        inp["followUpDays"] = w.number(least, max(least, 30))
    elif change == "transport":
        inp["transport"] = w.choice(TRANSPORTS)
    elif change == "origin":
        inp["origin"] = "广东省深圳市"
    else:
        inp["fromKeyArea"] = not entry.from_key_area
    return Call(w.writer_of(entry.area_code), "updateReturnee", inp, (entry.area_code,))


def shorten_a_period_past_its_follow_up(w: World) -> Call | None:
    for entry in w.rows(Returnee, NOT_REMOVED):
        last = _last_follow_up(w, entry)
        if last is not None and (last - entry.arrived_on).days >= 2:
            too_short = (last - entry.arrived_on).days - 1
            return Call(w.writer_of(entry.area_code), "updateReturnee",
                        {"id": gid(entry), "version": entry.version, "followUpDays": too_short},
                        (entry.area_code,), BAD_INPUT)
    return None


def close_returnee(w: World) -> Call | None:
    entry = w.pick(Returnee, FOLLOWING)
    return entry and Call(w.writer_of(entry.area_code), "closeReturnee",
                          {"id": gid(entry), "version": entry.version, "status": w.choice(["COMPLETED", "MOVED_AWAY"])},
                          (entry.area_code,))


def close_a_closed_returnee(w: World) -> Call | list[Call] | None:
    entry = w.pick(Returnee, CLOSED)
    if entry is None:
        first = close_returnee(w)
        return first and again(first, version=bumped(first))
    return Call(w.writer_of(entry.area_code), "closeReturnee",
                {"id": gid(entry), "version": entry.version, "status": "COMPLETED"}, (entry.area_code,), BAD_INPUT)


def remove_returnee(w: World) -> Call | None:
    entry = w.pick(Returnee, NOT_REMOVED)
    return entry and Call(w.writer_of(entry.area_code), "removeReturnee",
                          {"id": gid(entry), "version": entry.version, "reason": "误登记"}, (entry.area_code,))


def remove_a_removed_returnee(w: World) -> Call | list[Call] | None:
    entry = w.pick(Returnee, ~NOT_REMOVED)
    if entry is None:
        first = remove_returnee(w)
        return first and again(first, version=bumped(first))
    return Call(w.writer_of(entry.area_code), "removeReturnee",
                {"id": gid(entry), "version": entry.version, "reason": "再次"}, (entry.area_code,), BAD_INPUT)


def _followed_up_today(w: World):
    return exists().where(FollowUp.returnee_id == Returnee.id, FollowUp.on == w.today)


def record_follow_up(w: World) -> Call | None:
    """Today's follow-up of an entry due today: well, feverish, or with other symptoms."""
    entry = w.pick(Returnee, FOLLOWING, Returnee.arrived_on <= w.today, Returnee.follow_up_until >= w.today,
                   ~_followed_up_today(w))
    if entry is None:
        return None
    health = w.choice(["WELL", "FEVER", "OTHER_SYMPTOMS"])
    temperature = w.choice([38.2, 39.0] if health == "FEVER" else [36.5, 37.0])
    return Call(w.writer_of(entry.area_code), "recordFollowUp",
                {"returneeId": gid(entry), "health": health, "temperature": temperature}, (entry.area_code,))


def record_a_second_follow_up_today(w: World) -> Call | list[Call] | None:
    entry = w.pick(Returnee, FOLLOWING, _followed_up_today(w))
    if entry is None:
        return again(record_follow_up(w), health="FEVER", temperature=38.5)
    return Call(w.writer_of(entry.area_code), "recordFollowUp",
                {"returneeId": gid(entry), "health": "FEVER", "temperature": 38.5}, (entry.area_code,), BAD_INPUT)


def record_a_follow_up_of_a_closed_entry(w: World) -> Call | None:
    entry = w.pick(Returnee, ~FOLLOWING)  # closed or removed
    return entry and Call(w.writer_of(entry.area_code), "recordFollowUp", {"returneeId": gid(entry), "health": "WELL"},
                          (entry.area_code,), BAD_INPUT)


def record_an_impossible_temperature(w: World) -> Call | None:
    return refused(record_follow_up(w), temperature=50.0)


# -- the household survey -------------------------------------------------------------

COMMUNITY_CODE = GRID[:12]  # 230102001001, community_staff's
OPEN_CAMPAIGN = SurveyCampaign.status == CampaignStatus.OPEN.value
#: The campaigns this test opens: the district's and below (the demo's are the cities').
OURS = SurveyCampaign.area_code.startswith(DISTRICT)
#: Who opens, changes and closes the campaigns of an area and of the areas under it (the
#: offices among authz.users.DEMO_USERS); the grid worker, the supervisor and the analyst open none.
OFFICES = {"community_staff": COMMUNITY_CODE, "team_member": TEAM_GRID[:12], "district_admin": DISTRICT,
           "city_officer": DISTRICT[:4]}
USERS = [*WRITES, *READERS]
CAMPAIGN_AREAS = [COMMUNITY_CODE, TEAM_GRID[:12], DISTRICT, GRID]
KEY_AREAS = [["湖北省", "武汉市"], ["湖北省"], ["广东省"], []]
CAME_FROM = [None, "湖北省武汉市", "湖北省孝感市", "广东省深圳市"]
TEMPERATURES = [None, 36.5, 37.2, 37.3, 38.6]  # from 37.3 °C a fever, whatever ``fever`` says
METHODS = ["DOOR", "PHONE", "GROUP_CHAT", "INTERCOM", "FORM"]
OUTCOMES = ["REACHED", "REACHED", "NOBODY_HOME", "REFUSED"]


def offices_of(area: str) -> list[str]:
    return [user for user, held in OFFICES.items() if area.startswith(held)]


def real_today() -> date:
    """The day of a visit comes from its time (``visitedAt``, else now), not from the local
    day ``Clock`` moves: visits are sent now or a few days back, inside their campaign, and
    the campaigns opened here start on a day that has come."""
    return local_day(DEFAULT_ZONE)


def _taking_visits():
    """Campaigns that take visits today: open, started, not ended."""
    today = real_today()
    return (OPEN_CAMPAIGN, SurveyCampaign.starts_on <= today,
            SurveyCampaign.ends_on.is_(None) | (SurveyCampaign.ends_on >= today))


def _campaigns(w: World, *where) -> list[SurveyCampaign]:
    return rows(w.session, SurveyCampaign, *where)


def _pick_campaign(w: World, *where) -> SurveyCampaign | None:
    found = _campaigns(w, *where)
    return w.choice(found) if found else None


def _reaching(grid: str):
    return SurveyCampaign.area_code.in_([*ancestor_codes(grid), grid])


def open_campaign(w: World) -> Call:
    area = w.choice(CAMPAIGN_AREAS)
    starts = real_today() - timedelta(days=w.number(0, 5))
    inp = {"areaCode": area, "name": f"漂移排查{next(_serial)}", "startsOn": starts.isoformat(),
           "keyAreas": w.choice(KEY_AREAS)}
    if w.flag():
        inp["endsOn"] = (real_today() + timedelta(days=w.number(0, 30))).isoformat()
    offices = offices_of(area)
    return Call(w.choice(offices), "openSurveyCampaign", inp, (area,),
                outsiders=tuple(u for u in USERS if u not in offices))


def open_campaign_as_the_grid_worker(w: World) -> Call:
    """On the community or on the grid worker's own grid: a grid worker opens no campaign."""
    call = refused(open_campaign(w), frozenset({"FORBIDDEN"}), areaCode=w.choice([COMMUNITY_CODE, GRID]))
    return replace(call, user="grid_worker")


def open_campaign_ending_before_it_starts(w: World) -> Call:
    call = open_campaign(w)
    return refused(call, endsOn=(date.fromisoformat(call.input["startsOn"]) - timedelta(days=1)).isoformat())


def _campaign_call(w: World, campaign: SurveyCampaign, mutation: str, **inp) -> Call:
    offices = offices_of(campaign.area_code)
    return Call(w.choice(offices), mutation, {"id": gid(campaign), "version": campaign.version, **inp},
                (campaign.area_code,), outsiders=tuple(u for u in USERS if u not in offices))


def update_campaign(w: World) -> Call | None:
    """New key areas: the records written from now on are marked by them."""
    c = _pick_campaign(w, OURS, OPEN_CAMPAIGN)
    return c and _campaign_call(w, c, "updateSurveyCampaign", keyAreas=w.choice(KEY_AREAS))


def close_campaign(w: World) -> Call | None:
    c = _pick_campaign(w, OURS, OPEN_CAMPAIGN)
    return c and _campaign_call(w, c, "closeSurveyCampaign")


def change_a_closed_campaign(w: World, mutation: str) -> Call | list[Call] | None:
    c = _pick_campaign(w, OURS, ~OPEN_CAMPAIGN)
    if c is None:
        first = close_campaign(w)
        if first is None:
            return None
        then = replace(first, mutation=mutation, input={**first.input, "version": bumped(first)})
        if mutation == "updateSurveyCampaign":
            then = replace(then, input={**then.input, "keyAreas": ["湖北省"]})
        return [first, replace(then, refused=BAD_INPUT)]
    inp = {"keyAreas": ["湖北省"]} if mutation == "updateSurveyCampaign" else {}
    return replace(_campaign_call(w, c, mutation, **inp), refused=BAD_INPUT)


def _answers(w: World) -> dict:
    """What one person said: now and then back from elsewhere (a key area or not), with a
    fever or a temperature, under observation."""
    out = {"fever": w.choice([False, False, True]), "underObservation": w.flag()}
    temperature = w.choice(TEMPERATURES)
    if temperature is not None:
        out["temperature"] = temperature
    came_from = w.choice(CAME_FROM)
    if came_from:
        arrived = real_today() - timedelta(days=w.number(3, 14))  # before any visit sent (3 days back at most)
        out.update(cameFrom=came_from, arrivedOn=arrived.isoformat(),
                   departedOn=(arrived - timedelta(days=w.number(0, 1))).isoformat(), transport=w.choice(TRANSPORTS))
    return out


def _newcomer(w: World) -> dict:
    """A person found at the household and registered into it by the visit."""
    return {"newResident": {"name": "排查新人", "idNumber": fresh_id_number(),
                            "populationKind": w.choice(["REGISTERED", "FLOATING"]),
                            "relationToHead": w.choice(["spouse", "child", "other"])},
            **_answers(w)}


def _recorded_in(campaign_id: int):
    return exists().where(SurveyPerson.resident_id == Resident.id, SurveyPerson.campaign_id == campaign_id)


def _visit(w: World, h: Household, campaign: SurveyCampaign, outcome: str, people: list[dict]) -> Call:
    """A visit to ``h`` in ``campaign`` at a time inside it: now, or a day or a few back."""
    inp = {"campaignId": gid(campaign), "householdId": gid(h), "method": w.choice(METHODS), "outcome": outcome}
    back = w.number(0, max(0, min(3, (real_today() - campaign.starts_on).days)))
    if back:
        inp["visitedAt"] = (datetime.now(ZoneInfo(DEFAULT_ZONE)) - timedelta(days=back)).isoformat()
    if people:
        inp["people"] = people
    return Call(w.writer_of(h.area_code), "recordHouseholdVisit", inp, (h.area_code,))


def record_visit(w: World, *, revisit: bool = False, least: int = 0) -> Call | None:
    """A visit in an open campaign reaching the household: reached, with 0-3 people (members
    not yet recorded in the campaign, now and then one found there and registered), nobody
    home, or refused. To a household the campaign has not reached while there is one (the
    demo's campaigns reached most), else to any; ``revisit``: to one it has reached already.
    ``least``: reached, with at least that many people."""
    if revisit:
        v = w.pick(SurveyVisit, SurveyVisit.first_reach.is_(True),
                   exists().where(SurveyCampaign.id == SurveyVisit.campaign_id, *_taking_visits()))
        if v is None:
            return None
        h = rows(w.session, Household, Household.id == v.household_id)[0]
        campaign = _campaigns(w, SurveyCampaign.id == v.campaign_id)[0]
    else:
        campaign = _pick_campaign(w, _reaching(DISTRICT) | OURS, *_taking_visits())
        if campaign is None:
            return None
        under = Household.area_code.startswith(campaign.area_code)
        h = w.pick(Household, under, ~exists().where(
            SurveyVisit.household_id == Household.id, SurveyVisit.campaign_id == campaign.id,
            SurveyVisit.first_reach.is_(True))) or w.pick(Household, under)
        if h is None:
            return None
    outcome = "REACHED" if least else w.choice(OUTCOMES)
    people: list[dict] = []
    if outcome == "REACHED":
        members = w.rows(Resident, *_active(Resident.household_id == h.id, ~_recorded_in(campaign.id)))
        for _ in range(w.number(0, min(3, len(members)))):
            people.append({"residentId": gid(members.pop(w.roll() % len(members))), **_answers(w)})
        if len(people) < 3 and w.flag():
            people.append(_newcomer(w))
        while len(people) < least:
            people.append(_newcomer(w))
    return _visit(w, h, campaign, outcome, people)


def visit_outside_the_campaigns_area(w: World) -> Call | None:
    """In an open campaign of another area (the other city's, another community's): NOT_FOUND
    where the user does not see the campaign."""
    h = w.pick(Household)
    away = h and _campaigns(w, OPEN_CAMPAIGN, ~_reaching(h.area_code))
    return away and replace(_visit(w, h, w.choice(away), "NOBODY_HOME", []), refused=BAD_INPUT | {"NOT_FOUND"})


def visit_with_people_but_nobody_home(w: World) -> Call | None:
    return refused(record_visit(w, least=1), outcome="NOBODY_HOME")


def visit_listing_a_resident_twice(w: World) -> Call | None:
    """The same resident twice (a registered one if there is one, else the same person found twice)."""
    call = record_visit(w, least=1)
    if call is None:
        return None
    people = call.input["people"]
    twice = next((p for p in people if "residentId" in p), people[0])
    return refused(call, people=[*people, {**twice, "underObservation": True}])


def visit_with_a_resident_recorded_already(w: World) -> Call | list[Call] | None:
    """A member of the household with a record in the campaign (else: a visit with people, sent twice)."""
    sp = w.pick(SurveyPerson, exists().where(SurveyCampaign.id == SurveyPerson.campaign_id, *_taking_visits()),
                exists().where(Resident.id == SurveyPerson.resident_id, *_active(Resident.area_code.in_(PLAY))))
    if sp is not None:
        r = rows(w.session, Resident, Resident.id == sp.resident_id)[0]
        campaign = _campaigns(w, SurveyCampaign.id == sp.campaign_id)[0]
        if r.area_code.startswith(campaign.area_code):
            h = rows(w.session, Household, Household.id == r.household_id)[0]
            visit = _visit(w, h, campaign, "REACHED", [{"residentId": gid(r), **_answers(w)}])
            return replace(visit, refused=BAD_INPUT)
    return again(record_visit(w, least=1))


def visit_with_a_resident_of_another_household(w: World) -> Call | None:
    """NOT_FOUND where the user does not see the resident."""
    r = w.pick(Resident, *_active())
    h = r and w.pick(Household, Household.id != r.household_id)
    campaigns = h and _campaigns(w, _reaching(h.area_code), *_taking_visits())
    return campaigns and replace(_visit(w, h, w.choice(campaigns), "REACHED", [{"residentId": gid(r), **_answers(w)}]),
                                 refused=BAD_INPUT | {"NOT_FOUND"})


def visit_with_an_impossible_temperature(w: World) -> Call | None:
    call = record_visit(w, least=1)
    if call is None:
        return None
    first, *others = call.input["people"]
    return refused(call, people=[{**first, "temperature": w.choice([33.9, 43.1])}, *others])


def visit_in_a_closed_campaign(w: World) -> Call | list[Call] | None:
    """Of a campaign closed already, or closed in the same step."""
    c = _pick_campaign(w, OURS, ~OPEN_CAMPAIGN)
    close = None
    if c is None:
        c = _pick_campaign(w, OURS, *_taking_visits())
        close = c and _campaign_call(w, c, "closeSurveyCampaign")
    h = c and w.pick(Household, Household.area_code.startswith(c.area_code))
    if h is None:
        return None
    visit = replace(_visit(w, h, c, "NOBODY_HOME", []), refused=BAD_INPUT)
    return [close, visit] if close else visit


PERSON_CHANGES = ["came from", "fever", "temperature", "under observation"]


def update_survey_person(w: World) -> Call | None:
    """One to three answers corrected: where they came from (cleared, or a key area or not),
    the fever, the temperature, home observation."""
    sp = w.pick(SurveyPerson)
    if sp is None:
        return None
    inp = {"id": gid(sp), "version": sp.version}
    for change in dict.fromkeys(w.choice(PERSON_CHANGES) for _ in range(w.number(1, 3))):
        if change == "came from":
            inp["cameFrom"] = w.choice(CAME_FROM)
        elif change == "fever":
            inp["fever"] = not sp.fever
        elif change == "temperature":
            inp["temperature"] = w.choice(TEMPERATURES)
        else:
            inp["underObservation"] = not sp.under_observation
    return Call(w.writer_of(sp.area_code), "updateSurveyPerson", inp, (sp.area_code,))


CAME_FROM_SOMEWHERE = func.coalesce(SurveyPerson.came_from, "") != ""


def open_returnee_from_survey(w: World) -> Call | None:
    sp = w.pick(SurveyPerson, CAME_FROM_SOMEWHERE, _still_in_its_grid(SurveyPerson),
                ~exists().where(Returnee.resident_id == SurveyPerson.resident_id, FOLLOWING))
    return sp and Call(w.writer_of(sp.area_code), "openReturneeFromSurvey",
                       {"surveyPersonId": gid(sp), "followUpDays": w.number(1, 21)}, (sp.area_code,))


def open_returnee_from_a_record_saying_nowhere(w: World) -> Call | None:
    sp = w.pick(SurveyPerson, ~CAME_FROM_SOMEWHERE, _still_in_its_grid(SurveyPerson))
    return sp and Call(w.writer_of(sp.area_code), "openReturneeFromSurvey", {"surveyPersonId": gid(sp)},
                       (sp.area_code,), BAD_INPUT)


def open_a_second_returnee_entry_from_survey(w: World) -> Call | list[Call] | None:
    sp = w.pick(SurveyPerson, CAME_FROM_SOMEWHERE, _still_in_its_grid(SurveyPerson),
                exists().where(Returnee.resident_id == SurveyPerson.resident_id, FOLLOWING))
    if sp is None:
        return again(open_returnee_from_survey(w))
    return Call(w.writer_of(sp.area_code), "openReturneeFromSurvey", {"surveyPersonId": gid(sp)}, (sp.area_code,),
                BAD_INPUT)


# -- isolation ------------------------------------------------------------------------

ISOLATED = Isolation.status == IsolationStatus.ACTIVE.value
#: The district's sites and those of its communities (the demo has one per district).
OUR_SITES = IsolationSite.area_code.startswith(DISTRICT)
SITE_AREAS = [DISTRICT, COMMUNITY_CODE, TEAM_GRID[:12]]
#: Who opens and changes the sites here: the district's admin (the city's officer could too).
SITE_OFFICE = "district_admin"
#: Users without the right to open or change a site here: staff and grid workers place
#: people at sites, the supervisor and the analyst read them.
SITE_OUTSIDERS = ("grid_worker", "community_staff", "team_member", "supervisor", "province_analyst")
REASONS = ["CLOSE_CONTACT", "KEY_AREA_RETURNEE", "FEVER_FOLLOW_UP", "OTHER"]
SEALS = ["NONE", "PAPER", "ELECTRONIC"]
NORMAL = [35.8, 36.5, 37.0, 37.2]
FEVERS = [37.3, 37.8, 38.6, 39.5]  # from 37.3 °C a reading raises an alert
ZONE = ZoneInfo(DEFAULT_ZONE)


def _now() -> datetime:
    """The server's clock, local: readings and deliveries are taken at a moment, and their
    day and the isolation period are compared with the real day (``real_today``), not the
    one ``Clock`` moves."""
    return datetime.now(ZONE)


def _occupancy(w: World, site: IsolationSite) -> int:
    """The active records at ``site``, of every grid (as the server counts them)."""
    fresh(w.session)
    return w.session.scalar(select(func.count()).select_from(Isolation).where(Isolation.site_id == site.id, ISOLATED))


def _sites(w: World, *where) -> list[IsolationSite]:
    return rows(w.session, IsolationSite, OUR_SITES, *where)


def _sites_reaching(w: World, grid: str, *, room: bool | None = None, occupied: bool = False) -> list[IsolationSite]:
    """Active sites a writer of ``grid`` sees (of the grid's areas): with room (``room``),
    full (``room=False``), and with someone placed (``occupied``)."""
    out = []
    for site in _sites(w, IsolationSite.active.is_(True), IsolationSite.area_code.in_([*ancestor_codes(grid), grid])):
        placed = _occupancy(w, site)
        if (room is None or (placed < site.capacity) == room) and (placed or not occupied):
            out.append(site)
    return out


def _site_call(w: World, mutation: str, inp: dict, area: str) -> Call:
    return Call(SITE_OFFICE, mutation, inp, (area,), outsiders=SITE_OUTSIDERS)


def open_isolation_site(w: World) -> Call:
    """Of the district or one of its communities, with a few places (so that sites fill up)."""
    area = w.choice(SITE_AREAS)
    return _site_call(w, "openIsolationSite", {"areaCode": area, "name": f"漂移隔离点{next(_serial)}",
                                              "address": "道里区漂移街1号", "capacity": w.number(1, 6)}, area)


def open_isolation_site_as_staff(w: World) -> Call:
    """On their community: staff place people at sites and open none."""
    return replace(refused(open_isolation_site(w), frozenset({"FORBIDDEN"}), areaCode=COMMUNITY_CODE),
                   user="community_staff")


def update_isolation_site(w: World) -> Call | None:
    """More or fewer places (not below the people placed), closed or reopened, renamed."""
    sites = _sites(w)
    if not sites:
        return None
    site = w.choice(sites)
    inp = {"id": gid(site), "version": site.version}
    change = w.choice(["capacity", "capacity", "active", "name"])
    if change == "capacity":
        inp["capacity"] = w.number(max(1, _occupancy(w, site)), site.capacity + 5)
    elif change == "active":
        inp["active"] = not site.active
    else:
        inp["name"] = f"漂移隔离点{next(_serial)}"
    return _site_call(w, "updateIsolationSite", inp, site.area_code)


def shrink_a_site_below_its_occupancy(w: World) -> Call | None:
    occupied = [(s, n) for s in _sites(w) if (n := _occupancy(w, s))]
    if not occupied:
        return None
    site, placed = w.choice(occupied)
    return replace(_site_call(w, "updateIsolationSite", {"id": gid(site), "version": site.version,
                                                         "capacity": placed - 1}, site.area_code), refused=BAD_INPUT)


def _free_resident(w: World) -> Resident | None:
    """An active resident without an active isolation (anywhere)."""
    return w.pick(Resident, *_active(~exists().where(Isolation.resident_id == Resident.id, ISOLATED)))


def _start(w: World, r: Resident, kind: str, site: IsolationSite | None = None) -> Call:
    """Today or a few days back by the real day (its readings are taken at real times), for
    the default 14 days or a planned end of its own (some already reached, to be released
    without a reason); a door seal applied now or some hours ago, or none."""
    inp = {"residentId": gid(r), "kind": kind, "reason": w.choice(REASONS), "seal": w.choice(SEALS)}
    starts = real_today() - timedelta(days=w.number(0, 3))
    if starts != w.today or w.flag():  # left out: the day Clock says, only while it is the real one
        inp["startsOn"] = starts.isoformat()
    if w.flag():
        inp["plannedEnd"] = (starts + timedelta(days=w.number(0, 20))).isoformat()
    if inp["seal"] != "NONE" and w.flag():
        inp["sealedAt"] = (_now() - timedelta(hours=w.number(0, 12))).isoformat()
    if site is not None:
        inp["siteId"] = gid(site)
    return Call(w.writer_of(r.area_code), "startIsolation", inp, (r.area_code,))


def start_home_isolation(w: World) -> Call | None:
    r = _free_resident(w)
    return r and _start(w, r, "HOME")


def start_central_isolation(w: World) -> Call | None:
    """At an active site of the person's areas with a free place."""
    r = _free_resident(w)
    sites = r and _sites_reaching(w, r.area_code, room=True)
    return sites and _start(w, r, "CENTRAL", w.choice(sites))


def start_a_second_isolation(w: World) -> Call | list[Call] | None:
    """Of a person isolated already."""
    r = w.pick(Resident, *_active(exists().where(Isolation.resident_id == Resident.id, ISOLATED)))
    if r is None:
        return again(start_home_isolation(w))
    return refused(_start(w, r, "HOME"))


def start_at_a_full_site(w: World) -> Call | list[Call] | None:
    """At a full site, or at one with someone placed made full in the same step (its
    capacity lowered to its occupancy)."""
    r = _free_resident(w)
    if r is None:
        return None
    full = _sites_reaching(w, r.area_code, room=False)
    if full:
        return refused(_start(w, r, "CENTRAL", w.choice(full)))
    sites = _sites_reaching(w, r.area_code, occupied=True)
    if not sites:
        return None
    site = w.choice(sites)
    shrink = _site_call(w, "updateIsolationSite",
                        {"id": gid(site), "version": site.version, "capacity": _occupancy(w, site)}, site.area_code)
    return [shrink, refused(_start(w, r, "CENTRAL", site))]


def start_at_a_closed_site(w: World) -> Call | None:
    r = _free_resident(w)
    closed = r and _sites(w, IsolationSite.active.is_(False),
                          IsolationSite.area_code.in_([*ancestor_codes(r.area_code), r.area_code]))
    return closed and refused(_start(w, r, "CENTRAL", w.choice(closed)))


def start_home_isolation_at_a_site(w: World) -> Call | None:
    r = _free_resident(w)
    sites = r and _sites_reaching(w, r.area_code)
    return sites and refused(_start(w, r, "HOME", w.choice(sites)))


def start_isolation_tomorrow(w: World) -> Call | None:
    return refused(start_home_isolation(w), startsOn=(w.today + timedelta(days=1)).isoformat(), plannedEnd=None)


def move_isolated_resident(w: World) -> Call | None:
    """A person in isolation moved to a household of another grid the user writes in: the
    active record goes with them, and the counters counting it (``resolvers.followers``)."""
    r = w.pick(Resident, *_active(exists().where(Isolation.resident_id == Resident.id, ISOLATED)))
    if r is None:
        return None
    user = w.choice([u for u, grids in WRITES.items() if r.area_code in grids and len(grids) > 1])
    h = w.pick(Household, grids=[g for g in WRITES[user] if g != r.area_code])
    return h and Call(user, "moveResident", {"id": gid(r), "version": r.version, "householdId": gid(h)},
                      (r.area_code, h.area_code))


def _moments_in(start: date, end: date) -> list[datetime | None]:
    """Times of the last three days inside ``start``-``end`` (None: now, left out)."""
    now = _now()
    return [None if h == 0 else at for h in range(72) if start <= (at := now - timedelta(hours=h)).date() <= end]


def _readable(w: World) -> Isolation | None:
    """An active isolation whose period has a day of the last three (by the real day)."""
    today = real_today()
    return w.pick(Isolation, ISOLATED, Isolation.starts_on <= today, Isolation.planned_end >= today - timedelta(days=2))


def _reading(w: World, isolation: Isolation | None, celsius: list[float]) -> Call | None:
    """Of ``isolation``, at a time inside its period: now or up to three days back."""
    if isolation is None:
        return None
    at = w.choice(_moments_in(isolation.starts_on, isolation.planned_end))
    inp = {"isolationId": gid(isolation), "celsius": w.choice(celsius)}
    if at is not None:
        inp["at"] = at.isoformat()
    if w.flag():
        inp["symptoms"] = w.choice(["乏力", "咳嗽", "无"])
    return Call(w.writer_of(isolation.area_code), "recordReading", inp, (isolation.area_code,))


def record_reading(w: World) -> Call | None:
    return _reading(w, _readable(w), NORMAL)


def record_fever_reading(w: World) -> Call | None:
    """From 37.3 °C: an alert, opened on the record if it had none."""
    return _reading(w, _readable(w), FEVERS)


def record_a_reading_outside_the_period(w: World) -> Call | None:
    """On the day before the start, or after the planned end (on a day that has come)."""
    isolation = _readable(w)
    if isolation is None:
        return None
    days = [isolation.starts_on - timedelta(days=1)]
    if isolation.planned_end < real_today():
        days.append(isolation.planned_end + timedelta(days=1))
    at = min(datetime.combine(w.choice(days), time(w.number(0, 23), 30), ZONE), _now())
    return refused(_reading(w, isolation, [*NORMAL, *FEVERS]), at=at.isoformat())


def record_an_impossible_reading(w: World) -> Call | None:
    return refused(record_reading(w), celsius=w.choice([33.9, 43.1]))


def record_a_reading_of_an_ended_isolation(w: World) -> Call | None:
    isolation = w.pick(Isolation, ~ISOLATED)
    return isolation and Call(w.writer_of(isolation.area_code), "recordReading",
                              {"isolationId": gid(isolation), "celsius": w.choice(FEVERS)}, (isolation.area_code,),
                              BAD_INPUT)


UNACKNOWLEDGED = TemperatureReading.alert.is_(True) & TemperatureReading.acknowledged_at.is_(None)


def _acknowledge(w: World, reading: TemperatureReading | None, refused_with: frozenset[str] | None = None,
                 *, reaching_the_record: bool = True) -> Call | None:
    """By a user of the reading's grid who writes in the grid of its record too (the record
    may have followed its person to another grid since), or, ``reaching_the_record`` false,
    who does not."""
    if reading is None:
        return None
    grid = rows(w.session, Isolation, Isolation.id == reading.isolation_id)[0].area_code
    users = [u for u, grids in WRITES.items() if reading.area_code in grids and (grid in grids) == reaching_the_record]
    if not users:
        return None
    return Call(w.choice(users), "acknowledgeAlert",
                {"readingId": gid(reading), "note": w.choice(["已电话询问，复测36.9", "已通知社区卫生服务中心"])},
                tuple(dict.fromkeys((reading.area_code, grid))), refused_with)


def acknowledge_alert(w: World) -> Call | None:
    """An alert not acknowledged (of an active record or of one that has ended since)."""
    return _acknowledge(w, w.pick(TemperatureReading, UNACKNOWLEDGED))


def acknowledge_an_alert_twice(w: World) -> Call | list[Call] | None:
    reading = w.pick(TemperatureReading, TemperatureReading.alert.is_(True), ~UNACKNOWLEDGED)
    if reading is None:
        return again(acknowledge_alert(w))
    return _acknowledge(w, reading, BAD_INPUT)


def acknowledge_a_reading_without_alert(w: World) -> Call | None:
    return _acknowledge(w, w.pick(TemperatureReading, TemperatureReading.alert.is_(False)), BAD_INPUT)


def acknowledge_an_alert_of_a_person_moved_away(w: World) -> Call | None:
    """Taken before the record followed its person to a grid the user does not write in."""
    moved_away = exists().where(Isolation.id == TemperatureReading.isolation_id,
                                Isolation.area_code != TemperatureReading.area_code)
    return _acknowledge(w, w.pick(TemperatureReading, UNACKNOWLEDGED, moved_away), OUT_OF_REACH,
                        reaching_the_record=False)


def record_delivery(w: World) -> Call | None:
    """To an active isolation, now or some hours back."""
    isolation = w.pick(Isolation, ISOLATED)
    if isolation is None:
        return None
    inp = {"isolationId": gid(isolation), "items": w.choice(["米、油、蔬菜", "口罩、消毒液", "药品"])}
    back = w.number(0, 36)
    if back:
        inp["at"] = (_now() - timedelta(hours=back)).isoformat()
    return Call(w.writer_of(isolation.area_code), "recordDelivery", inp, (isolation.area_code,))


def record_a_delivery_to_an_ended_isolation(w: World) -> Call | None:
    isolation = w.pick(Isolation, ~ISOLATED)
    return isolation and Call(w.writer_of(isolation.area_code), "recordDelivery",
                              {"isolationId": gid(isolation), "items": "米"}, (isolation.area_code,), BAD_INPUT)


ENDINGS = ["RELEASED", "RELEASED", "HOSPITAL", "MOVED_SITE"]
END_REASONS = {"RELEASED": "核酸阴性，经评估解除", "HOSPITAL": "转市传染病医院", "MOVED_SITE": "转道外区隔离点"}


def _end(w: World, isolation: Isolation, status: str, reason: str | None) -> Call:
    inp = {"id": gid(isolation), "version": isolation.version, "status": status}
    if reason is not None:
        inp["reason"] = reason
    return Call(w.writer_of(isolation.area_code), "endIsolation", inp, (isolation.area_code,))


def end_isolation(w: World) -> Call | None:
    """Released (without a reason once the planned end has come, by the day ``Clock`` says),
    moved to hospital or to another site (with one)."""
    isolation = w.pick(Isolation, ISOLATED)
    if isolation is None:
        return None
    status = w.choice(ENDINGS)
    due = isolation.planned_end <= w.today
    return _end(w, isolation, status, None if status == "RELEASED" and due and w.flag() else END_REASONS[status])


def release_early_without_a_reason(w: World) -> Call | None:
    isolation = w.pick(Isolation, ISOLATED, Isolation.planned_end > w.today)
    return isolation and replace(_end(w, isolation, "RELEASED", None), refused=BAD_INPUT)


def end_isolation_elsewhere_without_a_reason(w: World) -> Call | None:
    isolation = w.pick(Isolation, ISOLATED)
    return isolation and replace(_end(w, isolation, w.choice(["HOSPITAL", "MOVED_SITE"]), None), refused=BAD_INPUT)


def end_an_ended_isolation(w: World) -> Call | list[Call] | None:
    isolation = w.pick(Isolation, ~ISOLATED)
    if isolation is None:
        first = end_isolation(w)
        return first and again(first, version=bumped(first), reason="再次")
    return replace(_end(w, isolation, "RELEASED", "再次"), refused=BAD_INPUT)


# -- the table ------------------------------------------------------------------------

def a_day_passes(w: World) -> None:
    """Not a request: the deployment's local day moves on."""
    w.clock.next_day()


#: Builds what a step sends: one call, calls to send in turn (``again``), or None (nothing fits).
Builder = Callable[[World], Call | list[Call] | None]


@dataclass(frozen=True)
class Operation:
    """A kind of step: a builder of a call that must succeed, the counters such a call may
    move, and builders of calls of its kind that must be refused."""

    build: Builder
    moves: tuple[str, ...] = ()
    refusals: Mapping[str, Builder] = field(default_factory=dict)
    #: Whether ``GENERIC_REFUSALS`` apply (not to a step that sends nothing).
    generic: bool = True


KEY_PERSON_COUNTERS = tuple(c.name for c in counters.declared() if c.model is KeyPerson)
KEY_PERSON_CATEGORIES = tuple(n for n in KEY_PERSON_COUNTERS if n != "key_persons")
RESIDENTS = ("residents", "floating_residents")
SURVEY_COUNTERS = tuple(c.name for c in counters.declared() if c.model in (SurveyVisit, SurveyPerson))
#: A visit moves the survey's counters, and the registry's when it registers someone found there.
VISIT_MOVES = (*SURVEY_COUNTERS, *RESIDENTS, "residents_registered")
#: A second visit to a household the campaign reached counts as a visit, not as a household.
REVISIT_MOVES = tuple(n for n in VISIT_MOVES if n not in ("campaign_households", "survey_households"))
#: A corrected person record moves the marks it counts in, never the people.
PERSON_MARKS = tuple(n for n in SURVEY_COUNTERS if n.endswith(("_from_key_area", "_fevers", "_under_observation")))

#: What an active isolation counts: moved with the person it follows.
FOLLOWING_ISOLATION = ("isolated_home", "isolated_central", "isolation_alerts_open", "isolations_started")

#: Every kind of step, by name.
OPERATIONS: dict[str, Operation] = {
    "a day passes": Operation(a_day_passes, generic=False),
    # the registry
    "create building": Operation(create_building, ("buildings",), {
        "with no units": lambda w: refused(create_building(w), units=0)}),
    "update building": Operation(update_building),
    "create household": Operation(create_household, ("households",), {
        "in another grid's building": create_household_in_another_grids_building}),
    "update household": Operation(update_household),
    "register resident": Operation(register_resident, (*RESIDENTS, "residents_registered"), {
        "with an ID number taken": register_resident_with_a_taken_id_number,
        "with a bad check digit": register_resident_with_a_bad_check_digit}),
    "update resident": Operation(update_resident, ("floating_residents",)),
    "move resident": Operation(move_resident, (*RESIDENTS, "residents_registered", *FOLLOWING_ISOLATION), {
        "out of the user's grids": lambda w: move_resident(w, out_of_reach=True)}),
    "remove resident": Operation(remove_resident, (*RESIDENTS, "residents_removed"), {
        "already removed": remove_a_removed_resident, "on a day to come": remove_resident_tomorrow}),
    # the key-person ledger
    "add key person": Operation(add_key_person, KEY_PERSON_COUNTERS, {
        "already in the ledger": add_key_person_twice, "without a category": add_key_person_without_category}),
    "change key-person categories": Operation(change_key_person_categories, KEY_PERSON_CATEGORIES),
    "end key-person help": Operation(end_key_person_help),
    "remove key person": Operation(remove_key_person, KEY_PERSON_COUNTERS, {
        "already removed": remove_a_removed_key_person}),
    # the returnee ledger
    "open returnee": Operation(open_returnee, ("returnees_following",), {
        "a second open entry": open_a_second_returnee_entry, "arriving tomorrow": open_returnee_arriving_tomorrow}),
    "update returnee": Operation(update_returnee, (), {
        "leaving a follow-up out of the period": shorten_a_period_past_its_follow_up}),
    "close returnee": Operation(close_returnee, ("returnees_following",), {
        "already closed": close_a_closed_returnee}),
    "remove returnee": Operation(remove_returnee, ("returnees_following",), {
        "already removed": remove_a_removed_returnee}),
    "record follow-up": Operation(record_follow_up, ("follow_ups", "follow_up_fevers"), {
        "a second today": record_a_second_follow_up_today, "of a closed entry": record_a_follow_up_of_a_closed_entry,
        "temperature out of range": record_an_impossible_temperature}),
    # the household survey
    "open campaign": Operation(open_campaign, (), {
        "by the grid worker": open_campaign_as_the_grid_worker,
        "ending before it starts": open_campaign_ending_before_it_starts,
        "without a name": lambda w: refused(open_campaign(w), name="")}),
    "update campaign": Operation(update_campaign, (), {
        "closed": lambda w: change_a_closed_campaign(w, "updateSurveyCampaign")}),
    "close campaign": Operation(close_campaign, (), {
        "already closed": lambda w: change_a_closed_campaign(w, "closeSurveyCampaign")}),
    "record visit": Operation(record_visit, VISIT_MOVES, {
        "outside the campaign's area": visit_outside_the_campaigns_area,
        "with people but nobody home": visit_with_people_but_nobody_home,
        "with a resident twice": visit_listing_a_resident_twice,
        "with a resident recorded already": visit_with_a_resident_recorded_already,
        "with a resident of another household": visit_with_a_resident_of_another_household,
        "temperature out of range": visit_with_an_impossible_temperature,
        "in a closed campaign": visit_in_a_closed_campaign}),
    "visit a reached household again": Operation(lambda w: record_visit(w, revisit=True), REVISIT_MOVES),
    "update survey person": Operation(update_survey_person, PERSON_MARKS, {
        "temperature out of range": lambda w: refused(update_survey_person(w), temperature=w.choice([20.0, 45.0]))}),
    "open returnee from survey": Operation(open_returnee_from_survey, ("returnees_following",), {
        "of a record saying nowhere": open_returnee_from_a_record_saying_nowhere,
        "a second open entry": open_a_second_returnee_entry_from_survey}),
    # isolation
    "open isolation site": Operation(open_isolation_site, (), {
        "by the community's staff": open_isolation_site_as_staff,
        "with no places": lambda w: refused(open_isolation_site(w), capacity=0)}),
    "update isolation site": Operation(update_isolation_site, (), {
        "fewer places than people placed": shrink_a_site_below_its_occupancy}),
    "start home isolation": Operation(start_home_isolation, ("isolated_home", "isolations_started"), {
        "a second active one": start_a_second_isolation, "with a site": start_home_isolation_at_a_site,
        "starting tomorrow": start_isolation_tomorrow}),
    "start central isolation": Operation(start_central_isolation, ("isolated_central", "isolations_started"), {
        "at a full site": start_at_a_full_site, "at a closed site": start_at_a_closed_site,
        "without a site": lambda w: refused(start_central_isolation(w), siteId=None)}),
    "move isolated resident": Operation(move_isolated_resident,
                                        (*RESIDENTS, "residents_registered", *FOLLOWING_ISOLATION)),
    "record reading": Operation(record_reading, ("isolation_readings",), {
        "outside the isolation": record_a_reading_outside_the_period,
        "temperature out of range": record_an_impossible_reading,
        "of an ended isolation": record_a_reading_of_an_ended_isolation}),
    "record fever reading": Operation(record_fever_reading,
                                      ("isolation_readings", "isolation_fever_alerts", "isolation_alerts_open")),
    "acknowledge alert": Operation(acknowledge_alert, ("isolation_alerts_open",), {
        "acknowledged already": acknowledge_an_alert_twice,
        "of a reading without alert": acknowledge_a_reading_without_alert,
        "of a person moved out of the user's grids": acknowledge_an_alert_of_a_person_moved_away,
        "without a note": lambda w: refused(acknowledge_alert(w), note="")}),
    "record delivery": Operation(record_delivery, ("isolation_deliveries",), {
        "to an ended isolation": record_a_delivery_to_an_ended_isolation,
        "without items": lambda w: refused(record_delivery(w), items=" ")}),
    "end isolation": Operation(end_isolation, ("isolated_home", "isolated_central", "isolation_alerts_open",
                                               "isolations_ended"), {
        "released early without a reason": release_early_without_a_reason,
        "elsewhere without a reason": end_isolation_elsewhere_without_a_reason,
        "ended already": end_an_ended_isolation}),
}

def by_an_outsider(w: World, call: Call) -> Call:
    user = w.choice(call.outsiders) if call.outsiders else w.outsider(call.areas)
    return replace(call, user=user, refused=OUT_OF_REACH)


def with_a_stale_version(w: World, call: Call) -> Call | None:
    """The record is at the version sent: one ahead of it is as stale as one behind."""
    return refused(call, STALE, version=call.input["version"] + 1) if "version" in call.input else None


#: Refusals any accepted call is turned into (one giving None leaves the call as built).
GENERIC_REFUSALS: dict[str, Callable[[World, Call], Call | None]] = {
    "by an outsider": by_an_outsider, "with a stale version": with_a_stale_version}


# -- checking the counters ------------------------------------------------------------

def _nonzero(counts: dict) -> dict:
    """Counts without zeros: a stored zero and no row at all say the same."""
    out = {key: {name: n for name, n in by_name.items() if n} for key, by_name in counts.items()}
    return {key: by_name for key, by_name in out.items() if by_name}


_RANGE = (DISTRICT, str(int(DISTRICT) + 1))  # the district's area codes, low <= code < high


def _in_range(column, low: str | None, high: str | None) -> list:
    return [*([column >= low] if low else []), *([column < high] if high else [])]


def part_counts(session, low: str | None = None, high: str | None = None, *, stored: bool) -> dict:
    """The counters of parts (a survey campaign's, declared ``per=``) of grids
    ``low <= code < high``: the stored ones (``stored``) or a recount from the rows, as
    ``recount`` recounts them, in the shape of ``stored_counts`` keyed (grid, "campaign_id=3")."""
    out: dict = {}
    for per, table in sorted(counters.part_tables().items()):
        declared = counters.of_part(per)
        if stored:
            names = [c.name for c in declared]
            stmt = select(getattr(table, per), table.area_code, *(getattr(table, n) for n in names)).where(
                *_in_range(table.area_code, low, high))
            for part, grid, *values in session.execute(stmt):
                out[(grid, f"{per}={part}")] = dict(zip(names, values))
            continue
        for model in dict.fromkeys(c.model for c in declared):
            members = [c for c in declared if c.model is model]
            sums = [func.count() if c.where is None else func.sum(case((c.where, 1), else_=0)) for c in members]
            stmt = select(getattr(model, per), model.area_code, *sums).where(
                *_in_range(model.area_code, low, high)).group_by(getattr(model, per), model.area_code)
            for part, grid, *values in session.execute(stmt):
                out.setdefault((grid, f"{per}={part}"), {}).update(
                    {c.name: int(n or 0) for c, n in zip(members, values)})
    return out


def all_counts(session, low: str | None = None, high: str | None = None, *, stored: bool) -> dict:
    """Every declared counter of grids ``low <= code < high`` (default: all), stored or
    recounted from the rows: totals and per day by (grid, day), parts' by (grid, part), no zeros."""
    fresh(session)
    plain = (stored_counts if stored else count_from_rows)(session, low, high)
    return _nonzero({**plain, **part_counts(session, low, high, stored=stored)})


def district_counters(session) -> dict:
    """The stored counters of the district's grids: totals, per day and per campaign."""
    return all_counts(session, *_RANGE, stored=True)


def district_drift(session, stored: dict) -> list[str]:
    """Where ``stored`` (``district_counters``) differs from a recount of the district's rows."""
    actual = all_counts(session, *_RANGE, stored=False)
    found = []
    for grid, day in sorted(set(stored) | set(actual), key=str):
        have, want = stored.get((grid, day), {}), actual.get((grid, day), {})
        for name in sorted(set(have) | set(want)):
            if have.get(name, 0) != want.get(name, 0):
                found.append(f"{grid} {day or 'total'} {name}: stored {have.get(name, 0)}, counted {want.get(name, 0)}")
    return found


def moved(before: dict, after: dict) -> set[str]:
    """The counters that differ between two ``district_counters``."""
    return {name for key in set(before) | set(after) for name in set(before.get(key, {})) | set(after.get(key, {}))
            if before.get(key, {}).get(name, 0) != after.get(key, {}).get(name, 0)}


def assert_no_drift_anywhere(session) -> None:
    """Every declared counter of the database recounted: no drift, and the stored values
    equal the recounted ones."""
    drift = recount(fresh(session))  # the parts' counters too (a drift names its part)
    assert drift == [], [d.describe() for d in drift]
    assert all_counts(session, stored=True) == all_counts(session, stored=False)


# -- the steps ------------------------------------------------------------------------

def send(api, call: Call) -> list[dict]:
    """The payload's errors of ``call``, sent over HTTP as its user; no GraphQL errors allowed."""
    body = api.query(call.document(), {"i": call.input}, user=call.user)
    assert not body.get("errors"), body["errors"]
    return body["data"][call.mutation]["errors"]


#: A step of a sequence: an operation, which way it is sent (an index into its variants:
#: as built half the time, else one of its refusals) and the dice its builder chooses with.
#: A sequence is drawn whole before it runs: how much of it runs depends on the database
#: (a failed step ends it), what is drawn must not.
STEP = st.tuples(st.sampled_from(list(OPERATIONS)), st.integers(0, 255),
                 st.lists(st.integers(0, 2**16), min_size=DICE, max_size=DICE))


def variants(op: Operation) -> list[str]:
    refusals = [*(GENERIC_REFUSALS if op.generic else ()), *op.refusals]
    return ["as built"] * max(1, len(refusals)) + refusals


def step(api, w: World, planned: tuple[str, int, list[int]]) -> None:
    """Build the planned step with its dice, send it and check the counters."""
    name, which, dice = planned
    op = OPERATIONS[name]
    variant = variants(op)[which % len(variants(op))]
    w.cast(dice)
    what = f"{name} ({variant})"
    if variant in op.refusals:
        built = op.refusals[variant](w)
    else:
        built = op.build(w)
        if built is not None and variant in GENERIC_REFUSALS:
            turned = GENERIC_REFUSALS[variant](w, built)
            built, what = (turned, what) if turned else (built, f"{name} (as built: not {variant})")
    if built is None:
        event(f"{what}: nothing sent")
        w.log.append(f"{what}: nothing to send on {w.today}")
        return
    for call in [built] if isinstance(built, Call) else built:
        check(api, w, what, op, call)


def check(api, w: World, what: str, op: Operation, call: Call) -> None:
    """Send ``call``: it is answered as it must be, moves only counters ``op`` moves (none
    if refused), and leaves the district's counters equal to a recount of its rows."""
    before = district_counters(w.session)
    errors = send(api, call)
    after = district_counters(w.session)
    codes = {e["code"] for e in errors}
    outcome = "refused" if errors else "accepted"
    w.outcomes[outcome] += 1
    event(f"{what}: {outcome}")
    w.log.append(f"{what} by {call.user}: {call.mutation} {call.input} -> {sorted(codes) or 'ok'}")
    if call.refused is None:
        assert errors == [], f"{what} was refused: {errors}"
        stray = moved(before, after) - set(op.moves)
        assert not stray, f"{what} moved counters it does not move: {sorted(stray)}"
    else:
        assert errors and codes <= call.refused, f"{what} answered {errors}, not one of {sorted(call.refused)}"
        assert after == before, f"refused {what} moved counters: {sorted(moved(before, after))}"
    drift = district_drift(w.session, after)
    assert not drift, f"after {what}: " + "; ".join(drift)


# -- the tests ------------------------------------------------------------------------

def test_every_declared_counter_is_moved_by_an_operation():
    """A counter no operation moves would be recounted but never exercised: add its operations."""
    moved_by_some = {name for op in OPERATIONS.values() for name in op.moves}
    declared = {c.name for c in counters.declared()}
    assert declared - moved_by_some == set(), "declared counters no operation moves"
    assert moved_by_some - declared == set(), "operations name counters nobody declared"


def test_no_sequence_of_writes_makes_a_counter_drift(api, sync_session, monkeypatch):
    assert recount(fresh(sync_session)) == []
    world = World(sync_session, Clock(monkeypatch))
    failed: list[BaseException] = []

    # Inside the test: the sequences share its database, app and clock (module docstring).
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(plan=st.lists(STEP, min_size=STEPS, max_size=STEPS))
    def sequences(plan):
        if failed:  # the run ended at the first failure (module docstring)
            return
        world.log = []
        try:
            for planned in plan:
                step(api, world, planned)
            assert_no_drift_anywhere(sync_session)
        except Exception as exc:  # noqa: BLE001 - any failure ends the run, raised below with its log
            exc.add_note("the sequence, on the database as the sequences before it left it:\n  "
                         + "\n  ".join(world.log))
            failed.append(exc)

    sequences()
    if failed:
        raise failed[0]
    assert world.outcomes["accepted"] and world.outcomes["refused"], world.outcomes  # writes made, and refused
