"""Server time of a mapped task's merged whole ("all N (merged)" on the task-instance page).

    .venv/bin/python benchmarks/mapped_whole_speed.py                  # 100 and 1,000 map indexes
    .venv/bin/python benchmarks/mapped_whole_speed.py --indexes 300

A temporary SQLite store gets one tracked try per map index, each with the real profile
of a 3,000-row, 9-column frame (ids, floats, integers, lognormal prices, strings,
datetimes, booleans, floats with NaN).  ``queries.mapped_whole`` is then timed cold (the
merge: every index's profile read back and merged, sketches included) and warm (kept while
no try changes), with the split of the cold time between reading and merging.  The views'
target is 300 ms per page; the ratio to it is printed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

from records import make_record  # noqa: E402
from sqlalchemy import create_engine, select  # noqa: E402

from ddtrack import queries  # noqa: E402
from ddtrack.profile import merge_profiles, profile  # noqa: E402
from ddtrack.queries.mapped import _WHOLE_CACHE  # noqa: E402
from ddtrack.queries.outputs import as_profile, outputs_of  # noqa: E402
from ddtrack.record import to_json_safe  # noqa: E402
from ddtrack.store.ingest import ingest_records  # noqa: E402
from ddtrack.store.models import TaskRun  # noqa: E402
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
        record = make_record(map_index=i)
        record["outputs"][0]["profile"] = profile(part_frame(i)).to_dict()
        records.append(to_json_safe(record))
        if (i + 1) % 100 == 0:
            print(f"\r  profiling map indexes: {i + 1}/{indexes}", end="", flush=True)
    print()
    ingest_records(url, records)


def measure(indexes: int, reps: int) -> bool:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/store.db"
        upgrade(url)
        seed(url, indexes)
        sources = queries.Sources(url, url)

        def cold() -> float:
            _WHOLE_CACHE.clear()
            t0 = time.perf_counter()
            queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
            return (time.perf_counter() - t0) * 1000

        colds = [cold() for _ in range(reps)]
        t0 = time.perf_counter()
        queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
        warm = (time.perf_counter() - t0) * 1000
        engine = create_engine(url)
        with engine.connect() as conn:
            ids = [r[0] for r in conn.execute(select(TaskRun.__table__.c.id))]
            t0 = time.perf_counter()
            outputs = outputs_of(conn, ids)
            profiles = [as_profile(o) for group in outputs.values() for o in group]
            t1 = time.perf_counter()
            merge_profiles(profiles)
            t2 = time.perf_counter()
        engine.dispose()
    first = statistics.median(colds)
    ratio = first / TARGET_MS
    print(f"  {indexes:>5} map indexes: cold {first:7.0f} ms (runs: {', '.join(f'{c:.0f}' for c in colds)}; "
          f"reading {1000 * (t1 - t0):.0f} ms, merging {1000 * (t2 - t1):.0f} ms), warm {warm:5.1f} ms, "
          f"target {TARGET_MS} ms, ratio {ratio:.2f} {'ok' if ratio <= 1 else 'SLOW'}")
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
