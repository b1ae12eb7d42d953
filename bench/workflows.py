"""The workflows of a generated province: a survey campaign per city, the two ledgers.

``bench.generate --workflows`` writes them after the registry, or on a database that
already holds a generated registry (and nothing of these workflows yet), so a large
province need not be regenerated to gain them. Everything is read back from the registry
(households with their active residents, in ``(area_code, household id, resident id)``
order) and drawn from its own ``random.Random`` seeded from ``--seed``, so the same
registry and seed give the same rows.

- **Survey**: one open campaign per city (``CAMPAIGN_NAME``), started ``CAMPAIGN_DAYS``
  before the generator's TODAY, key areas ``KEY_AREAS``. About 80% of households are
  reached (a fifth of them after a nobody-home visit), 15% only ever found nobody home
  (some twice) and 5% refused. The reaching visit is the household's ``first_reach``, and
  each active resident of a reached household has a person record on the visit's day: a
  few % say where they came from (most from a key area, ``from_key_area`` derived as the
  server derives it), about 0.4% have a fever (a measured 37.3 °C or more is always one),
  and some are under home observation, most of them travellers.
- **Key persons**: about 3% of active residents, with one category that fits their age
  and household (elderly living alone are 65+ and alone, pregnant women 20-42...) and now
  and then a second; a few entries are removed (not counted).
- **Returnees**: about 2% of active residents, arrived in the last 25 days, 14 days of
  follow-up. Entries whose period is over are mostly completed; the others are followed up
  once a day up to TODAY, now and then with a missed day, and about one in ten has missed
  every day since a day before yesterday (the overdue list). A few are removed or moved away.

Counters are written from the generated rows as the registry's are: the ledgers' columns
of ``grid_stats`` (added to the registry's row of each grid), ``survey_grid_stats`` per
campaign and grid, and the per-day rows of ``grid_day_stats`` (survey work on the visit's
day, follow-ups on theirs). ``bench.generate`` then recounts every counter
(``db.counters_recount.recount``) and fails on any drift.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from db.codes import LEVEL_CODE_LENGTH, Level
from db.counters import DEFAULT_ZONE
from db.demo_people import make_name, make_phone
from db.key_person import KeyPersonCategory
from db.registry import Household, Resident
from db.survey import ContactMethod, VisitOutcome

CAMPAIGN_DAYS = 10
CAMPAIGN_NAME = "{city}入户排查"
KEY_AREAS = ("湖北省", "武汉市")
ZONE = ZoneInfo(DEFAULT_ZONE)
CITY_LENGTH = LEVEL_CODE_LENGTH[Level.CITY]

#: The workflows' tables, in the order their rows are written (foreign keys first).
TABLES = ("survey_campaign", "survey_visit", "survey_person", "key_person", "returnee", "returnee_follow_up")

CAMPAIGN_COLS = ["id", "area_code", "name", "starts_on", "ends_on", "status", "key_areas",
                 "created_at", "updated_at", "version"]
VISIT_COLS = ["id", "campaign_id", "household_id", "area_code", "visited_at", "on", "method", "outcome",
              "first_reach", "created_at", "updated_at", "version"]
PERSON_COLS = ["id", "campaign_id", "visit_id", "resident_id", "area_code", "on", "came_from", "from_key_area",
               "departed_on", "arrived_on", "transport", "transport_number", "fever", "temperature", "cough",
               "close_contact", "under_observation", "created_at", "updated_at", "version"]
KEY_PERSON_COLS = ["id", "area_code", "resident_id", "categories", "helper_name", "helper_phone", "since", "until",
                   "notes", "removed_at", "removed_reason", "created_at", "updated_at", "version"]
RETURNEE_COLS = ["id", "area_code", "resident_id", "origin", "from_key_area", "departed_on", "arrived_on", "transport",
                 "transport_number", "follow_up_days", "follow_up_until", "status", "removed_at", "removed_reason",
                 "created_at", "updated_at", "version"]
FOLLOW_UP_COLS = ["id", "returnee_id", "area_code", "on", "health", "temperature", "note",
                  "created_at", "updated_at", "version"]
CAMPAIGN_STATS_COLS = ["campaign_id", "area_code", "campaign_households", "campaign_visits", "campaign_people",
                       "campaign_from_key_area", "campaign_fevers", "campaign_under_observation"]
KEY_PERSON_COUNTERS = ["key_persons"] + [f"key_persons_{c.value}" for c in KeyPersonCategory]
SURVEY_DAY_COUNTERS = ("households", "visits", "people", "from_key_area", "fevers", "under_observation")

METHODS = [m.value for m in ContactMethod]
METHOD_WEIGHTS = [60, 20, 10, 5, 5]
REACHED, NOBODY_HOME, REFUSED = (VisitOutcome.REACHED.value, VisitOutcome.NOBODY_HOME.value,
                                 VisitOutcome.REFUSED.value)
FROM_KEY_AREA = ["湖北省武汉市", "湖北省孝感市", "湖北省黄冈市", "湖北省荆州市", "武汉市"]
FROM_ELSEWHERE = ["广东省深圳市", "浙江省温州市", "北京市", "河南省信阳市", "上海市", "辽宁省沈阳市"]
TRANSPORTS = ["train", "plane", "coach", "car", "other"]
TRANSPORT_WEIGHTS = [50, 15, 15, 15, 5]
FOLLOW_UP_DAYS = 14
HELPER_NOTES = ["每周上门一次", "电话联系为主", "需代购生活物资", "行动需协助"]


def _number(rng: random.Random, transport: str) -> str | None:
    if transport == "train":
        return f"{rng.choice('GDKZT')}{rng.randint(10, 9999)}"
    if transport == "plane":
        return f"{rng.choice(('CZ', 'MU', 'CA', 'HU'))}{rng.randint(1000, 9999)}"
    if transport == "car":
        return f"黑{rng.choice('ABCDEFGHJKLM')}{rng.randint(10000, 99999)}"
    return None


class Counts:
    """The counters moved by the generated rows, in the shapes of ``db.counters``."""

    def __init__(self) -> None:
        self.totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.parts: dict[tuple[int, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        self.days: dict[tuple[str, dt.date, str], int] = defaultdict(int)

    def day(self, grid: str, on: dt.date, name: str, n: int = 1) -> None:
        if n:
            self.days[(grid, on, name)] += n


class Workflows:
    """Generates the workflows' rows household by household, ids assigned here."""

    def __init__(self, rng: random.Random, today: dt.date, now: dt.datetime, campaigns: dict[str, int],
                 first_ids: dict[str, int]) -> None:
        self.rng = rng
        self.today = today
        self.now = now
        self.campaigns = campaigns  # city code -> campaign id
        self.start = today - dt.timedelta(days=CAMPAIGN_DAYS)
        self.days = [self.start + dt.timedelta(days=i) for i in range(CAMPAIGN_DAYS + 1)]
        self.next = dict(first_ids)
        self.counts = Counts()
        self.tally = defaultdict(int)  # what was generated, for the summary
        self.rows: dict[str, list] = {t: [] for t in TABLES}

    def _id(self, table: str) -> int:
        n = self.next[table]
        self.next[table] = n + 1
        return n

    def _visited_at(self, day: dt.date) -> dt.datetime:
        """A local time of day (08:00-20:00; before the generator's NOW on its own day), in UTC."""
        rng = self.rng
        latest = self.now.astimezone(ZONE).hour - 1 if day == self.today else 19
        local = dt.datetime(day.year, day.month, day.day, rng.randint(8, latest), rng.randint(0, 59), tzinfo=ZONE)
        return local.astimezone(dt.timezone.utc)

    # -- the survey -----------------------------------------------------------------------

    def household(self, grid: str, household_id: int, members: list[tuple[int, dt.date, str]]) -> None:
        """The visits of one household and, once reached, one person record per active member."""
        rng = self.rng
        campaign = self.campaigns[grid[:CITY_LENGTH]]
        u = rng.random()
        n = len(self.days)
        if u < 0.80:
            if rng.random() < 0.2:
                first = rng.randrange(n - 1)
                plan = [(first, NOBODY_HOME), (rng.randint(first + 1, n - 1), REACHED)]
            else:
                plan = [(rng.randrange(n), REACHED)]
        elif u < 0.95:
            first = rng.randrange(n - 1)
            plan = [(first, NOBODY_HOME)] + ([(rng.randint(first + 1, n - 1), NOBODY_HOME)] if rng.random() < 0.3
                                             else [])
        else:
            plan = [(rng.randrange(n), REFUSED)]
        part = self.counts.parts[(campaign, grid)]
        for index, outcome in plan:
            day = self.days[index]
            at = self._visited_at(day)
            visit_id = self._id("survey_visit")
            first_reach = outcome == REACHED
            self.rows["survey_visit"].append((visit_id, campaign, household_id, grid, at, day,
                                              rng.choices(METHODS, METHOD_WEIGHTS)[0], outcome, first_reach,
                                              at, at, 1))
            part["campaign_visits"] += 1
            self.counts.day(grid, day, "survey_visits")
            self.tally[f"visits {outcome}"] += 1
            if first_reach:
                part["campaign_households"] += 1
                self.counts.day(grid, day, "survey_households")
                self.tally["households reached"] += 1
                for resident_id, _birth, _gender in members:
                    self._person(campaign, visit_id, resident_id, grid, day, at, part)
        if plan[-1][1] != REACHED:
            self.tally[f"households {plan[-1][1]}"] += 1

    def _person(self, campaign: int, visit_id: int, resident_id: int, grid: str, day: dt.date, at: dt.datetime,
                part: dict) -> None:
        rng = self.rng
        came_from = departed = arrived = transport = number = None
        if rng.random() < 0.04:
            came_from = rng.choice(FROM_KEY_AREA) if rng.random() < 0.75 else rng.choice(FROM_ELSEWHERE)
            arrived = day - dt.timedelta(days=rng.randint(0, 13))
            departed = arrived - dt.timedelta(days=rng.randint(0, 2))
            transport = rng.choices(TRANSPORTS, TRANSPORT_WEIGHTS)[0]
            number = _number(rng, transport)
        key_area = bool(came_from) and any(k in came_from for k in KEY_AREAS)
        fever = rng.random() < (0.02 if key_area else 0.0035)
        temperature = None
        if fever:
            if rng.random() < 0.8:
                temperature = round(rng.uniform(37.3, 39.5), 1)
        elif rng.random() < 0.3:
            temperature = round(rng.uniform(36.0, 37.2), 1)  # below 37.3: a measured fever is always one
        cough = rng.random() < (0.5 if fever else 0.01)
        close_contact = rng.random() < (0.05 if key_area else 0.002)
        observed = rng.random() < (0.6 if key_area else 0.2 if came_from else 0.3 if fever else 0.001)
        self.rows["survey_person"].append((
            self._id("survey_person"), campaign, visit_id, resident_id, grid, day, came_from, key_area, departed,
            arrived, transport, number, fever, temperature, cough, close_contact, observed, at, at, 1))
        moves = (("people", 1), ("from_key_area", int(key_area)), ("fevers", int(fever)),
                 ("under_observation", int(observed)))
        for name, n in moves:
            part[f"campaign_{name}"] += n
            self.counts.day(grid, day, f"survey_{name}", n)
        self.tally["person records"] += 1
        self.tally["from a key area"] += int(key_area)
        self.tally["with fever"] += int(fever)
        self.tally["under observation"] += int(observed)

    # -- the ledgers ----------------------------------------------------------------------

    def _categories(self, birth: dt.date, gender: str, alone: bool) -> list[str]:
        """The categories that fit a person, with weights, one drawn (now and then two)."""
        age = (self.today - birth).days // 365
        fits = [("hardship", 3), ("disability", 2)]
        if age >= 65 and alone:
            fits.append(("elderly_alone", 12))
        if age < 16:
            fits.append(("child_in_difficulty", 4))
        if age >= 60:
            fits.append(("limited_mobility", 4))
        if gender == "female" and 20 <= age <= 42:
            fits.append(("pregnant", 3))
        if age >= 40:
            fits.append(("chronic_illness", 5))
        names, weights = zip(*fits)
        chosen = {self.rng.choices(names, weights)[0]}
        if self.rng.random() < 0.15:
            chosen.add(self.rng.choices(names, weights)[0])
        return sorted(chosen)

    def key_person(self, grid: str, resident_id: int, birth: dt.date, gender: str, alone: bool) -> None:
        rng = self.rng
        categories = self._categories(birth, gender, alone)
        neighbour = rng.random() < 0.7
        since = self.today - dt.timedelta(days=rng.randint(10, 700))
        until = since + dt.timedelta(days=rng.randint(180, 720)) if rng.random() < 0.1 else None
        removed = rng.random() < 0.03
        removed_at = self.now - dt.timedelta(days=rng.randint(1, 60)) if removed else None
        self.rows["key_person"].append((
            self._id("key_person"), grid, resident_id, "," + ",".join(categories) + ",",
            make_name(rng) if neighbour else None, make_phone(rng) if neighbour else None, since, until,
            rng.choice(HELPER_NOTES) if rng.random() < 0.3 else None, removed_at, "已迁出" if removed else None,
            self.now, removed_at or self.now, 2 if removed else 1))
        if removed:
            self.tally["key persons removed"] += 1
            return
        totals = self.counts.totals[grid]
        totals["key_persons"] += 1
        for c in categories:
            totals[f"key_persons_{c}"] += 1
        self.tally["key persons"] += 1

    def returnee(self, grid: str, resident_id: int) -> None:
        rng = self.rng
        today = self.today
        key_area = rng.random() < 0.35
        origin = rng.choice(FROM_KEY_AREA) if key_area else rng.choice(FROM_ELSEWHERE)
        arrived = today - dt.timedelta(days=rng.randint(0, 24))
        departed = arrived - dt.timedelta(days=rng.randint(0, 3))
        until = arrived + dt.timedelta(days=FOLLOW_UP_DAYS)
        transport = rng.choices(TRANSPORTS, TRANSPORT_WEIGHTS)[0]
        status, last = "following_up", min(until, today)
        if until < today and rng.random() < 0.9:
            status = "completed"  # closed when the period ended
        elif rng.random() < 0.02:
            status, last = "moved_away", arrived + dt.timedelta(days=rng.randint(0, (last - arrived).days))
        removed = rng.random() < 0.01
        removed_at = self.now - dt.timedelta(hours=rng.randint(1, 48)) if removed else None
        returnee_id = self._id("returnee")
        self.rows["returnee"].append((
            returnee_id, grid, resident_id, origin, key_area, departed, arrived, transport, _number(rng, transport),
            FOLLOW_UP_DAYS, until, status, removed_at, "登记有误" if removed else None,
            dt.datetime.combine(arrived, dt.time(10), ZONE).astimezone(dt.timezone.utc), removed_at or self.now,
            1 if status == "following_up" and not removed else 2))
        if status == "following_up" and not removed:
            self.counts.totals[grid]["returnees_following"] += 1
            self.tally["returnees following up"] += 1
        else:
            self.tally[f"returnees {'removed' if removed else status}"] += 1
        # the days followed up: every day of the period up to ``last``, today only now and
        # then (the day is not over); one in ten entries still open has stopped two or more
        # days ago (overdue: yesterday was missed), and any day may be missed
        if status == "following_up" and until >= today and rng.random() < 0.1:
            last = min(last, today - dt.timedelta(days=rng.randint(2, 4)))
        yesterday = today - dt.timedelta(days=1)
        followed_yesterday = False
        day = arrived
        while day <= last:
            if not (day == today and rng.random() < 0.4) and rng.random() >= 0.03:
                fever = rng.random() < 0.005
                temperature = (round(rng.uniform(37.3, 39.0), 1) if fever else
                               round(rng.uniform(36.0, 37.2), 1) if rng.random() < 0.7 else None)
                at = dt.datetime.combine(day, dt.time(rng.randint(8, 11), rng.randint(0, 59)), ZONE)
                self.rows["returnee_follow_up"].append((
                    self._id("returnee_follow_up"), returnee_id, grid, day, "fever" if fever else "well",
                    temperature, None, at.astimezone(dt.timezone.utc), at.astimezone(dt.timezone.utc), 1))
                self.counts.day(grid, day, "follow_ups")
                self.counts.day(grid, day, "follow_up_fevers", int(fever))
                self.tally["follow-ups"] += 1
                followed_yesterday = followed_yesterday or day == yesterday
            day += dt.timedelta(days=1)
        if (status == "following_up" and not removed and arrived <= yesterday <= until
                and not followed_yesterday):
            self.tally["returnees overdue"] += 1  # resolvers.returnee's overdue: yesterday missed

    def members(self, grid: str, members: list[tuple[int, dt.date, str]]) -> None:
        """The ledgers' entries of one household's active members."""
        alone = len(members) == 1
        for resident_id, birth, gender in members:
            if self.rng.random() < 0.03:
                self.key_person(grid, resident_id, birth, gender, alone)
            if self.rng.random() < 0.02:
                self.returnee(grid, resident_id)

    def take(self) -> dict[str, list]:
        """The rows generated since the last call, by table (the counters stay)."""
        rows, self.rows = self.rows, {t: [] for t in TABLES}
        return rows


# -- reading the registry and writing ----------------------------------------------------


def households(conn, batch: int = 20_000):
    """``(grid, household id, [(resident id, birth date, gender), ...])`` of every household,
    its active residents only, in code and id order; streamed, never all held at once."""
    stmt = (select(Household.area_code, Household.id, Resident.id, Resident.birth_date, Resident.gender)
            .outerjoin(Resident, (Resident.household_id == Household.id) & (Resident.status == "active"))
            .order_by(Household.area_code, Household.id, Resident.id))
    stream = conn.execution_options(stream_results=True, yield_per=batch).execute(stmt)  # typed: dates on SQLite
    current = None
    members: list = []
    for grid, household_id, resident_id, birth, gender in stream:
        if current is not None and current[1] != household_id:
            yield current[0], current[1], members
            members = []
        current = (grid, household_id)
        if resident_id is not None:
            members.append((resident_id, birth, gender))
    if current is not None:
        yield current[0], current[1], members


def check_registry(conn) -> None:
    """A generated registry, and none of the workflows' rows yet."""
    if not conn.execute(text("SELECT count(*) FROM household")).scalar():
        raise SystemExit("--workflows needs a registry: generate one first (or pass --recreate)")
    for table in TABLES:
        if conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})")).scalar():
            raise SystemExit(f"the database already holds {table} rows: --workflows writes onto a registry "
                             f"without them (pass --recreate to start over)")


def first_ids(conn) -> dict[str, int]:
    return {t: conn.execute(text(f"SELECT coalesce(max(id), 0) + 1 FROM {t}")).scalar() for t in TABLES}


def campaign_rows(conn, today: dt.date, first_id: int) -> list[tuple]:
    """One open campaign per city, started ``CAMPAIGN_DAYS`` before ``today``."""
    cities = conn.execute(text("SELECT code, name FROM area WHERE level = 'city' ORDER BY code")).all()
    start = today - dt.timedelta(days=CAMPAIGN_DAYS)
    opened = dt.datetime.combine(start, dt.time(8), ZONE).astimezone(dt.timezone.utc)
    return [(first_id + i, code, CAMPAIGN_NAME.format(city=name), start, None, "open", "\n".join(KEY_AREAS),
             opened, opened, 1) for i, (code, name) in enumerate(cities)]


def write(engine, writer, rng: random.Random, today: dt.date, now: dt.datetime, chunk: int, progress) -> dict:
    """Generate and write every workflow row and its counters; returns the tally."""
    with engine.connect() as conn:
        check_registry(conn)
        ids = first_ids(conn)
        campaigns = campaign_rows(conn, today, ids["survey_campaign"])
        n_households = conn.execute(text("SELECT count(*) FROM household")).scalar()
    writer.rows("survey_campaign", CAMPAIGN_COLS, campaigns, escape=True)
    ids["survey_campaign"] += len(campaigns)
    gen = Workflows(rng, today, now, {row[1]: row[0] for row in campaigns}, ids)
    cols = dict(survey_visit=VISIT_COLS, survey_person=PERSON_COLS, key_person=KEY_PERSON_COLS,
                returnee=RETURNEE_COLS, returnee_follow_up=FOLLOW_UP_COLS)

    def flush() -> None:
        for table, rows in gen.take().items():
            if rows:
                writer.rows(table, cols[table], rows)

    done = 0
    with engine.connect() as conn:
        for grid, household_id, members in households(conn):
            gen.household(grid, household_id, members)
            gen.members(grid, members)
            done += 1
            if len(gen.rows["survey_person"]) >= chunk:
                flush()
                progress(done, n_households)
    flush()
    progress(done, n_households)

    counts = gen.counts
    writer.add_totals(KEY_PERSON_COUNTERS + ["returnees_following"],
                      {grid: dict(moved) for grid, moved in sorted(counts.totals.items())})
    writer.rows("survey_grid_stats", CAMPAIGN_STATS_COLS,
                [(campaign, grid, *(moved[c] for c in CAMPAIGN_STATS_COLS[2:]))
                 for (campaign, grid), moved in sorted(counts.parts.items())])
    writer.rows("grid_day_stats", ["counter", "area_code", "day", "n"],
                [(name, grid, day, n) for (grid, day, name), n in sorted(counts.days.items()) if n])
    return dict(campaigns=len(campaigns), starts_on=gen.start.isoformat(), households=n_households, **gen.tally)
