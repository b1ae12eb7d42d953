"""A stale token never stands between a user and a new one.

Found: a stale or expired ``Authorization`` header made even ``login`` and ``refreshToken``
answer HTTP 401, so a GraphiQL user whose token expired could not log in again without
clearing the headers. Now (``server.lifecycle.RequireLogin``) an operation that only logs
in or refreshes runs whatever token is sent; anything else with that token is still 401.
"""

from __future__ import annotations

from datetime import timedelta

import jwt
import pytest

from account_support import LOGIN, REFRESH, as_token, login
from conftest import DEMO_PASSWORD, TEST_SECRET


def stale_tokens(api) -> dict[str, str]:
    from authz.tokens import issue_access_token

    fresh = login(api, "grid_worker")
    claims = jwt.decode(fresh["accessToken"], TEST_SECRET, algorithms=["HS256"])
    logged_out = login(api, "grid_worker")["accessToken"]
    assert as_token(api, logged_out, "mutation { logout { revoked } }").json()["data"]["logout"]["revoked"]
    return {
        "expired": issue_access_token(int(claims["sub"]), TEST_SECRET, ttl=timedelta(seconds=-5),
                                      session_id=claims["sid"]),
        "logged out": logged_out,
        "other secret": jwt.encode(claims, "another-secret-" + "y" * 40, algorithm="HS256"),
        "garbage": "not-a-token",
    }


def test_login_and_refresh_work_whatever_stale_token_is_sent(api):
    refresh = login(api, "supervisor")["refreshToken"]
    for what, token in stale_tokens(api).items():
        response = as_token(api, token, LOGIN, {"username": "supervisor", "password": DEMO_PASSWORD})
        assert response.status_code == 200, what
        assert response.json()["data"]["login"]["accessToken"], what
        response = as_token(api, token, REFRESH, {"token": refresh})
        assert response.status_code == 200, what
        refreshed = response.json()["data"]["refreshToken"]
        assert refreshed["accessToken"] and refreshed["viewer"]["username"] == "supervisor", what
        refresh = refreshed["refreshToken"]


@pytest.mark.parametrize("query", [
    "{ viewer { username } }",
    'mutation { login(username: "supervisor", password: "demo-password") { accessToken } logout { revoked } }',
    'query { __typename viewer { username } }',
])
def test_anything_else_with_a_stale_token_is_still_401(api, query):
    for what, token in stale_tokens(api).items():
        response = as_token(api, token, query)
        assert response.status_code == 401, what
        body = response.json()
        assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", what
