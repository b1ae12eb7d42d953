"""A real server in a subprocess (``wangge serve``), for tests that need real concurrency.

In-process clients run one request at a time; pool exhaustion, stalls and fairness only
show with a real uvicorn serving many sockets at once.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def live_server(database_url: str, **env: str):
    """Yield the base URL of ``wangge serve`` on ``database_url``; stop it afterwards."""
    port = free_port()
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--database-url", database_url],
        cwd=REPO, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited: {process.stdout.read()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not answer /healthz within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def login(base: str, username: str, password: str) -> str:
    query = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken errors { message } } }"
    body = httpx.post(f"{base}/graphql", json={"query": query, "variables": {"u": username, "p": password}},
                      timeout=30).json()
    token = body["data"]["login"]["accessToken"]
    assert token, body
    return token
