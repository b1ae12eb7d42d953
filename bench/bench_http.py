"""End-to-end GraphQL over HTTP against a generated province: latency and requests/s.

    python -m bench.bench_http --database-url postgresql://root@127.0.0.1:5432/wangge_bench

Starts the real server (``python -m server.cli serve``, i.e. ``wangge serve``: uvicorn,
one process) on 127.0.0.1 and a free port, as a child process so that client and
server do not share one interpreter lock. Creates three users with grants and login
sessions directly in the database (``bench_grid_worker``, ``bench_city_officer``,
``bench_community_staff``; reused on later runs) and signs their access tokens with a
secret made for this run (``authz.tokens``), then sends a bounded number of real
requests with httpx to loopback only:

i.   grid worker: first page of their grid's residents, 50 rows with name and idNumber
     (clear personal data, so every request also writes its audit row);
ii.  city officer: the city's stats (summed from ``grid_stats``);
iii. community staff: community -> grids -> first 20 residents of each grid.

For each: median and p95 latency of sequential requests (one at a time) with the
sequential rate, then requests/s with ``--concurrency`` requests in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import REPO, Timing, backend_of, describe_url, fmt_ms, machine_line, pick_areas  # noqa: E402
import httpx  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from authz.tokens import issue_access_token  # noqa: E402
from db.accounts import AreaGrant, LoginSession, User  # noqa: E402
from db.engine import make_sync_engine  # noqa: E402
from db.stats import GridStats  # noqa: E402
from authz.scope import in_subtree  # noqa: E402

HOST = "127.0.0.1"

GRID_PAGE = """
query GridPage($code: String!) {
  area(code: $code) {
    residents(first: 50) { edges { node { name idNumber } } pageInfo { hasNextPage endCursor } }
  }
}"""

CITY_STATS = """
query CityStats($code: String!) {
  area(code: $code) { name stats { buildings households residents floatingResidents } }
}"""

NESTED = """
query Community($code: String!) {
  area(code: $code) {
    name
    children(first: 10) {
      edges { node { code name residents(first: 20) { edges { node { name idNumber } } } } }
    }
  }
}"""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def ensure_user(session: Session, username: str, role: str, area_code: str) -> int:
    """A user holding ``role`` in ``area_code`` (created on first use), with a fresh login session id."""
    user = session.scalars(select(User).where(User.username == username)).first()
    if user is None:
        # No password login for benchmark users: the hash is not a valid Argon2 hash.
        user = User(username=username, display_name=f"benchmark {role}", password_hash="!benchmark-no-login")
        session.add(user)
        session.flush()
    held = session.scalars(select(AreaGrant).where(
        AreaGrant.user_id == user.id, AreaGrant.role == role, AreaGrant.area_code == area_code,
        AreaGrant.revoked_at.is_(None))).first()
    if held is None:
        session.add(AreaGrant(user_id=user.id, role=role, area_code=area_code,
                              valid_from=dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=1)))
    return user.id


def issue_tokens(s: Session, users: dict[str, int], secret: str, hours: int) -> dict[str, str]:
    """A fresh login session and a signed access token (valid ``hours``) for each bench user."""
    now = dt.datetime.now(dt.timezone.utc)
    tokens = {}
    for key, user_id in users.items():
        sid = str(uuid.uuid4())
        s.add(LoginSession(id=sid, user_id=user_id, expires_at=now + dt.timedelta(hours=hours + 1)))
        tokens[key] = issue_access_token(user_id, secret, session_id=sid, ttl=dt.timedelta(hours=hours))
    return tokens


def make_tokens(url: str, picks, secret: str) -> tuple[dict[str, str], int]:
    engine = make_sync_engine(url)
    with Session(engine) as s, s.begin():
        users = {
            "grid_worker": ensure_user(s, "bench_grid_worker", "grid_worker", picks.grid),
            "city_officer": ensure_user(s, "bench_city_officer", "officer", picks.city),
            "community_staff": ensure_user(s, "bench_community_staff", "staff", picks.community),
        }
        tokens = issue_tokens(s, users, secret, hours=1)
        city_residents = s.execute(select(func.sum(GridStats.residents))
                                   .where(in_subtree(GridStats.area_code, picks.city))).scalar()
    engine.dispose()
    return tokens, int(city_residents)


class Server:
    """``wangge serve`` in a child process; stopped (by its pid) on exit."""

    def __init__(self, url: str, secret: str) -> None:
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="wangge-bench-http-", suffix=".log", delete=False)
        env = dict(os.environ, WANGGE_SECRET=secret, WANGGE_ENV="development")
        env.pop("DATABASE_URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "serve", "--database-url", url, "--host", HOST,
             "--port", str(self.port)],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        with httpx.Client(trust_env=False) as client:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise SystemExit(f"server exited with {self.proc.returncode}; log: {self.log.name}")
                try:
                    if client.get(self.base + "/healthz", timeout=1).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
        raise SystemExit(f"server not ready after {timeout:.0f} s; log: {self.log.name}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()


def check(name: str, body: dict, expect) -> None:
    if body.get("errors"):
        raise SystemExit(f"{name}: GraphQL errors: {body['errors']}")
    problem = expect(body["data"])
    if problem:
        raise SystemExit(f"{name}: unexpected answer: {problem}")


def sequential(client: httpx.Client, name: str, query: str, variables: dict, token: str, expect, n: int,
               warmup: int, max_seconds: float) -> tuple[Timing, float]:
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"query": query, "variables": variables}
    for _ in range(warmup):
        resp = client.post("/graphql", json=payload, headers=headers)
        if resp.status_code != 200:
            raise SystemExit(f"{name}: HTTP {resp.status_code}: {resp.text[:500]}")
        check(name, resp.json(), expect)
    samples = []
    started = time.perf_counter()
    for _ in range(n):
        t0 = time.perf_counter()
        resp = client.post("/graphql", json=payload, headers=headers)
        samples.append(time.perf_counter() - t0)
        if resp.status_code != 200:
            raise SystemExit(f"{name}: HTTP {resp.status_code}")
        if time.perf_counter() - started > max_seconds:
            break
    check(name, resp.json(), expect)
    return Timing(samples), len(samples) / (time.perf_counter() - started)


async def concurrent(base: str, name: str, query: str, variables: dict, token: str, expect, n: int,
                     concurrency: int, max_seconds: float) -> tuple[Timing, float]:
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"query": query, "variables": variables}
    samples: list[float] = []
    remaining = n
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=60, limits=limits) as client:
        async def worker():
            nonlocal remaining
            while remaining > 0 and time.perf_counter() - started < max_seconds:
                remaining -= 1
                t0 = time.perf_counter()
                resp = await client.post("/graphql", json=payload, headers=headers)
                samples.append(time.perf_counter() - t0)
                if resp.status_code != 200:
                    raise SystemExit(f"{name}: HTTP {resp.status_code}")
                check(name, resp.json(), expect)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Timing(samples), len(samples) / (time.perf_counter() - started)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--requests", type=int, default=200, help="requests per query and mode (default 200)")
    ap.add_argument("--concurrency", type=int, default=8, help="requests in flight in the throughput run")
    ap.add_argument("--max-seconds", type=float, default=60.0, help="cap per query and mode (default 60)")
    args = ap.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        raise SystemExit("--requests and --concurrency must be positive")

    url = args.database_url
    engine = make_sync_engine(url)
    with engine.connect() as conn:
        picks = pick_areas(conn)
        n_res = conn.execute(text("SELECT count(*) FROM resident")).scalar()
        grids_in_community = conn.execute(text("SELECT count(*) FROM area WHERE parent_code = :c"),
                                          {"c": picks.community}).scalar()
    engine.dispose()
    secret = secrets.token_hex(32)
    tokens, city_residents = make_tokens(url, picks, secret)

    cases = [
        ("i.   grid worker, 50 residents of the grid", GRID_PAGE, {"code": picks.grid}, tokens["grid_worker"],
         lambda d: None if len(d["area"]["residents"]["edges"]) == 50
         and "*" not in d["area"]["residents"]["edges"][0]["node"]["idNumber"] else d),
        ("ii.  city officer, city stats", CITY_STATS, {"code": picks.city}, tokens["city_officer"],
         lambda d: None if d["area"]["stats"]["residents"] == city_residents else d),
        (f"iii. community staff, community > {min(grids_in_community, 10)} grids > 20 residents", NESTED,
         {"code": picks.community}, tokens["community_staff"],
         lambda d: None if len(d["area"]["children"]["edges"]) == min(grids_in_community, 10)
         and all(len(e["node"]["residents"]["edges"]) == 20 for e in d["area"]["children"]["edges"]) else d),
    ]

    print(f"bench_http on {describe_url(url)} ({backend_of(url)}): {n_res:,} residents; {machine_line()}")
    print(f"  grid {picks.grid}, city {picks.city} ({city_residents:,} active residents), "
          f"community {picks.community}")
    server = Server(url, secret)
    t_start = time.perf_counter()
    results = []
    ok = False
    try:
        server.wait_ready()
        print(f"  server: wangge serve (uvicorn, 1 process) at {server.base}, pid {server.proc.pid}; "
              f"{args.requests} requests per query and mode\n")
        print(f"  {'query':<58} {'sequential: median':>19} {'p95':>9} {'req/s':>7}   "
              f"{f'{args.concurrency} in flight: median':>22} {'p95':>9} {'req/s':>7}")
        with httpx.Client(base_url=server.base, trust_env=False, timeout=60) as client:
            for name, query, variables, token, expect in cases:
                t_seq, rps_seq = sequential(client, name, query, variables, token, expect, args.requests, 5,
                                            args.max_seconds)
                t_con, rps_con = asyncio.run(concurrent(server.base, name, query, variables, token, expect,
                                                        args.requests, args.concurrency, args.max_seconds))
                results.append((name, t_seq, rps_seq, t_con, rps_con))
                print(f"  {name:<58} {fmt_ms(t_seq.median):>19} {fmt_ms(t_seq.p95):>9} {rps_seq:>7.0f}   "
                      f"{fmt_ms(t_con.median):>22} {fmt_ms(t_con.p95):>9} {rps_con:>7.0f}")
        ok = True
    finally:
        server.stop()
    if ok:
        Path(server.log.name).unlink(missing_ok=True)
    print(f"\n  total time {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
