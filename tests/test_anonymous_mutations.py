"""One rule for callers without a token: every mutation but login and refreshToken is 401.

Found: anonymous registry mutations answered a payload error while account mutations
answered a top-level UNAUTHENTICATED. Now ``server.lifecycle.RequireLogin`` refuses them
all before anything runs, the same way as a stale token: HTTP 401, ``WWW-Authenticate``,
no data, one ``UNAUTHENTICATED`` error. The test walks every mutation in the schema, so a
new one is covered the day it is added.
"""

from __future__ import annotations

import pytest
from graphql import GraphQLNonNull, get_named_type, is_leaf_type

from server.graphql_schema import schema

TOKENLESS = {"login", "refreshToken"}
MUTATIONS = sorted(schema._schema.mutation_type.fields.items())


def call_of(name: str, field) -> str:
    """``mutation($a: T!, ...) { name(a: $a, ...) { __typename } }`` with every argument declared."""
    args = [(arg_name, arg.type) for arg_name, arg in field.args.items()]
    declared = ", ".join(f"${a}: {t}" for a, t in args)
    passed = ", ".join(f"{a}: ${a}" for a, _ in args)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    return (f"mutation{f'({declared})' if declared else ''} "
            f"{{ {name}{f'({passed})' if passed else ''}{selection} }}")


def test_every_mutation_is_walked():
    assert len(MUTATIONS) >= 15 and TOKENLESS <= {n for n, _ in MUTATIONS}


@pytest.mark.parametrize("name, field", [m for m in MUTATIONS if m[0] not in TOKENLESS], ids=lambda v: v if isinstance(v, str) else "")
def test_anonymous_mutations_are_unauthenticated(api, name, field):
    required = {a: None for a, arg in field.args.items() if isinstance(arg.type, GraphQLNonNull)}
    response = api.client.post("/graphql", json={"query": call_of(name, field), "variables": required})
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    body = response.json()
    assert body["data"] is None and [e["extensions"]["code"] for e in body["errors"]] == ["UNAUTHENTICATED"]


def test_login_and_refresh_still_answer_without_a_token(api):
    body = api.query('mutation { login(username: "nobody", password: "x") { accessToken errors { code } } }')
    assert body["data"]["login"] == {"accessToken": None, "errors": [{"code": "UNAUTHENTICATED"}]}
    body = api.query('mutation { refreshToken(refreshToken: "x") { accessToken errors { code } } }')
    assert body["data"]["refreshToken"] == {"accessToken": None, "errors": [{"code": "UNAUTHENTICATED"}]}


def test_anonymous_queries_still_run_and_see_nothing(api):
    body = api.query('{ viewer { username } area(code: "23") { code } }')
    assert body == {"data": {"viewer": None, "area": None}}
