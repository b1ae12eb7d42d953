"""The household survey over HTTP, as a grid worker's walk goes: a visit records two people
(one registered on the spot, from a key area, with a fever), a returnee entry opened from the
record and followed up, coverage moving and the household leaving the not-yet-reached list;
then each office sees what its duty allows, and the neighbouring grid's worker nothing.
Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from db.audit import AuditEvent
from db.counters_recount import recount
from db.registry import Household, Resident
from db.survey import SurveyPerson, SurveyVisit
from registry_support import GRID, NEIGHBOUR, fresh, gid, make_id_number, rows
from survey_support import (COMMUNITY, FIGURES, PERSON, campaign_key, campaign_of, mutate, not_reached, open_campaign,
                            progress, visit_input)


def _household(session, grid=GRID) -> Household:
    return rows(session, Household, Household.area_code == grid)[0]


def test_a_visit_with_two_people_moves_coverage_and_opens_a_returnee(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = _household(sync_session)
    member = rows(sync_session, Resident, Resident.household_id == household.id, Resident.status == "active")[0]
    before = progress(api, campaign["id"], GRID, "grid_worker")
    assert before["figures"]["householdsSurveyed"] == 0 and before["householdsKnown"] > 0
    assert gid("Household", household.id) in not_reached(api, campaign["id"], GRID, "grid_worker")

    newcomer = make_id_number(7001, birth="19900305")
    done = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"residentId": gid("Resident", member.id)},
        {"newResident": {"name": "周凯", "idNumber": newcomer, "phone": "13912345678", "relationToHead": "other",
                         "populationKind": "FLOATING"},
         "cameFrom": "湖北省武汉市", "departedOn": None, "transport": "TRAIN", "transportNumber": "G1234",
         "temperature": 37.9, "cough": True}]), "grid_worker")
    assert done["errors"] == [], done["errors"]
    visit = done["visit"]
    assert visit["firstReach"] is True and visit["areaCode"] == GRID and len(visit["people"]) == 2
    found = next(p for p in visit["people"] if p["cameFrom"])
    assert found["fromKeyArea"] is True and found["fever"] is True and found["temperature"] == 37.9
    assert found["resident"]["name"] == "周凯"  # registered into the household, in the same transaction
    assert fresh(sync_session).scalar(select(Resident.household_id).where(Resident.id_number == newcomer)) == household.id

    after = progress(api, campaign["id"], GRID, "grid_worker")
    assert after["figures"] == {**before["figures"], "householdsSurveyed": 1, "visits": 1, "peopleSurveyed": 2,
                                "fromKeyArea": 1, "withFever": 1}
    assert after["householdsKnown"] == before["householdsKnown"]
    assert gid("Household", household.id) not in not_reached(api, campaign["id"], GRID, "grid_worker")

    # a second visit to the same household counts as a visit, not as a second household
    again = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id),
                                                            method="PHONE"), "grid_worker")
    assert again["errors"] == [] and again["visit"]["firstReach"] is False
    assert progress(api, campaign["id"], GRID, "grid_worker")["figures"]["householdsSurveyed"] == 1

    # the returnee found at the door goes into the ledger from the person record, and is followed up
    opened = mutate(api, "openReturneeFromSurvey", {"surveyPersonId": found["id"]}, "grid_worker")
    assert opened["errors"] == [], opened["errors"]
    entry = opened["returnee"]
    assert entry["origin"] == "湖北省武汉市" and entry["fromKeyArea"] is True and entry["transport"] == "TRAIN"
    follow = api.query("mutation($i: RecordFollowUpInput!) { recordFollowUp(input: $i) { followUp { health } "
                       "errors { field message } } }", {"i": {"returneeId": entry["id"], "health": "FEVER",
                                                               "temperature": 38.1}}, user="grid_worker")
    assert follow["data"]["recordFollowUp"]["errors"] == []
    timeline = api.data("query($id: ID!) { node(id: $id) { ... on Resident { timeline(first: 10) { edges { node "
                        "{ kind } } } } } }", {"id": found["resident"]["id"]}, user="grid_worker")
    kinds = [e["node"]["kind"] for e in timeline["node"]["timeline"]["edges"]]
    assert {"survey_person", "returnee", "follow_up"} <= set(kinds)

    # the community sees the grid's figures; the city the records masked and the counts; the
    # province counts only; the neighbouring grid's worker nothing
    community = progress(api, campaign["id"], COMMUNITY, "community_staff")["figures"]
    assert community["householdsSurveyed"] == 1 and community["withFever"] == 1
    city = api.data("query($c: String!, $f: SurveyPersonFilterInput) { area(code: $c) { surveyPeople(filter: $f, "
                    "first: 5) { totalCount edges { node { %s } } } } }" % PERSON,
                    {"c": GRID, "f": {"campaignId": campaign["id"]}}, user="city_officer")["area"]["surveyPeople"]
    assert city["totalCount"] == 2
    masked = next(e["node"] for e in city["edges"] if e["node"]["fromKeyArea"])
    assert masked["cameFrom"] == "****" and masked["fever"] is None and masked["temperature"] is None
    assert masked["resident"]["name"] != "周凯" and masked["resident"]["name"].startswith("周")
    assert progress(api, campaign["id"], GRID, "city_officer")["figures"]["withFever"] == 1
    analyst = api.data("query($c: String!) { area(code: $c) { surveyPeople(first: 5) { totalCount } "
                       "surveyVisits(first: 5) { totalCount } } }", {"c": GRID}, user="province_analyst")["area"]
    assert analyst["surveyPeople"]["totalCount"] == 0 and analyst["surveyVisits"]["totalCount"] == 0
    assert progress(api, campaign["id"], GRID, "province_analyst")["figures"]["peopleSurveyed"] == 2
    assert not_reached(api, campaign["id"], GRID, "province_analyst") == []
    assert recount(fresh(sync_session)) == []


def test_the_neighbouring_grid_can_neither_read_nor_change_it(api, sync_session):
    """The community's staff survey the next grid; the first grid's worker is its neighbour."""
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = _household(sync_session, NEIGHBOUR)
    member = rows(sync_session, Resident, Resident.household_id == household.id, Resident.status == "active")[0]
    done = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"residentId": gid("Resident", member.id), "cameFrom": "湖北省孝感市", "fever": True}]), "community_staff")
    assert done["errors"] == [], done["errors"]
    person = done["visit"]["people"][0]
    before = rows(sync_session, SurveyVisit), rows(sync_session, SurveyPerson), len(rows(sync_session, AuditEvent))

    listed = api.data("query($c: String!, $v: SurveyVisitFilterInput, $p: SurveyPersonFilterInput) { area(code: $c) "
                      "{ surveyVisits(filter: $v, first: 5) { totalCount } surveyPeople(filter: $p, first: 5) "
                      "{ totalCount } } }", {"c": COMMUNITY, "v": {"campaignId": campaign["id"]},
                                             "p": {"campaignId": campaign["id"]}}, user="grid_worker")["area"]
    assert listed["surveyVisits"]["totalCount"] == 0 and listed["surveyPeople"]["totalCount"] == 0
    staff = api.data("query($c: String!, $v: SurveyVisitFilterInput) { area(code: $c) { surveyVisits(filter: $v, "
                     "first: 5) { totalCount } } }", {"c": COMMUNITY, "v": {"campaignId": campaign["id"]}},
                     user="community_staff")["area"]
    assert staff["surveyVisits"]["totalCount"] == 1  # the same question, asked by someone who may see it
    for node_id in (person["id"], done["visit"]["id"]):
        assert api.data("query($id: ID!) { node(id: $id) { id } }", {"id": node_id}, user="grid_worker")["node"] is None
    assert progress(api, campaign["id"], NEIGHBOUR, "grid_worker")["figures"] is None
    refused = [
        mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id)), "grid_worker"),
        mutate(api, "updateSurveyPerson", {"id": person["id"], "version": person["version"], "fever": False},
               "grid_worker"),
        mutate(api, "openReturneeFromSurvey", {"surveyPersonId": person["id"]}, "grid_worker"),
        mutate(api, "closeSurveyCampaign", {"id": campaign["id"], "version": campaign["version"]}, "grid_worker"),
    ]
    for r in refused:
        assert r["errors"] and {e["code"] for e in r["errors"]} <= {"NOT_FOUND", "FORBIDDEN"}, r
    after = rows(sync_session, SurveyVisit), rows(sync_session, SurveyPerson), len(rows(sync_session, AuditEvent))
    assert [(v.id, v.version) for v in after[0]] == [(v.id, v.version) for v in before[0]]
    assert [(p.id, p.version, p.fever) for p in after[1]] == [(p.id, p.version, p.fever) for p in before[1]]
    assert after[2] == before[2]
    # the campaign itself reaches the worker's grid: they read it, and cannot change it
    assert campaign_of(api, campaign["id"], "grid_worker")["name"] == campaign["name"]


def test_corrections_move_the_counters_by_the_difference(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY, keyAreas=["湖北省"])
    household = _household(sync_session)
    member = rows(sync_session, Resident, Resident.household_id == household.id)[0]
    done = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id), people=[
        {"residentId": gid("Resident", member.id), "cameFrom": "广东省深圳市"}]), "grid_worker")
    person = done["visit"]["people"][0]
    assert person["fromKeyArea"] is False
    changed = mutate(api, "updateSurveyPerson", {"id": person["id"], "version": person["version"],
                                                 "cameFrom": "湖北省孝感市", "underObservation": True}, "grid_worker")
    assert changed["errors"] == [] and changed["person"]["fromKeyArea"] is True
    figures = progress(api, campaign["id"], GRID, "grid_worker")["figures"]
    assert (figures["fromKeyArea"], figures["underObservation"], figures["peopleSurveyed"]) == (1, 1, 1)
    stale = mutate(api, "updateSurveyPerson", {"id": person["id"], "version": person["version"], "cough": True},
                   "grid_worker")
    assert stale["errors"][0]["code"] == "CONFLICT"
    days = api.data("query($c: String!, $f: Date!) { area(code: $c) { surveyDays(from: $f) { day %s } } }" % FIGURES,
                    {"c": GRID, "f": (done["visit"]["on"])}, user="grid_worker")["area"]["surveyDays"]
    assert days[-1]["fromKeyArea"] >= 1 and days[-1]["visits"] >= 1
    assert recount(fresh(sync_session)) == []


def test_a_closed_campaign_takes_no_visit_and_keeps_its_figures(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)
    household = _household(sync_session)
    mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id)), "grid_worker")
    closed = mutate(api, "closeSurveyCampaign", {"id": campaign["id"], "version": campaign["version"]},
                    "community_staff")
    assert closed["errors"] == [] and closed["campaign"]["status"] == "CLOSED"
    late = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", household.id)), "grid_worker")
    assert late["errors"][0]["field"] == "campaignId"
    assert progress(api, campaign["id"], GRID, "grid_worker")["figures"]["householdsSurveyed"] == 1
    # a grid worker cannot close or open a campaign: they read it
    own = mutate(api, "openSurveyCampaign", {"areaCode": GRID, "name": "网格自查"}, "grid_worker")
    assert own["errors"][0]["code"] == "FORBIDDEN"


def test_a_visit_reaches_only_the_campaigns_area_and_days(api, sync_session):
    campaign = open_campaign(api, "community_staff", COMMUNITY)  # starts today
    elsewhere = rows(sync_session, Household, Household.area_code.like("230102002%"))[0]
    outside = mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], gid("Household", elsewhere.id)),
                     "district_admin")
    assert [e["field"] for e in outside["errors"]] == ["householdId"]
    household = gid("Household", _household(sync_session).id)
    today = datetime.fromisoformat(campaign["startsOn"])
    for when in (today - timedelta(hours=12), datetime.now(timezone.utc) + timedelta(hours=2)):
        refused = mutate(api, "recordHouseholdVisit", {**visit_input(campaign["id"], household),
                                                       "visitedAt": when.isoformat()}, "grid_worker")
        assert [e["field"] for e in refused["errors"]] == ["visitedAt"], when
    assert rows(sync_session, SurveyVisit, SurveyVisit.campaign_id == int(campaign_key(campaign))) == []
    assert mutate(api, "recordHouseholdVisit", visit_input(campaign["id"], household), "grid_worker")["errors"] == []
