"""The returnee ledger over HTTP, as a grid's week goes: opened, followed up day by day,
due and overdue lists moving, a fever counted, seen by each office as its duty allows,
and refused to the neighbouring grid's worker. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import random

from sqlalchemy import select

from db.audit import AuditEvent
from db.counters_recount import recount
from db.registry import Resident
from db.returnee import FollowUp, Returnee
from registry_support import GRID, NEIGHBOUR, fresh, gid, rows
from returnee_support import free_residents, NODE, Clock, counters, ids, ledger_rows, listed, mutate, opening

COMMUNITY = GRID[:12]


def _open(api, session, clock, grid=GRID, user="grid_worker", **extra) -> dict:
    resident = free_residents(session, grid)[0]
    done = mutate(api, "openReturnee", opening(gid("Resident", resident.id), clock.today, **extra), user)
    assert done["errors"] == [], done["errors"]
    return done["returnee"]


def test_a_week_of_follow_ups_in_one_grid(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    day0 = clock.today
    before = counters(sync_session, GRID, day0)

    entry = _open(api, sync_session, clock)
    assert entry["status"] == "FOLLOWING_UP" and entry["areaCode"] == GRID
    assert entry["origin"] == "湖北省武汉市" and entry["transportNumber"] == "G1234"  # the worker reads in full
    assert entry["followUpDays"] == 14 and entry["resident"]["name"] and entry["followUps"] == []
    assert counters(sync_session, GRID, day0)["returnees_following"] == before["returnees_following"] + 1

    # arrived three days ago, nothing recorded: due today, and overdue (yesterday was missed)
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", dueToday=True))
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", overdue=True))
    assert entry["id"] in ids(listed(api, COMMUNITY, "community_staff", status="FOLLOWING_UP", fromKeyArea=True))
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker", fromKeyArea=False))

    done = mutate(api, "recordFollowUp", {"returneeId": entry["id"], "health": "WELL", "temperature": 36.6,
                                          "note": "居家观察"}, "grid_worker")
    assert done["errors"] == [] and done["followUp"]["on"] == day0.isoformat()
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker", dueToday=True))  # done for today
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", dueToday=False))
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", overdue=True))  # yesterday is still missed

    day1 = clock.next_day()  # the next morning: due again, and no longer overdue
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", dueToday=True))
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker", overdue=True))
    fever = mutate(api, "recordFollowUp", {"returneeId": entry["id"], "health": "FEVER", "temperature": 38.2},
                   "grid_worker")
    assert fever["errors"] == []
    assert counters(sync_session, GRID, day1)["follow_up_fevers"] == before["follow_up_fevers"] + 1
    assert counters(sync_session, GRID, day1)["follow_ups"] == 1
    assert counters(sync_session, GRID, day0)["follow_ups"] == before["follow_ups"] + 1

    clock.next_day()
    clock.next_day()  # a day missed: overdue
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", overdue=True))

    node = api.data(NODE, {"id": entry["id"]}, user="community_staff")["node"]
    assert [f["on"] for f in node["followUps"]] == [day1.isoformat(), day0.isoformat()]  # newest first
    assert node["followUps"][0]["health"] == "fever" and node["followUps"][0]["temperature"] == 38.2

    # the city's officer sees the entry, masked: no origin, train number or health answers
    masked = api.data(NODE, {"id": entry["id"]}, user="city_officer")["node"]
    assert masked["origin"] == "****" and masked["transportNumber"] == "****"
    assert masked["arrivedOn"] == entry["arrivedOn"] and masked["fromKeyArea"] is True
    assert masked["resident"]["name"] != entry["resident"]["name"]
    assert all(f["health"] is None and f["temperature"] is None for f in masked["followUps"])
    assert masked["followUps"][1]["note"] == "****"
    assert entry["id"] in ids(listed(api, GRID, "city_officer", dueToday=True))

    # the province's analyst: figures only, never an entry
    assert api.data(NODE, {"id": entry["id"]}, user="province_analyst")["node"] is None
    assert listed(api, "23", "province_analyst") == []

    closed = mutate(api, "closeReturnee", {"id": entry["id"], "version": node["version"], "status": "COMPLETED"},
                    "grid_worker")
    assert closed["errors"] == [] and closed["returnee"]["status"] == "COMPLETED"
    assert counters(sync_session, GRID, day0)["returnees_following"] == before["returnees_following"]
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker", dueToday=True))
    late = mutate(api, "recordFollowUp", {"returneeId": entry["id"], "health": "WELL"}, "grid_worker")
    assert [(e["field"], e["code"]) for e in late["errors"]] == [("returneeId", "BAD_USER_INPUT")]

    actions = [a.action for a in rows(sync_session, AuditEvent, AuditEvent.action.like("returnee.%"))]
    assert actions == ["returnee.open", "returnee.follow_up", "returnee.follow_up", "returnee.close"]
    assert recount(fresh(sync_session)) == []


def test_the_neighbouring_grids_worker_can_neither_read_nor_change(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    entry = _open(api, sync_session, clock, grid=NEIGHBOUR, user="community_staff")
    assert api.data(NODE, {"id": entry["id"]}, user="grid_worker")["node"] is None
    assert entry["id"] not in ids(listed(api, COMMUNITY, "grid_worker"))
    assert entry["id"] in ids(listed(api, COMMUNITY, "community_staff"))

    before = ledger_rows(sync_session), rows(sync_session, FollowUp), counters(sync_session, NEIGHBOUR, clock.today)
    attempts = [
        ("updateReturnee", {"id": entry["id"], "version": entry["version"], "origin": "北京市"}),
        ("recordFollowUp", {"returneeId": entry["id"], "health": "WELL"}),
        ("closeReturnee", {"id": entry["id"], "version": entry["version"], "status": "MOVED_AWAY"}),
        ("removeReturnee", {"id": entry["id"], "version": entry["version"], "reason": "错录"}),
        ("openReturnee", opening(gid("Resident", free_residents(sync_session, NEIGHBOUR)[1].id),
                                 clock.today)),
    ]
    for name, input in attempts:
        done = mutate(api, name, input, "grid_worker")
        assert {e["code"] for e in done["errors"]} <= {"NOT_FOUND", "FORBIDDEN"} and done["errors"], (name, done)
    after = ledger_rows(sync_session), rows(sync_session, FollowUp), counters(sync_session, NEIGHBOUR, clock.today)
    assert [r[0] for r in after[0]] == [r[0] for r in before[0]] and after[0] == before[0]
    assert len(after[1]) == len(before[1]) and after[2] == before[2]


def test_soft_removal_keeps_the_entry_out_of_lists_and_counts(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    entry = _open(api, sync_session, clock)
    following = counters(sync_session, GRID, clock.today)["returnees_following"]
    no_reason = mutate(api, "removeReturnee", {"id": entry["id"], "version": entry["version"], "reason": " "},
                       "grid_worker")
    assert [(e["field"], e["code"]) for e in no_reason["errors"]] == [("reason", "BAD_USER_INPUT")]

    done = mutate(api, "removeReturnee", {"id": entry["id"], "version": entry["version"], "reason": "重复登记"},
                  "grid_worker")
    assert done["errors"] == [] and done["returnee"]["removedAt"] and done["returnee"]["removedReason"] == "重复登记"
    assert counters(sync_session, GRID, clock.today)["returnees_following"] == following - 1
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker"))
    assert entry["id"] not in ids(listed(api, GRID, "grid_worker", dueToday=True))
    assert entry["id"] in ids(listed(api, GRID, "grid_worker", includeRemoved=True))
    assert api.data(NODE, {"id": entry["id"]}, user="grid_worker")["node"]["removedReason"] == "重复登记"

    again = mutate(api, "removeReturnee", {"id": entry["id"], "version": done["returnee"]["version"],
                                           "reason": "再次删除"}, "grid_worker")
    assert [(e["field"], e["code"]) for e in again["errors"]] == [("id", "BAD_USER_INPUT")]
    follow = mutate(api, "recordFollowUp", {"returneeId": entry["id"], "health": "WELL"}, "grid_worker")
    assert [(e["field"], e["code"]) for e in follow["errors"]] == [("returneeId", "BAD_USER_INPUT")]
    # officers cannot remove: read only
    stale = rows(sync_session, Returnee, Returnee.area_code == GRID, Returnee.removed_at.is_(None))[0]
    refused = mutate(api, "removeReturnee", {"id": gid("Returnee", stale.id), "version": stale.version,
                                             "reason": "错录"}, "city_officer")
    assert {e["code"] for e in refused["errors"]} == {"FORBIDDEN"}
    # the resident may be opened again once the entry is gone
    assert _open(api, sync_session, clock)["id"] != entry["id"]
    assert recount(fresh(sync_session)) == []


def test_random_writes_through_the_api_leave_no_counter_drift(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    rng = random.Random(4)
    people = rows(sync_session, Resident, Resident.area_code.startswith(COMMUNITY), Resident.status == "active")
    open_ids = {r.resident_id for r in rows(sync_session, Returnee, Returnee.status == "following_up",
                                            Returnee.removed_at.is_(None))}
    people = [p for p in people if p.id not in open_ids]
    entries: list[dict] = []
    for step in range(40):
        action = rng.choice(["open", "open", "follow", "follow", "follow", "close", "remove", "day"])
        if action == "open" and people:
            person = people.pop(rng.randrange(len(people)))
            done = mutate(api, "openReturnee", opening(gid("Resident", person.id), clock.today,
                                                       fromKeyArea=rng.random() < 0.5), "community_staff")
            assert done["errors"] == [], done["errors"]
            entries.append(done["returnee"])
        elif action == "day":
            clock.next_day()
        elif entries:
            entry = rng.choice(entries)
            current = api.data(NODE, {"id": entry["id"]}, user="community_staff")["node"]
            if action == "follow":
                mutate(api, "recordFollowUp", {"returneeId": entry["id"], "health": rng.choice(["WELL", "FEVER"]),
                                               "temperature": 36.5}, "community_staff")
            elif action == "close":
                mutate(api, "closeReturnee", {"id": entry["id"], "version": current["version"],
                                              "status": rng.choice(["COMPLETED", "MOVED_AWAY"])}, "community_staff")
            else:
                mutate(api, "removeReturnee", {"id": entry["id"], "version": current["version"], "reason": "错录"},
                       "community_staff")
    assert entries
    assert recount(fresh(sync_session)) == []


def test_a_resident_who_moved_keeps_one_open_entry(api, sync_session, monkeypatch):
    """The entry stays in the grid they left; the new grid cannot open a second one."""
    from db.registry import Household
    from registry_support import mutate as registry_mutate

    clock = Clock(monkeypatch)
    entry = _open(api, sync_session, clock, grid=NEIGHBOUR, user="community_staff")
    following = counters(sync_session, GRID, clock.today)["returnees_following"]
    resident = api.data(NODE, {"id": entry["id"]}, user="community_staff")["node"]["resident"]
    version = rows(sync_session, Resident, Resident.id == _resident_key(resident["id"]))[0].version
    target = rows(sync_session, Household, Household.area_code == GRID)[0]
    moved = registry_mutate(api, "moveResident", {"id": resident["id"], "version": version,
                                                  "householdId": gid("Household", target.id)}, "community_staff")
    assert moved["errors"] == [], moved["errors"]
    again = mutate(api, "openReturnee", opening(resident["id"], clock.today), "grid_worker")
    assert [e["field"] for e in again["errors"]] == ["residentId"]
    assert counters(sync_session, GRID, clock.today)["returnees_following"] == following
    assert recount(fresh(sync_session)) == []


def _resident_key(global_id: str) -> int:
    import base64

    return int(base64.b64decode(global_id).decode().split(":")[1])
