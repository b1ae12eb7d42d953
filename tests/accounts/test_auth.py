"""Logging in over HTTP: tokens, the viewer, lockout, refresh, logout, and forged tokens refused."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import jwt

from account_support import (LOGIN, REFRESH, VIEWER, add_user, as_token, audit_rows, global_id, login,
                             user_id)
from conftest import DEMO_PASSWORD, TEST_SECRET

GENERIC = {"field": None, "message": "invalid username or password", "code": "UNAUTHENTICATED"}
LOGOUT = "mutation { logout { revoked errors { code } } }"


def _user_row(sync_session, username):
    from sqlalchemy import select

    from db.accounts import User

    sync_session.expire_all()
    return sync_session.scalars(select(User).where(User.username == username)).one()


def _unauthenticated(response) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert response.headers["www-authenticate"] == "Bearer"


def test_login_gives_working_tokens_and_the_viewer(api, sync_session):
    before = datetime.now(timezone.utc)
    payload = login(api, "district_admin")
    assert payload["errors"] == []
    viewer = payload["viewer"]
    assert viewer["username"] == "district_admin" and viewer["displayName"] == "道里区系统管理员"
    assert viewer["id"] == global_id("User", user_id(sync_session, "district_admin"))
    assert [(g["role"], g["areaCode"], g["areaName"]) for g in viewer["grants"]] == [("admin", "230102", "道里区")]
    expires = datetime.fromisoformat(payload["expiresAt"])
    assert timedelta(minutes=14) < expires - before <= timedelta(minutes=15, seconds=5)

    body = as_token(api, payload["accessToken"], VIEWER).json()
    assert body["data"]["viewer"]["username"] == "district_admin"

    claims = jwt.decode(payload["accessToken"], TEST_SECRET, algorithms=["HS256"])
    from sqlalchemy import select

    from db.accounts import LoginSession

    session = sync_session.get(LoginSession, claims["sid"])
    assert session is not None and session.revoked_at is None
    expires_at = session.expires_at.replace(tzinfo=session.expires_at.tzinfo or timezone.utc)
    assert timedelta(days=13, hours=23) < expires_at - before <= timedelta(days=14, minutes=1)
    (row,) = audit_rows(sync_session, "login")
    assert (row.actor_username, row.actor_id, row.area_code) == ("district_admin", int(claims["sub"]), "230102")
    assert DEMO_PASSWORD not in json.dumps(row.detail)
    assert sync_session.scalar(select(LoginSession.id).where(LoginSession.id == claims["sid"])) == claims["sid"]


def test_wrong_password_and_unknown_user_answer_alike(api, sync_session, monkeypatch):
    import resolvers.accounts.auth as auth

    verified = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda h, p: verified.append(h) or real(h, p))

    wrong = login(api, "district_admin", "not-the-password")
    unknown = login(api, "no_such_user", "not-the-password")
    for payload in (wrong, unknown):
        assert payload["errors"] == [GENERIC]
        assert payload["accessToken"] is None and payload["refreshToken"] is None and payload["viewer"] is None
    # one Argon2 verification each, the unknown name against a dummy hash: alike in time too
    assert len(verified) == 2 and verified[0] != verified[1]

    assert _user_row(sync_session, "district_admin").failed_logins == 1
    failed = audit_rows(sync_session, "login.failed")
    assert [(r.actor_username, r.actor_id) for r in failed] == [("district_admin", None), ("no_such_user", None)]
    assert [r.detail["reason"] for r in failed] == ["wrong password", "unknown user"]
    assert failed[0].area_code == "230102" and failed[1].area_code is None
    assert all("not-the-password" not in json.dumps(r.detail) for r in failed)


def test_deactivated_user_gets_the_same_message(api, sync_session):
    user = _user_row(sync_session, "supervisor")
    user.is_active = False
    sync_session.commit()
    assert login(api, "supervisor")["errors"] == [GENERIC]
    assert audit_rows(sync_session, "login.failed")[-1].detail["reason"] == "account deactivated"


def test_five_failures_lock_the_account_even_for_the_right_password(api, sync_session):
    for _ in range(4):
        assert login(api, "grid_worker", "wrong-password")["errors"] == [GENERIC]
    assert _user_row(sync_session, "grid_worker").failed_logins == 4
    assert login(api, "grid_worker", "wrong-password")["errors"] == [GENERIC]  # the fifth: locked
    user = _user_row(sync_session, "grid_worker")
    locked_until = user.locked_until.replace(tzinfo=user.locked_until.tzinfo or timezone.utc)
    assert timedelta(minutes=14) < locked_until - datetime.now(timezone.utc) <= timedelta(minutes=15)

    refused = login(api, "grid_worker")
    assert refused["errors"] == [GENERIC] and refused["accessToken"] is None
    assert audit_rows(sync_session, "login.failed")[-1].detail["reason"] == "account locked"

    user.locked_until = datetime.now(timezone.utc) - timedelta(seconds=1)  # the lock has run out
    sync_session.commit()
    assert login(api, "grid_worker")["accessToken"]
    user = _user_row(sync_session, "grid_worker")
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_a_successful_login_resets_the_failure_count(api, sync_session):
    for _ in range(4):
        login(api, "community_staff", "wrong-password")
    assert login(api, "community_staff")["accessToken"]
    assert _user_row(sync_session, "community_staff").failed_logins == 0
    for _ in range(4):
        login(api, "community_staff", "wrong-password")
    assert login(api, "community_staff")["accessToken"], "four new failures must not lock"


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_forged_and_misused_tokens_are_refused_with_401(api):
    from authz.tokens import issue_access_token

    payload = login(api, "grid_worker")
    access, refresh = payload["accessToken"], payload["refreshToken"]
    claims = jwt.decode(access, TEST_SECRET, algorithms=["HS256"])
    header, body, signature = access.split(".")
    flipped = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    bad = {
        "tampered signature": f"{header}.{body}.{flipped}",
        "tampered claims": f"{header}.{_b64({**claims, 'sub': '1'})}.{signature}",
        "expired": issue_access_token(int(claims["sub"]), TEST_SECRET, ttl=timedelta(seconds=-5),
                                      session_id=claims["sid"]),
        "refresh token used as access token": refresh,
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
        "other secret": jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256"),
        "garbage": "not-a-token",
    }
    assert as_token(api, access, VIEWER).json()["data"]["viewer"]["username"] == "grid_worker"
    for what, token in bad.items():
        response = as_token(api, token, VIEWER)
        assert response.status_code == 401, what
        _unauthenticated(response)


def test_logout_refuses_both_tokens_afterwards(api, sync_session):
    payload = login(api, "city_officer")
    access = payload["accessToken"]
    body = as_token(api, access, LOGOUT).json()
    assert body["data"]["logout"] == {"revoked": True, "errors": []}
    _unauthenticated(as_token(api, access, VIEWER))
    refreshed = api.data(REFRESH, {"token": payload["refreshToken"]})["refreshToken"]
    assert refreshed["accessToken"] is None and refreshed["errors"][0]["code"] == "UNAUTHENTICATED"
    assert audit_rows(sync_session, "logout")[-1].actor_username == "city_officer"


def test_logout_without_a_token_is_unauthenticated(api):
    response = api.post(LOGOUT)
    assert response.status_code == 401
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_refresh_rotates_the_pair(api):
    first = login(api, "supervisor")
    second = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert second["errors"] == [] and second["viewer"] == {"username": "supervisor"}
    assert as_token(api, second["accessToken"], VIEWER).json()["data"]["viewer"]["username"] == "supervisor"
    _unauthenticated(as_token(api, first["accessToken"], VIEWER))  # the old login session is closed
    replayed = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert replayed["errors"][0]["code"] == "UNAUTHENTICATED" and replayed["accessToken"] is None
    third = api.data(REFRESH, {"token": second["refreshToken"]})["refreshToken"]
    assert third["accessToken"] and third["errors"] == []
    # an access token is not a refresh token either
    misused = api.data(REFRESH, {"token": third["accessToken"]})["refreshToken"]
    assert misused["errors"][0]["code"] == "UNAUTHENTICATED"


def test_refresh_keeps_the_end_of_the_login(api, sync_session):
    from db.accounts import LoginSession

    first = login(api, "supervisor")
    second = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    old = sync_session.get(LoginSession, jwt.decode(first["refreshToken"], TEST_SECRET, algorithms=["HS256"])["sid"])
    new = sync_session.get(LoginSession, jwt.decode(second["refreshToken"], TEST_SECRET, algorithms=["HS256"])["sid"])
    assert old.revoked_at is not None and new.revoked_at is None
    assert new.expires_at == old.expires_at


def test_refresh_refused_for_a_deactivated_user(api, sync_session):
    payload = login(api, "team_member")
    user = _user_row(sync_session, "team_member")
    user.is_active = False
    sync_session.commit()
    refreshed = api.data(REFRESH, {"token": payload["refreshToken"]})["refreshToken"]
    assert refreshed["errors"][0]["code"] == "UNAUTHENTICATED"


EXPECTED_VIEW = {
    # user: (role, area, a permission it must have, a permission it must not have)
    "province_admin": ("admin", "23", ("policy", "update"), ("finding", "read")),
    "province_analyst": ("analyst", "23", ("aggregate", "read"), ("resident", "read")),
    "city_officer": ("officer", "2301", ("resident", "read"), ("resident", "read_pii")),
    "district_admin": ("admin", "230102", ("grant", "grant"), ("finding", "create")),
    "community_staff": ("staff", "230102001001", ("resident", "read_pii"), ("user", "read")),
    "grid_worker": ("grid_worker", "230102001001001", ("household", "update"), ("grant", "grant")),
    "supervisor": ("supervisor", "230102001", ("finding", "create"), ("resident", "read_pii")),
    "team_member": ("staff", "230102001002", ("resident", "update"), ("audit", "read")),
}


def test_viewer_for_each_demo_user(api):
    for username, (role, area, has, lacks) in EXPECTED_VIEW.items():
        viewer = api.data(VIEWER, user=username)["viewer"]
        assert viewer["username"] == username
        assert [(g["role"], g["areaCode"]) for g in viewer["grants"]] == [(role, area)], username
        assert viewer["grants"][0]["areaName"]
        perms = {(p["resource"], p["action"]) for p in viewer["permissions"]}
        assert {p["areaCode"] for p in viewer["permissions"]} == {area}
        assert has in perms and lacks not in perms, username
    team = api.data(VIEWER, user="team_member")["viewer"]["grants"][0]
    until = datetime.fromisoformat(team["validUntil"])
    assert timedelta(days=13) < until - datetime.now(timezone.utc) <= timedelta(days=14)


def test_viewer_is_null_for_anonymous(api):
    assert api.data(VIEWER) == {"viewer": None}


def test_viewer_lists_only_grants_valid_now(api, sync_session):
    now = datetime.now(timezone.utc)
    add_user(sync_session, "two_grants", "staff", "230102001001")
    from db.accounts import AreaGrant

    uid = user_id(sync_session, "two_grants")
    sync_session.add_all([
        AreaGrant(user_id=uid, role="officer", area_code="230103", valid_from=now - timedelta(days=9),
                  valid_until=now - timedelta(days=1)),
        AreaGrant(user_id=uid, role="officer", area_code="230402", valid_from=now + timedelta(days=1)),
        AreaGrant(user_id=uid, role="officer", area_code="230403", revoked_at=now),
    ])
    sync_session.commit()
    viewer = api.data(VIEWER, user="two_grants")["viewer"]
    assert [(g["role"], g["areaCode"]) for g in viewer["grants"]] == [("staff", "230102001001")]


def test_login_payload_viewer_matches_viewer_query(api):
    payload = login(api, "district_admin")
    from_query = as_token(api, payload["accessToken"], VIEWER).json()["data"]["viewer"]
    assert {k: payload["viewer"][k] for k in ("id", "username", "displayName", "permissions")} == \
        {k: from_query[k] for k in ("id", "username", "displayName", "permissions")}


def test_audit_rows_carry_no_session_id(api, sync_session):
    """Login, refresh, a replayed refresh and logout: no row holds anything a token is built from.

    With the signing secret a session id is all a token needs, and admins read these rows
    (a district admin sees a grid worker's logins). The rows of one login link through
    ``sessionHmac``, a keyed fingerprint.
    """
    from sqlalchemy import select

    from db.accounts import LoginSession

    first = login(api, "grid_worker")
    second = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    replayed = api.data(REFRESH, {"token": first["refreshToken"]})["refreshToken"]
    assert replayed["errors"][0]["code"] == "UNAUTHENTICATED"
    assert as_token(api, second["accessToken"], LOGOUT).json()["data"]["logout"]["revoked"] is True

    sync_session.expire_all()
    sessions = set(sync_session.scalars(select(LoginSession.id)))
    old_sid = jwt.decode(first["refreshToken"], TEST_SECRET, algorithms=["HS256"])["sid"]
    new_sid = jwt.decode(second["refreshToken"], TEST_SECRET, algorithms=["HS256"])["sid"]
    assert {old_sid, new_sid} <= sessions
    rows = audit_rows(sync_session)
    assert {"login", "token.refresh", "token.refresh.failed", "logout"} <= {r.action for r in rows}
    for row in rows:
        text = json.dumps(row.detail)
        assert not any(sid in text for sid in sessions), (row.action, row.detail)
    as_seen = json.dumps(api.data("{ auditEvents(first: 100) { edges { node { action detail } } } }",
                                  user="district_admin"))
    assert "token.refresh.failed" in as_seen and not any(sid in as_seen for sid in sessions)

    def fp(sid):
        from authz.tokens import session_fingerprint

        return session_fingerprint(TEST_SECRET, sid)

    (row_login,) = audit_rows(sync_session, "login")
    (row_refresh,) = audit_rows(sync_session, "token.refresh")
    (row_failed,) = audit_rows(sync_session, "token.refresh.failed")
    (row_logout,) = audit_rows(sync_session, "logout")
    assert row_login.detail == {"sessionHmac": fp(old_sid)}
    assert row_refresh.detail == {"sessionHmac": fp(new_sid), "replacesHmac": fp(old_sid)}
    assert row_failed.detail == {"reason": "session revoked", "sessionHmac": fp(old_sid)}
    assert row_logout.detail == {"sessionHmac": fp(new_sid)}
    assert len(fp(old_sid)) == 12 and fp(old_sid) != fp(new_sid)
