"""The ledger's input rules: every bad field named at once, nothing written on any error,
a stale version is CONFLICT, one follow-up per day inside the period."""

from __future__ import annotations

from datetime import timedelta

from db.returnee import FollowUp
from registry_support import GRID, gid, rows
from returnee_support import free_residents, Clock, counters, ledger_rows, mutate, opening


def _fields(done) -> list[tuple[str, str]]:
    return sorted((e["field"], e["code"]) for e in done["errors"])


def _open(api, session, clock, **extra):
    resident = free_residents(session, GRID)[0]
    return mutate(api, "openReturnee", opening(gid("Resident", resident.id), clock.today, **extra), "grid_worker")


def test_every_bad_field_of_an_opening_is_named_and_nothing_is_written(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    before = ledger_rows(sync_session), counters(sync_session, GRID, clock.today)
    t = clock.today
    done = _open(api, sync_session, clock, origin="湖" * 101, transportNumber="G" * 21, followUpDays=61,
                 departedOn=(t + timedelta(days=2)).isoformat(), arrivedOn=(t + timedelta(days=1)).isoformat())
    assert done["returnee"] is None
    assert set(_fields(done)) == {("arrivedOn", "BAD_USER_INPUT"), ("departedOn", "BAD_USER_INPUT"),
                                  ("followUpDays", "BAD_USER_INPUT"), ("origin", "BAD_USER_INPUT"),
                                  ("transportNumber", "BAD_USER_INPUT")}  # arrivedOn twice: future, before departure
    out_of_order = _open(api, sync_session, clock, departedOn=t.isoformat(),
                         arrivedOn=(t - timedelta(days=1)).isoformat())
    assert _fields(out_of_order) == [("arrivedOn", "BAD_USER_INPUT")]
    assert "departure" in out_of_order["errors"][0]["message"]
    no_days = _open(api, sync_session, clock, followUpDays=0)
    assert _fields(no_days) == [("followUpDays", "BAD_USER_INPUT")]
    resident = free_residents(sync_session, GRID)[0]
    before_birth = _open(api, sync_session, clock, departedOn=(resident.birth_date - timedelta(days=3)).isoformat(),
                         arrivedOn=(resident.birth_date - timedelta(days=1)).isoformat())
    assert _fields(before_birth) == [("arrivedOn", "BAD_USER_INPUT")] and "birth" in before_birth["errors"][0]["message"]
    assert (ledger_rows(sync_session), counters(sync_session, GRID, clock.today)) == before


def test_follow_ups_one_a_day_in_range_inside_the_period(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    entry = _open(api, sync_session, clock, followUpDays=3)["returnee"]  # arrived 3 days ago: today is the last day
    rid = entry["id"]
    for temperature in (33.9, 43.1):
        done = mutate(api, "recordFollowUp", {"returneeId": rid, "health": "WELL", "temperature": temperature},
                      "grid_worker")
        assert _fields(done) == [("temperature", "BAD_USER_INPUT")] and done["followUp"] is None
    long_note = mutate(api, "recordFollowUp", {"returneeId": rid, "health": "WELL", "temperature": 50.0,
                                               "note": "x" * 201}, "grid_worker")
    assert _fields(long_note) == [("note", "BAD_USER_INPUT"), ("temperature", "BAD_USER_INPUT")]
    assert rows(sync_session, FollowUp, FollowUp.returnee_id == int(_db_id(rid))) == []

    first = mutate(api, "recordFollowUp", {"returneeId": rid, "health": "WELL", "temperature": 34.0}, "grid_worker")
    assert first["errors"] == [] and first["followUp"]["temperature"] == 34.0
    fevers = counters(sync_session, GRID, clock.today)
    second = mutate(api, "recordFollowUp", {"returneeId": rid, "health": "FEVER", "temperature": 38.0}, "grid_worker")
    assert _fields(second) == [("on", "BAD_USER_INPUT")]
    assert counters(sync_session, GRID, clock.today) == fevers  # the refused one counted nothing

    clock.next_day()  # past the period's last day
    late = mutate(api, "recordFollowUp", {"returneeId": rid, "health": "WELL"}, "grid_worker")
    assert _fields(late) == [("on", "BAD_USER_INPUT")] and "period" in late["errors"][0]["message"]


def test_a_stale_version_is_a_conflict_and_updates_keep_the_period_whole(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    entry = _open(api, sync_session, clock)["returnee"]
    rid, v = entry["id"], entry["version"]
    changed = mutate(api, "updateReturnee", {"id": rid, "version": v, "origin": "北京市朝阳区", "transport": "PLANE",
                                             "transportNumber": None}, "grid_worker")
    assert changed["errors"] == [] and changed["returnee"]["version"] == v + 1
    assert changed["returnee"]["transport"] == "PLANE" and changed["returnee"]["transportNumber"] is None
    stale = mutate(api, "updateReturnee", {"id": rid, "version": v, "origin": "上海市"}, "grid_worker")
    assert [e["code"] for e in stale["errors"]] == ["CONFLICT"]
    stale_close = mutate(api, "closeReturnee", {"id": rid, "version": v, "status": "COMPLETED"}, "grid_worker")
    assert [e["code"] for e in stale_close["errors"]] == ["CONFLICT"]

    v += 1
    longer = mutate(api, "updateReturnee", {"id": rid, "version": v, "followUpDays": 20}, "grid_worker")
    assert longer["errors"] == [] and longer["returnee"]["followUpUntil"] == (
        clock.today - timedelta(days=3) + timedelta(days=20)).isoformat()
    v += 1
    mutate(api, "recordFollowUp", {"returneeId": rid, "health": "WELL"}, "grid_worker")
    after = mutate(api, "updateReturnee", {"id": rid, "version": v, "arrivedOn": (clock.today + timedelta(days=1)).isoformat(),
                                           "departedOn": (clock.today - timedelta(days=10)).isoformat()}, "grid_worker")
    assert set(_fields(after)) == {("arrivedOn", "BAD_USER_INPUT")}  # in the future, and after today's follow-up
    later = mutate(api, "updateReturnee", {"id": rid, "version": v, "departedOn": clock.today.isoformat()},
                   "grid_worker")
    assert _fields(later) == [("departedOn", "BAD_USER_INPUT")]  # now after the arrival
    shorter = mutate(api, "updateReturnee", {"id": rid, "version": v, "followUpDays": 1}, "grid_worker")
    assert _fields(shorter) == [("followUpDays", "BAD_USER_INPUT")]  # today's follow-up would fall outside
    cleared = mutate(api, "updateReturnee", {"id": rid, "version": v, "arrivedOn": None}, "grid_worker")
    assert _fields(cleared) == [("arrivedOn", "BAD_USER_INPUT")]

    second = mutate(api, "openReturnee", opening(entry["resident"]["id"], clock.today), "grid_worker")
    assert _fields(second) == [("residentId", "BAD_USER_INPUT")]  # one open entry per resident


def _db_id(global_id: str) -> str:
    from strawberry.relay import from_base64

    return from_base64(global_id)[1]


def test_an_entry_opened_without_dates_arrived_today(api, sync_session, monkeypatch):
    clock = Clock(monkeypatch)
    resident = free_residents(sync_session, GRID)[0]
    done = mutate(api, "openReturnee", {"residentId": gid("Resident", resident.id), "origin": "广东省深圳市",
                                        "transport": "CAR"}, "grid_worker")
    assert done["errors"] == []
    entry = done["returnee"]
    assert entry["arrivedOn"] == entry["departedOn"] == clock.today.isoformat()
    assert entry["followUpUntil"] == (clock.today + timedelta(days=14)).isoformat() and entry["fromKeyArea"] is False
    late = mutate(api, "openReturnee", {"residentId": gid("Resident", free_residents(sync_session, GRID)[0].id),
                                        "origin": "北京市", "transport": "CAR",
                                        "departedOn": (clock.today + timedelta(days=1)).isoformat()}, "grid_worker")
    assert set(_fields(late)) == {("departedOn", "BAD_USER_INPUT"), ("arrivedOn", "BAD_USER_INPUT")}
