"""Isolation over HTTP: a returnee from a key area isolated at home with a paper seal, two days
of morning and evening readings (one fever alert, acknowledged), a delivery and the release;
a full central site refusing one more; and the neighbouring grid's worker refused everything.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select

from db.audit import AuditEvent
from db.counters import DEFAULT_ZONE, local_day
from db.counters_recount import recount
from db.isolation import Isolation, TemperatureReading
from db.registry import Resident
from db.stats import GridStats
from registry_support import GRID, NEIGHBOUR, fresh, gid, rows

ERRORS = "errors { field message code }"
ISOLATION = ("id version areaCode kind reason seal sealedAt status startsOn plannedEnd alertOpen endReason "
             "resident { name } site { name } readings { id celsius window alert acknowledgedAt } "
             "deliveries { items }")
RESULTS = {"startIsolation": f"isolation {{ {ISOLATION} }}", "endIsolation": f"isolation {{ {ISOLATION} }}",
           "recordReading": "reading { id on window celsius alert }", "recordDelivery": "delivery { id items }",
           "acknowledgeAlert": "reading { id acknowledgedAt acknowledgement }",
           "openIsolationSite": "site { id name capacity version }",
           "updateIsolationSite": "site { id capacity version }"}
ZONE = ZoneInfo(DEFAULT_ZONE)


def mutate(api, name: str, input: dict, user: str) -> dict:
    body = api.query(f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) "
                     f"{{ {RESULTS[name]} {ERRORS} }} }}", {"i": input}, user=user)
    assert not body.get("errors"), body["errors"]
    return body["data"][name]


def _free(session, grid: str) -> list[Resident]:
    fresh(session)
    isolated = set(session.scalars(select(Isolation.resident_id).where(Isolation.status == "active")))
    return [r for r in rows(session, Resident, Resident.area_code == grid, Resident.status == "active")
            if r.id not in isolated]


def _at(day, hour: int) -> str:
    return datetime.combine(day, time(hour, 0), ZONE).isoformat()


def _counts(session, grid: str) -> tuple[int, int, int]:
    fresh(session)
    row = session.get(GridStats, grid)
    return (row.isolated_home, row.isolated_central, row.isolation_alerts_open) if row else (0, 0, 0)


def test_home_isolation_from_seal_to_release(api, sync_session):
    today = local_day(DEFAULT_ZONE)
    person = _free(sync_session, GRID)[0]
    before = _counts(sync_session, GRID)
    started = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                             "reason": "KEY_AREA_RETURNEE", "seal": "PAPER",
                                             "startsOn": (today - timedelta(days=2)).isoformat()}, "community_staff")
    assert started["errors"] == [], started["errors"]
    record = started["isolation"]
    assert record["seal"] == "PAPER" and record["sealedAt"] and record["status"] == "ACTIVE"
    assert record["plannedEnd"] == (today + timedelta(days=12)).isoformat()
    assert _counts(sync_session, GRID) == (before[0] + 1, before[1], before[2])
    twice = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                           "reason": "OTHER"}, "community_staff")
    assert [e["field"] for e in twice["errors"]] == ["residentId"]

    fever = None
    for offset in (2, 1):
        day = today - timedelta(days=offset)
        for hour, celsius in ((8, 36.5), (19, 37.8 if offset == 1 else 36.7)):
            done = mutate(api, "recordReading", {"isolationId": record["id"], "celsius": celsius,
                                                 "at": _at(day, hour)}, "community_staff")
            assert done["errors"] == [], done["errors"]
            assert done["reading"]["window"] == ("MORNING" if hour == 8 else "EVENING")
            if done["reading"]["alert"]:
                fever = done["reading"]
    assert fever is not None and fever["celsius"] == 37.8
    assert _counts(sync_session, GRID)[2] == before[2] + 1
    too_hot = mutate(api, "recordReading", {"isolationId": record["id"], "celsius": 43.5}, "community_staff")
    assert [e["field"] for e in too_hot["errors"]] == ["celsius"]
    before_start = mutate(api, "recordReading", {"isolationId": record["id"], "celsius": 36.5,
                                                 "at": _at(today - timedelta(days=3), 8)}, "community_staff")
    assert [e["field"] for e in before_start["errors"]] == ["at"]

    listed = api.data("query($c: String!) { area(code: $c) { isolations(filter: {alertOpen: true}, first: 50) "
                      "{ edges { node { id } } } } }", {"c": GRID}, user="grid_worker")
    assert record["id"] in {e["node"]["id"] for e in listed["area"]["isolations"]["edges"]}
    ack = mutate(api, "acknowledgeAlert", {"readingId": fever["id"], "note": "已电话询问，复测36.9"}, "community_staff")
    assert ack["errors"] == [] and ack["reading"]["acknowledgedAt"]
    assert _counts(sync_session, GRID)[2] == before[2]
    again = mutate(api, "acknowledgeAlert", {"readingId": fever["id"], "note": "再次"}, "community_staff")
    assert [e["field"] for e in again["errors"]] == ["readingId"]

    delivered = mutate(api, "recordDelivery", {"isolationId": record["id"], "items": "米、油、蔬菜"}, "community_staff")
    assert delivered["errors"] == []
    early = mutate(api, "endIsolation", {"id": record["id"], "version": record["version"] + 2, "status": "RELEASED"},
                   "community_staff")
    assert [e["field"] for e in early["errors"]] == ["reason"]  # before the planned end: say why
    node = api.data("query($id: ID!) { node(id: $id) { ... on Isolation { version } } }", {"id": record["id"]},
                    user="community_staff")["node"]
    released = mutate(api, "endIsolation", {"id": record["id"], "version": node["version"], "status": "RELEASED",
                                            "reason": "核酸检测阴性，经评估提前解除"}, "community_staff")
    assert released["errors"] == [], released["errors"]
    final = released["isolation"]
    assert final["status"] == "RELEASED" and len(final["readings"]) == 4 and final["deliveries"][0]["items"] == "米、油、蔬菜"
    assert _counts(sync_session, GRID) == before

    # the city's officer reads the record masked: no reason, no temperatures
    masked = api.data("query($id: ID!) { node(id: $id) { ... on Isolation { %s } } }" % ISOLATION,
                      {"id": record["id"]}, user="city_officer")["node"]
    assert masked["reason"] is None and {r["celsius"] for r in masked["readings"]} == {None}
    assert masked["endReason"] == "****"
    assert api.data("query($id: ID!) { node(id: $id) { id } }", {"id": record["id"]}, user="province_analyst")["node"] is None
    assert recount(fresh(sync_session)) == []


def test_a_full_central_site_refuses_one_more(api, sync_session):
    opened = mutate(api, "openIsolationSite", {"areaCode": GRID[:6], "name": "临时隔离点", "address": "道里区河图街2号",
                                               "capacity": 1}, "district_admin")
    assert opened["errors"] == []
    site = opened["site"]
    first, second = _free(sync_session, GRID)[:2]
    placed = mutate(api, "startIsolation", {"residentId": gid("Resident", first.id), "kind": "CENTRAL",
                                            "reason": "CLOSE_CONTACT", "siteId": site["id"]}, "community_staff")
    assert placed["errors"] == [] and placed["isolation"]["site"]["name"] == "临时隔离点"
    full = mutate(api, "startIsolation", {"residentId": gid("Resident", second.id), "kind": "CENTRAL",
                                          "reason": "CLOSE_CONTACT", "siteId": site["id"]}, "community_staff")
    assert [e["field"] for e in full["errors"]] == ["siteId"] and "full" in full["errors"][0]["message"]
    shrink = mutate(api, "updateIsolationSite", {"id": site["id"], "version": site["version"], "capacity": 0},
                    "district_admin")
    assert [e["field"] for e in shrink["errors"]] == ["capacity"]
    home_with_site = mutate(api, "startIsolation", {"residentId": gid("Resident", second.id), "kind": "HOME",
                                                    "reason": "OTHER", "siteId": site["id"]}, "community_staff")
    assert [e["field"] for e in home_with_site["errors"]] == ["siteId"]
    assert rows(sync_session, Isolation, Isolation.resident_id == second.id) == []  # nothing written


def test_the_neighbouring_grids_worker_can_do_none_of_it(api, sync_session):
    person = _free(sync_session, NEIGHBOUR)[0]
    started = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                             "reason": "CLOSE_CONTACT"}, "community_staff")
    record = started["isolation"]
    reading = mutate(api, "recordReading", {"isolationId": record["id"], "celsius": 38.0}, "community_staff")["reading"]
    before = rows(sync_session, Isolation), rows(sync_session, TemperatureReading), len(rows(sync_session, AuditEvent))
    assert api.data("query($id: ID!) { node(id: $id) { id } }", {"id": record["id"]}, user="grid_worker")["node"] is None
    listed = api.data("query($c: String!) { area(code: $c) { isolations(first: 50) { edges { node { id } } } } }",
                      {"c": GRID[:12]}, user="grid_worker")["area"]["isolations"]["edges"]
    assert record["id"] not in {e["node"]["id"] for e in listed}
    attempts = [
        ("recordReading", {"isolationId": record["id"], "celsius": 36.6}),
        ("acknowledgeAlert", {"readingId": reading["id"], "note": "已处理"}),
        ("recordDelivery", {"isolationId": record["id"], "items": "米"}),
        ("endIsolation", {"id": record["id"], "version": 2, "status": "RELEASED", "reason": "提前"}),
        ("startIsolation", {"residentId": gid("Resident", _free(sync_session, NEIGHBOUR)[0].id), "kind": "HOME",
                            "reason": "OTHER"}),
    ]
    for name, input in attempts:
        done = mutate(api, name, input, "grid_worker")
        assert done["errors"] and {e["code"] for e in done["errors"]} <= {"NOT_FOUND", "FORBIDDEN"}, (name, done)
    after = rows(sync_session, Isolation), rows(sync_session, TemperatureReading), len(rows(sync_session, AuditEvent))
    assert [(r.id, r.version, r.status) for r in after[0]] == [(r.id, r.version, r.status) for r in before[0]]
    assert len(after[1]) == len(before[1]) and after[2] == before[2]


def test_an_active_isolation_follows_its_person_to_another_grid(api, sync_session):
    from db.registry import Household

    person = _free(sync_session, NEIGHBOUR)[0]
    started = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                             "reason": "CLOSE_CONTACT"}, "community_staff")["isolation"]
    before = _counts(sync_session, NEIGHBOUR), _counts(sync_session, GRID)
    target = rows(sync_session, Household, Household.area_code == GRID)[0]
    version = rows(sync_session, Resident, Resident.id == person.id)[0].version
    body = api.query("mutation($i: MoveResidentInput!) { moveResident(input: $i) { errors { field code } } }",
                     {"i": {"id": gid("Resident", person.id), "version": version,
                            "householdId": gid("Household", target.id)}}, user="community_staff")
    assert body["data"]["moveResident"]["errors"] == []
    moved = rows(sync_session, Isolation, Isolation.resident_id == person.id, Isolation.status == "active")[0]
    assert moved.area_code == GRID and moved.version == started["version"] + 1
    assert _counts(sync_session, NEIGHBOUR)[0] == before[0][0] - 1 and _counts(sync_session, GRID)[0] == before[1][0] + 1
    # now in the grid worker's grid: theirs to follow up
    assert api.data("query($id: ID!) { node(id: $id) { id } }", {"id": started["id"]}, user="grid_worker")["node"]
    assert recount(fresh(sync_session)) == []


def test_the_missed_list_empties_when_the_window_is_read(api, sync_session):
    from db.base import utcnow
    from resolvers.isolation import Windows
    from db.isolation import DEFAULT_READING_WINDOWS

    windows = Windows(DEFAULT_ZONE, DEFAULT_READING_WINDOWS)
    day, window = windows.last_closed(utcnow())
    query = ("query($c: String!, $f: IsolationFilterInput) { area(code: $c) { isolations(filter: $f, first: 100) "
             "{ edges { node { id startsOn } } } } }")
    person = _free(sync_session, GRID)[0]
    started = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                             "reason": "CLOSE_CONTACT", "startsOn": day.isoformat()},
                     "community_staff")["isolation"]

    def listed(missed: bool) -> list[str]:
        found = api.data(query, {"c": GRID, "f": {"missed": missed}}, user="grid_worker")
        return [e["node"]["id"] for e in found["area"]["isolations"]["edges"]]

    assert started["id"] in listed(True) and started["id"] not in listed(False)
    hour = 9 if window == "morning" else 19
    done = mutate(api, "recordReading", {"isolationId": started["id"], "celsius": 36.6, "at": _at(day, hour)},
                  "grid_worker")
    assert done["errors"] == [] and done["reading"]["window"] == window.upper()
    assert started["id"] not in listed(True) and started["id"] in listed(False)


def test_reading_windows_cut_the_local_day():
    from resolvers.isolation import Windows

    windows = Windows("Asia/Shanghai", "06:00-12:00,16:00-22:00")
    shanghai = ZoneInfo("Asia/Shanghai")
    on = datetime(2026, 3, 2, 7, 30, tzinfo=shanghai)
    assert windows.of(on) == (on.date(), "morning")
    assert windows.of(on.replace(hour=13)) == (on.date(), None)
    assert windows.of(on.replace(hour=21, minute=59)) == (on.date(), "evening")
    assert windows.last_closed(on) == (on.date() - timedelta(days=1), "evening")
    assert windows.last_closed(on.replace(hour=12)) == (on.date(), "morning")
    assert windows.last_closed(on.replace(hour=23)) == (on.date(), "evening")


def test_the_due_list_holds_who_has_no_reading_in_the_open_window(api, sync_session):
    from db.base import utcnow
    from db.isolation import DEFAULT_READING_WINDOWS
    from resolvers.isolation import Windows

    _day, window = Windows(DEFAULT_ZONE, DEFAULT_READING_WINDOWS).of(utcnow())
    person = _free(sync_session, GRID)[0]
    started = mutate(api, "startIsolation", {"residentId": gid("Resident", person.id), "kind": "HOME",
                                             "reason": "CLOSE_CONTACT"}, "community_staff")["isolation"]
    query = ("query($c: String!) { area(code: $c) { isolations(filter: {dueNow: true}, first: 100) "
             "{ edges { node { id } } } } }")

    def due() -> list[str]:
        return [e["node"]["id"] for e in api.data(query, {"c": GRID}, user="grid_worker")["area"]["isolations"]["edges"]]

    if window is None:  # between the windows nobody is due
        assert due() == []
        return
    assert started["id"] in due()
    assert mutate(api, "recordReading", {"isolationId": started["id"], "celsius": 36.4}, "grid_worker")["errors"] == []
    assert started["id"] not in due()
