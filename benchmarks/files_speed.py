#!/usr/bin/env python
"""A Parquet folder profiled where it lives, against the same data profiled in memory.

Run from the repository root, one heavy run at a time::

    flock /tmp/ddtrack-heavy.lock .venv/bin/python benchmarks/files_speed.py

Options: ``--rows`` (default 12,000,000), ``--files`` (4), ``--reps`` (3 rounds; medians
reported), ``--dir`` (keep the generated folder there and reuse it on the next run).

The folder (fixed seed): ``--files`` Parquet files of 1M-row row groups, 10 columns shaped
like an orders table: sequential sparse ids, customer ids with duplicates (2M distinct), a
small integer, an amount with 5 % NaN, a discount with 30 % nulls, a log-normal price, and
strings of 8, 200 and 500 codes, a timestamp per row.

What is timed, each contender in a fresh Python process per round (so one's memory does not
count against the other), the contenders in turn:

* ``in memory``: the anchor: the same data read beforehand (not timed) into a pyarrow Table,
  then ``ddtrack.profile.profile(table).to_dict()``;
* ``read only``: ``pyarrow.parquet.read_table(folder)``, no profile: what reading the files
  costs by itself (the floor under ``files``, which must read them too);
* ``files``: ``ddtrack.engines.profile_in_place(ddtrack.Files(folder))``, reading the files
  too (as a task would).

CPU time (all threads) is printed beside each wall time: on a shared machine it is the
steadier figure.  Each round also says how many threads the in-memory profile had (the
profiler's thread budget: the cores the load average leaves free), as one thread instead
of two doubles the anchor.

Memory: growth of the process's peak resident set (``ru_maxrss``) over its size just before
the call (imports and a warm-up on a tiny file done first).  Targets (issue 21): files
<= 1.2 x in memory, memory growth <= 150 MB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUNNER = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
import psutil, pyarrow.parquet as pq
from ddtrack.engines import profile_in_place
from ddtrack.profile import profile
from ddtrack.profile._profile import thread_budget
from ddtrack.references import Files
folder, which = sys.argv[1], sys.argv[2]
profile_in_place(Files(folder + "/../warmup.parquet"))  # imports and first-call costs
table = pq.read_table(folder) if which == "memory" else None
threads = thread_budget()  # the in-memory profile's threads: the cores the load average leaves free
rss0 = psutil.Process().memory_info().rss
cpu0 = time.process_time()
t0 = time.perf_counter()
if which == "memory":
    prof = profile(table).to_dict()
elif which == "read":
    prof = {{"rows": pq.read_table(folder).num_rows}}
else:
    prof = profile_in_place(Files(folder)).profile
elapsed = time.perf_counter() - t0
cpu = time.process_time() - cpu0
growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - rss0
print(json.dumps({{"seconds": elapsed, "cpu": cpu, "growth": growth, "rows": prof["rows"], "threads": threads}}))
"""


def make_folder(folder: Path, rows: int, files: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    per = rows // files
    statuses = np.array(["new", "paid", "shipped", "delivered", "returned", "cancelled", "lost", "held"])
    countries = np.array([f"C{i:03d}" for i in range(200)])
    skus = np.array([f"SKU-{i:05d}" for i in range(500)])
    for f in range(files):
        start = f * per
        amount = rng.gamma(2.0, 30.0, per)
        amount[rng.random(per) < 0.05] = np.nan
        table = pa.table({
            "order_id": pa.array(np.arange(start, start + per, dtype=np.int64) * 7 + 1_000_000_000),
            "customer_id": pa.array(rng.integers(0, 2_000_000, per)),
            "quantity": pa.array(rng.integers(1, 50, per).astype(np.int32)),
            "amount": pa.array(amount, from_pandas=True),
            "discount": pa.array(rng.random(per) * 0.3, mask=rng.random(per) < 0.3),
            "price": pa.array(rng.lognormal(3, 1, per)),
            "status": pa.array(statuses[rng.integers(0, statuses.size, per)]),
            "country": pa.array(countries[rng.integers(0, countries.size, per)]),
            "sku": pa.array(skus[rng.integers(0, skus.size, per)]),
            "created_at": pa.array(np.int64(1_700_000_000_000_000) + np.arange(start, start + per, dtype=np.int64) * 1000,
                                   pa.timestamp("us", tz="UTC")),
        })
        pq.write_table(table, folder / f"part-{f:05d}.parquet", row_group_size=1_000_000)
        if f == 0:
            pq.write_table(table.slice(0, 1000), folder.parent / "warmup.parquet")


def run(folder: Path, which: str) -> dict:
    code = RUNNER.format(root=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, str(folder), which], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=12_000_000)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    base = args.dir or Path(tempfile.mkdtemp(prefix="ddtrack-files-bench-"))
    folder = base / "events"
    if not (folder.exists() and (base / "warmup.parquet").exists()):
        t0 = time.perf_counter()
        make_folder(folder, args.rows, args.files)
        print(f"wrote {args.rows:,} rows in {args.files} files ({sum(p.stat().st_size for p in folder.iterdir()) / 2**20:,.0f} MB) "
              f"in {time.perf_counter() - t0:.1f} s")
    rounds = []
    reads = []
    for i in range(args.reps):
        memory, read, files = run(folder, "memory"), run(folder, "read"), run(folder, "files")
        assert memory["rows"] == files["rows"] == read["rows"], (memory, read, files)
        rounds.append((memory, files))
        reads.append(read)
        print(f"round {i + 1} (in memory on {memory['threads']} thread(s)): "
              f"in memory {memory['seconds']:.2f} s (CPU {memory['cpu']:.2f} s) | read only "
              f"{read['seconds']:.2f} s (CPU {read['cpu']:.2f} s) | files {files['seconds']:.2f} s "
              f"(CPU {files['cpu']:.2f} s) x{files['seconds'] / memory['seconds']:.2f}, "
              f"files memory growth {files['growth'] / 2**20:.0f} MB")
    t_mem = statistics.median(m["seconds"] for m, _ in rounds)
    t_files = statistics.median(f["seconds"] for _, f in rounds)
    t_read = statistics.median(r["seconds"] for r in reads)
    cpu = {k: statistics.median(r[i]["cpu"] for r in rounds) for i, k in enumerate(("memory", "files"))}
    cpu_read = statistics.median(r["cpu"] for r in reads)
    ratio = statistics.median(f["seconds"] / m["seconds"] for m, f in rounds)
    growth = max(f["growth"] for _, f in rounds) / 2**20
    print()
    print(f"| {rounds[0][0]['rows']:,} rows x 10 columns, {args.files} Parquet files | seconds (median of {args.reps}) |")
    print("|---|---:|")
    print(f"| profile of the same data in memory (pyarrow Table) | {t_mem:.2f} (CPU {cpu['memory']:.2f}) |")
    print(f"| reading the files only (`pq.read_table`, no profile) | {t_read:.2f} (CPU {cpu_read:.2f}) |")
    print(f"| Files(folder): read and profiled in batches | {t_files:.2f} (CPU {cpu['files']:.2f}) |")
    print(f"| ratio files / in memory (median of per-round ratios) | {ratio:.2f} |")
    print(f"| files: peak memory growth (largest round) | {growth:.0f} MB |")
    print()
    print(f"{'PASS' if ratio <= 1.2 else 'FAIL'}: files <= 1.2 x in memory ({ratio:.2f})")
    print(f"{'PASS' if growth <= 150 else 'FAIL'}: memory growth <= 150 MB ({growth:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
