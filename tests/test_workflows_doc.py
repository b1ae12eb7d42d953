"""The examples of docs/WORKFLOWS.md run as written, in order, on a fresh demo database.

Each example is a ```graphql block after a line "As `username`:". Queries must answer
without errors; mutations must answer without errors and with an empty ``errors`` list in
every payload, so an example that stopped working (a renamed field, a refused write, a
changed demo ID) fails here instead of misleading a frontend team.
"""

from __future__ import annotations

import re
from pathlib import Path

DOC = (Path(__file__).resolve().parent.parent / "docs" / "WORKFLOWS.md").read_text(encoding="utf-8")
EXAMPLE = re.compile(r"^As `(?P<user>[a-z_]+)`:\s*\n\s*```graphql\n(?P<query>.*?)```", re.S | re.M)


def examples() -> list[tuple[str, str]]:
    return [(m["user"], m["query"]) for m in EXAMPLE.finditer(DOC)]


def test_every_graphql_block_names_its_user():
    assert len(examples()) == DOC.count("```graphql") >= 6


def test_the_examples_run_in_order(api):
    for i, (user, query) in enumerate(examples(), start=1):
        body = api.query(query, user=user)
        assert not body.get("errors"), (i, user, body["errors"])
        if query.lstrip().startswith("mutation"):
            for name, payload in body["data"].items():
                assert payload["errors"] == [], (i, name, payload["errors"])
