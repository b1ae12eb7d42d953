"""The request pipeline end to end: five stories over HTTP against their SQL floor.

    python -m bench.pipeline --database-url postgresql://root@127.0.0.1:5432/wangge_bench

Starts the real server (``python -m server.cli serve``, i.e. ``wangge serve``; with
``--workers N`` passed through) on 127.0.0.1 and a free port as a child process, creates
bench users with grants and fresh login sessions directly in the database and signs their
access tokens with a secret made for this run (as ``bench.bench_http``), then runs each
story with 1 client (sequential) and with ``--clients`` concurrent clients:

a. city officer: the city's active residents counted from the rows
   (``residents(first: 0, filter: {status: ACTIVE}) { totalCount }``);
b. city officer: the same figure (and the other counters) from ``grid_stats`` (``stats``);
c. grid worker: the first 50 residents of the grid in clear (name, idNumber, phone;
   each request also writes its audit row);
d. street staff: name search ``张``, the first 50 matching residents of the street;
e. province officer: the province's active residents counted from the rows.

For each run: p50 and p95 latency, requests/s, and the server process's CPU time per
request (utime + stime from ``/proc``, of the server and all its descendants, before and
after the run). The SQL floor is the same question as hand-written SQL run through
psycopg directly (sequential, p50), so ``p50/floor`` is what the pipeline adds:
HTTP, token and session check, GraphQL parse/validate/execute, scope compilation, the ORM,
serialisation (and for c/d the audit write). PostgreSQL only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.bench_http import HOST, Server, check, ensure_user, free_port, issue_tokens  # noqa: E402
from bench.common import (REPO, Timing, backend_of, describe_url, fmt_ms, machine_line, measure,  # noqa: E402
                          pick_areas)
import httpx  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from authz.scope import in_subtree  # noqa: E402
from db.codes import RANGE_END  # noqa: E402
from db.engine import make_sync_engine  # noqa: E402
import db.models  # noqa: E402,F401 - every table mapped, so the ORM can resolve the foreign keys
from db.stats import GridStats  # noqa: E402

WARMUP = 5

COUNT_QUERY = """
query Count($code: String!) {
  area(code: $code) { residents(first: 0, filter: {status: ACTIVE}) { totalCount } }
}"""

STATS_QUERY = """
query Stats($code: String!) {
  area(code: $code) { stats { buildings households residents floatingResidents } }
}"""

PAGE_QUERY = """
query Page($code: String!) {
  area(code: $code) {
    residents(first: 50) { edges { node { name idNumber phone } } pageInfo { hasNextPage endCursor } }
  }
}"""

SEARCH_QUERY = """
query Search($code: String!, $search: String!) {
  area(code: $code) {
    residents(first: 50, filter: {search: $search}) {
      edges { node { name idNumber phone } } pageInfo { hasNextPage endCursor }
    }
  }
}"""

SEARCH_TERM = "张"

# The SQL floor: what the server must at least ask PostgreSQL. Subtree = the same index
# range as ``authz.scope.in_subtree`` (``area_code >= p AND area_code < p || '~'``);
# pages in the listing's order, ``(area_code, id)`` (``resolvers.loaders.LIST_MODEL``),
# one row more than the page to know whether there is a next one.
FLOOR_COUNT = ("SELECT count(*) FROM resident"
               " WHERE area_code >= %(lo)s AND area_code < %(hi)s AND status = 'active'")
FLOOR_STATS = ("SELECT coalesce(sum(buildings), 0), coalesce(sum(households), 0), coalesce(sum(residents), 0),"
               " coalesce(sum(floating_residents), 0) FROM grid_stats"
               " WHERE area_code >= %(lo)s AND area_code < %(hi)s")
FLOOR_PAGE = ("SELECT id, area_code, name, id_number, phone FROM resident"
              " WHERE area_code >= %(lo)s AND area_code < %(hi)s ORDER BY area_code, id LIMIT 51")
FLOOR_SEARCH = ("SELECT id, area_code, name, id_number, phone FROM resident"
                " WHERE area_code >= %(lo)s AND area_code < %(hi)s"
                " AND (name LIKE %(contains)s OR id_number LIKE %(starts)s OR phone LIKE %(starts)s)"
                " ORDER BY area_code, id LIMIT 51")


@dataclass
class Story:
    key: str
    label: str
    user: str  # key into the token dict
    query: str
    variables: dict
    expect: Callable[[dict], object]  # None when the answer is right, else what was wrong
    floor_sql: str
    floor_params: dict
    floor_expect: Callable[[list], object]


@dataclass
class Run:
    story: str
    label: str
    clients: int
    requests: int
    errors: int
    seconds: float
    p50_ms: float
    p95_ms: float
    rps: float
    server_cpu_ms_per_req: float
    floor_p50_ms: float | None = None
    first_error: str | None = field(default=None, repr=False)

    @property
    def ratio(self) -> float | None:
        return self.p50_ms / self.floor_p50_ms if self.floor_p50_ms else None


# -- CPU time of the server from /proc ---------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """Fields 3.. of /proc/<pid>/stat (after the parenthesised command name), or None."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rfind(")") + 2:].split()


def process_tree(root: int) -> list[int]:
    """``root`` and all its live descendants (uvicorn's workers with ``--workers``)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat(int(entry))
            if fields:
                children.setdefault(int(fields[1]), []).append(int(entry))  # field 4: ppid
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def cpu_seconds(root: int) -> float:
    """utime + stime (fields 14 and 15: all threads) of ``root`` and its live descendants."""
    ticks = 0
    for pid in process_tree(root):
        fields = _stat(pid)
        if fields:
            ticks += int(fields[11]) + int(fields[12])
    return ticks / CLK_TCK


# -- setup -------------------------------------------------------------------------------


def make_tokens(url: str, picks, secret: str) -> tuple[dict[str, str], dict[str, int]]:
    """Bench users (created on first use), a fresh login session each, signed access tokens;
    plus the active-resident counters of the city and the province (``grid_stats``)."""
    engine = make_sync_engine(url)
    with Session(engine) as s, s.begin():
        users = {
            "city_officer": ensure_user(s, "bench_city_officer", "officer", picks.city),
            "grid_worker": ensure_user(s, "bench_grid_worker", "grid_worker", picks.grid),
            "street_staff": ensure_user(s, "bench_street_staff", "staff", picks.street),
            "province_officer": ensure_user(s, "bench_province_officer", "officer", picks.province),
        }
        tokens = issue_tokens(s, users, secret, hours=4)
        counters = {}
        for code in (picks.city, picks.province):
            row = s.execute(select(func.sum(GridStats.buildings), func.sum(GridStats.households),
                                   func.sum(GridStats.residents), func.sum(GridStats.floating_residents))
                            .where(in_subtree(GridStats.area_code, code))).one()
            counters[code] = tuple(int(v or 0) for v in row)
    engine.dispose()
    return tokens, counters


def _page_problem(d: dict, *, contains: str | None = None) -> object:
    edges = d["area"]["residents"]["edges"]
    if len(edges) != 50:
        return f"{len(edges)} rows instead of 50"
    first = edges[0]["node"]
    if "*" in first["idNumber"]:
        return f"masked ID number {first['idNumber']}"
    if contains and not all(contains in e["node"]["name"] or e["node"]["idNumber"].startswith(contains)
                            or (e["node"]["phone"] or "").startswith(contains) for e in edges):
        return f"a row not matching {contains!r}"
    return None


def stories(picks, counters) -> list[Story]:
    def rng(code: str) -> dict:
        return {"lo": code, "hi": code + RANGE_END}

    city, province = counters[picks.city], counters[picks.province]
    return [
        Story("a", "city officer: city count from rows", "city_officer", COUNT_QUERY, {"code": picks.city},
              lambda d: None if d["area"]["residents"]["totalCount"] == city[2] else d,
              FLOOR_COUNT, rng(picks.city), lambda rows: None if rows[0][0] == city[2] else rows),
        Story("b", "city officer: city stats from counters", "city_officer", STATS_QUERY, {"code": picks.city},
              lambda d: None if (d["area"]["stats"] or {}).get("residents") == city[2] else d,
              FLOOR_STATS, rng(picks.city), lambda rows: None if tuple(rows[0]) == city else rows),
        Story("c", "grid worker: 50 residents in clear", "grid_worker", PAGE_QUERY, {"code": picks.grid},
              _page_problem, FLOOR_PAGE, rng(picks.grid), lambda rows: None if len(rows) == 51 else len(rows)),
        Story("d", f"street staff: search {SEARCH_TERM}, 50 residents", "street_staff", SEARCH_QUERY,
              {"code": picks.street, "search": SEARCH_TERM},
              lambda d: _page_problem(d, contains=SEARCH_TERM),
              FLOOR_SEARCH, dict(rng(picks.street), contains=f"%{SEARCH_TERM}%", starts=f"{SEARCH_TERM}%"),
              lambda rows: None if len(rows) >= 50 else len(rows)),
        Story("e", "province officer: province count from rows", "province_officer", COUNT_QUERY,
              {"code": picks.province},
              lambda d: None if d["area"]["residents"]["totalCount"] == province[2] else d,
              FLOOR_COUNT, rng(picks.province), lambda rows: None if rows[0][0] == province[2] else rows),
    ]


class PipelineServer(Server):
    """``bench_http.Server`` with ``--workers`` passed through to ``wangge serve``."""

    def __init__(self, url: str, secret: str, workers: int | None) -> None:  # noqa: D107 - no super().__init__
        self.workers = workers
        self.port = free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log = tempfile.NamedTemporaryFile("w+", prefix="wangge-bench-pipeline-", suffix=".log", delete=False)
        env = dict(os.environ, WANGGE_SECRET=secret, WANGGE_ENV="development")
        env.pop("DATABASE_URL", None)
        cmd = [sys.executable, "-m", "server.cli", "serve", "--database-url", url, "--host", HOST,
               "--port", str(self.port)]
        if workers is not None:
            cmd += ["--workers", str(workers)]
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            super().wait_ready(timeout)
        except SystemExit:
            self.log.flush()
            log = Path(self.log.name).read_text(errors="replace")
            if self.workers is not None and "--workers" in log and "unrecognized arguments" in log:
                raise SystemExit(
                    f"wangge serve refused --workers {self.workers}: this checkout's CLI has no --workers "
                    f"option yet (server/cli.py). Run without --workers, or once the option exists.\n"
                    f"server said: {log.strip().splitlines()[-1]}") from None
            raise


# -- load --------------------------------------------------------------------------------


async def load(base: str, story: Story, token: str, n: int, clients: int, budget: float):
    """``n`` requests from ``clients`` concurrent clients (1: sequential), stopping after
    ``budget`` seconds; returns latencies, wall time, error count and the first error."""
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"query": story.query, "variables": story.variables}
    samples: list[float] = []
    errors = 0
    first_error: str | None = None
    remaining = n
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base, trust_env=False, timeout=120, limits=limits) as client:
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal remaining, errors, first_error
            while remaining > 0 and time.perf_counter() - started < budget:
                remaining -= 1
                t0 = time.perf_counter()
                resp = await client.post("/graphql", json=payload, headers=headers)
                samples.append(time.perf_counter() - t0)
                problem = None
                if resp.status_code != 200:
                    problem = f"HTTP {resp.status_code}: {resp.text[:300]}"
                else:
                    body = resp.json()
                    if body.get("errors"):
                        problem = f"GraphQL errors: {body['errors']}"[:300]
                    else:
                        wrong = story.expect(body["data"])
                        if wrong:
                            problem = f"unexpected answer: {wrong}"[:300]
                if problem:
                    errors += 1
                    first_error = first_error or problem

        await asyncio.gather(*(worker() for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return samples, elapsed, errors, first_error


def warm_up(base: str, story: Story, token: str) -> None:
    with httpx.Client(base_url=base, trust_env=False, timeout=120) as client:
        for _ in range(WARMUP):
            resp = client.post("/graphql", json={"query": story.query, "variables": story.variables},
                               headers={"Authorization": f"Bearer {token}"})
            if resp.status_code != 200:
                raise SystemExit(f"{story.key}. {story.label}: HTTP {resp.status_code}: {resp.text[:500]}")
            check(f"{story.key}. {story.label}", resp.json(), story.expect)


def run_story(server: PipelineServer, story: Story, token: str, clients: int, n: int, budget: float) -> Run:
    cpu0 = cpu_seconds(server.proc.pid)
    samples, elapsed, errors, first_error = asyncio.run(load(server.base, story, token, n, clients, budget))
    cpu = cpu_seconds(server.proc.pid) - cpu0
    t = Timing(samples)
    return Run(story.key, story.label, clients, len(samples), errors, elapsed, t.median * 1000, t.p95 * 1000,
               len(samples) / elapsed, cpu * 1000 / len(samples), first_error=first_error)


def libpq_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def sql_floor(conn: psycopg.Connection, story: Story, runs: int, budget: float) -> Timing:
    """The story's question as one hand-written statement (no server-side prepare, as the
    server's engine), timed from execute to the last row."""
    rows = conn.execute(story.floor_sql, story.floor_params).fetchall()
    wrong = story.floor_expect(rows)
    if wrong:
        raise SystemExit(f"{story.key}. SQL floor: unexpected answer {wrong}")
    return measure(lambda: conn.execute(story.floor_sql, story.floor_params).fetchall(), runs, warmup=2,
                   budget_s=budget, min_runs=5)


# -- output ------------------------------------------------------------------------------


def ms(v: float | None) -> str:
    return "-" if v is None else fmt_ms(v / 1000)


def print_table(runs: list[Run]) -> None:
    head = (f"  {'story':<48} {'clients':>7} {'p50':>9} {'p95':>9} {'req/s':>7} {'server CPU ms/req':>17} "
            f"{'SQL floor p50':>13} {'p50/floor':>9} {'errors':>6}")
    print(head)
    print("  " + "-" * (len(head) - 2))
    for r in runs:
        ratio = "-" if r.ratio is None else f"{r.ratio:,.1f}x"
        print(f"  {r.story + '. ' + r.label:<48} {r.clients:>7} {ms(r.p50_ms):>9} {ms(r.p95_ms):>9} "
              f"{r.rps:>7.0f} {r.server_cpu_ms_per_req:>17.2f} {ms(r.floor_p50_ms):>13} {ratio:>9} "
              f"{r.errors:>6}")


def size_of(n_bytes: int) -> str:
    for unit, div in (("GB", 1 << 30), ("MB", 1 << 20)):
        if n_bytes >= div:
            return f"{n_bytes / div:,.1f} {unit}"
    return f"{n_bytes / 1024:,.0f} kB"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True, help="a generated province (bench/generate.py), PostgreSQL")
    ap.add_argument("--requests", type=int, default=200, help="sequential requests per story (default 200)")
    ap.add_argument("--concurrent-requests", type=int, default=None,
                    help="requests per story with --clients in flight (default: twice --requests)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--workers", type=int, default=None, help="passed to `wangge serve --workers`")
    ap.add_argument("--stories", default="abcde", help="subset to run, e.g. 'ace' or 'a,c,e' (default abcde)")
    ap.add_argument("--budget", type=float, default=30.0,
                    help="seconds per story and mode, after which it stops early (default 30)")
    ap.add_argument("--floor-runs", type=int, default=50, help="timed runs of each SQL floor (default 50)")
    ap.add_argument("--json", metavar="FILE", default=None, help="also write the figures to FILE")
    args = ap.parse_args(argv)
    concurrent_n = args.concurrent_requests if args.concurrent_requests is not None else 2 * args.requests
    if min(args.requests, concurrent_n, args.clients, args.floor_runs) < 1 or args.budget <= 0:
        raise SystemExit("--requests, --concurrent-requests, --clients, --floor-runs and --budget must be positive")
    if args.workers is not None and args.workers < 1:
        raise SystemExit("--workers must be positive")
    wanted = [c for c in args.stories.lower() if c not in ", "]
    if not wanted or any(c not in "abcde" for c in wanted):
        raise SystemExit("--stories: letters among a, b, c, d, e")
    url = args.database_url
    if backend_of(url) != "postgresql":
        raise SystemExit("bench.pipeline runs on PostgreSQL only (its SQL floor goes through psycopg)")

    engine = make_sync_engine(url)
    with engine.connect() as conn:
        picks = pick_areas(conn)
        n_res = conn.execute(text("SELECT count(*) FROM resident")).scalar()
        db_bytes = conn.execute(text("SELECT pg_database_size(current_database())")).scalar()
        pg_version = conn.execute(text("SHOW server_version")).scalar()
    engine.dispose()
    secret = secrets.token_hex(32)
    tokens, counters = make_tokens(url, picks, secret)
    chosen = [s for s in stories(picks, counters) if s.key in wanted]

    workers_txt = f"--workers {args.workers}" if args.workers is not None else "1 process"
    machine = machine_line()
    print(f"bench.pipeline on {describe_url(url)} (PostgreSQL {pg_version}): database {size_of(db_bytes)}, "
          f"{n_res:,} residents")
    print(f"  {machine}")
    print(f"  city {picks.city} ({counters[picks.city][2]:,} active), province {picks.province} "
          f"({counters[picks.province][2]:,} active), street {picks.street}, grid {picks.grid}")

    t_start = time.perf_counter()
    results: list[Run] = []
    floors: dict[str, Timing] = {}
    with psycopg.connect(libpq_url(url), autocommit=True, prepare_threshold=None) as pg:
        for story in chosen:
            floors[story.key] = sql_floor(pg, story, args.floor_runs, min(args.budget, 10.0))

    server = PipelineServer(url, secret, args.workers)
    ok = False
    try:
        server.wait_ready()
        print(f"  server: wangge serve ({workers_txt}) at {server.base}, pid {server.proc.pid}; "
              f"{args.requests} sequential and {concurrent_n} concurrent requests per story, "
              f"at most {args.budget:.0f} s each; CPU: utime+stime of the server process tree\n")
        for story in chosen:
            warm_up(server.base, story, tokens[story.user])
            for clients, n in ((1, args.requests), (args.clients, concurrent_n)):
                run = run_story(server, story, tokens[story.user], clients, n, args.budget)
                run.floor_p50_ms = floors[story.key].median * 1000
                results.append(run)
        ok = True
    finally:
        server.stop()
    if ok:
        Path(server.log.name).unlink(missing_ok=True)

    print_table(results)
    for r in results:
        if r.errors:
            print(f"  {r.story} ({r.clients} clients): {r.errors} failed requests; first: {r.first_error}")
    print("\n  SQL floor (psycopg, sequential, p50 of up to "
          f"{args.floor_runs} runs): " + "; ".join(f"{k} {floors[k].ms()}" for k in floors))
    total = time.perf_counter() - t_start
    print(f"  total time {total:.0f} s; {machine_line()}")

    if args.json:
        figures = {
            "database": {"url": describe_url(url), "postgresql": pg_version, "bytes": db_bytes, "residents": n_res},
            "machine": machine, "machine_after": machine_line(), "server": workers_txt,
            "areas": {"province": picks.province, "city": picks.city, "street": picks.street, "grid": picks.grid},
            "options": {"requests": args.requests, "concurrent_requests": concurrent_n, "clients": args.clients,
                        "budget_s": args.budget, "floor_runs": args.floor_runs},
            "runs": [{"story": r.story, "label": r.label, "clients": r.clients, "requests": r.requests,
                      "errors": r.errors, "seconds": round(r.seconds, 3), "p50_ms": round(r.p50_ms, 3),
                      "p95_ms": round(r.p95_ms, 3), "rps": round(r.rps, 1),
                      "server_cpu_ms_per_req": round(r.server_cpu_ms_per_req, 3),
                      "floor_p50_ms": round(r.floor_p50_ms, 3) if r.floor_p50_ms else None,
                      "p50_over_floor": round(r.ratio, 2) if r.ratio else None} for r in results],
            "floors": {k: {"sql": next(s.floor_sql for s in chosen if s.key == k), "p50_ms": t.median * 1000,
                           "p95_ms": t.p95 * 1000, "n": t.n} for k, t in floors.items()},
            "total_s": round(total, 1),
        }
        Path(args.json).write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n")
        print(f"  figures written to {args.json}")
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
