"""Scope filters on a generated province: ranges vs LIKE ANY, counters vs COUNT, plan caching.

    python -m bench.bench_scope --database-url postgresql://root@127.0.0.1:5432/wangge_bench

Needs a database filled by ``bench/generate.py``. Every figure is the median (and p95)
of repeated runs, each in a fresh session on a pooled connection, timed from
``session.execute`` to the last ORM object (driver and ORM included):

a. first page of residents (``ORDER BY id LIMIT 51``) for a grid worker, a community
   worker, a district officer and a province officer, with the scope compiled by
   ``authz.scope.Scope`` and applied by the ``ScopedSession`` gate (OR of ranges),
   against the anti-pattern ``area_code LIKE ANY(ARRAY['p%', ...])`` (SQLite: an OR of
   ``LIKE``) on a plain session;
b. a city's (and the province's) active residents counted row by row through the gate
   vs summed from ``grid_stats``;
c. one connection alternating a 50-grant province-wide user and a grid worker, 20 times
   each: the grid worker's page must cost what it costs on its own (no generic plan
   reused across scopes). On PostgreSQL a control run shows what psycopg's
   prepared statements with bound prefixes would do instead;
d. what compiling a scope costs in Python (Scope + prefixes, 1 and 50 grants), one
   ``enforcer.enforce`` call, and a first gated page with a brand-new Scope (what every
   request pays, since the gate compiles the prefixes of all gated models).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (Timing, backend_of, describe_url, fmt_ms, machine_line, measure, pick_areas,  # noqa: E402
                          ratio)
from sqlalchemy import String, event, func, literal, or_, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from authz.enforcer import load_enforcer  # noqa: E402
from authz.gate import ScopedSession  # noqa: E402
from authz.grants import ActiveGrant, use_grants  # noqa: E402
from authz.scope import Scope  # noqa: E402
from db.codes import validate_code  # noqa: E402
from db.engine import make_sync_engine  # noqa: E402
from db.registry import Resident  # noqa: E402
from db.stats import GridStats  # noqa: E402
from authz.scope import in_subtree  # noqa: E402

PAGE = 50


# -- statements -------------------------------------------------------------------------


def first_page():
    return select(Resident).order_by(Resident.id).limit(PAGE + 1)


def like_any(prefixes: tuple[str, ...], backend: str):
    """The anti-pattern: one LIKE pattern per prefix, constants inlined like the ranges are."""
    prefixes = tuple(validate_code(p, "area_code") for p in prefixes)  # digits only: safe to inline
    if backend == "postgresql":
        patterns = ", ".join(f"'{p}%'" for p in prefixes)
        return text(f"resident.area_code LIKE ANY(ARRAY[{patterns}])")
    return or_(*(Resident.area_code.like(literal(p + "%", String, literal_execute=True)) for p in prefixes))


class Runner:
    def __init__(self, url: str, runs: int, budget: float) -> None:
        self.url = url
        self.backend = backend_of(url)
        self.engine = make_sync_engine(url)
        self.runs = runs
        self.budget = budget
        self.enforcer = load_enforcer()

    def scope(self, name: str, grants: list[ActiveGrant]) -> Scope:
        return Scope(self.enforcer, f"user:{name}", grants)

    def gated(self, scope: Scope, stmt, bind=None):
        with ScopedSession(bind=bind or self.engine, info={"scope": scope}) as s:
            return s.execute(stmt).scalars().all()

    def plain(self, stmt, bind=None):
        with Session(bind=bind or self.engine) as s:
            return s.execute(stmt).scalars().all()

    def time(self, fn, runs: int | None = None) -> Timing:
        return measure(fn, runs or self.runs, budget_s=self.budget)

    # -- plans --------------------------------------------------------------------------
    def plan(self, fn) -> str:
        """The plan of the last statement ``fn`` sends (captured as sent, constants inlined)."""
        seen: list[tuple[str, object]] = []

        def grab(conn, cursor, statement, parameters, context, executemany):
            seen.append((statement, parameters))

        event.listen(self.engine, "before_cursor_execute", grab)
        try:
            fn()
        finally:
            event.remove(self.engine, "before_cursor_execute", grab)
        statement, params = seen[-1]
        with self.engine.connect() as conn:
            if self.backend == "postgresql":
                raw = conn.exec_driver_sql("EXPLAIN (FORMAT JSON) " + statement, params).scalar()
                doc = raw if isinstance(raw, list) else json.loads(raw)
                return " > ".join(_pg_nodes(doc[0]["Plan"]))
            rows = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, params).all()
            return "; ".join(r[-1] for r in rows)


def _pg_nodes(node: dict) -> list[str]:
    label = node["Node Type"]
    if node.get("Index Name"):
        label += f" {node['Index Name']}"
    out = [label]
    for child in node.get("Plans", []):
        out += _pg_nodes(child)
    return out


# -- a. first page ----------------------------------------------------------------------


def bench_first_page(r: Runner, picks, show_plans: bool) -> dict:
    users = {
        "grid worker": [ActiveGrant("grid_worker", picks.grid)],
        "community staff": [ActiveGrant("staff", picks.community)],
        "district officer": [ActiveGrant("officer", picks.district)],
        "province officer": [ActiveGrant("officer", picks.province)],
    }
    if len(picks.spread) >= 50:
        users["50-grant officer"] = [ActiveGrant("officer", c) for c in picks.spread]
    anti = "LIKE ANY" if r.backend == "postgresql" else "OR of LIKE"
    print(f"\na. first page of residents ({PAGE} rows, ORDER BY id LIMIT {PAGE + 1}), median (p95)")
    print(f"   {'user':<17} {'area':<16} {'gate: OR of ranges':<30} {'same ranges, no gate':<30} "
          f"{anti + ' (no gate)':<32} {anti + ' / ranges'}")
    results = {}
    for name, grants in users.items():
        scope = r.scope(name.replace(" ", "_"), grants)
        prefixes = scope.prefixes("resident", "read")
        gated = lambda: r.gated(scope, first_page())  # noqa: E731
        bare = lambda: r.plain(first_page().where(scope.condition(Resident.area_code, "resident", "read")))  # noqa: E731
        anti_fn = lambda: r.plain(first_page().where(like_any(prefixes, r.backend)))  # noqa: E731
        a, b = [x.id for x in gated()], [x.id for x in anti_fn()]
        if a != b or len(a) != PAGE + 1:
            raise SystemExit(f"{name}: the two forms disagree ({len(a)} vs {len(b)} rows)")
        t_gate, t_bare, t_anti = r.time(gated), r.time(bare), r.time(anti_fn)
        results[name] = (t_gate, t_anti)
        where = grants[0].area_code if len(grants) == 1 else f"{len(grants)} areas"
        print(f"   {name:<17} {where:<16} {t_gate.ms():<30} {t_bare.ms():<30} {t_anti.ms():<32} "
              f"{ratio(t_anti.median, t_gate.median)}")
        if show_plans:
            print(f"      plan, ranges:   {r.plan(gated)}")
            print(f"      plan, {anti + ':':<9} {r.plan(anti_fn)}")

    # The listing's keyset is the id. When a scope's rows are one contiguous block of ids
    # (registered grid by grid), the planner's "walk the primary key until 51 match" plan
    # can read half the table for a mid-sized scope; a keyset on (area_code, id) walks
    # ix_resident_area_id in order instead. Shown for comparison: the API sorts by id.
    print(f"\n   for comparison, the same gated page ordered by (area_code, id), the order of ix_resident_area_id:")
    for name, grants in users.items():
        scope = r.scope(name.replace(" ", "_"), grants)
        stmt = select(Resident).order_by(Resident.area_code, Resident.id).limit(PAGE + 1)
        fn = lambda: r.gated(scope, stmt)  # noqa: E731
        t = r.time(fn)
        results[name] += (t,)
        print(f"   {name:<17} {t.ms():<30} vs ORDER BY id {fmt_ms(results[name][0].median)}"
              + (f"   plan: {r.plan(fn)}" if show_plans else ""))
    return results


# -- b. counting ------------------------------------------------------------------------


def bench_counts(r: Runner, picks, show_plans: bool) -> dict:
    print("\nb. active residents of an area: COUNT(*) over the rows vs SUM over grid_stats, both through the gate")
    print(f"   {'area':<18} {'residents':>10} {'COUNT(*) of rows':<32} {'SUM(grid_stats)':<30} {'ratio'}")
    results = {}
    for label, code, runs in (("city " + picks.city, picks.city, r.runs), ("province 23", picks.province, 10)):
        scope = r.scope(f"officer_{code}", [ActiveGrant("officer", code)])
        count_stmt = select(func.count()).select_from(Resident).where(Resident.status == "active")
        sum_stmt = select(func.coalesce(func.sum(GridStats.residents), 0)).where(in_subtree(GridStats.area_code, code))

        def count():
            with ScopedSession(bind=r.engine, info={"scope": scope}) as s:
                return s.execute(count_stmt).scalar()

        def total():
            with ScopedSession(bind=r.engine, info={"scope": scope}) as s:
                return s.execute(sum_stmt).scalar()

        n_rows, n_sum = count(), total()
        if n_rows != n_sum:
            raise SystemExit(f"{label}: COUNT(*) {n_rows} but grid_stats says {n_sum}")
        t_count, t_sum = r.time(count, runs), r.time(total)
        results[label] = (t_count, t_sum, n_rows)
        print(f"   {label:<18} {n_rows:>10,} {t_count.ms():<32} {t_sum.ms():<30} {ratio(t_count.median, t_sum.median)}")
        if show_plans:
            print(f"      plan, COUNT: {r.plan(count)}")
            print(f"      plan, SUM:   {r.plan(total)}")
    return results


# -- c. plan caching --------------------------------------------------------------------


def bench_plan_cache(r: Runner, picks, rounds: int = 20) -> dict:
    if len(picks.spread) < 50:
        print("\nc. skipped: fewer than 50 areas at any level (generate more grids)")
        return {}
    wide = r.scope("province_50", [ActiveGrant("officer", c) for c in picks.spread])
    grid = r.scope("grid_worker", [ActiveGrant("grid_worker", picks.grid)])
    n_ranges = len(wide.prefixes("resident", "read"))
    t_wide: list[float] = []
    t_grid: list[float] = []
    t_alone: list[float] = []
    with r.engine.connect() as conn:
        pid = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar() if r.backend == "postgresql" else None
        r.gated(wide, first_page(), bind=conn)  # warm-up: SQLAlchemy's compiled cache, buffers
        r.gated(grid, first_page(), bind=conn)
        for _ in range(rounds):  # the grid worker alone on this connection: the baseline
            t0 = time.perf_counter()
            r.gated(grid, first_page(), bind=conn)
            t_alone.append(time.perf_counter() - t0)
        for _ in range(rounds):
            t0 = time.perf_counter()
            rows = r.gated(wide, first_page(), bind=conn)
            t_wide.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            rows = r.gated(grid, first_page(), bind=conn)
            t_grid.append(time.perf_counter() - t0)
            assert len(rows) == PAGE + 1
        prepared = explained = None
        if r.backend == "postgresql":
            prepared = conn.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
            # What the server did for the grid worker's statement, as sent, on this connection.
            seen: list = []
            grab = lambda c, cur, st, params, ctx, many: seen.append((st, params))  # noqa: E731
            event.listen(r.engine, "before_cursor_execute", grab)
            try:
                r.gated(wide, first_page(), bind=conn)
                r.gated(grid, first_page(), bind=conn)
            finally:
                event.remove(r.engine, "before_cursor_execute", grab)
            st, params = seen[-1]
            raw = conn.exec_driver_sql("EXPLAIN (ANALYZE, FORMAT JSON) " + st, params).scalar()
            doc = (raw if isinstance(raw, list) else json.loads(raw))[0]
            explained = (" > ".join(_pg_nodes(doc["Plan"])), doc["Execution Time"])
        conn.rollback()
    baseline = Timing(t_alone)
    after = Timing(t_grid)
    print(f"\nc. plan caching: one connection{f' (backend pid {pid})' if pid else ''}, "
          f"a {len(picks.spread)}-grant province-wide user ({n_ranges} ranges) then the grid worker, x{rounds}")
    print(f"   province-wide user, first page:          {Timing(t_wide).ms()}")
    print(f"   grid worker after it, same connection:   {after.ms()}")
    print(f"   grid worker alone, same connection:      {baseline.ms()}")
    print(f"   after / alone: {after.median / baseline.median:.2f}x  (1.0x = no plan reused across scopes)")
    if prepared is not None:
        print(f"   prepared statements on that connection: {prepared} (make_sync_engine sets prepare_threshold=None)")
        print(f"   grid worker's statement right after the wide one, EXPLAIN ANALYZE on that connection: "
              f"{explained[0]}, executed in {explained[1]:.2f} ms")
    out = {"after": after, "alone": baseline, "prepared": prepared}
    if r.backend == "postgresql":
        out["control"] = plan_cache_control(r, picks, rounds)
    return out


def plan_cache_control(r: Runner, picks, rounds: int) -> dict:
    """What the design avoids: bound prefixes in a server-side prepared statement.

    Same statement text for both users (one range each), prepared on first use
    (``prepare_threshold=0``); PostgreSQL may then switch to one generic plan for all
    parameter values. Run once with the default ``plan_cache_mode`` and once forcing the
    generic plan, which is what a plan shared across scopes amounts to.
    """
    import psycopg

    conninfo = make_url(r.url).set(drivername="postgresql").render_as_string(hide_password=False)
    sql = ("SELECT * FROM resident WHERE resident.area_code >= %s AND resident.area_code < %s "
           "ORDER BY resident.id LIMIT 51")
    print("   control, NOT what the app does: the same page with the prefix as a bound parameter in a")
    print("   prepared statement (psycopg prepare_threshold=0), province '23' then the grid worker:")
    out = {}
    for mode in ("auto", "force_generic_plan"):
        with psycopg.connect(conninfo, prepare_threshold=0, autocommit=True) as conn:
            conn.execute(f"SET plan_cache_mode = {mode}")
            t_grid: list[float] = []
            t_prov: list[float] = []
            for i in range(rounds):
                t0 = time.perf_counter()
                conn.execute(sql, ("23", "23~")).fetchall()
                t_prov.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                n = len(conn.execute(sql, (picks.grid, picks.grid + "~")).fetchall())
                t_grid.append(time.perf_counter() - t0)
                assert n == PAGE + 1
                if mode == "force_generic_plan" and sum(t_grid) > r.budget:
                    break
            generic = conn.execute("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                   "WHERE statement LIKE 'SELECT * FROM resident%'").fetchone()
        t = Timing(t_grid)
        out[mode] = t
        print(f"     plan_cache_mode={mode:<19} grid worker {t.ms():<30} province {Timing(t_prov).ms():<28} "
              f"(generic/custom plans: {generic[0]}/{generic[1]})")
    return out


# -- d. compile cost --------------------------------------------------------------------


def per_call_us(fn, n: int) -> float:
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - t0) / n)
    return best * 1e6


def bench_compile(r: Runner, picks) -> dict:
    spread = picks.spread or (picks.grid,)
    one = [ActiveGrant("grid_worker", picks.grid)]
    fifty = [ActiveGrant("officer", c) for c in spread]
    print("\nd. scope compile cost in Python (best of 3 loops)")
    out = {}
    for label, grants in (("1 grant", one), (f"{len(fifty)} grants", fifty)):
        def build():
            s = Scope(r.enforcer, "user:c", grants)
            return s.prefixes("resident", "read")

        def build_condition():
            s = Scope(r.enforcer, "user:c", grants)
            return s.condition(Resident.area_code, "resident", "read")

        n = 2000 if len(grants) == 1 else 200
        us_build = per_call_us(build, n)
        us_cond = per_call_us(build_condition, n)
        with use_grants("user:c", grants):
            area = grants[-1].area_code + ("001" if len(grants[-1].area_code) < 15 else "")
            us_enforce = per_call_us(lambda: r.enforcer.enforce("user:c", area, "resident", "read"), 5000)
        # What a request pays: a new Scope, then its first gated statement compiles the
        # prefixes of every gated model (6 place-bound models and areas) before running.
        t_fresh = measure(lambda: r.gated(Scope(r.enforcer, "user:c", grants), first_page()), 15,
                          budget_s=r.budget)
        scope = Scope(r.enforcer, "user:c", grants)
        t_cached = measure(lambda: r.gated(scope, first_page()), 15, budget_s=r.budget)
        out[label] = (us_build, us_cond, us_enforce, t_fresh, t_cached)
        print(f"   {label:<10} Scope + prefixes {us_build:8,.0f} µs   + condition() {us_cond:8,.0f} µs   "
              f"enforcer.enforce {us_enforce:6.1f} µs/call")
        print(f"   {'':<10} first page through the gate with a new Scope (as in each request) "
              f"{fmt_ms(t_fresh.median)}, with the Scope already compiled {fmt_ms(t_cached.median)}")
    return out


# -- main -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--database-url", required=True)
    ap.add_argument("--runs", type=int, default=30, help="timed runs per figure (default 30)")
    ap.add_argument("--budget", type=float, default=8.0,
                    help="seconds per figure before stopping early (at least 5 runs); default 8")
    ap.add_argument("--plans", action="store_true", help="print the plan of each statement")
    args = ap.parse_args(argv)

    r = Runner(args.database_url, args.runs, args.budget)
    with r.engine.connect() as conn:
        picks = pick_areas(conn)
        n_res = conn.execute(text("SELECT count(*) FROM resident")).scalar()
        n_grids = conn.execute(text("SELECT count(*) FROM area WHERE level = 'grid'")).scalar()
        version = conn.execute(text("SELECT version()" if r.backend == "postgresql" else "SELECT sqlite_version()"
                                    )).scalar()
    print(f"bench_scope on {describe_url(args.database_url)}: {n_res:,} residents in {n_grids:,} grids")
    print(f"  {version.split(' on ')[0] if r.backend == 'postgresql' else 'SQLite ' + version}; {machine_line()}")
    print(f"  areas: city {picks.city}, district {picks.district}, community {picks.community}, grid {picks.grid}")
    t0 = time.perf_counter()
    a = bench_first_page(r, picks, args.plans)
    b = bench_counts(r, picks, args.plans)
    c = bench_plan_cache(r, picks)
    d = bench_compile(r, picks)
    r.engine.dispose()

    print("\nsummary")
    for name, (t_gate, t_anti, _t_alt) in a.items():
        print(f"  first page, {name:<17} ranges {fmt_ms(t_gate.median):>9}  vs LIKE {fmt_ms(t_anti.median):>9}  "
              f"= {ratio(t_anti.median, t_gate.median)}")
    for label, (t_count, t_sum, _n) in b.items():
        print(f"  {label:<18} COUNT {fmt_ms(t_count.median):>9}  vs counters {fmt_ms(t_sum.median):>9}  "
              f"= {ratio(t_count.median, t_sum.median)}")
    if c:
        line = (f"  plan caching: grid worker after a 50-grant user {fmt_ms(c['after'].median)} vs alone "
                f"{fmt_ms(c['alone'].median)} ({c['after'].median / c['alone'].median:.2f}x)")
        if "control" in c:
            line += "; control with bound prefixes: " + ", ".join(
                f"{m} {fmt_ms(t.median)}" for m, t in c["control"].items())
        print(line)
    print("  compile: " + "; ".join(f"{k}: {v[0]:,.0f} µs, enforce {v[2]:.1f} µs, first gated page with a new "
                                    f"Scope {fmt_ms(v[3].median)}" for k, v in d.items()))
    print(f"  total time {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
