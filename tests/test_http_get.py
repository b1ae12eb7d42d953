"""GraphQL over HTTP: queries over GET, never mutations, and JSON errors for bad requests.

Found: queries over GET answered 400 text/plain, documented nowhere, and every malformed
request (bad JSON, no query, a wrong method) answered text/plain, which a client's JSON
error handler cannot read. The GraphQL-over-HTTP specification expects GET for queries;
mutations over GET would let a link or an image tag change data, so they answer 405.
"""

from __future__ import annotations

import json

import pytest

from registry_support import GRID

JSON = {"Accept": "application/json"}


def error_code(response) -> str:
    assert response.headers["content-type"].startswith("application/json"), response.text
    body = response.json()
    assert body.get("data") is None and len(body["errors"]) == 1
    return body["errors"][0]["extensions"]["code"]


def test_a_query_over_get_answers_like_post(api):
    q = 'query($c: String!) { area(code: $c) { name residents(first: 1) { edges { node { name } } } } }'
    token = api.token("grid_worker")
    params = {"query": q, "variables": json.dumps({"c": GRID})}
    got = api.client.get("/graphql", params=params, headers={**JSON, "Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    assert got.json() == api.query(q, {"c": GRID}, user="grid_worker")


def test_a_mutation_over_get_is_405_and_runs_nothing(api):
    token = api.token("grid_worker")
    response = api.client.get("/graphql", params={"query": "mutation { logout { revoked } }"},
                              headers={**JSON, "Authorization": f"Bearer {token}"})
    assert response.status_code == 405 and error_code(response) == "METHOD_NOT_ALLOWED"
    assert "POST" in response.headers["allow"]
    # the login is still standing: the mutation did not run
    assert api.data("{ viewer { username } }", user="grid_worker")["viewer"]["username"] == "grid_worker"


def test_get_can_be_switched_off(db_url):
    from starlette.testclient import TestClient

    from conftest import TEST_SECRET
    from server.app import create_app
    from server.settings import Settings

    with TestClient(create_app(Settings(database_url=db_url, secret=TEST_SECRET, allow_get=False))) as client:
        response = client.get("/graphql", params={"query": "{ __typename }"}, headers=JSON)
        assert response.status_code == 405 and error_code(response) == "METHOD_NOT_ALLOWED"
        assert client.post("/graphql", json={"query": "{ __typename }"}).json() == {"data": {"__typename": "Query"}}


@pytest.mark.parametrize("how, code", [
    (dict(method="POST", content=b"{not json", headers={"content-type": "application/json"}), "BAD_REQUEST"),
    (dict(method="POST", json={"variables": {}}), "BAD_REQUEST"),
    (dict(method="POST", json={"query": 5}), "BAD_REQUEST"),
    (dict(method="POST", json={"query": "{ __typename }", "variables": [1]}), "BAD_REQUEST"),
    (dict(method="POST", json=[{"query": "{ __typename }"}]), "BAD_REQUEST"),
    (dict(method="POST", content=b"query", headers={"content-type": "text/csv"}), "BAD_REQUEST"),
    (dict(method="GET", params={"query": "{ __typename }", "variables": "{oops"}, headers=JSON), "BAD_REQUEST"),
    (dict(method="GET", params={}, headers=JSON), "BAD_REQUEST"),
    (dict(method="PUT", json={"query": "{ __typename }"}), "METHOD_NOT_ALLOWED"),
    (dict(method="DELETE"), "METHOD_NOT_ALLOWED"),
])
def test_malformed_requests_answer_a_json_error(api, how, code):
    response = api.client.request(url="/graphql", **how)
    assert 400 <= response.status_code < 500
    assert error_code(response) == code


@pytest.mark.parametrize("env, value, reason", [
    ("WANGGE_ALLOW_GET", "maybe", "expected true or false, got 'maybe'"),
    ("WANGGE_POOL_SIZE", "ten", "expected an integer, got 'ten'"),
])
def test_a_bad_setting_names_the_variable_and_starts_nothing(tmp_path, monkeypatch, capsys, env, value, reason):
    from server.cli import main

    url = f"sqlite:///{tmp_path / 'dev.db'}"
    monkeypatch.setenv(env, value)
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--database-url", url])
    assert exit_.value.code == 2
    assert f"error: {env}: {reason}" in capsys.readouterr().err
    assert not (tmp_path / "dev.db").exists()
