"""Bad survey input is refused with every wrong field named, and nothing is written."""

from __future__ import annotations

from datetime import date, timedelta

from db.audit import AuditEvent
from db.counters import DEFAULT_ZONE, local_day
from db.registry import Household, Resident
from db.survey import SurveyCampaign, SurveyPerson, SurveyVisit
from registry_support import GRID, gid, make_id_number, rows
from survey_support import COMMUNITY, mutate, open_campaign, visit_input


def _written(session):
    return (len(rows(session, SurveyVisit)), len(rows(session, SurveyPerson)), len(rows(session, Resident)),
            len(rows(session, AuditEvent)))


def test_every_wrong_person_of_a_visit_is_named_by_its_index(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = rows(sync_session, Household, Household.area_code == GRID)[0]
    member = rows(sync_session, Resident, Resident.household_id == household.id)[0]
    stranger = rows(sync_session, Resident, Resident.area_code == GRID, Resident.household_id != household.id)[0]
    before = _written(sync_session)
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    done = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"residentId": gid("Resident", member.id), "temperature": 45.0, "arrivedOn": tomorrow},
        {"newResident": {"name": " ", "idNumber": "12345"}, "cameFrom": "x" * 101},
        {"residentId": gid("Resident", member.id), "newResident": {"name": "李四", "idNumber": make_id_number(9)}},
        {"residentId": gid("Resident", member.id)},  # the first person again
    ]), "grid_worker")
    fields = {e["field"] for e in done["errors"]}
    assert {"people.0.temperature", "people.0.arrivedOn", "people.1.newResident.name", "people.1.newResident.idNumber",
            "people.1.cameFrom", "people.2.residentId", "people.3.residentId"} <= fields, fields
    assert all(e["code"] == "BAD_USER_INPUT" for e in done["errors"])
    # a member of another household of the grid is refused by index, after the input checks
    wrong = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"residentId": gid("Resident", stranger.id)}]), "grid_worker")
    assert [e["field"] for e in wrong["errors"]] == ["people.0.residentId"]
    nobody = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id),
                                                             outcome="NOBODY_HOME", people=[
        {"residentId": gid("Resident", member.id)}]), "grid_worker")
    assert [e["field"] for e in nobody["errors"]] == ["people"]
    assert _written(sync_session) == before


def test_a_taken_id_number_in_a_new_person_writes_nothing(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = rows(sync_session, Household, Household.area_code == GRID)[0]
    taken = rows(sync_session, Resident, Resident.area_code == GRID)[0].id_number
    before = _written(sync_session)
    done = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"newResident": {"name": "王五", "idNumber": make_id_number(77)}},
        {"newResident": {"name": "赵六", "idNumber": taken}}]), "grid_worker")
    assert [e["field"] for e in done["errors"]] == ["people.1.newResident.idNumber"]
    assert _written(sync_session) == before  # the first person and the visit were rolled back with it


def test_a_resident_is_recorded_once_per_campaign(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = rows(sync_session, Household, Household.area_code == GRID)[0]
    member = gid("Resident", rows(sync_session, Resident, Resident.household_id == household.id)[0].id)
    first = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id),
                                                            people=[{"residentId": member}]), "grid_worker")
    assert first["errors"] == []
    again = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id),
                                                            people=[{"residentId": member}]), "grid_worker")
    assert [e["field"] for e in again["errors"]] == ["people.0.residentId"]


def test_campaign_inputs_are_checked(api, sync_session):
    before = len(rows(sync_session, SurveyCampaign))
    done = mutate(api, "openSurveyCampaign", {"areaCode": "2301x", "name": "", "startsOn": "2026-03-01",
                                              "endsOn": "2026-02-01", "keyAreas": ["湖北省", "x" * 31]}, "city_officer")
    assert {e["field"] for e in done["errors"]} == {"areaCode", "name", "endsOn", "keyAreas.1"}
    missing = mutate(api, "openSurveyCampaign", {"areaCode": "2399", "name": "排查"}, "city_officer")
    assert missing["errors"][0]["code"] in ("NOT_FOUND", "FORBIDDEN")
    assert len(rows(sync_session, SurveyCampaign)) == before
    opened = open_campaign(api, "city_officer", "2301", keyAreas=["湖北省", "湖北省", " 武汉市 "])
    assert opened["keyAreas"] == ["湖北省", "武汉市"]  # trimmed, each once
    update = mutate(api, "updateSurveyCampaign", {"id": opened["id"], "version": opened["version"],
                                                  "endsOn": "2000-01-01"}, "city_officer")
    assert [e["field"] for e in update["errors"]] == ["endsOn"]


def test_travel_is_before_the_visit_and_a_closed_campaigns_records_stay(api, sync_session):
    today = local_day(DEFAULT_ZONE)
    campaign = open_campaign(api, "community_staff", COMMUNITY, startsOn=(today - timedelta(days=3)).isoformat())
    household = rows(sync_session, Household, Household.area_code == GRID)[0]
    member = gid("Resident", rows(sync_session, Resident, Resident.household_id == household.id)[0].id)
    back_then = f"{(today - timedelta(days=2)).isoformat()}T10:00:00+08:00"
    refused = mutate(api, "recordHouseholdVisit", {
        **visit_input(campaign["id"], gid("Household", household.id)), "visitedAt": back_then,
        "people": [{"residentId": member, "arrivedOn": (today - timedelta(days=1)).isoformat()}]}, "grid_worker")
    assert [e["field"] for e in refused["errors"]] == ["people.0.arrivedOn"]
    done = mutate(api, "recordHouseholdVisit", {
        **visit_input(campaign["id"], gid("Household", household.id)), "visitedAt": back_then,
        "people": [{"residentId": member}]}, "grid_worker")
    person = done["visit"]["people"][0]
    late = mutate(api, "updateSurveyPerson", {"id": person["id"], "version": person["version"],
                                              "arrivedOn": (today - timedelta(days=1)).isoformat()}, "grid_worker")
    assert [e["field"] for e in late["errors"]] == ["arrivedOn"]
    closed = mutate(api, "closeSurveyCampaign", {"id": campaign["id"], "version": campaign["version"]},
                    "community_staff")
    assert closed["errors"] == []
    change = mutate(api, "updateSurveyPerson", {"id": person["id"], "version": person["version"], "fever": True},
                    "grid_worker")
    assert [e["field"] for e in change["errors"]] == ["id"]
