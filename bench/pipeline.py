"""The request pipeline end to end: eight stories over HTTP against their SQL floor.

    python -m bench.pipeline --database-url postgresql://root@127.0.0.1:5432/wangge_bench

Starts the real server (``python -m server.cli serve``, i.e. ``wangge serve``; with
``--workers N`` passed through) on 127.0.0.1 and a free port as a child process, creates
bench users with grants and fresh login sessions directly in the database and signs their
access tokens with a secret made for this run (as ``bench.bench_http``), then runs each
story with 1 client (sequential) and with ``--clients`` concurrent clients:

a. city officer: the city's active residents counted from the rows
   (``residents(first: 0, filter: {status: ACTIVE}) { totalCount }``);
b. city officer: the same figure (and the other counters) from ``grid_stats`` (``stats``);
c. grid worker: the first 50 residents of the grid in clear (name, idNumber, phone;
   each request also writes its audit row);
d. street staff: name search ``张``, the first 50 matching residents of the street;
e. province officer: the province's active residents counted from the rows;
f. grid worker: ``recordHouseholdVisit`` of a household of their grid not yet reached by
   the city's campaign, with two person records (a member of the household, and a person
   found there who is registered in the same mutation, with a fresh valid ID number); every
   request writes, so each takes another household, round-robin over ``VISIT_GRIDS`` grids
   of the city (one bench grid worker each, so concurrent requests are in different grids,
   as a city's grid workers are);
g. city officer: the campaign's progress in the whole city (figures and households known),
   from the counters;
h. grid worker: the grid's first 50 households the campaign has not reached yet.

f-h need a database generated with ``bench.generate --workflows`` (an open campaign per city).
Stories with a target (f ≤ 10 ms of server CPU per request and p95 ≤ 25 ms with 8 clients;
g ≤ 3 ms; h ≤ 6 ms) print it, and whether it was met, next to their figures.

For each run: p50 and p95 latency, requests/s, and the server process's CPU time per
request (utime + stime from ``/proc``, of the server and all its descendants, before and
after the run). The SQL floor is the same question as hand-written SQL run through
psycopg directly (sequential, p50), so ``p50/floor`` is what the pipeline adds:
HTTP, token and session check, GraphQL parse/validate/execute, scope compilation, the ORM,
serialisation (and for c/d/h the audit write). The floor of f is a transaction of the
same INSERTs (visit, resident, two person records, four audit rows) and counter upserts
through psycopg, on households of its own; it leaves rows and counters as the API would.
PostgreSQL only.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_http import HOST, Server, check, ensure_user, free_port, issue_tokens  # noqa: E402
from bench.common import (REPO, Timing, backend_of, describe_url, fmt_ms, machine_line, measure,  # noqa: E402
                          pick_areas)
import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from strawberry.relay import to_base64  # noqa: E402

from authz.scope import in_subtree  # noqa: E402
from db.codes import RANGE_END  # noqa: E402
from db.counters import DEFAULT_ZONE, local_day  # noqa: E402
from db.demo_people import make_id_number, make_name, make_phone  # noqa: E402
from db.engine import make_sync_engine  # noqa: E402
import db.models  # noqa: E402,F401 - every table mapped, so the ORM can resolve the foreign keys
from db.stats import GridStats  # noqa: E402

WARMUP = 5
ALL_STORIES = "abcdefgh"

COUNT_QUERY = """
query Count($code: String!) {
  area(code: $code) { residents(first: 0, filter: {status: ACTIVE}) { totalCount } }
}"""

STATS_QUERY = """
query Stats($code: String!) {
  area(code: $code) { stats { buildings households residents floatingResidents } }
}"""

PAGE_QUERY = """
query Page($code: String!) {
  area(code: $code) {
    residents(first: 50) { edges { node { name idNumber phone } } pageInfo { hasNextPage endCursor } }
  }
}"""

SEARCH_QUERY = """
query Search($code: String!, $search: String!) {
  area(code: $code) {
    residents(first: 50, filter: {search: $search}) {
      edges { node { name idNumber phone } } pageInfo { hasNextPage endCursor }
    }
  }
}"""

VISIT_MUTATION = """
mutation Visit($i: RecordHouseholdVisitInput!) {
  recordHouseholdVisit(input: $i) { visit { id firstReach people { id } } errors { field message code } }
}"""

PROGRESS_QUERY = """
query Progress($id: ID!, $code: String) {
  node(id: $id) { ... on SurveyCampaign { progress(areaCode: $code) {
    householdsKnown
    figures { householdsSurveyed visits peopleSurveyed fromKeyArea withFever underObservation }
  } } }
}"""

NOT_REACHED_QUERY = """
query NotReached($id: ID!, $code: String) {
  node(id: $id) { ... on SurveyCampaign { progress(areaCode: $code) {
    householdsNotReached(first: 50) { edges { node { id address } } }
  } } }
}"""

SEARCH_TERM = "张"
#: Grids whose households story f visits in turn (one bench grid worker each).
VISIT_GRIDS = 40
FIGURES = ("householdsSurveyed", "visits", "peopleSurveyed", "fromKeyArea", "withFever", "underObservation")

# The SQL floor: what the server must at least ask PostgreSQL. Subtree = the same index
# range as ``authz.scope.in_subtree`` (``area_code >= p AND area_code < p || '~'``);
# pages in the listing's order, ``(area_code, id)`` (``resolvers.loaders.LIST_MODEL``),
# one row more than the page to know whether there is a next one.
FLOOR_COUNT = ("SELECT count(*) FROM resident"
               " WHERE area_code >= %(lo)s AND area_code < %(hi)s AND status = 'active'")
FLOOR_STATS = ("SELECT coalesce(sum(buildings), 0), coalesce(sum(households), 0), coalesce(sum(residents), 0),"
               " coalesce(sum(floating_residents), 0) FROM grid_stats"
               " WHERE area_code >= %(lo)s AND area_code < %(hi)s")
FLOOR_PAGE = ("SELECT id, area_code, name, id_number, phone FROM resident"
              " WHERE area_code >= %(lo)s AND area_code < %(hi)s ORDER BY area_code, id LIMIT 51")
FLOOR_SEARCH = ("SELECT id, area_code, name, id_number, phone FROM resident"
                " WHERE area_code >= %(lo)s AND area_code < %(hi)s"
                " AND (name LIKE %(contains)s OR id_number LIKE %(starts)s OR phone LIKE %(starts)s)"
                " ORDER BY area_code, id LIMIT 51")
FLOOR_PROGRESS = ("SELECT (SELECT coalesce(sum(households), 0) FROM grid_stats"
                  "         WHERE area_code >= %(lo)s AND area_code < %(hi)s),"
                  " coalesce(sum(campaign_households), 0), coalesce(sum(campaign_visits), 0),"
                  " coalesce(sum(campaign_people), 0), coalesce(sum(campaign_from_key_area), 0),"
                  " coalesce(sum(campaign_fevers), 0), coalesce(sum(campaign_under_observation), 0)"
                  " FROM survey_grid_stats"
                  " WHERE campaign_id = %(campaign)s AND area_code >= %(lo)s AND area_code < %(hi)s")
FLOOR_NOT_REACHED = ("SELECT h.id, h.area_code, h.address FROM household h"
                     " WHERE h.area_code >= %(lo)s AND h.area_code < %(hi)s"
                     " AND NOT EXISTS (SELECT 1 FROM survey_visit v"
                     "   WHERE v.household_id = h.id AND v.campaign_id = %(campaign)s AND v.first_reach)"
                     " ORDER BY h.area_code, h.id LIMIT 51")
# Story f's floor: what recordHouseholdVisit writes, as one transaction.
FLOOR_VISIT = [
    ('INSERT INTO survey_visit (campaign_id, household_id, area_code, visited_at, "on", method, outcome, first_reach,'
     ' created_at, updated_at, created_by, updated_by, version)'
     " VALUES (%(campaign)s, %(household)s, %(grid)s, %(now)s, %(day)s, 'door', 'reached', true,"
     " %(now)s, %(now)s, %(user)s, %(user)s, 1) RETURNING id"),
    ("INSERT INTO resident (area_code, household_id, name, gender, id_number, birth_date, phone, relation_to_head,"
     " population_kind, status, registered_on, created_at, updated_at, created_by, updated_by, version)"
     " VALUES (%(grid)s, %(household)s, %(name)s, %(gender)s, %(id_number)s, %(birth)s, %(phone)s, 'other',"
     " 'floating', 'active', %(day)s, %(now)s, %(now)s, %(user)s, %(user)s, 1) RETURNING id"),
    ('INSERT INTO survey_person (campaign_id, visit_id, resident_id, area_code, "on", came_from, from_key_area,'
     " departed_on, arrived_on, transport, transport_number, fever, temperature, cough, close_contact,"
     " under_observation, created_at, updated_at, created_by, updated_by, version) VALUES"
     " (%(campaign)s, %(visit)s, %(member)s, %(grid)s, %(day)s, NULL, false, NULL, NULL, NULL, NULL, false, 36.5,"
     "  false, false, false, %(now)s, %(now)s, %(user)s, %(user)s, 1),"
     " (%(campaign)s, %(visit)s, %(resident)s, %(grid)s, %(day)s, '湖北省武汉市', true, %(departed)s, %(arrived)s,"
     "  'train', 'G1234', false, 36.8, false, false, true, %(now)s, %(now)s, %(user)s, %(user)s, 1) RETURNING id"),
    ("INSERT INTO audit_event (at, actor_id, actor_username, action, resource, record_ids, area_code, detail) VALUES"
     " (%(now)s, %(user)s, %(username)s, 'survey.visit', 'survey', %(visit)s::text, %(grid)s, %(detail)s),"
     " (%(now)s, %(user)s, %(username)s, 'resident.create', 'resident', %(resident)s::text, %(grid)s, %(detail)s),"
     " (%(now)s, %(user)s, %(username)s, 'survey.person', 'survey', %(person1)s::text, %(grid)s, %(detail)s),"
     " (%(now)s, %(user)s, %(username)s, 'survey.person', 'survey', %(person2)s::text, %(grid)s, %(detail)s)"),
    ("INSERT INTO grid_stats (area_code, buildings, households, residents, floating_residents, key_persons,"
     " key_persons_elderly_alone, key_persons_child_in_difficulty, key_persons_limited_mobility, key_persons_pregnant,"
     " key_persons_hardship, key_persons_chronic_illness, key_persons_disability, returnees_following)"
     " VALUES (%(grid)s, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0) ON CONFLICT (area_code) DO UPDATE SET"
     " residents = grid_stats.residents + excluded.residents,"
     " floating_residents = grid_stats.floating_residents + excluded.floating_residents"),
    ("INSERT INTO survey_grid_stats (campaign_id, area_code, campaign_households, campaign_visits, campaign_people,"
     " campaign_from_key_area, campaign_fevers, campaign_under_observation)"
     " VALUES (%(campaign)s, %(grid)s, 1, 1, 2, 1, 0, 1) ON CONFLICT (campaign_id, area_code) DO UPDATE SET"
     " campaign_households = survey_grid_stats.campaign_households + excluded.campaign_households,"
     " campaign_visits = survey_grid_stats.campaign_visits + excluded.campaign_visits,"
     " campaign_people = survey_grid_stats.campaign_people + excluded.campaign_people,"
     " campaign_from_key_area = survey_grid_stats.campaign_from_key_area + excluded.campaign_from_key_area,"
     " campaign_under_observation = survey_grid_stats.campaign_under_observation"
     "   + excluded.campaign_under_observation"),
    ("INSERT INTO grid_day_stats (counter, area_code, day, n) VALUES"
     " ('residents_registered', %(grid)s, %(day)s, 1), ('survey_from_key_area', %(grid)s, %(day)s, 1),"
     " ('survey_households', %(grid)s, %(day)s, 1), ('survey_people', %(grid)s, %(day)s, 2),"
     " ('survey_under_observation', %(grid)s, %(day)s, 1), ('survey_visits', %(grid)s, %(day)s, 1)"
     " ON CONFLICT (counter, area_code, day) DO UPDATE SET n = grid_day_stats.n + excluded.n"),
]


@dataclass(frozen=True)
class Target:
    """What a story should stay within: server CPU per request (both runs), and p95 with
    ``--clients`` clients (None: no target for it)."""

    cpu_ms: float
    p95_ms: float | None = None

    def describe(self, clients: int) -> str:
        return f"CPU ≤ {self.cpu_ms:g} ms" + (f", p95 ≤ {self.p95_ms:g} ms" if self.p95_ms and clients > 1 else "")

    def met(self, run: "Run") -> bool:
        return run.server_cpu_ms_per_req <= self.cpu_ms and (
            self.p95_ms is None or run.clients == 1 or run.p95_ms <= self.p95_ms)


@dataclass
class Story:
    key: str
    label: str
    user: str  # key into the token dict
    query: str
    variables: dict
    expect: Callable[[dict], object]  # None when the answer is right, else what was wrong
    floor_sql: str
    floor_params: dict
    floor_expect: Callable[[list], object]
    #: For stories whose every request differs (f writes): ``() -> (variables, token)`` per request.
    next_request: Callable[[], tuple[dict, str]] | None = None
    #: A floor that is not one statement: ``(psycopg connection) -> rows``.
    floor_run: Callable[[psycopg.Connection], list] | None = None
    #: Run before the floor and before the server's runs: re-reads what the story expects
    #: (f's writes move the counters that g reads).
    before: Callable[[], None] | None = None
    target: Target | None = None


@dataclass
class Run:
    story: str
    label: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    rps: float
    server_cpu_ms_per_req: float
    floor_p50_ms: float | None = None
    first_error: str | None = field(default=None, repr=False)
    target: Target | None = field(default=None, repr=False)

    @property
    def ratio(self) -> float | None:
        return self.p50_ms / self.floor_p50_ms if self.floor_p50_ms else None


# -- CPU time of the server from /proc ---------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the parenthesised command name), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants (uvicorn's workers with ``--workers``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))  # field 4: ppid
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root: int) -> float:
    """utime + stime (fields 14 and 15: all threads) of ``root`` and its live descendants."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


# -- setup -------------------------------------------------------------------------------


@dataclass
class Visit:
    """One visit story f makes (or its floor): a household not yet reached, a member of it,
    the grid worker of its grid, and the person found there to register."""

    grid: str
    household: int
    member: int
    user: int
    username: str
    id_number: str
    birth: dt.date
    gender: str
    name: str
    phone: str


@dataclass
class Survey:
    """What stories f-h need: the city's open campaign and story f's visits, each used once."""

    campaign: int
    visits: list[Visit]
    tokens: dict[str, str]  # grid -> its bench grid worker's token
    _next: int = 0

    @property
    def campaign_gid(self) -> str:
        return to_base64("SurveyCampaign", self.campaign)

    def take(self) -> Visit:
        if self._next >= len(self.visits):
            raise SystemExit("story f ran out of households prepared for it (raise its supply)")
        self._next += 1
        return self.visits[self._next - 1]


def fresh_id_numbers(s: Session, grids: list[str], n: int) -> list[tuple[str, dt.date, str]]:
    """``n`` valid ID numbers registered nowhere yet, unique across runs: drawn from a seed of
    this run and checked against the registry (its unique index would refuse a taken one)."""
    rng = random.Random(secrets.randbits(64))
    out: dict[str, tuple[dt.date, str]] = {}
    while len(out) < n:
        batch = {}
        for _ in range(n - len(out)):
            birth = dt.date(1960, 1, 1) + dt.timedelta(days=rng.randrange(15_000))
            gender = rng.choice(("male", "female"))
            batch[make_id_number(rng, rng.choice(grids)[:6], birth, gender)] = (birth, gender)
        taken = set(s.scalars(text("SELECT id_number FROM resident WHERE id_number = ANY(:ids)"),
                              {"ids": list(batch)}))
        out.update((k, v) for k, v in batch.items() if k not in taken and k not in out)
    return [(k, *v) for k, v in out.items()]


def survey_setup(s: Session, picks, secret: str, n_visits: int) -> Survey | None:
    """The city's open campaign, and ``n_visits`` households for story f: not yet reached,
    with an active member without a record, in the ``VISIT_GRIDS`` grids of the city with the
    most households left (from the counters; never the grid of stories c and h, whose page
    must stay put), taken round-robin so that concurrent visits are in different grids."""
    campaign = s.scalar(text("SELECT id FROM survey_campaign WHERE area_code = :c AND status = 'open' ORDER BY id"),
                        {"c": picks.city})
    if campaign is None or not n_visits:
        return None if campaign is None else Survey(campaign, [], {})
    rng = {"lo": picks.city, "hi": picks.city + RANGE_END}
    grids = list(s.scalars(text(
        "SELECT g.area_code FROM grid_stats g LEFT JOIN survey_grid_stats c"
        "  ON c.area_code = g.area_code AND c.campaign_id = :campaign"
        " WHERE g.area_code >= :lo AND g.area_code < :hi AND g.area_code <> :grid"
        " ORDER BY g.households - coalesce(c.campaign_households, 0) DESC, g.area_code LIMIT :n"),
        dict(rng, campaign=campaign, grid=picks.grid, n=VISIT_GRIDS)))
    rows = s.execute(text(
        "WITH left_ AS (SELECT h.area_code, h.id, row_number() OVER (PARTITION BY h.area_code ORDER BY h.id) AS k,"
        "   (SELECT min(r.id) FROM resident r WHERE r.household_id = h.id AND r.status = 'active') AS member"
        "  FROM household h WHERE h.area_code = ANY(:grids) AND NOT EXISTS (SELECT 1 FROM survey_visit v"
        "    WHERE v.household_id = h.id AND v.campaign_id = :campaign AND v.first_reach))"
        " SELECT area_code, id, member FROM left_"
        " WHERE member IS NOT NULL AND NOT EXISTS (SELECT 1 FROM survey_person p"
        "   WHERE p.campaign_id = :campaign AND p.resident_id = left_.member)"
        " ORDER BY k, area_code LIMIT :n"), {"grids": grids, "campaign": campaign, "n": n_visits}).all()
    users = {g: ensure_user(s, f"bench_grid_worker_{g}", "grid_worker", g) for g in sorted({r[0] for r in rows})}
    tokens = issue_tokens(s, users, secret, hours=4)
    ids = fresh_id_numbers(s, grids, len(rows))
    pick = random.Random(secrets.randbits(64))
    visits = [Visit(grid, household, member, users[grid], f"bench_grid_worker_{grid}", id_number, birth, gender,
                    make_name(pick), make_phone(pick))
              for (grid, household, member), (id_number, birth, gender) in zip(rows, ids)]
    return Survey(campaign, visits, tokens)


def make_tokens(url: str, picks, secret: str, n_visits: int | None = None) -> tuple[dict[str, str], dict[str, int],
                                                                                 Survey | None]:
    """Bench users (created on first use), a fresh login session each, signed access tokens;
    plus the active-resident counters of the city and the province (``grid_stats``), and
    what stories f-h need (``n_visits``: story f's households; None: no survey story)."""
    engine = make_sync_engine(url)
    with Session(engine) as s, s.begin():
        users = {
            "city_officer": ensure_user(s, "bench_city_officer", "officer", picks.city),
            "grid_worker": ensure_user(s, "bench_grid_worker", "grid_worker", picks.grid),
            "street_staff": ensure_user(s, "bench_street_staff", "staff", picks.street),
            "province_officer": ensure_user(s, "bench_province_officer", "officer", picks.province),
        }
        tokens = issue_tokens(s, users, secret, hours=4)
        survey = survey_setup(s, picks, secret, n_visits) if n_visits is not None else None
        counters = {}
        for code in (picks.city, picks.province):
            row = s.execute(select(func.sum(GridStats.buildings), func.sum(GridStats.households),
                                   func.sum(GridStats.residents), func.sum(GridStats.floating_residents))
                            .where(in_subtree(GridStats.area_code, code))).one()
            counters[code] = tuple(int(v or 0) for v in row)
    engine.dispose()
    return tokens, counters, survey


def _page_problem(d: dict, *, contains: str | None = None) -> object:
    edges = d["area"]["residents"]["edges"]
    if len(edges) != 50:
        return f"{len(edges)} rows instead of 50"
    first = edges[0]["node"]
    if "*" in first["idNumber"]:
        return f"masked ID number {first['idNumber']}"
    if contains and not all(contains in e["node"]["name"] or e["node"]["idNumber"].startswith(contains)
                            or (e["node"]["phone"] or "").startswith(contains) for e in edges):
        return f"a row not matching {contains!r}"
    return None


def stories(picks, counters, survey: Survey | None = None, url: str | None = None) -> list[Story]:
    def rng(code: str) -> dict:
        return {"lo": code, "hi": code + RANGE_END}

    city, province = counters[picks.city], counters[picks.province]
    out = [
        Story("a", "city officer: city count from rows", "city_officer", COUNT_QUERY, {"code": picks.city},
              lambda d: None if d["area"]["residents"]["totalCount"] == city[2] else d,
              FLOOR_COUNT, rng(picks.city), lambda rows: None if rows[0][0] == city[2] else rows),
        Story("b", "city officer: city stats from counters", "city_officer", STATS_QUERY, {"code": picks.city},
              lambda d: None if (d["area"]["stats"] or {}).get("residents") == city[2] else d,
              FLOOR_STATS, rng(picks.city), lambda rows: None if tuple(rows[0]) == city else rows),
        Story("c", "grid worker: 50 residents in clear", "grid_worker", PAGE_QUERY, {"code": picks.grid},
              _page_problem, FLOOR_PAGE, rng(picks.grid), lambda rows: None if len(rows) == 51 else len(rows)),
        Story("d", f"street staff: search {SEARCH_TERM}, 50 residents", "street_staff", SEARCH_QUERY,
              {"code": picks.street, "search": SEARCH_TERM},
              lambda d: _page_problem(d, contains=SEARCH_TERM),
              FLOOR_SEARCH, dict(rng(picks.street), contains=f"%{SEARCH_TERM}%", starts=f"{SEARCH_TERM}%"),
              lambda rows: None if len(rows) >= 50 else len(rows)),
        Story("e", "province officer: province count from rows", "province_officer", COUNT_QUERY,
              {"code": picks.province},
              lambda d: None if d["area"]["residents"]["totalCount"] == province[2] else d,
              FLOOR_COUNT, rng(picks.province), lambda rows: None if rows[0][0] == province[2] else rows),
    ]
    if survey is not None:
        out += survey_stories(picks, survey, url, rng)
    return out


def _visit_input(survey: Survey, v: Visit, today: dt.date) -> dict:
    """The visit of ``v``: the member as they were, the person found there back from a key area."""
    return {"campaignId": survey.campaign_gid, "householdId": to_base64("Household", v.household),
            "method": "DOOR", "outcome": "REACHED", "people": [
                {"residentId": to_base64("Resident", v.member), "temperature": 36.5},
                {"newResident": {"name": v.name, "idNumber": v.id_number, "phone": v.phone,
                                 "relationToHead": "other", "populationKind": "FLOATING"},
                 "cameFrom": "湖北省武汉市", "departedOn": (today - dt.timedelta(days=3)).isoformat(),
                 "arrivedOn": (today - dt.timedelta(days=2)).isoformat(), "transport": "TRAIN",
                 "transportNumber": "G1234", "temperature": 36.8, "underObservation": True}]}


def _visit_problem(d: dict) -> object:
    done = d["recordHouseholdVisit"]
    if done["errors"]:
        return done["errors"]
    if not done["visit"]["firstReach"] or len(done["visit"]["people"]) != 2:
        return done["visit"]
    return None


def floor_visit(conn: psycopg.Connection, survey: Survey) -> list:
    """Story f's floor: its INSERTs and counter upserts in one transaction, on a household of its own."""
    v = survey.take()
    now = dt.datetime.now(dt.timezone.utc)
    today = local_day(DEFAULT_ZONE, now)
    p = dict(campaign=survey.campaign, household=v.household, grid=v.grid, member=v.member, user=v.user,
             username=v.username, now=now, day=today, name=v.name, gender=v.gender, id_number=v.id_number,
             birth=v.birth, phone=v.phone, departed=today - dt.timedelta(days=3), arrived=today - dt.timedelta(days=2),
             detail=json.dumps({"after": {"household_id": v.household}}))
    with conn.transaction():
        visit, insert_resident, insert_people, *rest = FLOOR_VISIT
        p["visit"] = conn.execute(visit, p).fetchone()[0]
        p["resident"] = conn.execute(insert_resident, p).fetchone()[0]
        p["person1"], p["person2"] = (r[0] for r in conn.execute(insert_people, p).fetchall())
        for sql in rest:
            conn.execute(sql, p)
    return [(p["visit"], p["resident"], p["person1"], p["person2"])]


def survey_stories(picks, survey: Survey, url: str, rng) -> list[Story]:
    """f-h; g and h re-read what they expect before their floor and their runs (f moves it)."""
    expected: dict[str, object] = {}

    def read(sql: str, params: dict) -> list:
        with psycopg.connect(libpq_url(url), autocommit=True) as conn:
            return conn.execute(sql, params).fetchall()

    def before_g() -> None:
        expected["g"] = tuple(read(FLOOR_PROGRESS, dict(rng(picks.city), campaign=survey.campaign))[0])

    def before_h() -> None:
        rows = read(FLOOR_NOT_REACHED, dict(rng(picks.grid), campaign=survey.campaign))
        expected["h"] = [to_base64("Household", r[0]) for r in rows[:50]]

    def progress_problem(d: dict) -> object:
        got = (d["node"] or {}).get("progress") or {}
        figures = got.get("figures") or {}
        answer = (got.get("householdsKnown"), *(figures.get(k) for k in FIGURES))
        return None if answer == expected["g"] else f"{answer} instead of {expected['g']}"

    def not_reached_problem(d: dict) -> object:
        edges = ((d["node"] or {}).get("progress") or {}).get("householdsNotReached", {}).get("edges", [])
        ids = [e["node"]["id"] for e in edges]
        if ids != expected["h"]:
            return f"{len(ids)} households, not the {len(expected['h'])} expected"
        if any("*" in e["node"]["address"] for e in edges):
            return "a masked address"
        return None

    def next_visit() -> tuple[dict, str]:
        v = survey.take()
        return {"i": _visit_input(survey, v, local_day(DEFAULT_ZONE))}, survey.tokens[v.grid]

    progress_vars = {"id": survey.campaign_gid, "code": picks.city}
    return [
        Story("f", "grid worker: record a visit, 2 people", "grid_worker", VISIT_MUTATION, {}, _visit_problem,
              "; ".join(FLOOR_VISIT), {}, lambda rows: None if len(rows) == 1 else rows,
              next_request=next_visit, floor_run=lambda conn: floor_visit(conn, survey),
              target=Target(cpu_ms=10, p95_ms=25)),
        Story("g", "city officer: campaign progress, city", "city_officer", PROGRESS_QUERY, progress_vars,
              progress_problem, FLOOR_PROGRESS, dict(rng(picks.city), campaign=survey.campaign),
              lambda rows: None if tuple(rows[0]) == expected["g"] else rows, before=before_g,
              target=Target(cpu_ms=3)),
        Story("h", "grid worker: 50 households not reached", "grid_worker", NOT_REACHED_QUERY,
              {"id": survey.campaign_gid, "code": picks.grid}, not_reached_problem, FLOOR_NOT_REACHED,
              dict(rng(picks.grid), campaign=survey.campaign),
              lambda rows: None if [to_base64("Household", r[0]) for r in rows[:50]] == expected["h"] else len(rows),
              before=before_h, target=Target(cpu_ms=6)),
    ]


class PipelineServer(Server):
    """``bench_http.Server`` with ``--workers`` passed through to ``wangge serve``."""

    def __init__(self, url: str, secret: str, workers: int | None) -> None:  # noqa: D107 - no super().__init__
        self.workers = workers
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="wangge-bench-pipeline-", suffix=".log", delete=False)
        env = dict(os.environ, WANGGE_SECRET=secret, WANGGE_ENV="development")
        env.pop("DATABASE_URL", None)
        cmd = [sys.executable, "-m", "server.cli", "serve", "--database-url", url, "--host", HOST,
               "--port", str(self.port)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            super().wait_ready(timeout)
        except SystemExit:
            self.log.flush()
            log = Path(self.log.name).read_text(errors="replace")
            if self.workers is not None and "--workers" in log and "unrecognized arguments" in log:
                raise SystemExit(
                    f"wangge serve refused --workers {self.workers}: this checkout's CLI has no --workers "
                    f"option yet (server/cli.py). Run without --workers, or once the option exists.\n"
                    f"server said: {log.strip().splitlines()[-1]}") from None
            raise


# -- load --------------------------------------------------------------------------------


async def load(base: str, story: Story, token: str, n: int, clients: int, budget: float):
    """``n`` requests from ``clients`` concurrent clients (1: sequential), stopping after
    ``budget`` seconds; returns latencies, wall time, error count and the first error."""
    samples: list[float] = []
    errors = 0
    first_error: str | None = None
    remaining = n
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=120, limits=limits) as client:
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal remaining, errors, first_error
            while remaining > 0 and time.perf_counter() - started < budget:
                remaining -= 1
                payload, headers = request(story, token)
                t0 = time.perf_counter()
                resp = await client.post("/graphql", json=payload, headers=headers)
                samples.append(time.perf_counter() - t0)
                problem = None
                if resp.status_code != 200:
                    problem = f"HTTP {resp.status_code}: {resp.text[:300]}"
                else:
                    body = resp.json()
                    if body.get("errors"):
                        problem = f"GraphQL errors: {body['errors']}"[:300]
                    else:
                        wrong = story.expect(body["data"])
                        if wrong:
                            problem = f"unexpected answer: {wrong}"[:300]
                if problem:
                    errors += 1
                    first_error = first_error or problem

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return samples, elapsed, errors, first_error


def request(story: Story, token: str) -> tuple[dict, dict]:
    """The JSON body and headers of the story's next request."""
    variables = story.variables
    if story.next_request is not None:
        variables, token = story.next_request()
    return {"query": story.query, "variables": variables}, {"Authorization": f"Bearer {token}"}


def warm_up(base: str, story: Story, token: str) -> None:
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as client:
        for _ in range(WARMUP):
            payload, headers = request(story, token)
            resp = client.post("/graphql", json=payload, headers=headers)
            if resp.status_code != 200:
                raise SystemExit(f"{story.key}. {story.label}: HTTP {resp.status_code}: {resp.text[:500]}")
            check(f"{story.key}. {story.label}", resp.json(), story.expect)


def run_story(server: PipelineServer, story: Story, token: str, clients: int, n: int, budget: float) -> Run:
    cpu0 = cpu_seconds(server.proc.pid)
    samples, elapsed, errors, first_error = asyncio.run(load(server.base, story, token, n, clients, budget))
    cpu = cpu_seconds(server.proc.pid) - cpu0
    t = Timing(samples)
    return Run(story.key, story.label, clients, len(samples), errors, elapsed, t.median * 1000, t.p95 * 1000,
               len(samples) / elapsed, cpu * 1000 / len(samples), first_error=first_error, target=story.target)


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sql_floor(conn: psycopg.Connection, story: Story, runs: int, budget: float) -> Timing:
    """The story's question as one hand-written statement (no server-side prepare, as the
    server's engine), timed from execute to the last row; or the story's own ``floor_run``."""
    def run() -> list:
        if story.floor_run is not None:
            return story.floor_run(conn)
        return conn.execute(story.floor_sql, story.floor_params).fetchall()

    if story.before is not None:
        story.before()
    wrong = story.floor_expect(run())
    if wrong:
        raise SystemExit(f"{story.key}. SQL floor: unexpected answer {wrong}")
    return measure(run, runs, warmup=2, budget_s=budget, min_runs=5)


# -- output ------------------------------------------------------------------------------


def ms(v: float | None) -> str:
    return "-" if v is None else fmt_ms(v / 1000)


def print_table(runs: list[Run]) -> None:
    head = (f"  {'story':<48} {'clients':>7} {'p50':>9} {'p95':>9} {'req/s':>7} {'server CPU ms/req':>17} "
            f"{'SQL floor p50':>13} {'p50/floor':>9} {'errors':>6}  target")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in runs:
        ratio = "-" if r.ratio is None else f"{r.ratio:,.1f}x"
        print(f"  {r.story + '. ' + r.label:<48} {r.clients:>7} {ms(r.p50_ms):>9} {ms(r.p95_ms):>9} "
              f"{r.rps:>7.0f} {r.server_cpu_ms_per_req:>17.2f} {ms(r.floor_p50_ms):>13} {ratio:>9} "
              f"{r.errors:>6}  {target_text(r)}")


def target_text(r: Run) -> str:
    if r.target is None:
        return ""
    return f"{r.target.describe(r.clients)}: {'met' if r.target.met(r) else 'MISSED'}"


def size_of(n_bytes: int) -> str:
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20)):
        if n_bytes >= div:
            return f"{n_bytes / div:,.1f} {unit}"
    return f"{n_bytes / 1024:,.0f} kB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True, help="a generated province (bench/generate.py), PostgreSQL")
    ap.add_argument("--requests", type=int, default=200, help="sequential requests per story (default 200)")
    ap.add_argument("--concurrent-requests", type=int, default=None,
                    help="requests per story with --clients in flight (default: twice --requests)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--workers", type=int, default=None, help="passed to `wangge serve --workers`")
    ap.add_argument("--stories", default=ALL_STORIES,
                    help=f"subset to run, e.g. 'ace' or 'a,c,e' (default {ALL_STORIES}; f-h need a database "
                         f"generated with --workflows)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds per story and mode, after which it stops early (default 30)")
    ap.add_argument("--floor-runs", type=int, default=50, help="timed runs of each SQL floor (default 50)")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write the figures to FILE")
    args = ap.parse_args(argv)
    concurrent_n = args.concurrent_requests if args.concurrent_requests is not None else 2 * args.requests
    if min(args.requests, concurrent_n, args.clients, args.floor_runs) < 1 or args.budget <= 0:
        raise SystemExit("--requests, --concurrent-requests, --clients, --floor-runs and --budget must be positive")
    if args.workers is not None and args.workers < 1:
        raise SystemExit("--workers must be positive")
    wanted = [c for c in args.stories.lower() if c not in ", "]
    if not wanted or any(c not in ALL_STORIES for c in wanted):
        raise SystemExit(f"--stories: letters among {', '.join(ALL_STORIES)}")
    url = args.database_url
    if backend_of(url) != "postgresql":
        raise SystemExit("bench.pipeline runs on PostgreSQL only (its SQL floor goes through psycopg)")

    engine = make_sync_engine(url)
    with engine.connect() as conn:
        picks = pick_areas(conn)
        n_res = conn.execute(text("SELECT count(*) FROM resident")).scalar()
        db_bytes = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        pg_version = conn.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    secret = secrets.token_hex(32)
    # story f's households: its warm-up, both runs and its floor's (each request writes)
    n_visits = WARMUP + args.requests + concurrent_n + args.floor_runs + 3 if "f" in wanted else 0
    survey_wanted = any(c in wanted for c in "fgh")
    tokens, counters, survey = make_tokens(url, picks, secret, n_visits if survey_wanted else None)
    if survey_wanted and survey is None:
        raise SystemExit(f"stories f-h need an open survey campaign of city {picks.city}: generate the database "
                         f"with bench.generate --workflows (or leave f, g, h out of --stories)")
    if survey is not None and len(survey.visits) < n_visits:
        raise SystemExit(f"story f needs {n_visits} households not yet reached, the city has "
                         f"{len(survey.visits)} left in its {VISIT_GRIDS} fullest grids")
    chosen = [s for s in stories(picks, counters, survey, url) if s.key in wanted]

    workers_txt = f"--workers {args.workers}" if args.workers is not None else "1 process"
    machine = machine_line()
    print(f"bench.pipeline on {describe_url(url)} (PostgreSQL {pg_version}): database {size_of(db_bytes)}, "
          f"{n_res:,} residents")
    print(f"  {machine}")
    print(f"  city {picks.city} ({counters[picks.city][2]:,} active), province {picks.province} "
          f"({counters[picks.province][2]:,} active), street {picks.street}, grid {picks.grid}")
    if survey is not None:
        print(f"  survey campaign {survey.campaign} of the city; story f visits {len(survey.visits):,} households "
              f"in {len(survey.tokens)} grids, one bench grid worker each")

    t_start = time.perf_counter()
    results: list[Run] = []
    floors: dict[str, Timing] = {}
    with psycopg.connect(libpq_url(url), autocommit=True, prepare_threshold=None) as pg:
        for story in chosen:
            floors[story.key] = sql_floor(pg, story, args.floor_runs, min(args.budget, 10.0))

    server = PipelineServer(url, secret, args.workers)
    ok = False
    try:
        server.wait_ready()
        print(f"  server: wangge serve ({workers_txt}) at {server.base}, pid {server.proc.pid}; "
              f"{args.requests} sequential and {concurrent_n} concurrent requests per story, "
              f"at most {args.budget:.0f} s each; CPU: utime+stime of the server process tree\n")
        for story in chosen:
            if story.before is not None:
                story.before()
            warm_up(server.base, story, tokens[story.user])
            for clients, n in ((1, args.requests), (args.clients, concurrent_n)):
                run = run_story(server, story, tokens[story.user], clients, n, args.budget)
                run.floor_p50_ms = floors[story.key].median * 1000
                results.append(run)
        ok = True
    finally:
        server.stop()
    if ok:
        Path(server.log.name).unlink(missing_ok=True)

    print_table(results)
    for r in results:
        if r.errors:
            print(f"  {r.story} ({r.clients} clients): {r.errors} failed requests; first: {r.first_error}")
    targets = [s for s in chosen if s.target is not None]
    if targets:
        print("  targets: " + "; ".join(f"{s.key} {s.target.describe(args.clients)}" for s in targets)
              + f" (p95 with {args.clients} clients)")
    print("\n  SQL floor (psycopg, sequential, p50 of up to "
          f"{args.floor_runs} runs): " + "; ".join(f"{k} {floors[k].ms()}" for k in floors))
    total = time.perf_counter() - t_start
    print(f"  total time {total:.0f} s; {machine_line()}")

    if args.json:
        figures = {
            "database": {"url": describe_url(url), "postgresql": pg_version, "bytes": db_bytes, "residents": n_res},
            "machine": machine, "machine_after": machine_line(), "server": workers_txt,
            "areas": {"province": picks.province, "city": picks.city, "street": picks.street, "grid": picks.grid},
            "options": {"requests": args.requests, "concurrent_requests": concurrent_n, "clients": args.clients,
                        "budget_s": args.budget, "floor_runs": args.floor_runs},
            "runs": [{"story": r.story, "label": r.label, "clients": r.clients, "requests": r.requests,
                      "errors": r.errors, "seconds": round(r.seconds, 3), "p50_ms": round(r.p50_ms, 3),
                      "p95_ms": round(r.p95_ms, 3), "rps": round(r.rps, 1),
                      "server_cpu_ms_per_req": round(r.server_cpu_ms_per_req, 3),
                      "floor_p50_ms": round(r.floor_p50_ms, 3) if r.floor_p50_ms else None,
                      "target": r.target.describe(r.clients) if r.target else None,
                      "target_met": r.target.met(r) if r.target else None,
                      "p50_over_floor": round(r.ratio, 2) if r.ratio else None} for r in results],
            "floors": {k: {"sql": next(s.floor_sql for s in chosen if s.key == k), "p50_ms": t.median * 1000,
                           "p95_ms": t.p95 * 1000, "n": t.n} for k, t in floors.items()},
            "total_s": round(total, 1),
        }
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"  figures written to {args.json}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
