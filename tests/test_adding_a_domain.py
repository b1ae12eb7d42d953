"""Adding a domain: a throwaway one (``tests/notice_domain.py``) gets its tests for free.

The domain is a table, a listing, a personal field and a mutation, written as
docs/ARCHITECTURE.md "Adding a domain" says. Loaded into a run of the suite's generated
tests, it is registered, gated, masked and refused exactly like the registry, without a
line of those tests naming it; and a place-bound table it forgets to declare fails the
registration test. Each check runs pytest in a child process (the domain must be declared
before the schema is assembled), on SQLite.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).resolve().parent
GENERATED = ["test_registration.py", "test_generated_scope.py", "test_declared_mutations.py",
             "test_personal_fields.py", "test_scope_property.py"]


def _pytest(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    child_env = {**os.environ, "CI": "", "PYTHONPATH": str(TESTS), **(env or {})}
    child_env.pop("WANGGE_POLICIES", None)
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "notice_domain", "-q", "-p", "no:cacheprovider",
                           "-k", "not postgresql", *args], cwd=TESTS.parent, env=child_env,
                          capture_output=True, text=True, timeout=600)


def test_a_new_domain_gets_its_generated_tests_and_passes_them():
    run = _pytest(*(str(TESTS / t) for t in GENERATED), "-rA")
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-4000:]
    # Its own cases were generated, not just the registry's:
    for case in ("Notice", "notices", "postNotice", "postedByName"):
        assert case in out, case


def test_a_forgotten_declaration_fails_the_registration_test():
    run = _pytest(str(TESTS / "test_registration.py") + "::test_every_table_with_an_area_code_is_declared",
                  env={"NOTICE_UNDECLARED": "1"})
    out = run.stdout + run.stderr
    assert run.returncode == 1, out[-4000:]
    assert "forgotten_ledger" in out
