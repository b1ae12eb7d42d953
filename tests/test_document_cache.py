"""The document cache: each query text is parsed, limited and validated once per process.

Parsing and validation were 16-21% of the server's CPU for the same few query texts sent
over and over. The cache must not weaken anything: the limits still apply by caller
(an anonymous refusal does not refuse a logged-in user), a refused text is refused again
(before a connection, for anonymous callers), an invalid one stays invalid, and memory
stays bounded whatever texts are sent.
"""

from __future__ import annotations

import pytest

from registry_support import GRID
from server.document_cache import DocumentCache, DOCUMENTS, Verdict


@pytest.fixture
def work(monkeypatch) -> dict[str, int]:
    """How often graphql-core parsed and validated, from a cold cache."""
    import strawberry.schema.schema as strawberry_schema

    import server.body_limits as body_limits

    DOCUMENTS.clear()
    counts = {"parse": 0, "validate": 0}
    real_parse, real_validate = strawberry_schema.parse, strawberry_schema.validate_document

    def parse(*args, **kwargs):
        counts["parse"] += 1
        return real_parse(*args, **kwargs)

    def validate(*args, **kwargs):
        counts["validate"] += 1
        return real_validate(*args, **kwargs)

    monkeypatch.setattr(strawberry_schema, "parse", parse)
    monkeypatch.setattr(body_limits, "parse", parse)
    monkeypatch.setattr(strawberry_schema, "validate_document", validate)
    return counts


QUERY = 'query($c: String!) { area(code: $c) { name residents(first: 2) { edges { node { name } } } } }'


def test_the_same_text_is_parsed_and_validated_once(api, work):
    first = api.query(QUERY, {"c": GRID}, user="grid_worker")
    again = [api.query(QUERY, {"c": GRID}, user="grid_worker") for _ in range(5)]
    assert work == {"parse": 1, "validate": 1}
    assert all(body == first for body in again) and first["data"]["area"]["residents"]["edges"]


def test_an_invalid_text_stays_invalid(api, work):
    bodies = [api.query("{ area(code: 1) { nope } }", user="grid_worker") for _ in range(3)]
    assert work["validate"] == 1
    assert all([e["extensions"]["code"] for e in b["errors"]] == ["GRAPHQL_VALIDATION_FAILED"] * 2 for b in bodies)


def test_limits_stay_per_caller(api, work):
    """Cost 21 is over the anonymous limit (20), well under the logged-in one."""
    costly = "{ %s }" % " ".join(f'a{i}: area(code: "{GRID}") {{ code }}' for i in range(21))
    for _ in range(2):
        refused = api.client.post("/graphql", json={"query": costly}).json()
        assert refused["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert work["parse"] == 1  # the second anonymous refusal came from the cache
    answered = api.query(costly, user="grid_worker")
    assert "errors" not in answered and answered["data"]["a20"] == {"code": GRID}
    again = api.client.post("/graphql", json={"query": costly}).json()
    assert again["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"


def test_memory_is_bounded():
    cache = DocumentCache(maxsize=3, max_chars=10)
    verdict = Verdict(document=None, errors=())  # type: ignore[arg-type]
    for text in ("{a}", "{b}", "{c}", "{d}"):
        cache.put(text, "limits", verdict)
    assert len(cache) == 3 and cache.get("{a}", "limits") is None and cache.get("{d}", "limits") is verdict
    cache.put("{" + "x" * 20 + "}", "limits", verdict)  # too long to keep
    assert cache.get("{" + "x" * 20 + "}", "limits") is None and len(cache) == 3
    assert cache.get("{d}", "other limits") is None
