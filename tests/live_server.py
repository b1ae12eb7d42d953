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
import tempfile
import time
from pathlib import Path
from typing import Callable

import httpx

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


#: The app as ``wangge serve`` builds it, without the access log (a test sending thousands
#: of requests measures the server, not its logging).
SERVE = """
import sys, uvicorn
from server.app import create_app
from server.settings import Settings
uvicorn.run(create_app(Settings.from_env(sys.argv[1])), host="127.0.0.1", port=int(sys.argv[2]),
            log_level="warning", access_log=False)
"""


@contextlib.contextmanager
def live_server(database_url: str, **env: str):
    """Yield the base URL of a uvicorn process serving ``database_url``; stop it afterwards.

    Its output goes to a file, not a pipe: a pipe nobody reads fills up and blocks the server.
    """
    port = free_port()
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen([sys.executable, "-c", SERVE, database_url, str(port)],
                                   cwd=REPO, env=environment, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(base, process, lambda: log.seek(0) or log.read())
            yield base
        finally:
            stop(process)


def wait_until_healthy(base: str, process: subprocess.Popen, output: Callable[[], str],
                       timeout: float = 60.0) -> None:
    """Until ``/healthz`` answers 200; the end of ``output()`` in the error if the server exits first."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"the server did not answer /healthz: {output()[-2000:]}")
        time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    """Terminate a server process, killing it if it does not stop within 10 s."""
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
