"""Server time of a mapped task's merged whole ("all N (merged)" on the task-instance page).

    .venv/bin/python benchmarks/mapped_whole_speed.py                  # 100 and 1,000 map indexes
    .venv/bin/python benchmarks/mapped_whole_speed.py --indexes 300

A temporary SQLite store gets one tracked try per map index, each with the real profile
of a 3,000-row, 9-column frame (ids, floats, integers, lognormal prices, strings,
datetimes, booleans, floats with NaN).  ``queries.mapped_whole`` is then timed cold (the
merge: every index's profile read back and merged, sketches included) and warm (kept while
no try changes).  The split of the cold time between reading the outputs and merging them
is measured inside the same timed runs (the two functions ``mapped_whole`` calls are
wrapped with timers) and shown for the run whose total is the median.  The views' target
is 300 ms per page; the ratio to it is printed.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from records import make_record  # noqa: E402

from ddtrack import queries  # noqa: E402
from ddtrack.queries import mapped  # noqa: E402
from ddtrack.store.ingest import ingest_records  # noqa: E402
from ddtrack.store.schema import upgrade  # noqa: E402

TARGET_MS = 300


def part_frame(i: int, rows: int = 3000) -> pd.DataFrame:
    """Map index i's output (fixed seed per index; values shift a little between indexes)."""
    r = np.random.default_rng(i)
    return pd.DataFrame({
        "id": np.arange(rows) + i * rows,
        "amount": r.normal(10 + i % 7, 2, rows),
        "qty": r.integers(0, 50, rows),
        "price": r.lognormal(2, 1, rows),
        "city": r.choice(["Paris", "Oslo", "Lima"], rows),
        "code": [f"C{j % 300:04d}" for j in range(rows)],
        "ts": pd.date_range("2024-01-01", periods=rows, freq="min") + pd.Timedelta(days=i),
        "flag": r.random(rows) < 0.3,
        "score": np.where(r.random(rows) < 0.1, np.nan, r.normal(0, 1, rows)),
    })


def seed(url: str, indexes: int) -> None:
    records = []
    for i in range(indexes):
        records.append(make_record(map_index=i, data=part_frame(i)))
        if (i + 1) % 100 == 0:
            print(f"\r  profiling map indexes: {i + 1}/{indexes}", end="", flush=True)
    print()
    ingest_records(url, records)


class Split:
    """Milliseconds spent inside the functions ``mapped_whole`` calls, during one run."""

    def __init__(self) -> None:
        self.ms = {"reading": 0.0, "merging": 0.0}

    def timer(self, label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.ms[label] += (time.perf_counter() - t0) * 1000

        return timed


def cold_run(sources: queries.Sources) -> tuple[float, dict[str, float]]:
    """One uncached ``mapped_whole``: its total and its split, from the same run (outputs_of
    reads every index's output and columns; merge_outputs merges them, per output name)."""
    split = Split()
    read, merge = mapped.outputs_of, mapped.merge_outputs
    mapped.outputs_of, mapped.merge_outputs = split.timer("reading", read), split.timer("merging", merge)
    try:
        mapped._WHOLE_CACHE.clear()
        t0 = time.perf_counter()
        queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
        total = (time.perf_counter() - t0) * 1000
    finally:
        mapped.outputs_of, mapped.merge_outputs = read, merge
    return total, split.ms


def measure(indexes: int, reps: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.db"
        upgrade(url)
        seed(url, indexes)
        sources = queries.Sources(url, url)
        runs = sorted((cold_run(sources) for _ in range(reps)), key=lambda r: r[0])
        t0 = time.perf_counter()
        queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
        warm = (time.perf_counter() - t0) * 1000
    median, split = runs[len(runs) // 2]
    rest = median - split["reading"] - split["merging"]
    ratio = median / TARGET_MS
    print(f"  {indexes:>5} map indexes: cold {median:7.0f} ms (runs: {', '.join(f'{r[0]:.0f}' for r in runs)}; "
          f"median run: reading {split['reading']:.0f} ms, merging {split['merging']:.0f} ms, rest {rest:.0f} ms), "
          f"warm {warm:5.1f} ms, target {TARGET_MS} ms, ratio {ratio:.2f} {'ok' if ratio <= 1 else 'SLOW'}")
    return ratio <= 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--indexes", default="100,1000", help="comma-separated map index counts")
    ap.add_argument("--reps", type=int, default=5)
    args = ap.parse_args(argv)
    print("Merged whole of a mapped task (SQLite store, 9-column outputs)")
    for n in (int(x) for x in args.indexes.split(",")):
        measure(n, args.reps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
