"""Delegated administration over HTTP: who may create users and grant what, where; expiry and
revocation taking effect; who sees and may deactivate which accounts."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from account_support import (AREA, COMMUNITY, CREATE_USER, DEACTIVATE, GRANT_ROLE, OTHER_COMMUNITY, OTHER_DISTRICT,
                             REVOKE_GRANT, USERS, VIEWER, add_user, as_token, audit_rows, errors, global_id,
                             grant_of, login, new_user, user_id)


def usernames(api, user: str) -> set[str]:
    return {e["node"]["username"] for e in api.data(USERS, user=user)["users"]["edges"]}


# -- createUser -----------------------------------------------------------------------------


def test_district_admin_creates_staff_in_a_community_of_the_district(api, sync_session):
    payload = api.data(CREATE_USER, new_user(), user="district_admin")["createUser"]
    assert payload["errors"] == []
    user = payload["user"]
    assert (user["username"], user["isActive"]) == ("new_staff", True)
    assert [(g["role"], g["areaCode"], g["areaName"]) for g in user["grants"]] == [("staff", COMMUNITY, "乡政社区")]
    assert payload["grant"]["role"] == "staff"

    # the new account works, with exactly that community's rights
    token = login(api, "new_staff", "long-enough-password")["accessToken"]
    assert as_token(api, token, AREA, {"code": COMMUNITY}).json()["data"]["area"]["code"] == COMMUNITY
    assert as_token(api, token, AREA, {"code": OTHER_COMMUNITY}).json()["data"]["area"] is None

    grant = grant_of(sync_session, "new_staff")
    assert grant.granted_by == user_id(sync_session, "district_admin")
    (row,) = audit_rows(sync_session, "user.create")
    assert (row.actor_username, row.area_code, row.resource) == ("district_admin", COMMUNITY, "user")
    assert row.record_ids == str(user_id(sync_session, "new_staff"))
    assert row.detail["after"]["username"] == "new_staff" and row.detail["grant"]["role"] == "staff"
    assert "long-enough-password" not in str(row.detail)


def test_create_user_refusals(api, sync_session):
    cases = [
        (new_user(area="2301"), [("areaCode", "FORBIDDEN")]),                   # the city, above the district
        (new_user(area="230103001001"), [("areaCode", "FORBIDDEN")]),           # another district
        (new_user(role="supervisor"), [("role", "FORBIDDEN")]),                 # stronger: finding rights
        (new_user(role="admin", area="23"), [("areaCode", "FORBIDDEN")]),       # admin at the province
        (new_user(role="emperor"), [("role", "BAD_USER_INPUT")]),
        (new_user(area="2301x"), [("areaCode", "BAD_USER_INPUT")]),
        (new_user(area="230102009009"), [("areaCode", "BAD_USER_INPUT")]),      # no such community
        (new_user(username="grid_worker"), [("username", "BAD_USER_INPUT")]),   # taken
        (new_user(username="Bad Name"), [("username", "BAD_USER_INPUT")]),
        (new_user(password="short"), [("password", "BAD_USER_INPUT")]),
        (new_user(validUntil="2020-01-01T00:00:00Z"), [("validUntil", "BAD_USER_INPUT")]),
    ]
    for variables, expected in cases:
        payload = api.data(CREATE_USER, variables, user="district_admin")["createUser"]
        assert errors(payload) == expected, (variables, payload)
        assert payload["user"] is None
    from sqlalchemy import func, select

    from db.accounts import User

    assert sync_session.scalar(select(func.count()).select_from(User).where(User.username == "new_staff")) == 0
    assert audit_rows(sync_session, "user.create") == []


def test_community_staff_and_anonymous_may_not_create_users(api):
    payload = api.data(CREATE_USER, new_user(), user="community_staff")["createUser"]
    assert errors(payload) == [("areaCode", "FORBIDDEN")]
    response = api.post(CREATE_USER, new_user())
    assert response.status_code == 401
    body = response.json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_temporary_team_member_is_created_with_an_end(api):
    until = (datetime.now(timezone.utc) + timedelta(days=14)).isoformat()
    payload = api.data(CREATE_USER, new_user("baobao_1", area="230102001002", validUntil=until),
                       user="district_admin")["createUser"]
    assert payload["errors"] == []
    (grant,) = payload["user"]["grants"]
    assert datetime.fromisoformat(grant["validUntil"]) == datetime.fromisoformat(until)


# -- grantRole --------------------------------------------------------------------------------


def test_grant_role_inside_the_district(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY},
                       user="district_admin")["grantRole"]
    assert payload["errors"] == []
    assert payload["grant"]["areaName"] == "安升社区" and payload["grant"]["active"] is True
    assert payload["grant"]["user"] == {"username": "community_staff"}
    # the grantee's next request sees the new community
    assert api.data(AREA, {"code": OTHER_COMMUNITY}, user="community_staff")["area"]["code"] == OTHER_COMMUNITY
    (row,) = audit_rows(sync_session, "grant.create")
    assert (row.actor_username, row.area_code, row.resource) == ("district_admin", OTHER_COMMUNITY, "grant")
    assert row.detail["after"]["role"] == "staff"


def test_grant_role_refusals(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    me = global_id("User", user_id(sync_session, "district_admin"))
    now = datetime.now(timezone.utc)
    cases = [
        ({"userId": staff, "role": "supervisor", "areaCode": COMMUNITY}, [("role", "FORBIDDEN")]),
        ({"userId": staff, "role": "admin", "areaCode": "23"}, [("areaCode", "FORBIDDEN")]),
        ({"userId": staff, "role": "officer", "areaCode": "2301"}, [("areaCode", "FORBIDDEN")]),
        ({"userId": staff, "role": "staff", "areaCode": "230103001001"}, [("areaCode", "FORBIDDEN")]),
        ({"userId": me, "role": "staff", "areaCode": COMMUNITY}, [("userId", "FORBIDDEN")]),
        ({"userId": staff, "role": "staff", "areaCode": COMMUNITY, "validFrom": (now + timedelta(days=2)).isoformat(),
          "validUntil": (now + timedelta(days=1)).isoformat()}, [("validUntil", "BAD_USER_INPUT")]),
        ({"userId": staff, "role": "staff", "areaCode": COMMUNITY, "validFrom": now.isoformat(),
          "validUntil": now.isoformat()}, [("validUntil", "BAD_USER_INPUT")]),
        ({"userId": global_id("Resident", 1), "role": "staff", "areaCode": COMMUNITY}, [("userId", "BAD_USER_INPUT")]),
        ({"userId": "bm9wZQ", "role": "staff", "areaCode": COMMUNITY}, [("userId", "BAD_USER_INPUT")]),
        ({"userId": global_id("User", 999999), "role": "staff", "areaCode": COMMUNITY}, [("userId", "NOT_FOUND")]),
        # a user of the city office: no grant inside the district, so not visible here
        ({"userId": global_id("User", user_id(sync_session, "city_officer")), "role": "staff",
          "areaCode": COMMUNITY}, [("userId", "NOT_FOUND")]),
    ]
    for variables, expected in cases:
        payload = api.data(GRANT_ROLE, variables, user="district_admin")["grantRole"]
        assert errors(payload) == expected, (variables, payload)
        assert payload["grant"] is None
    assert audit_rows(sync_session, "grant.create") == []
    response = api.post(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": COMMUNITY})
    assert response.status_code == 401 and response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_grant_starting_later_gives_nothing_until_then(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    start = datetime.now(timezone.utc) + timedelta(days=1)
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY,
                                    "validFrom": start.isoformat()}, user="district_admin")["grantRole"]
    assert payload["errors"] == [] and payload["grant"]["active"] is False
    assert api.data(AREA, {"code": OTHER_COMMUNITY}, user="community_staff")["area"] is None


# -- expiry and revocation ------------------------------------------------------------------


def test_expired_and_future_grants_give_no_access(api, sync_session):
    now = datetime.now(timezone.utc)
    add_user(sync_session, "expired_staff", "staff", COMMUNITY, valid_from=now - timedelta(days=15),
             valid_until=now - timedelta(seconds=1))
    add_user(sync_session, "future_staff", "staff", COMMUNITY, valid_from=now + timedelta(hours=1))
    for username in ("expired_staff", "future_staff"):
        assert api.data(AREA, {"code": COMMUNITY}, user=username)["area"] is None, username
        assert api.data(VIEWER, user=username)["viewer"]["grants"] == []
        listing = api.data('{ areas(first: 5) { totalCount edges { node { code } } } }', user=username)
        assert listing["areas"] == {"totalCount": 0, "edges": []}
    # the same grant, valid now, does give access (the query itself is fine)
    add_user(sync_session, "current_staff", "staff", COMMUNITY)
    assert api.data(AREA, {"code": COMMUNITY}, user="current_staff")["area"]["residents"]["totalCount"] > 0


def test_revoke_takes_effect_on_the_next_request(api, sync_session):
    assert api.data(AREA, {"code": COMMUNITY}, user="community_staff")["area"] is not None
    grant = global_id("Grant", grant_of(sync_session, "community_staff").id)
    payload = api.data(REVOKE_GRANT, {"grantId": grant}, user="district_admin")["revokeGrant"]
    assert payload["errors"] == [] and payload["grant"]["active"] is False and payload["grant"]["revokedAt"]
    assert api.data(AREA, {"code": COMMUNITY}, user="community_staff")["area"] is None  # same token, next request
    again = api.data(REVOKE_GRANT, {"grantId": grant}, user="district_admin")["revokeGrant"]
    assert errors(again) == [("grantId", "CONFLICT")]
    (row,) = audit_rows(sync_session, "grant.revoke")
    assert row.area_code == COMMUNITY and row.detail["before"]["revokedAt"] is None and row.detail["after"]["revokedAt"]
    assert grant_of(sync_session, "community_staff").revoked_by == user_id(sync_session, "district_admin")


def test_revoke_refusals(api, sync_session):
    cases = [
        # supervision stays independent: an admin cannot remove the supervisor inspecting the district
        (grant_of(sync_session, "supervisor").id, [("grantId", "FORBIDDEN")]),
        (grant_of(sync_session, "district_admin").id, [("grantId", "FORBIDDEN")]),   # their own
        (grant_of(sync_session, "city_officer").id, [("grantId", "NOT_FOUND")]),     # above the district
        (grant_of(sync_session, "province_admin").id, [("grantId", "NOT_FOUND")]),
    ]
    for grant_id, expected in cases:
        payload = api.data(REVOKE_GRANT, {"grantId": global_id("Grant", grant_id)}, user="district_admin")
        assert errors(payload["revokeGrant"]) == expected, grant_id
    payload = api.data(REVOKE_GRANT, {"grantId": global_id("Grant", grant_of(sync_session, "grid_worker").id)},
                       user="community_staff")["revokeGrant"]
    assert errors(payload) == [("grantId", "NOT_FOUND")]  # staff cannot even see grants
    assert audit_rows(sync_session, "grant.revoke") == []
    assert grant_of(sync_session, "supervisor").revoked_at is None


# -- visibility and deactivation -------------------------------------------------------------


def test_admins_see_the_users_of_their_own_area_only(api, sync_session):
    add_user(sync_session, "other_admin", "admin", OTHER_DISTRICT)
    add_user(sync_session, "other_staff", "staff", "230103001001")
    district = usernames(api, "district_admin")
    assert district == {"district_admin", "community_staff", "grid_worker", "supervisor", "team_member"}
    assert usernames(api, "other_admin") == {"other_admin", "other_staff"}
    assert {"province_admin", "city_officer", "other_admin", "district_admin"} <= usernames(api, "province_admin")

    staff_id = global_id("User", user_id(sync_session, "community_staff"))
    node = '{ node(id: "%s") { ... on User { username grants { role } } } }' % staff_id
    assert api.data(node, user="district_admin")["node"] == {"username": "community_staff",
                                                              "grants": [{"role": "staff"}]}
    assert api.data(node, user="other_admin")["node"] is None
    assert api.data(node, user="grid_worker")["node"] is None

    for user in ("community_staff", "grid_worker", "province_analyst"):
        body = api.query(USERS, user=user)
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", user


def test_deactivate_user(api, sync_session):
    add_user(sync_session, "other_admin", "admin", OTHER_DISTRICT)
    staff_token = api.token("community_staff")
    staff = global_id("User", user_id(sync_session, "community_staff"))
    refused = api.data(DEACTIVATE, {"userId": staff}, user="other_admin")["deactivateUser"]
    assert errors(refused) == [("userId", "NOT_FOUND")]
    assert api.data(VIEWER, user="community_staff")["viewer"]["username"] == "community_staff"

    payload = api.data(DEACTIVATE, {"userId": staff}, user="district_admin")["deactivateUser"]
    assert payload["errors"] == [] and payload["user"]["isActive"] is False
    assert api.post(VIEWER, token=staff_token).status_code == 401
    assert login(api, "community_staff")["errors"][0]["code"] == "UNAUTHENTICATED"
    again = api.data(DEACTIVATE, {"userId": staff}, user="district_admin")["deactivateUser"]
    assert errors(again) == [("userId", "CONFLICT")]
    (row,) = audit_rows(sync_session, "user.deactivate")
    assert row.area_code == COMMUNITY and row.detail["after"] == {"isActive": False}
    assert row.detail["sessionsRevoked"] >= 1


def test_deactivate_refusals(api, sync_session):
    # a user holding a role outside the district too cannot be switched off from inside it
    uid = add_user(sync_session, "two_districts", "staff", COMMUNITY)
    from db.accounts import AreaGrant

    sync_session.add(AreaGrant(user_id=uid, role="staff", area_code="230103001001"))
    # ... nor one whose role elsewhere only starts next week
    later = add_user(sync_session, "moving_soon", "staff", COMMUNITY)
    sync_session.add(AreaGrant(user_id=later, role="staff", area_code="230103001001",
                               valid_from=datetime.now(timezone.utc) + timedelta(days=7)))
    sync_session.commit()
    cases = [
        ("two_districts", [("userId", "FORBIDDEN")]),
        ("moving_soon", [("userId", "FORBIDDEN")]),
        ("supervisor", [("userId", "FORBIDDEN")]),      # holds rights the admin lacks
        ("district_admin", [("userId", "FORBIDDEN")]),  # themselves
        ("city_officer", [("userId", "NOT_FOUND")]),
    ]
    for username, expected in cases:
        payload = api.data(DEACTIVATE, {"userId": global_id("User", user_id(sync_session, username))},
                           user="district_admin")["deactivateUser"]
        assert errors(payload) == expected, username
    assert audit_rows(sync_session, "user.deactivate") == []


def test_a_user_whose_grants_all_ended_can_still_be_deactivated(api, sync_session):
    now = datetime.now(timezone.utc)
    uid = add_user(sync_session, "former_staff", "staff", COMMUNITY, valid_from=now - timedelta(days=30),
                   valid_until=now - timedelta(days=1))
    assert "former_staff" in usernames(api, "district_admin")
    payload = api.data(DEACTIVATE, {"userId": global_id("User", uid)}, user="district_admin")["deactivateUser"]
    assert payload["errors"] == [] and payload["user"]["isActive"] is False
    assert audit_rows(sync_session, "user.deactivate")[0].area_code == COMMUNITY


def test_users_with_nested_grants_cost_a_fixed_number_of_statements(api, sync_session, statements):
    query = "{ users(first: 50) { totalCount edges { node { username grants { role areaName user { username } } } } } }"
    api.data(query, user="district_admin")  # token and first-request work out of the way
    statements.reset()
    assert len(api.data(query, user="district_admin")["users"]["edges"]) == 5
    few = statements.count
    for i in range(10):
        add_user(sync_session, f"extra_{i}", "staff", OTHER_COMMUNITY)
    statements.reset()
    assert len(api.data(query, user="district_admin")["users"]["edges"]) == 15
    assert statements.count == few, statements.statements
