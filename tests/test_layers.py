"""Imports go down the layers: server -> schema -> resolvers -> authz -> db.

Found: ``schema/__init__.py`` built the executable schema from the server's extensions,
and ``db/seed_users.py`` read the server's settings and hashed passwords with ``authz``.
Every import counts, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: What each package must not import.
FORBIDDEN = {
    "db": {"authz", "resolvers", "schema", "server"},
    "authz": {"resolvers", "schema", "server"},
    "resolvers": {"schema", "server"},
    "schema": {"server"},
}


def imported_packages(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_goes_up(package):
    upward = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        found = imported_packages(path) & FORBIDDEN[package]
        if found:
            upward[str(path.relative_to(ROOT))] = sorted(found)
    assert not upward, upward
