"""The whole benchmark set in one command: generate, then bench_scope and bench_http, per backend.

    python -m bench.run_all                       # PostgreSQL 1,000,000 + SQLite 200,000 (--small)
    python -m bench.run_all --skip-generate       # reuse the databases generated last time
    python -m bench.run_all --only sqlite --sqlite-residents 1000000

Databases: ``--pg-url`` (default ``postgresql://root@127.0.0.1:5432/wangge_bench``, dropped and
re-created by the generator, which refuses names without "bench") and ``--sqlite-path``
(default ``/tmp/wangge_bench.db``). Each step runs as its own process; its output is passed
through, and the step times are summed at the end (about 5 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def step(title: str, module: str, *args: str) -> float:
    print(f"\n=== {title}: python -m {module} {' '.join(args)}", flush=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, check=True)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pg-url", default="postgresql://root@127.0.0.1:5432/wangge_bench")
    ap.add_argument("--sqlite-path", default="/tmp/wangge_bench.db")
    ap.add_argument("--pg-residents", type=int, default=1_000_000)
    ap.add_argument("--sqlite-residents", type=int, default=None,
                    help="default: the --small preset (200,000 residents in 400 grids)")
    ap.add_argument("--only", choices=("postgresql", "sqlite"), default=None)
    ap.add_argument("--skip-generate", action="store_true")
    ap.add_argument("--requests", default="200", help="bench_http requests per query and mode")
    args = ap.parse_args(argv)

    targets = []
    if args.only in (None, "postgresql"):
        targets.append(("PostgreSQL", args.pg_url, ["--residents", str(args.pg_residents)]))
    if args.only in (None, "sqlite"):
        size = ["--small"] if args.sqlite_residents is None else ["--residents", str(args.sqlite_residents)]
        targets.append(("SQLite", f"sqlite:///{args.sqlite_path}", size))
    times: dict[str, float] = {}
    for label, url, size in targets:
        if not args.skip_generate:
            times[f"generate {label}"] = step(f"{label}: generate", "bench.generate", "--database-url", url,
                                              "--recreate", *size)
        times[f"bench_scope {label}"] = step(f"{label}: scope", "bench.bench_scope", "--database-url", url)
        times[f"bench_http {label}"] = step(f"{label}: http", "bench.bench_http", "--database-url", url,
                                            "--requests", args.requests)
    print("\n=== step times: " + ", ".join(f"{k} {v:.0f} s" for k, v in times.items())
          + f"; total {sum(times.values()):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
