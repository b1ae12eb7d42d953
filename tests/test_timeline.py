"""One person, one file: ``Resident.timeline`` lists every domain's records about a person,
newest first, each through the gate and masked as anywhere.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from conftest import global_id
from registry_support import GRID
from returnee_support import free_residents

from db.counters import DEFAULT_ZONE, local_day

TIMELINE = """query($id: ID!, $first: Int, $after: String) { node(id: $id) { ... on Resident {
  timeline(first: $first, after: $after) { totalCount pageInfo { hasNextPage endCursor }
    edges { node { at kind recordedBy record { id ... on KeyPerson { categories } ... on FollowUp { health } ... on SurveyPerson { fever } } } } } } } }"""


def _record_a_file(api, resident_gid: str) -> None:
    """A ledger entry, a returnee and one follow-up for the resident, by the grid worker."""
    today = local_day(DEFAULT_ZONE)
    steps = [
        ("addKeyPerson", "AddKeyPersonInput", "keyPerson { id }",
         {"residentId": resident_gid, "categories": ["HARDSHIP"]}),
        ("openReturnee", "OpenReturneeInput", "returnee { id }",
         {"residentId": resident_gid, "origin": "湖北省武汉市", "fromKeyArea": True, "transport": "TRAIN",
          "departedOn": (today - timedelta(days=2)).isoformat(), "arrivedOn": (today - timedelta(days=1)).isoformat()}),
    ]
    made = {}
    for name, input_type, result, values in steps:
        body = api.data(f"mutation($i: {input_type}!) {{ {name}(input: $i) {{ {result} errors {{ field code }} }} }}",
                        {"i": values}, user="grid_worker")[name]
        assert body["errors"] == [], (name, body)
        made[name] = body
    returnee_id = made["openReturnee"]["returnee"]["id"]
    body = api.data("mutation($i: RecordFollowUpInput!) { recordFollowUp(input: $i) { followUp { id } errors { field code } } }",
                    {"i": {"returneeId": returnee_id, "health": "WELL", "temperature": 36.5}}, user="grid_worker")
    assert body["recordFollowUp"]["errors"] == []
    campaign = api.data("mutation { openSurveyCampaign(input: {areaCode: \"%s\", name: \"复查\"}) { campaign { id } "
                        "errors { field code } } }" % GRID[:12], user="community_staff")["openSurveyCampaign"]
    resident = api.data("query($id: ID!) { node(id: $id) { ... on Resident { household { id } } } }",
                        {"id": resident_gid}, user="grid_worker")["node"]
    body = api.data("mutation($i: RecordHouseholdVisitInput!) { recordHouseholdVisit(input: $i) { errors { field code } } }",
                    {"i": {"campaignId": campaign["campaign"]["id"], "householdId": resident["household"]["id"],
                           "method": "DOOR", "outcome": "REACHED", "people": [{"residentId": resident_gid, "fever": True}]}},
                    user="grid_worker")
    assert body["recordHouseholdVisit"]["errors"] == []


def _unsurveyed(session):
    """A resident of the grid with nothing on file yet (the demo surveyed most of them)."""
    from db.survey import SurveyPerson

    session.rollback()
    surveyed = set(session.scalars(select(SurveyPerson.resident_id)).all())
    return next(r for r in free_residents(session, GRID) if r.id not in surveyed)


def test_a_file_holds_every_kind_newest_first_and_pages_through(api, sync_session):
    resident = _unsurveyed(sync_session)
    rid = global_id("Resident", resident.id)
    _record_a_file(api, rid)
    whole = api.data(TIMELINE, {"id": rid, "first": 10}, user="grid_worker")["node"]["timeline"]
    kinds = [e["node"]["kind"] for e in whole["edges"]]
    assert sorted(kinds) == ["follow_up", "key_person", "returnee", "survey_person"] and whole["totalCount"] == 4
    ats = [e["node"]["at"] for e in whole["edges"]]
    assert ats == sorted(ats, reverse=True)
    assert {e["node"]["recordedBy"] for e in whole["edges"]} == {"乡政社区第一网格网格员"}
    # one at a time, by cursor: the same entries in the same order, and nothing twice
    seen, after = [], None
    while True:
        page = api.data(TIMELINE, {"id": rid, "first": 1, "after": after}, user="grid_worker")["node"]["timeline"]
        seen += [e["node"]["record"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == [e["node"]["record"]["id"] for e in whole["edges"]]


def test_the_file_is_masked_for_an_officer_and_closed_to_others(api, sync_session):
    resident = _unsurveyed(sync_session)
    rid = global_id("Resident", resident.id)
    _record_a_file(api, rid)
    officer = api.data(TIMELINE, {"id": rid, "first": 10}, user="city_officer")["node"]["timeline"]
    records = {e["node"]["kind"]: e["node"]["record"] for e in officer["edges"]}
    assert set(records) == {"follow_up", "key_person", "returnee", "survey_person"}
    assert records["key_person"]["categories"] is None and records["follow_up"]["health"] is None
    assert records["survey_person"]["fever"] is None
    clear = api.data(TIMELINE, {"id": rid, "first": 10}, user="grid_worker")["node"]["timeline"]
    assert {e["node"]["kind"]: e["node"]["record"] for e in clear["edges"]}["key_person"]["categories"] == ["HARDSHIP"]
    # the analyst reads no person at all, and a team of another community no one here: no
    # file to reach
    assert api.data(TIMELINE, {"id": rid}, user="province_analyst")["node"] is None
    assert api.data(TIMELINE, {"id": rid}, user="team_member")["node"] is None


def test_a_crafted_cursor_is_bad_input(api, sync_session):
    resident = free_residents(sync_session, GRID)[0]
    body = api.query(TIMELINE, {"id": global_id("Resident", resident.id), "after": "bm90LWEtY3Vyc29y"}, user="grid_worker")
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
