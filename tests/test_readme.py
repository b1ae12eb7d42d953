"""The GraphQL examples in README.md work as written (demo password aside)."""

from __future__ import annotations

from pathlib import Path

from conftest import DEMO_PASSWORD

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def graphql_blocks() -> list[str]:
    return [part.split("```")[0] for part in README.split("```graphql")[1:]]


def test_readme_starts_with_the_two_setup_commands():
    commands = [line.strip() for line in README.splitlines() if line.startswith("    python3 -m venv")]
    assert commands[:2] == [
        "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/wangge serve",
        "python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && .venv/bin/python -m pytest",
    ]


def test_readme_login_and_walk(api):
    login, walk = graphql_blocks()[:2]
    body = api.query(login.replace('password: "demo"', f'password: "{DEMO_PASSWORD}"'))
    token = body["data"]["login"]["accessToken"]
    assert token and body["data"]["login"]["errors"] == []
    response = api.post(walk, token=token)
    data = response.json()
    assert not data.get("errors"), data
    node = data["data"]["area"]
    for _ in range(5):
        node = node["children"]["edges"][0]["node"]
    resident = node["residents"]["edges"][0]["node"]
    assert len(resident["idNumber"]) == 18 and "*" not in resident["name"]
