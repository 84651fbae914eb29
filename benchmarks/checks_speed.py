#!/usr/bin/env python
"""What exact data checks add to profiling a task's output: profile alone against profile +
typical checks, on the same frame in the same run, printed as a ratio (target <= 1.10).

Run from the repository root::

    .venv/bin/python benchmarks/checks_speed.py [--rows 1000000] [--reps 9] [--narrow]

The frame (fixed seed) is shaped like a production fact table: a shuffled sparse int64 id
(no duplicates: its profile's distinct count is a HyperLogLog estimate, so ``unique`` is
judged on the data), 4 integer columns with duplicates, a string code column of 500 values
(the profile lists 20, so ``values_in`` is judged on the data), 2 string columns of 50
values, 9 float columns with 5 % nulls, a datetime and a boolean: 19 columns.  ``--narrow``
keeps one column of each kind the checks read (id, one integer, code, one float: 4 columns),
where the same checks weigh more against a shorter profile.

The checks are what a table's gate usually holds: ``unique("id")``, ``values_in("code",
500 codes)``, ``null_pct_at_most("id", 0)`` (not null) and ``min_max("amount_0", ...)``
(between).  "profile + checks" times exactly what a task does with them: the profile (keeping the
distinct codes it counts anyway for ``values_in``), reading the data for the checks the
profile cannot decide (``ddtrack.profile.exact``: a sort of the ids), and judging.
Runs alternate between the two; the median wall and CPU time of each is reported (on a
shared machine the CPU time is the steadier figure).
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ddtrack import checks  # noqa: E402
from ddtrack.profile import profile  # noqa: E402
from ddtrack.profile.exact import OutputEvidence, wanted_distinct, wanted_exact  # noqa: E402

CODES = [f"C{k:04d}" for k in range(500)]
CHECKS = [
    checks.unique("id"),
    checks.values_in("code", CODES),
    checks.null_pct_at_most("id", 0),
    checks.min_max("amount_0", -1000, 1000),
]


def frame(rows: int, narrow: bool) -> pd.DataFrame:
    rng = np.random.default_rng(20)
    ids = rng.permutation(rng.choice(2**62, rows, replace=False)).astype(np.int64)
    data: dict[str, object] = {"id": ids}
    for k, high in enumerate((1000, 50, 7, 100_000)):
        data[f"qty_{k}"] = rng.integers(0, high, rows)
    data["code"] = pd.array(np.array(CODES)[rng.integers(0, 500, rows)], dtype="str")
    for k in range(2):
        data[f"region_{k}"] = pd.array(np.array([f"R{j:02d}" for j in range(50)])[rng.integers(0, 50, rows)], dtype="str")
    for k in range(9):
        x = rng.normal(100, 30, rows)
        x[rng.random(rows) < 0.05] = np.nan
        data[f"amount_{k}"] = x
    data["at"] = pd.Timestamp("2026-01-01", tz="UTC") + pd.to_timedelta(np.sort(rng.integers(0, 86_400, rows)), unit="s")
    data["flag"] = rng.random(rows) < 0.3
    df = pd.DataFrame(data)
    return df[["id", "qty_0", "code", "amount_0"]] if narrow else df


def profile_alone(df: pd.DataFrame) -> dict:
    return profile(df).to_dict()


def profile_and_checks(df: pd.DataFrame) -> list[dict]:
    profiled = profile(df, keep_distinct=wanted_distinct(CHECKS), exact_distinct=wanted_exact(CHECKS))  # as the task does
    prof = profiled.to_dict()
    gathered = OutputEvidence(256 * 2**20)
    gathered.add(df, prof, CHECKS, profiled.distinct)
    return checks.evaluate(prof, CHECKS, "orders", gathered.evidence())


def timed(fn, df) -> tuple[float, float]:
    """(wall, CPU) seconds of one call; CPU time (all of this process's threads) is what
    other processes' load on a shared machine disturbs least."""
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    fn(df)
    return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--narrow", action="store_true")
    args = ap.parse_args()
    df = frame(args.rows, args.narrow)
    results = profile_and_checks(df)
    assert [r["status"] for r in results] == ["pass"] * len(CHECKS), results  # a gate that passes
    for fn in (profile_alone, profile_and_checks):  # warm up
        fn(df)
    alone, with_checks = [], []
    for _ in range(args.reps):
        alone.append(timed(profile_alone, df))
        with_checks.append(timed(profile_and_checks, df))
    print(f"frame: {args.rows:,} rows x {df.shape[1]} columns; checks: " + ", ".join(c.name for c in CHECKS))
    print(f"medians of {args.reps} alternating runs; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'':<22}{'wall ms':>10}{'CPU ms':>10}")
    a = [statistics.median(t[i] for t in alone) for i in (0, 1)]
    b = [statistics.median(t[i] for t in with_checks) for i in (0, 1)]
    for label, (wall, cpu) in (("profile alone", a), ("profile + checks", b), ("checks added", (b[0] - a[0], b[1] - a[1]))):
        print(f"{label:<22}{wall * 1000:10.1f}{cpu * 1000:10.1f}")
    print(f"ratio (target <= 1.10): wall {b[0] / a[0]:.3f}, CPU {b[1] / a[1]:.3f}")


if __name__ == "__main__":
    main()
