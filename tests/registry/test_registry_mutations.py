"""The registry's write side over HTTP: every mutation, its checks, its counters and audit.

Each test runs on its own copy of the seeded demo database (SQLite and PostgreSQL); what
the API did is checked in the database itself through ``sync_session``.
"""

from __future__ import annotations

import asyncio
import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, update

from db.accounts import AreaGrant, User
from db.counters_recount import count_from_rows, recount
from db.counters import DEFAULT_ZONE, local_day
from db.registry import Building, Household, Resident
from db.stats import GridStats
from registry_support import (
    GRID,
    NEIGHBOUR,
    OTHER_CITY_GRID,
    TEAM_GRID,
    audit_rows,
    first_building,
    first_household,
    first_resident,
    fresh,
    gid,
    make_id_number,
    mutate,
    mutation_text,
    rows,
    snapshot,
    stats,
)

TODAY = local_day(DEFAULT_ZONE)  # "today" as the server means it: the deployment's zone


def user_id(session, username: str) -> int:
    return fresh(session).scalar(select(User.id).where(User.username == username))


def codes(payload: dict) -> list[tuple[str | None, str]]:
    return [(e["field"], e["code"]) for e in payload["errors"]]


# --- happy paths ----------------------------------------------------------------------


def test_create_building_household_resident(api, sync_session):
    before = stats(sync_session, GRID)
    b = mutate(api, "createBuilding", {"areaCode": GRID, "name": " 9号楼 ", "units": 2, "floors": 6,
                                        "address": "乡政街9号"}, "grid_worker")
    assert b["errors"] == [] and b["building"]["name"] == "9号楼" and b["building"]["version"] == 1
    h = mutate(api, "createHousehold", {"buildingId": b["building"]["id"], "unit": "1单元", "room": "101",
                                         "address": "乡政街9号1单元101室", "kind": "TENANT"}, "grid_worker")
    assert h["errors"] == [] and h["household"]["areaCode"] == GRID
    assert h["household"]["building"]["id"] == b["building"]["id"]
    id_number = make_id_number(1, male=False)
    r = mutate(api, "createResident", {"householdId": h["household"]["id"], "name": "李梅", "idNumber": id_number,
                                        "phone": "+86 139-1234-5678", "populationKind": "FLOATING",
                                        "movedInOn": "2024-03-01"}, "grid_worker")
    assert r["errors"] == []
    res = r["resident"]
    # gender and birth date come from the ID number; the phone is stored canonically
    assert (res["gender"], res["birthDate"], res["phone"]) == ("FEMALE", "1985-04-12", "13912345678")
    assert (res["areaCode"], res["status"], res["version"], res["relationToHead"]) == (GRID, "ACTIVE", 1, "head")
    assert res["household"]["id"] == h["household"]["id"]

    after = stats(sync_session, GRID)
    assert after == {"buildings": before["buildings"] + 1, "households": before["households"] + 1,
                     "residents": before["residents"] + 1, "floating_residents": before["floating_residents"] + 1}
    worker = user_id(sync_session, "grid_worker")
    row = rows(sync_session, Resident, Resident.id_number == id_number)[0]
    assert row.created_by == row.updated_by == worker
    events = audit_rows(sync_session)
    assert [e.action for e in events] == ["building.create", "household.create", "resident.create"]
    assert all(e.actor_id == worker and e.actor_username == "grid_worker" and e.area_code == GRID for e in events)
    assert events[2].record_ids == str(row.id)
    assert events[2].detail["after"]["id_number"] == id_number and events[2].detail["after"]["phone"] == "13912345678"


def test_create_household_by_grid_code_without_building(api, sync_session):
    h = mutate(api, "createHousehold", {"areaCode": GRID, "address": "乡政街平房5号"}, "grid_worker")
    assert h["errors"] == [] and h["household"]["building"] is None and h["household"]["kind"] == "OWNER"


def test_update_building_and_household(api, sync_session):
    b = first_building(sync_session, GRID)
    out = mutate(api, "updateBuilding", {"id": gid("Building", b.id), "version": b.version, "floors": 12,
                                          "address": None}, "grid_worker")
    assert out["errors"] == [] and out["building"]["floors"] == 12 and out["building"]["address"] is None
    assert out["building"]["version"] == b.version + 1

    h = first_household(sync_session, GRID)
    other = [x for x in rows(sync_session, Building, Building.area_code == GRID) if x.id != h.building_id][0]
    out = mutate(api, "updateHousehold", {"id": gid("Household", h.id), "version": h.version, "room": "1202",
                                           "buildingId": gid("Building", other.id), "kind": "COLLECTIVE"},
                 "grid_worker")
    assert out["errors"] == [], out
    assert (out["household"]["room"], out["household"]["kind"]) == ("1202", "COLLECTIVE")
    assert out["household"]["building"]["id"] == gid("Building", other.id)

    events = audit_rows(sync_session)
    assert [e.action for e in events] == ["building.update", "household.update"]
    assert events[0].detail == {"before": {"floors": b.floors, "address": b.address},
                                "after": {"floors": 12, "address": None}}
    assert set(events[1].detail["after"]) == {"room", "building_id", "kind"}
    assert events[1].detail["before"]["building_id"] == h.building_id


def test_update_resident_writes_changed_fields_bumps_version_and_audits(api, sync_session):
    r = first_resident(sync_session, GRID)
    old_updated_at = r.updated_at
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": "赵新名",
                                          "phone": "0451-86612345", "relationToHead": r.relation_to_head},
                 "grid_worker")
    assert out["errors"] == []
    assert (out["resident"]["name"], out["resident"]["phone"], out["resident"]["version"]) == (
        "赵新名", "0451-86612345", r.version + 1)
    row = rows(sync_session, Resident, Resident.id == r.id)[0]
    assert row.updated_by == user_id(sync_session, "grid_worker") and row.updated_at > old_updated_at
    (event,) = audit_rows(sync_session)
    assert (event.action, event.resource, event.record_ids, event.area_code) == ("resident.update", "resident",
                                                                               str(r.id), GRID)
    # only what changed, before and after (the unchanged relation is not listed)
    assert event.detail == {"before": {"name": r.name, "phone": r.phone},
                            "after": {"name": "赵新名", "phone": "0451-86612345"}}


def test_update_without_changes_writes_nothing(api, sync_session):
    r = first_resident(sync_session, GRID)
    before = snapshot(sync_session)
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": r.name},
                 "grid_worker")
    assert out["errors"] == [] and out["resident"]["version"] == r.version
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_changing_population_kind_moves_the_floating_counter(api, sync_session):
    r = first_resident(sync_session, GRID, floating=False)
    before = stats(sync_session, GRID)
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version,
                                          "populationKind": "FLOATING"}, "grid_worker")
    assert out["errors"] == []
    assert stats(sync_session, GRID) == {**before, "floating_residents": before["floating_residents"] + 1}


def test_new_id_number_rederives_gender_and_birth_date(api, sync_session):
    r = first_resident(sync_session, GRID)
    new_id = make_id_number(7, birth="19700101", male=r.gender != "male")
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "idNumber": new_id},
                 "grid_worker")
    assert out["errors"] == []
    assert out["resident"]["birthDate"] == "1970-01-01"
    assert out["resident"]["gender"] == ("FEMALE" if r.gender == "male" else "MALE")


def test_move_resident_between_grids_moves_counters(api, sync_session):
    r = first_resident(sync_session, GRID, floating=True)
    target = first_household(sync_session, NEIGHBOUR)
    src, dst = stats(sync_session, GRID), stats(sync_session, NEIGHBOUR)
    out = mutate(api, "moveResident", {"id": gid("Resident", r.id), "version": r.version,
                                        "householdId": gid("Household", target.id), "relationToHead": "other"},
                 "community_staff")
    assert out["errors"] == [], out
    res = out["resident"]
    assert (res["areaCode"], res["household"]["id"], res["movedInOn"], res["relationToHead"]) == (
        NEIGHBOUR, gid("Household", target.id), TODAY.isoformat(), "other")
    assert stats(sync_session, GRID) == {**src, "residents": src["residents"] - 1,
                                         "floating_residents": src["floating_residents"] - 1}
    assert stats(sync_session, NEIGHBOUR) == {**dst, "residents": dst["residents"] + 1,
                                              "floating_residents": dst["floating_residents"] + 1}
    events = audit_rows(sync_session)
    assert sorted(e.area_code for e in events) == [GRID, NEIGHBOUR]  # each grid's trail shows the move
    assert all(e.action == "resident.move" for e in events)
    assert events[0].detail["before"]["area_code"] == GRID and events[0].detail["after"]["area_code"] == NEIGHBOUR


def test_move_within_grid_keeps_counters(api, sync_session):
    r = first_resident(sync_session, GRID)
    target = [h for h in rows(sync_session, Household, Household.area_code == GRID) if h.id != r.household_id][0]
    before = stats(sync_session, GRID)
    out = mutate(api, "moveResident", {"id": gid("Resident", r.id), "version": r.version,
                                        "householdId": gid("Household", target.id), "movedInOn": "2025-06-01"},
                 "grid_worker")
    assert out["errors"] == [] and out["resident"]["movedInOn"] == "2025-06-01"
    assert stats(sync_session, GRID) == before
    assert len(audit_rows(sync_session, "resident.move")) == 1


def test_remove_resident_is_soft_and_decrements(api, sync_session):
    r = first_resident(sync_session, GRID, floating=False)
    before = stats(sync_session, GRID)
    out = mutate(api, "removeResident", {"id": gid("Resident", r.id), "version": r.version, "status": "MOVED_AWAY",
                                          "reason": "迁往南岗区", "removedOn": TODAY.isoformat()}, "grid_worker")
    assert out["errors"] == []
    assert (out["resident"]["status"], out["resident"]["removedReason"], out["resident"]["removedOn"]) == (
        "MOVED_AWAY", "迁往南岗区", TODAY.isoformat())
    assert rows(sync_session, Resident, Resident.id == r.id)[0].status == "moved_away"  # still there
    assert stats(sync_session, GRID) == {**before, "residents": before["residents"] - 1}
    (event,) = audit_rows(sync_session, "resident.remove")
    assert event.detail["after"] == {"status": "moved_away", "removed_reason": "迁往南岗区",
                                     "removed_on": TODAY.isoformat()}
    # removing again, or moving the removed resident, is refused
    again = mutate(api, "removeResident", {"id": gid("Resident", r.id), "version": r.version + 1,
                                            "status": "DECEASED", "reason": "x"}, "grid_worker")
    assert codes(again) == [("id", "BAD_USER_INPUT")]
    moved = mutate(api, "moveResident", {"id": gid("Resident", r.id), "version": r.version + 1,
                                          "householdId": gid("Household", first_household(sync_session, GRID).id)},
                   "grid_worker")
    assert codes(moved) == [("id", "BAD_USER_INPUT")]
    assert stats(sync_session, GRID)["residents"] == before["residents"] - 1


def test_counters_match_rows_after_a_series_of_mutations(api, sync_session):
    assert recount(fresh(sync_session)) == []
    b = mutate(api, "createBuilding", {"areaCode": NEIGHBOUR, "name": "新楼"}, "community_staff")["building"]
    h = mutate(api, "createHousehold", {"buildingId": b["id"], "address": "新楼101"}, "community_staff")["household"]
    for n, kind in enumerate(["FLOATING", "REGISTERED", "FLOATING"]):
        assert mutate(api, "createResident", {"householdId": h["id"], "name": f"新{n}", "idNumber": make_id_number(n),
                                              "populationKind": kind}, "community_staff")["errors"] == []
    for grid, user in ((GRID, "grid_worker"), (NEIGHBOUR, "community_staff")):
        r = first_resident(sync_session, grid, floating=True)
        assert mutate(api, "moveResident", {"id": gid("Resident", r.id), "version": r.version,
                                            "householdId": h["id"] if grid == GRID else
                                            gid("Household", first_household(sync_session, GRID).id)},
                      "community_staff")["errors"] == []
        r = first_resident(sync_session, grid, floating=False)
        assert mutate(api, "removeResident", {"id": gid("Resident", r.id), "version": r.version,
                                              "status": "DECEASED", "reason": "病故"}, user)["errors"] == []
        r = first_resident(sync_session, grid, floating=False)
        assert mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version,
                                              "populationKind": "FLOATING"}, user)["errors"] == []
    assert recount(fresh(sync_session)) == []


def test_rebuild_reports_and_fixes_drift(sync_session):
    sync_session.execute(update(GridStats).where(GridStats.area_code == GRID).values(residents=GridStats.residents + 3))
    sync_session.execute(delete(GridStats).where(GridStats.area_code == NEIGHBOUR))
    actual = count_from_rows(sync_session)
    drift = recount(sync_session)
    assert {(d.area_code, d.counter) for d in drift} == {(GRID, "residents")} | {
        (NEIGHBOUR, k) for k, v in actual[(NEIGHBOUR, None)].items() if v}
    grid_drift = next(d for d in drift if d.area_code == GRID)
    assert grid_drift.stored == grid_drift.actual + 3
    assert all(d.stored is None for d in drift if d.area_code == NEIGHBOUR)
    assert recount(sync_session, fix=True)
    sync_session.commit()
    assert recount(fresh(sync_session)) == []


# --- validation -----------------------------------------------------------------------


def _valid_new_resident(household_id: str) -> dict:
    return {"householdId": household_id, "name": "王五", "idNumber": make_id_number(3)}


@pytest.mark.parametrize("change, field", [
    ({"idNumber": make_id_number(3)[:17] + ("1" if make_id_number(3)[17] != "1" else "2")}, "idNumber"),  # checksum
    ({"idNumber": "11010519491231002x"}, "idNumber"),  # lowercase x
    ({"idNumber": "1101051949123100"}, "idNumber"),  # too short
    ({"phone": "1381234567"}, "phone"),  # 10 digits
    ({"phone": "12812345678"}, "phone"),  # no such mobile prefix
    ({"movedInOn": (TODAY + timedelta(days=1)).isoformat()}, "movedInOn"),  # future
    ({"movedInOn": "1980-01-01"}, "movedInOn"),  # before the birth date in the ID
    ({"gender": "FEMALE"}, "gender"),  # the ID is a man's
    ({"birthDate": "1985-04-13"}, "birthDate"),  # the ID says 1985-04-12
    ({"name": "   "}, "name"),
    ({"name": "张" * 51}, "name"),
    ({"relationToHead": "cousin"}, "relationToHead"),
    ({"householdId": "not-an-id"}, "householdId"),
    ({"householdId": gid("Building", 1)}, "householdId"),  # an ID of the wrong type
])
def test_create_resident_validation_names_the_field_and_writes_nothing(api, sync_session, change, field):
    h = first_household(sync_session, GRID)
    before = snapshot(sync_session)
    out = mutate(api, "createResident", {**_valid_new_resident(gid("Household", h.id)), **change}, "grid_worker")
    assert out["resident"] is None
    assert codes(out) == [(field, "BAD_USER_INPUT")], out["errors"]
    assert out["errors"][0]["message"].startswith(field + ": ")
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_lowercase_x_message_is_specific(api, sync_session):
    h = first_household(sync_session, GRID)
    out = mutate(api, "createResident", {**_valid_new_resident(gid("Household", h.id)),
                                         "idNumber": "11010519491231002x"}, "grid_worker")
    assert "uppercase X" in out["errors"][0]["message"]


def test_all_bad_fields_are_reported_together(api, sync_session):
    h = first_household(sync_session, GRID)
    out = mutate(api, "createResident", {"householdId": gid("Household", h.id), "name": "",
                                         "idNumber": "230102198504120010", "phone": "123",
                                         "movedInOn": "2999-01-01"}, "grid_worker")
    assert sorted(f for f, _ in codes(out)) == ["idNumber", "movedInOn", "name", "phone"]


@pytest.mark.parametrize("change, field", [
    ({"idNumber": "11010519491231002x"}, "idNumber"),
    ({"phone": "010-1234"}, "phone"),
    ({"movedInOn": (TODAY + timedelta(days=30)).isoformat()}, "movedInOn"),
    ({"name": None}, "name"),
    ({"birthDate": "1900-01-01"}, "birthDate"),
    ({"populationKind": None}, "populationKind"),
])
def test_update_resident_validation_writes_nothing(api, sync_session, change, field):
    r = first_resident(sync_session, GRID)
    before = snapshot(sync_session)
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, **change}, "grid_worker")
    assert codes(out) == [(field, "BAD_USER_INPUT")], out["errors"]
    assert out["resident"] is None
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_removal_dates_are_checked(api, sync_session):
    r = first_resident(sync_session, GRID)
    before = snapshot(sync_session)
    early = (r.moved_in_on - timedelta(days=1)).isoformat()
    out = mutate(api, "removeResident", {"id": gid("Resident", r.id), "version": r.version, "status": "DECEASED",
                                          "reason": "病故", "removedOn": early}, "grid_worker")
    assert codes(out) == [("removedOn", "BAD_USER_INPUT")] and "moved-in date" in out["errors"][0]["message"]
    out = mutate(api, "removeResident", {"id": gid("Resident", r.id), "version": r.version, "status": "DECEASED",
                                          "reason": "  ", "removedOn": (TODAY + timedelta(days=2)).isoformat()},
                 "grid_worker")
    assert sorted(f for f, _ in codes(out)) == ["reason", "removedOn"]
    assert snapshot(sync_session) == before


def test_building_and_household_validation(api, sync_session):
    before = snapshot(sync_session)
    out = mutate(api, "createBuilding", {"areaCode": "230102001001", "name": "x", "units": 0, "floors": 500},
                 "grid_worker")
    assert sorted(codes(out)) == [("areaCode", "BAD_USER_INPUT"), ("floors", "BAD_USER_INPUT"),
                                  ("units", "BAD_USER_INPUT")]
    out = mutate(api, "createBuilding", {"areaCode": "230102001001009", "name": "x"}, "community_staff")
    assert codes(out) == [("areaCode", "BAD_USER_INPUT")] and "no grid" in out["errors"][0]["message"]
    b = first_building(sync_session, GRID)
    out = mutate(api, "createHousehold", {"buildingId": gid("Building", b.id), "areaCode": NEIGHBOUR,
                                          "address": "x"}, "community_staff")
    assert codes(out) == [("areaCode", "BAD_USER_INPUT")]
    out = mutate(api, "createHousehold", {"address": "x"}, "grid_worker")
    assert codes(out) == [("areaCode", "BAD_USER_INPUT")]
    h = first_household(sync_session, GRID)
    other_grid_building = first_building(sync_session, NEIGHBOUR)
    out = mutate(api, "updateHousehold", {"id": gid("Household", h.id), "version": h.version,
                                          "buildingId": gid("Building", other_grid_building.id)}, "community_staff")
    assert codes(out) == [("buildingId", "BAD_USER_INPUT")]
    assert snapshot(sync_session) == before


def test_duplicate_id_number_is_refused_even_out_of_scope(api, sync_session):
    elsewhere = first_resident(sync_session, OTHER_CITY_GRID)  # far outside the grid worker's scope
    mine = first_resident(sync_session, GRID)
    h = first_household(sync_session, GRID)
    before = snapshot(sync_session)
    out = mutate(api, "createResident", {"householdId": gid("Household", h.id), "name": "王五",
                                         "idNumber": elsewhere.id_number}, "grid_worker")
    assert out["errors"] == [{"field": "idNumber", "message": "idNumber: this ID number is already registered",
                              "code": "BAD_USER_INPUT"}]
    out = mutate(api, "updateResident", {"id": gid("Resident", mine.id), "version": mine.version,
                                         "idNumber": elsewhere.id_number}, "grid_worker")
    assert codes(out) == [("idNumber", "BAD_USER_INPUT")]
    # keeping one's own number is not a duplicate
    out = mutate(api, "updateResident", {"id": gid("Resident", mine.id), "version": mine.version,
                                         "idNumber": mine.id_number, "name": "改名"}, "grid_worker")
    assert out["errors"] == []
    after = snapshot(sync_session)
    assert after["building"] == before["building"] and after["grid_stats"] == before["grid_stats"]


def test_unknown_reference_is_not_found(api, sync_session):
    out = mutate(api, "createResident", {**_valid_new_resident(gid("Household", 10**6))}, "grid_worker")
    assert codes(out) == [("householdId", "NOT_FOUND")]
    out = mutate(api, "updateBuilding", {"id": gid("Building", 10**6), "version": 1, "name": "x"}, "grid_worker")
    assert codes(out) == [("id", "NOT_FOUND")]


# --- optimistic locking ---------------------------------------------------------------


def test_stale_version_is_a_conflict_and_writes_nothing(api, sync_session):
    r = first_resident(sync_session, GRID)
    first = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": "甲"},
                   "grid_worker")
    before = snapshot(sync_session)
    second = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": "乙"},
                    "community_staff")
    assert first["errors"] == [] and codes(second) == [("version", "CONFLICT")] and second["resident"] is None
    assert snapshot(sync_session) == before
    assert rows(sync_session, Resident, Resident.id == r.id)[0].name == "甲"
    for name, extra in (("moveResident", {"householdId": gid("Household", first_household(sync_session, NEIGHBOUR).id)}),
                        ("removeResident", {"status": "DECEASED", "reason": "x"})):
        out = mutate(api, name, {"id": gid("Resident", r.id), "version": r.version, **extra}, "community_staff")
        assert codes(out) == [("version", "CONFLICT")]
    b = first_building(sync_session, GRID)
    out = mutate(api, "updateBuilding", {"id": gid("Building", b.id), "version": b.version + 5, "name": "x"},
                 "grid_worker")
    assert codes(out) == [("version", "CONFLICT")]
    assert snapshot(sync_session) == before


def test_two_concurrent_edits_one_wins_one_conflicts(api, sync_session, monkeypatch):
    """Both requests read the same version and reach the version claim before either
    writes (a barrier holds them there); the database lets exactly one through."""
    from resolvers import unit_of_work

    r = first_resident(sync_session, GRID)
    barrier: list[asyncio.Barrier] = []
    real_claim = unit_of_work.UnitOfWork.claim

    async def claim_together(self, row, version):
        if not barrier:
            barrier.append(asyncio.Barrier(2))
        async with asyncio.timeout(20):
            await barrier[0].wait()
        return await real_claim(self, row, version)

    monkeypatch.setattr(unit_of_work.UnitOfWork, "claim", claim_together)
    api.token("grid_worker"), api.token("community_staff")  # log in before the race
    results: dict[str, dict] = {}

    def edit(user: str, name: str) -> None:
        results[user] = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version,
                                                       "name": name}, user)

    threads = [threading.Thread(target=edit, args=a) for a in (("grid_worker", "甲"), ("community_staff", "乙"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    outcomes = sorted(("ok" if p["errors"] == [] else p["errors"][0]["code"]) for p in results.values())
    assert outcomes == ["CONFLICT", "ok"], results
    winner = next(u for u, p in results.items() if p["errors"] == [])
    row = rows(sync_session, Resident, Resident.id == r.id)[0]
    assert row.name == {"grid_worker": "甲", "community_staff": "乙"}[winner]
    assert row.version == r.version + 1
    assert len(audit_rows(sync_session, "resident.update")) == 1


# --- who may write where --------------------------------------------------------------


def test_grid_worker_edits_own_grid_not_the_neighbours(api, sync_session):
    mine = first_resident(sync_session, GRID)
    theirs = first_resident(sync_session, NEIGHBOUR)
    their_household = first_household(sync_session, NEIGHBOUR)
    their_building = first_building(sync_session, NEIGHBOUR)
    before = snapshot(sync_session)

    ok = mutate(api, "updateResident", {"id": gid("Resident", mine.id), "version": mine.version, "name": "本格"},
                "grid_worker")
    assert ok["errors"] == []
    before = snapshot(sync_session)

    # cannot see the neighbour's records, so they do not exist for this user
    out = mutate(api, "updateResident", {"id": gid("Resident", theirs.id), "version": theirs.version, "name": "x"},
                 "grid_worker")
    assert codes(out) == [("id", "NOT_FOUND")]
    missing = mutate(api, "updateResident", {"id": gid("Resident", 10**6), "version": 1, "name": "x"}, "grid_worker")
    assert out["errors"][0]["message"] == missing["errors"][0]["message"]  # no hint it exists
    out = mutate(api, "removeResident", {"id": gid("Resident", theirs.id), "version": theirs.version,
                                         "status": "DECEASED", "reason": "x"}, "grid_worker")
    assert codes(out) == [("id", "NOT_FOUND")]
    out = mutate(api, "updateHousehold", {"id": gid("Household", their_household.id),
                                          "version": their_household.version, "room": "1"}, "grid_worker")
    assert codes(out) == [("id", "NOT_FOUND")]

    # cannot create in the neighbour grid
    out = mutate(api, "createBuilding", {"areaCode": NEIGHBOUR, "name": "x"}, "grid_worker")
    assert codes(out) == [("areaCode", "FORBIDDEN")]
    out = mutate(api, "createHousehold", {"areaCode": NEIGHBOUR, "address": "x"}, "grid_worker")
    assert codes(out) == [("areaCode", "FORBIDDEN")]
    out = mutate(api, "createHousehold", {"buildingId": gid("Building", their_building.id), "address": "x"},
                 "grid_worker")
    assert codes(out) == [("buildingId", "NOT_FOUND")]
    out = mutate(api, "createResident", _valid_new_resident(gid("Household", their_household.id)), "grid_worker")
    assert codes(out) == [("householdId", "NOT_FOUND")]

    # cannot move one of theirs into it: the target household is invisible, like a missing one
    out = mutate(api, "moveResident", {"id": gid("Resident", mine.id), "version": mine.version + 1,
                                       "householdId": gid("Household", their_household.id)}, "grid_worker")
    assert codes(out) == [("householdId", "NOT_FOUND")]
    assert snapshot(sync_session) == before
    assert [e.action for e in audit_rows(sync_session)] == ["resident.update"]


@pytest.fixture
def split_user(api, sync_session):
    """Reads (masked) the whole community as an officer, but writes only in GRID as its grid worker."""
    from authz.users import create_user

    now = datetime.now(timezone.utc)
    user = create_user(sync_session, "split_user", "网格员兼社区督导", "split-password", "grid_worker", GRID,
                       allow_short=True)
    sync_session.add(AreaGrant(user_id=user.id, role="officer", area_code="230102001001", valid_from=now,
                               created_at=now))
    sync_session.commit()
    return "split_user"


def test_moving_into_a_visible_grid_one_may_not_write_is_forbidden(api, sync_session, split_user):
    mine = first_resident(sync_session, GRID)
    theirs = first_resident(sync_session, NEIGHBOUR)
    target = first_household(sync_session, NEIGHBOUR)
    before = snapshot(sync_session)
    out = mutate(api, "moveResident", {"id": gid("Resident", mine.id), "version": mine.version,
                                       "householdId": gid("Household", target.id)}, split_user)
    assert codes(out) == [("householdId", "FORBIDDEN")]
    out = mutate(api, "moveResident", {"id": gid("Resident", theirs.id), "version": theirs.version,
                                       "householdId": gid("Household", first_household(sync_session, GRID).id)},
                 split_user)
    assert codes(out) == [("id", "FORBIDDEN")]  # nor out of it
    out = mutate(api, "updateResident", {"id": gid("Resident", theirs.id), "version": theirs.version, "name": "x"},
                 split_user)
    assert codes(out) == [("id", "FORBIDDEN")]
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_gate_refuses_even_if_the_resolver_check_is_skipped(api, sync_session, split_user, monkeypatch):
    """The second line: with ``UnitOfWork.require`` disabled, the session gate still refuses."""
    from resolvers import unit_of_work

    monkeypatch.setattr(unit_of_work.UnitOfWork, "require", lambda *a, **k: None)
    mine = first_resident(sync_session, GRID)
    theirs = first_resident(sync_session, NEIGHBOUR)
    before = snapshot(sync_session)
    out = mutate(api, "moveResident", {"id": gid("Resident", mine.id), "version": mine.version,
                                       "householdId": gid("Household", first_household(sync_session, NEIGHBOUR).id)},
                 split_user)
    assert [c for _, c in codes(out)] == ["FORBIDDEN"]  # before_flush: update at the new area
    out = mutate(api, "createBuilding", {"areaCode": NEIGHBOUR, "name": "x"}, split_user)
    assert [c for _, c in codes(out)] == ["FORBIDDEN"]  # before_flush: create
    out = mutate(api, "updateResident", {"id": gid("Resident", theirs.id), "version": theirs.version, "name": "x"},
                 split_user)
    assert out["resident"] is None and out["errors"]  # the claiming UPDATE matches no row in scope
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_city_officer_cannot_edit_anything(api, sync_session):
    r = first_resident(sync_session, GRID)
    h = first_household(sync_session, GRID)
    b = first_building(sync_session, GRID)
    before = snapshot(sync_session)
    attempts = [
        ("updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": "x"}),
        ("moveResident", {"id": gid("Resident", r.id), "version": r.version,
                          "householdId": gid("Household", first_household(sync_session, NEIGHBOUR).id)}),
        ("removeResident", {"id": gid("Resident", r.id), "version": r.version, "status": "DECEASED", "reason": "x"}),
        ("createResident", _valid_new_resident(gid("Household", h.id))),
        ("createBuilding", {"areaCode": GRID, "name": "x"}),
        ("updateBuilding", {"id": gid("Building", b.id), "version": b.version, "name": "x"}),
        ("createHousehold", {"areaCode": GRID, "address": "x"}),
    ]
    for name, input in attempts:
        out = mutate(api, name, input, "city_officer")
        assert [c for _, c in codes(out)] == ["FORBIDDEN"], (name, out)
    for name, input in attempts[:2]:
        out = mutate(api, name, input, "province_analyst")  # sees no rows at all
        assert [c for _, c in codes(out)] == ["NOT_FOUND"], (name, out)
    assert snapshot(sync_session) == before and audit_rows(sync_session) == []


def test_temporary_team_member_edits_in_its_community_only(api, sync_session):
    r = first_resident(sync_session, TEAM_GRID)
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "phone": "13700001111"},
                 "team_member")
    assert out["errors"] == [] and out["resident"]["phone"] == "13700001111"  # clear: staff may read_pii
    target = first_household(sync_session, "230102001002003")
    out = mutate(api, "moveResident", {"id": gid("Resident", r.id), "version": r.version + 1,
                                       "householdId": gid("Household", target.id)}, "team_member")
    assert out["errors"] == [] and out["resident"]["areaCode"] == "230102001002003"
    mine = first_resident(sync_session, GRID)
    out = mutate(api, "updateResident", {"id": gid("Resident", mine.id), "version": mine.version, "name": "x"},
                 "team_member")
    assert codes(out) == [("id", "NOT_FOUND")]


def test_expired_team_grant_can_no_longer_edit(api, sync_session):
    r = first_resident(sync_session, TEAM_GRID)
    uid = user_id(sync_session, "team_member")
    sync_session.execute(update(AreaGrant).where(AreaGrant.user_id == uid)
                         .values(valid_until=datetime.now(timezone.utc) - timedelta(seconds=1)))
    sync_session.commit()
    out = mutate(api, "updateResident", {"id": gid("Resident", r.id), "version": r.version, "name": "x"},
                 "team_member")
    assert codes(out) == [("id", "NOT_FOUND")]


def test_anonymous_is_unauthenticated(api, sync_session):
    """Refused before execution like every mutation (``tests/test_anonymous_mutations.py``)."""
    r = first_resident(sync_session, GRID)
    response = api.post(mutation_text("updateResident"),
                        {"i": {"id": gid("Resident", r.id), "version": r.version, "name": "x"}})
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert fresh(sync_session).get(type(r), r.id).name == r.name


# --- statements per mutation -----------------------------------------------------------

AUTH_TABLES = ("policy_state", "login_session", "area_grant")


@pytest.mark.parametrize("name, expected", [
    # load, claim version, write fields, audit
    ("updateResident", 4),
    # load resident, load target, claim, write, totals of both grids (one multi-row upsert),
    # per-day counters of both grids (one more), audit in both grids (PostgreSQL sends the two
    # audit rows as one multi-row INSERT), and one look for records that follow the person (an
    # active isolation). It was one totals upsert per grid and no per-day one.
    ("moveResident", {"sqlite": 9, "postgresql": 8}),
    # load household, ID number unique (system session), insert, totals, per-day counters
    # (residents_registered; was 5 before per-day counters), audit
    ("createResident", 6),
    # load, claim, write fields, totals, per-day counters (residents_removed), audit
    ("removeResident", 6),
])
def test_statements_per_mutation_are_pinned(api, sync_session, statements, backend, name, expected):
    r = first_resident(sync_session, GRID)
    h = first_household(sync_session, NEIGHBOUR)
    input = {
        "updateResident": {"id": gid("Resident", r.id), "version": r.version, "name": "计数"},
        "moveResident": {"id": gid("Resident", r.id), "version": r.version, "householdId": gid("Household", h.id)},
        "createResident": {"householdId": gid("Household", h.id), "name": "计数", "idNumber": make_id_number(9)},
        "removeResident": {"id": gid("Resident", r.id), "version": r.version, "status": "MOVED_AWAY", "reason": "迁出"},
    }[name]
    api.token("community_staff")
    statements.reset()
    body = api.query(f"mutation($i: {name[0].upper() + name[1:]}Input!) {{ {name}(input: $i) "
                     f"{{ resident {{ id version }} errors {{ code }} }} }}", {"i": input}, user="community_staff")
    assert body["data"][name]["errors"] == []
    own = [s for s in statements.statements if not any(t in s for t in AUTH_TABLES)]
    assert len(own) == (expected[backend] if isinstance(expected, dict) else expected), own
