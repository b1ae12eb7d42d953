"""Cheap requests refused before the expensive work: one test per limit, over HTTP.

Each finding of the review (``docs/SECURITY.md``, "Cheap requests must not stall
everyone") is sent as it was found and must be refused with its own ``extensions.code``;
where the point is *when* it is refused, a spy on graphql-core's validation shows that
validation never ran. The old code answered these with data, a "Validation aborted."
error after the quadratic work, HTTP 500, or "maximum recursion depth exceeded".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from graphql import get_introspection_query

from conftest import TEST_SECRET, Api

MIB = 1024 * 1024


def code(body: dict) -> str:
    return body["errors"][0]["extensions"]["code"]


def aliases(n: int, selection: str) -> str:
    return " ".join(f"a{i}: {selection}" for i in range(n))


@pytest.fixture
def make_api(db_url):
    """An ``Api`` on an app built with some settings changed."""
    from starlette.testclient import TestClient

    from server.app import create_app
    from server.settings import Settings

    clients = []

    def make(**overrides) -> Api:
        client = TestClient(create_app(Settings(database_url=db_url, secret=TEST_SECRET, **overrides)))
        clients.append(client.__enter__())
        return Api(client, db_url, TEST_SECRET)

    yield make
    for client in clients:
        client.__exit__(None, None, None)


@pytest.fixture
def validations(monkeypatch) -> list:
    """Documents that reached graphql-core's validation in this test (from a cold document cache)."""
    import strawberry.schema.schema as strawberry_schema

    from server.document_cache import DOCUMENTS

    DOCUMENTS.clear()

    seen: list = []
    real = strawberry_schema.validate_document

    def spy(schema, document, rules):
        seen.append(document)
        return real(schema, document, rules)

    monkeypatch.setattr(strawberry_schema, "validate_document", spy)
    return seen


# -- the body -----------------------------------------------------------------------------


def test_a_20_mib_body_is_refused_by_its_content_length(api):
    padding = "x" * (20 * MIB)
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": padding}})
    response = api.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert code(response.json()) == "REQUEST_TOO_LARGE"
    assert response.headers["connection"] == "close"


def test_body_limit_is_tighter_without_authorization(api):
    body = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * (20 * 1024)}})
    headers = {"Content-Type": "application/json"}
    anonymous = api.client.post("/graphql", content=body, headers=headers)
    assert anonymous.status_code == 413 and anonymous.json()["errors"][0]["extensions"]["limit"] == 16_384
    headers["Authorization"] = f"Bearer {api.token('grid_worker')}"
    logged_in = api.client.post("/graphql", content=body, headers=headers)
    assert logged_in.status_code == 200 and logged_in.json()["data"] == {"__typename": "Query"}
    too_big = json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * (2 * MIB)}})
    assert api.client.post("/graphql", content=too_big, headers=headers).status_code == 413


async def test_a_chunked_body_is_counted_while_it_arrives(db_url):
    """No Content-Length: the body is refused at the chunk that crosses the limit, not read to the end."""
    from server.app import create_app
    from server.settings import Settings

    app = create_app(Settings(database_url=db_url, secret=TEST_SECRET))
    chunk, total, received = b"x" * 65_536, 20 * MIB, 0

    async def receive():
        nonlocal received
        received += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": received < total}

    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/graphql", "raw_path": b"/graphql", "root_path": "",
             "scheme": "http", "query_string": b"", "server": ("test", 80), "client": ("test", 1),
             "http_version": "1.1", "headers": [(b"content-type", b"application/json"),
                                                (b"transfer-encoding", b"chunked")]}
    try:
        await app(scope, receive, send)
    finally:
        await app.state.engine.dispose()
        await app.state.health_engine.dispose()
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = json.loads(b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"))
    assert start["status"] == 413 and code(body) == "REQUEST_TOO_LARGE"
    assert received <= 16_384 + len(chunk), received  # one chunk past the anonymous 16 KiB, of 20 MiB


def test_a_body_nested_1000_deep_is_refused_before_json_parsing(api):
    deep = "[" * 1000 + "]" * 1000
    body = '{"query": "{ __typename }", "variables": {"x": %s}}' % deep
    response = api.client.post("/graphql", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert code(response.json()) == "JSON_TOO_DEEP"
    shallow = '{"query": "{ __typename }", "variables": {"x": %s}}' % ("[" * 20 + "]" * 20)
    assert api.client.post("/graphql", content=shallow,
                           headers={"Content-Type": "application/json"}).json()["data"] == {"__typename": "Query"}
    # brackets inside strings are text, not nesting
    assert api.data("{ __typename }", {"s": "[{" * 5000}) == {"__typename": "Query"}


# -- the document -------------------------------------------------------------------------


def test_too_many_tokens_is_refused_while_parsing(api, validations):
    doc = "{ %s }" % aliases(400, "__typename")  # 1,202 tokens
    body = api.query(doc)
    assert code(body) == "TOO_MANY_TOKENS" and body["errors"][0]["extensions"]["limit"] == 500
    assert not validations
    assert api.data(doc, user="grid_worker")["a399"] == "Query"  # within the logged-in limit
    huge = "{ %s }" % aliases(3_400, "__typename")  # 10,202 tokens
    assert code(api.query(huge, user="grid_worker")) == "TOO_MANY_TOKENS"


def test_comments_count_as_tokens(api):
    doc = "{ __typename }\n" + "#\n" * 600
    assert code(api.query(doc)) == "TOO_MANY_TOKENS"


def test_900_copies_of_one_field_are_refused_before_validation(api, validations, statements):
    doc = '{ area(code: "23") { %s } }' % " ".join(["code"] * 900)
    assert code(api.query(doc)) == "TOO_MANY_TOKENS"  # 908 tokens: anonymous, refused while parsing
    assert statements.count == 0  # before a connection is taken: not even the policy version is read
    assert code(api.query(doc, user="province_admin")) == "TOO_MANY_FIELDS"
    assert not validations
    api.data('{ area(code: "23") { code } }', user="province_admin")
    assert len(validations) == 1  # the spy sees what does reach validation


def test_fields_are_counted_over_fragments(api, validations):
    fields = " ".join(f"f{i}: code" for i in range(50))
    doc = "{ %s } fragment F on Area { %s }" % (aliases(11, 'area(code: "23") { ...F }'), fields)
    assert code(api.query(doc, user="province_admin")) == "TOO_MANY_FIELDS"  # 11 x 51 fields
    # each fragment spreading the next four times, nine deep: 4^9 fields from 40 lines
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} ...F{i + 1} ...F{i + 1} }}"
                     for i in range(9))
    body = api.query("{ ...F0 } %s fragment F9 on Query { __typename }" % chain, user="province_admin")
    assert code(body) == "TOO_MANY_FIELDS"
    assert not validations


@pytest.mark.parametrize("selection", [
    "viewer { permissions { action } }",
    'area(code: "23") { stats { residents } }',
    'area(code: "23") { residents(first: 0) { totalCount } }',
])
def test_1000_aliases_of_uncounted_reads_are_refused_before_validation(api, validations, selection):
    doc = "{ %s }" % aliases(1_000, selection)
    anonymous = api.post(doc)  # 40 KiB
    assert (anonymous.status_code, code(anonymous.json())) == (413, "REQUEST_TOO_LARGE")
    assert code(api.query("{ %s }" % aliases(200, selection))) == "TOO_MANY_TOKENS"  # a smaller body
    assert code(api.query(doc, user="province_admin")) in {"TOO_MANY_TOKENS", "TOO_MANY_FIELDS"}
    assert not validations


@pytest.mark.parametrize("doc", [
    "{ %s }" % aliases(201, "viewer { username }"),
    '{ area(code: "23") { %s } }' % aliases(200, "stats { residents }"),
    '{ area(code: "23") { %s } }' % aliases(100, "residents(first: 0) { totalCount }"),
    "{ %s }" % aliases(201, "node(id: \"QXJlYToyMw==\") { id }"),
])
def test_reads_the_object_budget_missed_are_priced_before_execution(api, validations, doc):
    """Fewer fields than the field limit, but each one a database read: QUERY_TOO_COMPLEX."""
    body = api.query(doc, user="province_admin")
    assert code(body) == "QUERY_TOO_COMPLEX" and body["errors"][0]["extensions"]["limit"] == 200
    assert not validations
    assert code(api.query(doc)) in {"TOO_MANY_TOKENS", "QUERY_TOO_COMPLEX"}


def test_anonymous_callers_get_the_tighter_cost_limit(api):
    doc = "{ %s }" % aliases(21, 'area(code: "23") { code }')
    assert code(api.query(doc)) == "QUERY_TOO_COMPLEX"
    assert len(api.data(doc, user="province_admin")) == 21


def test_300_chained_fragments_are_refused_with_a_code(api, validations):
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(300))
    body = api.query("{ ...F0 } %s fragment F300 on Query { __typename }" % chain, user="province_admin")
    assert code(body) == "FRAGMENTS_TOO_DEEP" and "recursion" not in body["errors"][0]["message"]
    assert not validations
    cycle = "{ ...F0 } " + " ".join(f"fragment F{i} on Query {{ ...F{(i + 1) % 300} }}" for i in range(300))
    assert code(api.query(cycle, user="province_admin")) == "FRAGMENTS_TOO_DEEP"
    ten = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(9))
    assert api.data("{ ...F0 } %s fragment F9 on Query { __typename }" % ten, user="province_admin")


def test_selections_nested_too_deep_to_parse_have_a_code(api):
    doc = '{ area(code: "23") { %s code %s } }' % ("parent { " * 300, "} " * 300)
    body = api.query(doc, user="province_admin")
    assert code(body) == "QUERY_TOO_DEEP"
    deep = '{ area(code: "23") { %s code %s } }' % ("parent { " * 30, "} " * 30)
    assert code(api.query(deep, user="province_admin")) == "GRAPHQL_VALIDATION_FAILED"  # the depth rule, as before


# -- the object budget at execution -------------------------------------------------------


@pytest.mark.parametrize("doc", [
    '{ area(code: "23") { %s } }' % " ".join(
        # an empty page is loaded only when its edges or pageInfo are asked for
        f'r{i}: residents(first: 0, filter: {{ageMin: {i}}}) {{ totalCount edges {{ cursor }} }}' for i in range(3)),
    "{ %s }" % " ".join(f'a{i}: area(code: "{c}") {{ stats {{ residents }} }}'
                        for i, c in enumerate(["23", "2301", "230102", "230103", "2304", "230402"])),
    "{ %s }" % aliases(6, "viewer { username }"),
])
def test_counts_stats_viewer_and_empty_pages_are_charged_to_the_object_budget(make_api, doc):
    small = make_api(max_objects=5)
    assert code(small.query(doc, user="province_admin")) == "QUERY_TOO_LARGE"
    roomy = make_api(max_objects=6)
    assert not roomy.query(doc, user="province_admin").get("errors")


# -- what must keep working ---------------------------------------------------------------


def graphiql_introspection_query() -> str:
    """The query the vendored GraphiQL sends on load (graphql-js), every option on."""
    import re

    js = (Path(__file__).resolve().parent.parent / "server/static/graphiql/graphiql/graphiql.min.js").read_text()
    body = js[js.index("function getIntrospectionQuery("):]
    template = body[body.index("return `") + len("return `"):body.index("`;")]
    template = re.sub(r"\$\{inputDeprecation\('([^']*)'\)\}", r"\1", template)
    fields = {"schemaDescription": "description", "descriptions": "description", "specifiedByUrl": "specifiedByURL",
              "directiveIsRepeatable": "isRepeatable", "oneOf": "isOneOf"}
    return re.sub(r"\$\{(\w+)\}", lambda m: fields[m.group(1)], template)


def test_graphiql_introspection_and_login_work_anonymously(api):
    """GraphiQL reads the schema before anyone logs in: 181 tokens, 227 fields, a 2 KiB body."""
    for query in (graphiql_introspection_query(),
                  get_introspection_query(descriptions=True, specified_by_url=True, directive_is_repeatable=True,
                                          schema_description=True, input_value_deprecation=True)):
        assert api.data(query)["__schema"]["queryType"]["name"] == "Query"
    from conftest import DEMO_PASSWORD

    login = api.data('mutation($p: String!) { login(username: "grid_worker", password: $p) '
                     '{ accessToken errors { message } viewer { username } } }', {"p": DEMO_PASSWORD})
    assert login["login"]["accessToken"] and login["login"]["viewer"]["username"] == "grid_worker"


def test_every_limit_is_configurable(monkeypatch, tmp_path):
    from server.settings import LIMIT_FIELDS, Settings

    for i, name in enumerate(LIMIT_FIELDS):
        monkeypatch.setenv("WANGGE_" + name.upper(), str(1_000 + i))
    settings = Settings.from_env(f"sqlite:///{tmp_path / 'limits.db'}")
    assert [getattr(settings, name) for name in LIMIT_FIELDS] == [1_000 + i for i in range(len(LIMIT_FIELDS))]


def test_configured_limits_apply(make_api):
    strict = make_api(anonymous_max_tokens=5, max_fields=3, max_fragment_depth=1)
    assert code(strict.query("{ a: __typename b: __typename c: __typename }")) == "TOO_MANY_TOKENS"
    assert code(strict.query("{ a: __typename b: __typename c: __typename d: __typename }",
                             user="grid_worker")) == "TOO_MANY_FIELDS"
    assert code(strict.query("{ ...A } fragment A on Query { ...B } fragment B on Query { __typename }",
                             user="grid_worker")) == "FRAGMENTS_TOO_DEEP"


def _parser_count(document: str) -> int:
    """Tokens as graphql-core counts them for ``max_tokens`` (comments included)."""
    from graphql.language import Lexer, Source, TokenKind

    lexer, count = Lexer(Source(document)), 0
    while True:
        last, token = lexer.token, lexer.advance()
        skipped = last.next
        while skipped is not None and skipped is not token:
            count, skipped = count + 1, skipped.next
        if token.kind == TokenKind.EOF:
            return count
        count += 1


@pytest.mark.parametrize("document", [
    (Path(__file__).resolve().parent.parent / "schema.graphql").read_text(),  # block strings, descriptions
    get_introspection_query(True, True, True, True, True),
    'query Q($a: [Int!]! = [1, -2, 3.5e-3], $s: String = "a \\" # { \\u00e9") { x(a: $a, s: "}{", '
    'o: {k: null, b: true}) @include(if: $b) ...F ... on T { y } } # comment\n fragment F on T { z }',
    '"""with "" quotes, \\""" and # { """ type A { "d" f: Int }',
    "{ a, b,,, c }\n#\n# two comments\n",
])
def test_the_token_count_before_parsing_is_the_parsers(document):
    """The count that refuses before parsing never refuses what the parser would accept."""
    from server.limits import too_many_tokens

    n = _parser_count(document)
    assert too_many_tokens(document, n - 1) and not too_many_tokens(document, n)
