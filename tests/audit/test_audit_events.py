"""The audit trail over HTTP: each admin reads the events of their own area, newest first."""

from __future__ import annotations

from account_support import (CREATE_USER, GRANT_ROLE, OTHER_COMMUNITY, OTHER_DISTRICT, add_user,
                             global_id, login, new_user, user_id)

AUDIT = """query($action: String, $first: Int, $after: String) {
  auditEvents(action: $action, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { id action actorUsername areaCode recordIds detail } } } }"""


def test_audit_events_are_scoped_to_the_readers_area(api, sync_session):
    add_user(sync_session, "other_admin", "admin", OTHER_DISTRICT)
    login(api, "grid_worker")                         # filed under the grid
    login(api, "no_such_user", "guess")               # filed under no area
    login(api, "other_admin")                         # filed under the other district
    api.data(CREATE_USER, new_user(), user="district_admin")
    staff = global_id("User", user_id(sync_session, "community_staff"))
    api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY}, user="district_admin")

    district = [e["node"] for e in api.data(AUDIT, user="district_admin")["auditEvents"]["edges"]]
    assert {e["action"] for e in district} >= {"login", "user.create", "grant.create"}
    assert all(e["areaCode"] and e["areaCode"].startswith("230102") for e in district)
    assert [e["id"] for e in district] == sorted((e["id"] for e in district), reverse=True)  # newest first
    assert "other_admin" not in {e["actorUsername"] for e in district}

    province = [e["node"] for e in api.data(AUDIT, {"first": 100}, user="province_admin")["auditEvents"]["edges"]]
    assert {("login.failed", None), ("login", OTHER_DISTRICT)} <= {(e["action"], e["areaCode"]) for e in province}
    other = [e["node"] for e in api.data(AUDIT, user="other_admin")["auditEvents"]["edges"]]
    assert {e["areaCode"] for e in other} == {OTHER_DISTRICT}

    creates = api.data(AUDIT, {"action": "user.create"}, user="district_admin")["auditEvents"]
    assert creates["totalCount"] == 1 and creates["edges"][0]["node"]["actorUsername"] == "district_admin"

    for user in ("grid_worker", "community_staff"):
        body = api.query(AUDIT, user=user)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", user
    assert api.query(AUDIT)["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_audit_events_page_by_cursor(api):
    for _ in range(3):
        login(api, "grid_worker", "wrong-password")
    first = api.data(AUDIT, {"action": "login.failed", "first": 2}, user="district_admin")["auditEvents"]
    assert first["totalCount"] == 3 and first["pageInfo"]["hasNextPage"] is True
    rest = api.data(AUDIT, {"action": "login.failed", "first": 2, "after": first["pageInfo"]["endCursor"]},
                    user="district_admin")["auditEvents"]
    assert rest["pageInfo"]["hasNextPage"] is False and len(rest["edges"]) == 1
    ids = [e["node"]["id"] for e in first["edges"] + rest["edges"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 3
