"""A deputy cannot remove the one who appointed it: taking back only what one could have given.

An outside review found that an open-ended admin of a street could appoint a one-day deputy
admin, and that the deputy could revoke the appointer's grant and deactivate a peer admin,
permanently: there was no way back, and a user whose only grant was revoked was invisible
to every admin. The rule now (``authz.delegation.grant_refusal``, one function for granting,
revoking, deactivating and reactivating): an admin may end, switch off or switch back on only
what they could have granted themselves: a role whose rights they hold at its area, inside
their own area, ending no later than their own rights to grant it.
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from account_support import (COMMUNITY, CREATE_USER, DEACTIVATE, GRANT_ROLE, OTHER_COMMUNITY, OTHER_DISTRICT,
                             REVOKE_GRANT, USERS, VIEWER, add_user, audit_rows, errors, global_id, grant_of, login,
                             new_user, user_id)
from conftest import IN_CI

STREET = "230102001"          # 新华街道, in district_admin's 道里区
OTHER_STREET = "230102002"    # 抚顺街道, same district
HIDDEN = "230103001001"       # 花园社区, in another district

REACTIVATE = """
mutation Reactivate($userId: ID!) {
  reactivateUser(userId: $userId) { user { id username isActive } errors { field message code } }
}"""
NODE_USER = """query($id: ID!) {
  node(id: $id) { ... on User { username grants(includeInactive: true) { areaCode active } } }
}"""


def usernames(api, user: str) -> set[str]:
    return {e["node"]["username"] for e in api.data(USERS, user=user)["users"]["edges"]}


def appoint_deputy(api, sync_session, days: int = 1) -> datetime:
    """``street_admin`` (open-ended) appoints ``deputy``, admin of the same street for ``days``;
    ``peer_admin`` is a second open-ended admin of the street. Returns the deputy's end."""
    add_user(sync_session, "street_admin", "admin", STREET)
    add_user(sync_session, "peer_admin", "admin", STREET)
    until = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(days=days)
    payload = api.data(CREATE_USER, new_user("deputy", role="admin", area=STREET, validUntil=until.isoformat()),
                       user="street_admin")["createUser"]
    assert payload["errors"] == [], payload
    return until


def tokens(api, *usernames: str) -> None:
    """Log these users in now (a login is a row), so that a later ``state`` compares only the change."""
    for name in usernames:
        api.token(name)


def state(sync_session) -> tuple:
    """What a refused change must leave as it was: grants, accounts, login sessions, audit rows."""
    from db.accounts import AreaGrant, LoginSession, User
    from db.audit import AuditEvent

    sync_session.expire_all()
    return (
        sync_session.execute(select(AreaGrant.id, AreaGrant.role, AreaGrant.area_code, AreaGrant.valid_until,
                                    AreaGrant.revoked_at, AreaGrant.revoked_by).order_by(AreaGrant.id)).all(),
        sync_session.execute(select(User.id, User.is_active, User.version).order_by(User.id)).all(),
        sync_session.execute(select(LoginSession.id, LoginSession.revoked_at).order_by(LoginSession.id)).all(),
        sync_session.scalar(select(func.count()).select_from(AuditEvent)),
    )


# -- the reviewer's scenario ----------------------------------------------------------------------


def test_a_one_day_deputy_cannot_revoke_the_grant_of_the_admin_who_appointed_it(api, sync_session):
    appoint_deputy(api, sync_session)
    appointer = grant_of(sync_session, "street_admin")
    tokens(api, "deputy", "street_admin")
    before = state(sync_session)

    payload = api.data(REVOKE_GRANT, {"grantId": global_id("Grant", appointer.id)}, user="deputy")["revokeGrant"]
    assert errors(payload) == [("grantId", "FORBIDDEN")], payload
    assert payload["grant"] is None
    assert state(sync_session) == before
    assert grant_of(sync_session, "street_admin").revoked_at is None
    # the appointer still holds the street, open-ended
    assert [(g["areaCode"], g["validUntil"]) for g in api.data(VIEWER, user="street_admin")["viewer"]["grants"]] == [
        (STREET, None)]
    assert audit_rows(sync_session, "grant.revoke") == []


def test_a_one_day_deputy_cannot_deactivate_a_peer_admin(api, sync_session):
    appoint_deputy(api, sync_session)
    peer_token = api.token("peer_admin")
    tokens(api, "deputy")
    before = state(sync_session)

    payload = api.data(DEACTIVATE, {"userId": global_id("User", user_id(sync_session, "peer_admin"))},
                       user="deputy")["deactivateUser"]
    assert errors(payload) == [("userId", "FORBIDDEN")], payload
    assert state(sync_session) == before
    assert api.post(VIEWER, token=peer_token).status_code == 200  # their logins still work
    assert audit_rows(sync_session, "user.deactivate") == []
    # ... nor the appointer
    payload = api.data(DEACTIVATE, {"userId": global_id("User", user_id(sync_session, "street_admin"))},
                       user="deputy")["deactivateUser"]
    assert errors(payload) == [("userId", "FORBIDDEN")], payload
    assert state(sync_session) == before


def test_the_deputy_still_takes_back_what_it_could_have_given_and_the_appointer_can_remove_it(api, sync_session):
    until = appoint_deputy(api, sync_session)
    staff = global_id("User", user_id(sync_session, "community_staff"))
    made = api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": "230102001002",
                                 "validUntil": until.isoformat()}, user="deputy")["grantRole"]
    assert made["errors"] == []
    # a grant ending when the deputy's own does: the deputy could have made it, so may end it
    short = add_user(sync_session, "short_staff", "staff", COMMUNITY, valid_until=until - timedelta(hours=1))
    assert errors(api.data(REVOKE_GRANT, {"grantId": made["grant"]["id"]}, user="deputy")["revokeGrant"]) == []
    payload = api.data(DEACTIVATE, {"userId": global_id("User", short)}, user="deputy")["deactivateUser"]
    assert payload["errors"] == [] and payload["user"]["isActive"] is False
    # the open-ended community staff (the seed grant) is beyond the deputy
    payload = api.data(DEACTIVATE, {"userId": staff}, user="deputy")["deactivateUser"]
    assert errors(payload) == [("userId", "FORBIDDEN")]
    # the appointer ends the deputy's grant
    deputy_grant = global_id("Grant", grant_of(sync_session, "deputy").id)
    assert errors(api.data(REVOKE_GRANT, {"grantId": deputy_grant}, user="street_admin")["revokeGrant"]) == []


# -- reactivateUser -------------------------------------------------------------------------------


def test_reactivate_user_within_the_rules_is_audited(api, sync_session):
    staff = global_id("User", user_id(sync_session, "community_staff"))
    assert api.data(DEACTIVATE, {"userId": staff}, user="district_admin")["deactivateUser"]["errors"] == []
    assert login(api, "community_staff")["accessToken"] is None

    payload = api.data(REACTIVATE, {"userId": staff}, user="district_admin")["reactivateUser"]
    assert payload["errors"] == [] and payload["user"] == {"id": staff, "username": "community_staff",
                                                           "isActive": True}
    assert login(api, "community_staff")["accessToken"]
    (row,) = audit_rows(sync_session, "user.reactivate")
    assert (row.actor_username, row.area_code, row.resource) == ("district_admin", COMMUNITY, "user")
    assert row.record_ids == str(user_id(sync_session, "community_staff"))
    assert row.detail == {"before": {"isActive": False}, "after": {"isActive": True}}

    again = api.data(REACTIVATE, {"userId": staff}, user="district_admin")["reactivateUser"]
    assert errors(again) == [("userId", "CONFLICT")]
    assert len(audit_rows(sync_session, "user.reactivate")) == 1


def test_reactivate_user_refused_outside_the_rules(api, sync_session):
    appoint_deputy(api, sync_session)
    add_user(sync_session, "other_admin", "admin", OTHER_DISTRICT)
    peer = global_id("User", user_id(sync_session, "peer_admin"))
    assert api.data(DEACTIVATE, {"userId": peer}, user="street_admin")["deactivateUser"]["errors"] == []
    tokens(api, "deputy", "other_admin", "community_staff", "supervisor")
    before = state(sync_session)
    cases = [
        ("deputy", [("userId", "FORBIDDEN")]),          # an open-ended admin: not one the deputy could make
        ("other_admin", [("userId", "NOT_FOUND")]),     # another district
        ("community_staff", [("userId", "NOT_FOUND")]),  # no account rights at all
        ("supervisor", [("userId", "NOT_FOUND")]),
    ]
    for actor, expected in cases:
        payload = api.data(REACTIVATE, {"userId": peer}, user=actor)["reactivateUser"]
        assert errors(payload) == expected, (actor, payload)
        assert payload["user"] is None
    assert state(sync_session) == before
    body = api.post(REACTIVATE, {"userId": peer}).json()  # anonymous
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    for variables in ({"userId": global_id("Resident", 1)}, {"userId": global_id("User", 10**30)}):
        assert errors(api.data(REACTIVATE, variables, user="street_admin")["reactivateUser"]) == [
            ("userId", "BAD_USER_INPUT")]
    # within the rules: the appointer (open-ended) switches the peer back on
    payload = api.data(REACTIVATE, {"userId": peer}, user="street_admin")["reactivateUser"]
    assert payload["errors"] == [] and payload["user"]["isActive"] is True


def test_reactivate_is_refused_until_a_policy_allows_it(db_url, tmp_path, sync_session):
    from starlette.testclient import TestClient

    from authz.enforcer import default_policies_path
    from conftest import TEST_SECRET, Api
    from server.app import create_app
    from server.settings import Settings

    path = tmp_path / "policies.csv"
    text = default_policies_path().read_text(encoding="utf-8")
    assert "p, admin, user, reactivate\n" in text
    path.write_text(text.replace("p, admin, user, reactivate\n", ""), encoding="utf-8")
    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET, policies_path=path))
    with TestClient(app) as client:
        api = Api(client, db_url, TEST_SECRET)
        staff = global_id("User", user_id(sync_session, "community_staff"))
        assert api.data(DEACTIVATE, {"userId": staff}, user="district_admin")["deactivateUser"]["errors"] == []
        for admin in ("district_admin", "province_admin"):
            payload = api.data(REACTIVATE, {"userId": staff}, user=admin)["reactivateUser"]
            assert errors(payload) == [("userId", "FORBIDDEN")], payload
    sync_session.expire_all()
    assert audit_rows(sync_session, "user.reactivate") == []
    assert login_blocked(sync_session, "community_staff")


def login_blocked(sync_session, username: str) -> bool:
    from db.accounts import User

    sync_session.expire_all()
    return not sync_session.scalars(select(User.is_active).where(User.username == username)).one()


# -- visibility of users without active grants ----------------------------------------------------


def test_a_user_whose_only_grant_was_revoked_stays_visible_to_the_admins_of_that_area(api, sync_session):
    uid = add_user(sync_session, "gone_staff", "staff", COMMUNITY)
    add_user(sync_session, "street_admin", "admin", STREET)
    add_user(sync_session, "street2_admin", "admin", OTHER_STREET)
    add_user(sync_session, "other_admin", "admin", OTHER_DISTRICT)
    grant = global_id("Grant", grant_of(sync_session, "gone_staff").id)
    assert errors(api.data(REVOKE_GRANT, {"grantId": grant}, user="district_admin")["revokeGrant"]) == []

    node = {"id": global_id("User", uid)}
    for admin in ("district_admin", "street_admin", "province_admin"):
        assert "gone_staff" in usernames(api, admin), admin
        assert api.data(NODE_USER, node, user=admin)["node"] == {
            "username": "gone_staff", "grants": [{"areaCode": COMMUNITY, "active": False}]}, admin
    for admin in ("street2_admin", "other_admin"):
        assert "gone_staff" not in usernames(api, admin), admin
        assert api.data(NODE_USER, node, user=admin)["node"] is None, admin

    # ... and can be switched off and on again by them (not by the others)
    for admin in ("street2_admin", "other_admin"):
        payload = api.data(DEACTIVATE, {"userId": node["id"]}, user=admin)["deactivateUser"]
        assert errors(payload) == [("userId", "NOT_FOUND")], admin
    assert api.data(DEACTIVATE, {"userId": node["id"]}, user="street_admin")["deactivateUser"]["errors"] == []
    assert api.data(REACTIVATE, {"userId": node["id"]}, user="street_admin")["reactivateUser"]["errors"] == []

    # once the user holds a grant elsewhere, the old area's admins no longer see them
    staff = global_id("User", uid)
    assert api.data(GRANT_ROLE, {"userId": staff, "role": "staff", "areaCode": OTHER_COMMUNITY},
                    user="district_admin")["grantRole"]["errors"] == []
    assert "gone_staff" not in usernames(api, "street_admin")
    assert "gone_staff" in usernames(api, "street2_admin")


# -- refusals reveal nothing the admin cannot see -------------------------------------------------


def test_refusal_messages_name_no_area_or_role_the_admin_cannot_see(api, sync_session):
    from db.accounts import AreaGrant

    uid = add_user(sync_session, "two_places", "staff", COMMUNITY)
    sync_session.add(AreaGrant(user_id=uid, role="analyst", area_code=HIDDEN))
    later = add_user(sync_session, "moving_soon", "staff", COMMUNITY)
    sync_session.add(AreaGrant(user_id=later, role="officer", area_code=HIDDEN,
                               valid_from=datetime.now(timezone.utc) + timedelta(days=7)))
    sync_session.commit()
    hidden = [HIDDEN, HIDDEN[:9], HIDDEN[:6], "analyst", "officer"]

    def check(payload: dict) -> None:
        assert errors(payload) == [("userId", "FORBIDDEN")], payload
        for message in (e["message"] for e in payload["errors"]):
            assert not any(h in message for h in hidden), message
            assert not re.search(r"\d{6,}", message), message  # no district-or-lower code at all

    targets = [global_id("User", user_id(sync_session, t)) for t in ("two_places", "moving_soon")]
    for gid in targets:
        check(api.data(DEACTIVATE, {"userId": gid}, user="district_admin")["deactivateUser"])
    for gid in targets:  # switched off from above, so that reactivation is the question
        assert api.data(DEACTIVATE, {"userId": gid}, user="province_admin")["deactivateUser"]["errors"] == []
        check(api.data(REACTIVATE, {"userId": gid}, user="district_admin")["reactivateUser"])
    # and the deputy's refusals name nothing of the appointer's grant either
    appoint_deputy(api, sync_session)
    payload = api.data(REVOKE_GRANT, {"grantId": global_id("Grant", grant_of(sync_session, "street_admin").id)},
                       user="deputy")["revokeGrant"]
    (error,) = payload["errors"]
    assert STREET not in error["message"] and "admin" not in error["message"], error


# -- property: taking back exactly what one could have given --------------------------------------

# Weighted towards admins inside the district and targets they could reach, so that both
# halves of "iff" get exercised (about a third of the examples are allowed).
ACTOR_ROLES = ["admin"] * 5 + ["staff", "officer", "supervisor"]
ACTOR_AREAS = ["23", "2301", "230102", "230102", STREET, STREET, COMMUNITY, OTHER_DISTRICT]
TARGET_ROLES = ["admin", "admin", "staff", "staff", "grid_worker", "officer", "analyst", "supervisor"]
TARGET_AREAS = ["230102", STREET, COMMUNITY, COMMUNITY, "230102001001001", OTHER_STREET, "230103001"]
TERMS = [None, 1, 2, 10]  # days from now; None: open-ended
_serial = itertools.count()


def _scope(sync_session, uid: int):
    from authz.enforcer import load_enforcer
    from authz.grants import ActiveGrant
    from authz.principal import active_grants_stmt, subject_of
    from authz.scope import Scope
    from db.base import aware

    grants = [ActiveGrant(g.role, g.area_code, aware(g.valid_until))
              for g in sync_session.scalars(active_grants_stmt(uid, datetime.now(timezone.utc)))]
    return Scope(_ENFORCER.setdefault("e", load_enforcer()), subject_of(uid), grants)


_ENFORCER: dict = {}


@settings(max_examples=100 if IN_CI else 20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actor_role=st.sampled_from(ACTOR_ROLES), actor_area=st.sampled_from(ACTOR_AREAS),
       actor_term=st.sampled_from(TERMS), target_role=st.sampled_from(TARGET_ROLES),
       target_area=st.sampled_from(TARGET_AREAS), target_term=st.sampled_from(TERMS))
@example(actor_role="admin", actor_area=STREET, actor_term=1, target_role="admin", target_area=STREET,
         target_term=None)  # the reviewer's deputy and its appointer
@example(actor_role="admin", actor_area=STREET, actor_term=2, target_role="admin", target_area=STREET,
         target_term=2)  # ending together: allowed
@example(actor_role="admin", actor_area="230102", actor_term=None, target_role="staff", target_area=COMMUNITY,
         target_term=None)
@example(actor_role="admin", actor_area="230102", actor_term=None, target_role="supervisor", target_area=STREET,
         target_term=1)
def test_revoke_and_deactivate_are_accepted_iff_the_grant_could_have_been_made(
        api, sync_session, actor_role, actor_area, actor_term, target_role, target_area, target_term):
    from authz.delegation import could_have_granted
    from db.base import aware

    n = next(_serial)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    end = {t: None if t is None else now + timedelta(days=t) for t in TERMS}
    actor = add_user(sync_session, f"prop_actor_{n}", actor_role, actor_area, valid_until=end[actor_term])
    target = add_user(sync_session, f"prop_target_{n}", target_role, target_area, valid_until=end[target_term])
    grant = grant_of(sync_session, f"prop_target_{n}")
    scope = _scope(sync_session, actor)
    until = aware(grant.valid_until)
    may_grant = could_have_granted(scope, target_role, target_area, until)
    may_switch = could_have_granted(scope, target_role, target_area, until, also=(("user", "update"),))
    event("could have granted" if may_grant else "could not")
    me = f"prop_actor_{n}"

    # deactivation first (the target still active), then revocation
    tokens(api, me)
    before = state(sync_session)
    payload = api.data(DEACTIVATE, {"userId": global_id("User", target)}, user=me)["deactivateUser"]
    assert (payload["errors"] == []) == may_switch, payload
    if not may_switch:
        assert state(sync_session) == before
        assert {e["code"] for e in payload["errors"]} <= {"FORBIDDEN", "NOT_FOUND"}

    before = state(sync_session)
    payload = api.data(REVOKE_GRANT, {"grantId": global_id("Grant", grant.id)}, user=me)["revokeGrant"]
    assert (payload["errors"] == []) == may_grant, payload
    if not may_grant:
        assert state(sync_session) == before
        assert {e["code"] for e in payload["errors"]} <= {"FORBIDDEN", "NOT_FOUND"}

    # the same grant asked for through grantRole, to a fresh user of the same area: the same answer
    twin = add_user(sync_session, f"prop_twin_{n}", "staff", target_area)
    payload = api.data(GRANT_ROLE, {"userId": global_id("User", twin), "role": target_role,
                                    "areaCode": target_area, "validUntil": until.isoformat() if until else None},
                       user=me)["grantRole"]
    assert (payload["errors"] == []) == may_grant, payload
