"""``wangge serve --workers N``: several processes on PostgreSQL, refused on SQLite.

One process saturates one core; on PostgreSQL, more processes serve more requests, each
with its own pool and event loop. The requests of one user land on any of them, so a
login, a policy reload and an audit row must work whichever process answers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from conftest import DEMO_PASSWORD
from live_server import free_port, login, stop, wait_until_healthy

REPO = Path(__file__).resolve().parent.parent


def children_of(pid: int) -> set[int]:
    """Live child processes of ``pid``, from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.parametrize("workers, reason", [
    ("2", "several processes need PostgreSQL; SQLite serves from one"),
    ("0", "must be at least 1"),
])
def test_workers_are_refused_where_they_cannot_work(tmp_path, capsys, workers, reason):
    from server.cli import main

    url = f"sqlite:///{tmp_path / 'dev.db'}"
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--database-url", url, "--workers", workers])
    assert exit_.value.code == 2 and f"error: --workers: {reason}" in capsys.readouterr().err


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True, scope="session")
def test_two_workers_serve_the_same_users(db_url, tmp_path):
    port = free_port()
    log = open(tmp_path / "serve.log", "w+")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--database-url", db_url, "--workers", "2"],
        cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, process, lambda: log.seek(0) or log.read())
        deadline = time.monotonic() + 60
        while len(children_of(process.pid)) < 2:
            assert process.poll() is None and time.monotonic() < deadline, log.seek(0) or log.read()
            time.sleep(0.2)
        token = login(base, "grid_worker", DEMO_PASSWORD)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
            # new connections each time, so both processes answer some of them
            answers = [httpx.post(f"{base}/graphql", json={"query": "{ viewer { username } }"},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
                       for _ in range(20)]
            assert all(a == {"data": {"viewer": {"username": "grid_worker"}}} for a in answers)
            assert client.post("/graphql", json={"query": "mutation { logout { revoked } }"}).json() == \
                {"data": {"logout": {"revoked": True}}}
            refused = [httpx.post(f"{base}/graphql", json={"query": "{ viewer { username } }"},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=30).status_code
                       for _ in range(10)]
            assert refused == [401] * 10  # the logout holds in every process
        assert len(children_of(process.pid)) >= 2
    finally:
        stop(process)
        log.close()
