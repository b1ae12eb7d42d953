"""Attacks on accounts, grants, tokens and the audit trail, through HTTP.

Each test either pins a problem found by probing (and fixed: the test is its regression
test) or records an attack that held. Fixed problems:

- an admin whose own grant ends could give open-ended grants (even admin, even to a second
  account of their own) that outlived it (``authz.delegation.check_within_own_term``);
- ``validFrom`` could back-date a grant to any time in the past (clamped to now);
- times with an offset were stored on SQLite as wall-clock time, the offset dropped (a
  ``+08:00`` end eight hours late); times past year 9999 in UTC were internal errors;
- crafted global ids (``User:abc``, keys beyond ``integer``) and cursors (a string, a list,
  a huge int) of ``users``/``auditEvents`` were internal errors;
- NUL characters (PostgreSQL refuses them) made ``login`` fail internally *without* its
  ``login.failed`` audit row, and ``users(search:)``, ``auditEvents(action:)`` and
  ``createUser(displayName:)`` internal errors;
- ``refreshToken`` wrote no audit row, not even when a rotated (stolen) token was replayed.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import jwt

from account_support import (COMMUNITY, CREATE_USER, DEACTIVATE, GRANT_ROLE, LOGIN, OTHER_COMMUNITY, REFRESH,
                             REVOKE_GRANT, USERS, add_user, audit_rows, errors, global_id, grant_of, login, new_user,
                             user_id)

AUDIT = "query($a: String, $act: String) { auditEvents(first: 100, after: $a, action: $act) { edges { node { action areaCode actorUsername detail } } } }"
NODE = "query($id: ID!) { node(id: $id) { id } }"
USERS_AFTER = "query($a: String, $s: String) { users(after: $a, search: $s) { totalCount } }"
RELOAD = "mutation { reloadPolicies { version errors { code } } }"
COMMUNITY_2 = "230102001002"


def cursor(key) -> str:
    return base64.urlsafe_b64encode(json.dumps(["k", key]).encode()).decode()


def codes(body: dict) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors") or []]


# -- delegation in time -----------------------------------------------------------------------


def test_an_admin_cannot_grant_beyond_the_end_of_their_own_grant(api, sync_session):
    now = datetime.now(timezone.utc)
    end = now + timedelta(days=3)
    add_user(sync_session, "acting_admin", "admin", "230102", valid_until=end)
    staff = global_id("User", user_id(sync_session, "community_staff"))

    # open-ended, or ending after their own grant: refused, nothing written
    for variables in (new_user(username="my_second", role="admin", area="230102"),
                      new_user(username="my_third", validUntil=(end + timedelta(days=1)).isoformat())):
        payload = api.data(CREATE_USER, variables, user="acting_admin")["createUser"]
        assert errors(payload) == [("validUntil", "FORBIDDEN")], payload
    for until in (None, (end + timedelta(seconds=1)).isoformat()):
        payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY,
                                        "validUntil": until}, user="acting_admin")["grantRole"]
        assert errors(payload) == [("validUntil", "FORBIDDEN")], payload
    assert audit_rows(sync_session, "grant.create") == [] and audit_rows(sync_session, "user.create") == []

    # within their own term: allowed
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY,
                                    "validUntil": end.isoformat()}, user="acting_admin")["grantRole"]
    assert payload["errors"] == [] and payload["grant"]["active"] is True
    # an admin with an open-ended grant is not limited
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": COMMUNITY_2},
                       user="district_admin")["grantRole"]
    assert payload["errors"] == [] and payload["grant"]["validUntil"] is None


def test_valid_from_cannot_back_date_a_grant(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    before = datetime.now(timezone.utc)
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY,
                                    "validFrom": "2000-01-01T00:00:00Z"}, user="district_admin")["grantRole"]
    assert payload["errors"] == []
    assert datetime.fromisoformat(payload["grant"]["validFrom"]) >= before - timedelta(seconds=1)
    # a past validFrom with an end already reached stays refused
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": COMMUNITY_2,
                                    "validFrom": "2000-01-01T00:00:00Z", "validUntil": "2001-01-01T00:00:00Z"},
                       user="district_admin")["grantRole"]
    assert errors(payload) == [("validUntil", "BAD_USER_INPUT")]


def test_times_with_offsets_are_kept_as_instants_and_extremes_are_bad_input(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    local_end = (datetime.now(timezone.utc) + timedelta(days=2)).astimezone(timezone(timedelta(hours=8)))
    payload = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY,
                                    "validUntil": local_end.isoformat()}, user="district_admin")["grantRole"]
    assert payload["errors"] == []
    from db.accounts import AreaGrant
    sync_session.expire_all()
    newest = max(sync_session.query(AreaGrant).filter(AreaGrant.area_code == OTHER_COMMUNITY), key=lambda g: g.id)
    until = newest.valid_until if newest.valid_until.tzinfo else newest.valid_until.replace(tzinfo=timezone.utc)
    assert until == local_end  # the same instant, not eight hours later

    cases = [
        (GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": COMMUNITY_2,
                      "validUntil": "9999-12-31T23:59:59-14:00"}, "grantRole", "validUntil"),
        (GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": COMMUNITY_2,
                      "validFrom": "0001-01-01T00:00:00+14:00"}, "grantRole", "validFrom"),
        (CREATE_USER, new_user(username="far_future", validUntil="9999-12-31T23:59:59-14:00"), "createUser",
         "validUntil"),
    ]
    for query, variables, name, field in cases:
        payload = api.data(query, variables, user="district_admin")[name]
        assert errors(payload) == [(field, "BAD_USER_INPUT")], payload
    body = api.query('{ auditEvents(since: "0001-01-01T00:00:00+14:00") { totalCount } }', user="province_admin")
    assert codes(body) == ["BAD_USER_INPUT"]


# -- crafted input --------------------------------------------------------------------------------


def test_crafted_global_ids_and_cursors_are_not_internal_errors(api, sync_session):
    for gid in (global_id("User", "abc"), global_id("User", 10**30), global_id("Grant", 10**30),
                global_id("Grant", "-1"), global_id("User", "１")):
        body = api.query(NODE, {"id": gid}, user="province_admin")
        assert body == {"data": {"node": None}}, (gid, body)
    for query, variables, name, field in (
        (GRANT_ROLE, {"userId": global_id("User", 10**30), "role": "staff", "areaCode": COMMUNITY}, "grantRole",
         "userId"),
        (REVOKE_GRANT, {"grantId": global_id("Grant", 10**30)}, "revokeGrant", "grantId"),
        (DEACTIVATE, {"userId": global_id("User", 10**30)}, "deactivateUser", "userId"),
    ):
        payload = api.data(query, variables, user="district_admin")[name]
        assert errors(payload) == [(field, "BAD_USER_INPUT")], payload
    for key in ("abc", 10**30, [1, 2], -5):
        assert codes(api.query(USERS_AFTER, {"a": cursor(key)}, user="district_admin")) == ["BAD_USER_INPUT"], key
        assert codes(api.query(AUDIT, {"a": cursor(key)}, user="province_admin")) == ["BAD_USER_INPUT"], key
        assert codes(api.query(AUDIT, {"a": cursor(key)}, user="district_admin")) == ["BAD_USER_INPUT"], key
    # a valid cursor still pages
    assert not api.query(USERS_AFTER, {"a": cursor(1)}, user="district_admin").get("errors")


def test_nul_characters_are_bad_input_and_a_nul_login_is_still_audited(api, sync_session):
    payload = login(api, "grid\x00worker", "whatever")
    assert [e["message"] for e in payload["errors"]] == ["invalid username or password"]
    (row,) = audit_rows(sync_session, "login.failed")
    assert row.detail == {"reason": "unknown user"} and row.actor_username.startswith("grid")
    assert codes(api.query(USERS_AFTER, {"s": "a\x00"}, user="district_admin")) == ["BAD_USER_INPUT"]
    assert codes(api.query(AUDIT, {"act": "login\x00"}, user="province_admin")) == ["BAD_USER_INPUT"]
    payload = api.data(CREATE_USER, new_user(username="nul_name", displayName="张\x00三"),
                       user="district_admin")["createUser"]
    assert errors(payload) == [("displayName", "BAD_USER_INPUT")]


# -- tokens ---------------------------------------------------------------------------------------


def test_refresh_is_audited_and_a_replayed_refresh_token_is_recorded(api, sync_session):
    first = login(api, "grid_worker")
    second = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert second["errors"] == [] and second["accessToken"]
    replay = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert [e["code"] for e in replay["errors"]] == ["UNAUTHENTICATED"]
    (ok,) = audit_rows(sync_session, "token.refresh")
    (bad,) = audit_rows(sync_session, "token.refresh.failed")
    assert ok.actor_username == bad.actor_username == "grid_worker"
    assert ok.area_code == bad.area_code == "230102001001001"
    assert bad.detail["reason"] == "session revoked"
    # the grid's district admin sees both; a refresh token is still no access token
    seen = {e["node"]["action"] for e in api.data(AUDIT, user="district_admin")["auditEvents"]["edges"]}
    assert {"token.refresh", "token.refresh.failed"} <= seen
    assert api.post(USERS, token=second["refreshToken"]).status_code == 401


def test_token_forgeries_held(api, sync_session):
    from authz.tokens import issue_access_token

    old_public_secret = "wangge-development-secret-not-for-production-use"  # once in the source

    uid = user_id(sync_session, "province_admin")
    sid = jwt.decode(api.token("district_admin"), options={"verify_signature": False})["sid"]
    now = datetime.now(timezone.utc)
    claims = {"sub": str(uid), "sid": sid, "jti": "x", "iat": now, "exp": now + timedelta(minutes=5), "typ": "access"}
    forged = [
        issue_access_token(uid, old_public_secret, session_id=sid),                # the once-public dev secret
        jwt.encode(claims, api.secret, algorithm="HS256"),                         # sub swapped, sid of another user
        jwt.encode({**claims, "sub": str(user_id(sync_session, "district_admin")), "typ": "refresh"}, api.secret),
        jwt.encode({**claims, "sub": f" {uid}"}, api.secret),
        jwt.encode(claims, api.secret, algorithm="HS384"),
        jwt.encode(claims, None, algorithm="none"),
    ]
    for token in forged:
        assert api.post(USERS, token=token).status_code == 401


# -- delegation and visibility that held -----------------------------------------------------------


def test_escalation_through_a_second_account_held(api, sync_session):
    created = api.data(CREATE_USER, new_user(username="deputy", role="admin", area="230102"),
                       user="district_admin")["createUser"]
    assert created["errors"] == []
    me = global_id("User", user_id(sync_session, "district_admin"))
    deputy = "deputy"
    # the deputy cannot give the creator anything beyond the district, nor anything stronger
    for role, area in (("admin", "2301"), ("admin", "23"), ("supervisor", "230102"), ("officer", "230103")):
        payload = api.data(GRANT_ROLE, {"userId": me, "role": role, "areaCode": area}, user=deputy)["grantRole"]
        assert payload["grant"] is None and payload["errors"], (role, area)
    assert api.data(RELOAD, user=deputy)["reloadPolicies"]["errors"] == [{"code": "FORBIDDEN"}]
    # neither can touch the province admin, the city officer or the supervisor
    for target in ("province_admin", "city_officer"):
        payload = api.data(DEACTIVATE, {"userId": global_id("User", user_id(sync_session, target))},
                           user=deputy)["deactivateUser"]
        assert errors(payload) == [("userId", "NOT_FOUND")], target
    payload = api.data(DEACTIVATE, {"userId": global_id("User", user_id(sync_session, "supervisor"))},
                       user=deputy)["deactivateUser"]
    assert errors(payload) == [("userId", "FORBIDDEN")]
    for target in ("province_admin", "city_officer"):
        gid = global_id("Grant", grant_of(sync_session, target).id)
        assert errors(api.data(REVOKE_GRANT, {"grantId": gid}, user=deputy)["revokeGrant"]) == [
            ("grantId", "NOT_FOUND")]
        assert api.data(NODE, {"id": gid}, user=deputy)["node"] is None
        assert api.data(NODE, {"id": global_id("User", user_id(sync_session, target))}, user=deputy)["node"] is None


def test_login_name_variants_neither_log_in_nor_lock_the_real_account(api, sync_session):
    for name in ("GRID_WORKER", " grid_worker", "grid_worker ", "ｇｒｉｄ_worker", "grid_worker\t"):
        payload = login(api, name, "demo-password")
        assert payload["accessToken"] is None, name
    sync_session.expire_all()
    from db.accounts import User
    user = sync_session.query(User).filter(User.username == "grid_worker").one()
    assert user.failed_logins == 0 and user.locked_until is None
    assert {r.detail["reason"] for r in audit_rows(sync_session, "login.failed")} == {"unknown user"}


def test_audit_trail_of_other_areas_and_secrets_held(api, sync_session):
    login(api, "province_admin")          # filed under the province
    login(api, "nobody_at_all", "guess")   # filed under no area
    login(api, "city_officer", "wrong")    # filed under the city
    seen = api.data(AUDIT, user="district_admin")["auditEvents"]["edges"]
    assert all((e["node"]["areaCode"] or "").startswith("230102") for e in seen), seen
    assert api.query(AUDIT, user="community_staff")["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    every = api.data(AUDIT, user="province_admin")["auditEvents"]["edges"]
    assert {e["node"]["actorUsername"] for e in every} >= {"province_admin", "nobody_at_all", "city_officer"}
    text = json.dumps(every)
    assert "$argon2" not in text and "demo-password" not in text and "guess" not in text
    # viewer lists only one's own grants
    viewer = api.data("{ viewer { grants { areaCode } } }", user="district_admin")["viewer"]
    assert [g["areaCode"] for g in viewer["grants"]] == ["230102"]
