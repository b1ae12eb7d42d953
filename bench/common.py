"""Helpers shared by the benchmark scripts: timing, percentiles, picking areas to test.

Every benchmark picks its areas the same way (the *middle* city, the middle district of
that city, and so on), so that the grid under test is neither the first rows of the
table (where a scan ordered by id finds its page at once) nor the last.
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(REPO))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

LEVELS = ("province", "city", "district", "street", "community", "grid")


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1))
    return ordered[k]


@dataclass
class Timing:
    samples: list[float]  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return percentile(self.samples, 95)

    @property
    def n(self) -> int:
        return len(self.samples)

    def ms(self) -> str:
        return f"{fmt_ms(self.median)} (p95 {fmt_ms(self.p95)}, n={self.n})"


def fmt_ms(seconds: float) -> str:
    ms = seconds * 1000
    if ms >= 100:
        return f"{ms:,.0f} ms"
    if ms >= 10:
        return f"{ms:.1f} ms"
    return f"{ms:.2f} ms"


def measure(fn: Callable[[], object], runs: int, *, warmup: int = 2, budget_s: float = 10.0,
            min_runs: int = 5) -> Timing:
    """Time ``fn`` ``runs`` times after ``warmup`` calls; stop early after ``budget_s``
    (but never before ``min_runs``), so a slow anti-pattern cannot blow the time limit."""
    for _ in range(warmup):
        fn()
    samples: list[float] = []
    started = time.perf_counter()
    for i in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
        if i + 1 >= min_runs and time.perf_counter() - started > budget_s:
            break
    return Timing(samples)


def ratio(slow: float, fast: float) -> str:
    if fast <= 0:
        return "n/a"
    x = slow / fast
    return f"{x:,.1f}x" if x >= 1 else f"{x:.2f}x"


def backend_of(url: str) -> str:
    name = make_url(url).get_backend_name()
    return "postgresql" if name in ("postgresql", "postgres") else name


def describe_url(url: str) -> str:
    u = make_url(url)
    return u.render_as_string(hide_password=True)


@dataclass(frozen=True)
class Picks:
    """Areas used by the benchmarks, chosen in the middle of the tree."""

    province: str
    city: str
    district: str
    street: str
    community: str
    grid: str
    spread: tuple[str, ...]  # 50 areas spread over the province (the "50 grants" user)


def pick_areas(conn, n_spread: int = 50) -> Picks:
    """The middle child at each level, and ``n_spread`` areas spread over the province.

    The spread areas are taken from the coarsest level with at least ``n_spread`` areas,
    evenly spaced, so that they do not merge into fewer prefixes.
    """
    def children(parent: str | None, level: str) -> list[str]:
        if parent is None:
            rows = conn.execute(text("SELECT code FROM area WHERE level = :l ORDER BY code"), {"l": level})
        else:
            rows = conn.execute(text("SELECT code FROM area WHERE level = :l AND parent_code = :p ORDER BY code"),
                                {"l": level, "p": parent})
        return [r[0] for r in rows]

    chosen: list[str] = []
    parent = None
    for level in LEVELS:
        codes = children(parent, level)
        if not codes:
            raise SystemExit(f"no {level} under {parent}: generate data first (bench/generate.py)")
        parent = codes[len(codes) // 2]
        chosen.append(parent)
    spread: list[str] = []
    for level in LEVELS[1:]:
        codes = children(None, level)
        if len(codes) >= n_spread:
            spread = [codes[(i * len(codes)) // n_spread] for i in range(n_spread)]
            break
    return Picks(*chosen, spread=tuple(spread))


def machine_line() -> str:
    import platform

    load = ", load average %.1f %.1f %.1f" % os.getloadavg() if hasattr(os, "getloadavg") else ""
    return f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} CPUs{load}"
