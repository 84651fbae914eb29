#!/usr/bin/env python
"""A Spark DataFrame profiled by Spark, against Spark's own ``df.summary()`` (and whylogs).

Run from the repository root, one heavy run at a time::

    flock /tmp/ddtrack-heavy.lock .venv/bin/python benchmarks/spark_speed.py

Options: ``--rows`` (default 20,000,000), ``--partitions`` (8), ``--reps`` (3 rounds;
medians reported), ``--no-whylogs``.

The frame (deterministic: every column is a hash of the row number, so each run and each
Spark gets the same data): 10 columns shaped like an orders table, built by Spark itself
in local[2] (4 GB driver), cached and counted before anything is timed: sparse ids,
customer ids with duplicates (2M distinct), a small integer, an amount with 5 % nulls, a
discount with 30 % nulls, a log-normal-ish price, strings of 8, 200 and 500 codes, a
timestamp.

Timed in turn, each round:

* ``summary``: the anchor: ``df.summary().collect()`` (count, mean, stddev, min, 25/50/75 %
  approximate percentiles, max: no histograms, top values or distinct counts);
* ``ddtrack``: ``profile_in_place(df)``: mapInArrow with ddtrack's profiler per partition,
  merged on the driver.

Memory: the driver Python process's resident set, sampled every 10 ms during ddtrack's
profile, minus its size just before (the JVM and the Python workers are other processes).

whylogs: its Spark profiler (``whylogs.api.pyspark.experimental.collect_dataset_profile_view``)
needs pyspark < 4 and pyarrow < 13, so it runs in its own virtual environment
(``benchmarks/.peers-venv/whylogs-spark``: whylogs[spark] 1.6.4, pyspark 3.5, created with
pip on first use), on the same frame built the same way, with that Spark's own ``summary()``
timed beside it for its ratio.  Targets (issue 21): ddtrack <= 1.5 x summary, driver
memory growth <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PEER = ROOT / "benchmarks" / ".peers-venv" / "whylogs-spark"
PEER_PIP = ["whylogs[spark]==1.6.4", "pyspark==3.5.*", "numpy<2", "pandas<2.3"]

# Shared by this process and the whylogs one: the same frame from the same expressions.
FRAME = textwrap.dedent("""
    import os, sys
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    def session():
        spark = (SparkSession.builder.master("local[2]").appName("ddtrack-spark-bench")
                 .config("spark.driver.memory", "4g").config("spark.ui.enabled", "false")
                 .config("spark.sql.shuffle.partitions", "8").getOrCreate())
        spark.sparkContext.setLogLevel("ERROR")
        return spark

    def frame(spark, rows, partitions):
        h = "xxhash64(id, {salt})"
        u = "(pmod(xxhash64(id, {salt}), 1000000) / 1000000.0)"
        df = spark.range(0, rows, numPartitions=partitions).selectExpr(
            "id * 7 + 1000000000 AS order_id",
            f"pmod({h.format(salt=1)}, 2000000) AS customer_id",
            f"CAST(pmod({h.format(salt=2)}, 49) + 1 AS INT) AS quantity",
            f"CASE WHEN {u.format(salt=3)} < 0.05 THEN NULL ELSE {u.format(salt=4)} * 120 END AS amount",
            f"CASE WHEN {u.format(salt=5)} < 0.3 THEN NULL ELSE {u.format(salt=6)} * 0.3 END AS discount",
            f"exp({u.format(salt=7)} * 4) AS price",
            f"element_at(array('new','paid','shipped','delivered','returned','cancelled','lost','held'), "
            f"CAST(pmod({h.format(salt=8)}, 8) + 1 AS INT)) AS status",
            f"concat('C', lpad(CAST(pmod({h.format(salt=9)}, 200) AS STRING), 3, '0')) AS country",
            f"concat('SKU-', lpad(CAST(pmod({h.format(salt=10)}, 500) AS STRING), 5, '0')) AS sku",
            "timestamp_seconds(1700000000 + id) AS created_at",
        ).cache()
        df.count()
        return df
""")

PEER_RUN = FRAME + textwrap.dedent("""
    import json, statistics, time
    from whylogs.api.pyspark.experimental import collect_dataset_profile_view
    import whylogs
    rows, partitions, reps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    spark = session()
    df = frame(spark, rows, partitions)
    out = {"version": whylogs.__version__, "spark": spark.version, "summary": [], "whylogs": []}
    for _ in range(reps):
        t0 = time.perf_counter(); df.summary().collect(); out["summary"].append(time.perf_counter() - t0)
        t0 = time.perf_counter(); collect_dataset_profile_view(df); out["whylogs"].append(time.perf_counter() - t0)
    print(json.dumps(out))
""")


class PeakRss:
    """The process's resident set, sampled every 10 ms on a thread, peak kept."""

    def __init__(self) -> None:
        import psutil

        self.process = psutil.Process()
        self.start = self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self.process.memory_info().rss)

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def whylogs_run(rows: int, partitions: int, reps: int) -> dict | str:
    """whylogs' Spark profiler in its own environment (created on first use), or why not."""
    python = PEER / "bin" / "python"
    if not python.exists():
        try:
            subprocess.run([sys.executable, "-m", "venv", str(PEER)], check=True)
            subprocess.run([str(PEER / "bin" / "pip"), "install", "-q", *PEER_PIP], check=True)
        except subprocess.CalledProcessError as exc:
            return f"could not be installed ({exc})"
    proc = subprocess.run([str(python), "-c", PEER_RUN, str(rows), str(partitions), str(reps)],
                          capture_output=True, text=True, env={**os.environ, "PYSPARK_PYTHON": str(python)})
    if proc.returncode:
        return "failed: " + proc.stderr.strip().splitlines()[-1][:300]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--no-whylogs", action="store_true")
    args = parser.parse_args()

    namespace: dict = {}
    exec(FRAME, namespace)  # noqa: S102 - the frame's code, shared with the whylogs process
    spark = namespace["session"]()
    t0 = time.perf_counter()
    df = namespace["frame"](spark, args.rows, args.partitions)
    print(f"built and cached {args.rows:,} rows x 10 columns in {args.partitions} partitions "
          f"in {time.perf_counter() - t0:.1f} s (Spark {spark.version}, local[2])")

    from ddtrack.engines import profile_in_place

    rounds = []
    for i in range(args.reps):
        t0 = time.perf_counter()
        df.summary().collect()
        summary = time.perf_counter() - t0
        with PeakRss() as rss:
            t0 = time.perf_counter()
            prof = profile_in_place(df).profile
            ours = time.perf_counter() - t0
        assert prof["rows"] == args.rows
        rounds.append((summary, ours, rss.growth_mb))
        print(f"round {i + 1}: summary {summary:.1f} s | ddtrack {ours:.1f} s (x{ours / summary:.2f}), "
              f"driver memory growth {rss.growth_mb:.0f} MB")
    spark.stop()
    t_summary = statistics.median(r[0] for r in rounds)
    t_ours = statistics.median(r[1] for r in rounds)
    ratio = statistics.median(r[1] / r[0] for r in rounds)
    growth = max(r[2] for r in rounds)

    peer = None if args.no_whylogs else whylogs_run(args.rows, args.partitions, args.reps)
    print()
    print(f"| {args.rows:,} rows x 10 columns, local[2] | seconds (median of {args.reps}) | x its summary() |")
    print("|---|---:|---:|")
    print(f"| Spark {spark.version} `df.summary().collect()` | {t_summary:.1f} | 1.00 |")
    print(f"| ddtrack `profile_in_place(df)` (driver memory growth {growth:.0f} MB) | {t_ours:.1f} | {ratio:.2f} |")
    if isinstance(peer, dict):
        s, w = statistics.median(peer["summary"]), statistics.median(peer["whylogs"])
        r = statistics.median(b / a for a, b in zip(peer["summary"], peer["whylogs"], strict=True))
        print(f"| Spark {peer['spark']} `df.summary().collect()` (whylogs' environment) | {s:.1f} | 1.00 |")
        print(f"| whylogs {peer['version']} `collect_dataset_profile_view(df)` | {w:.1f} | {r:.2f} |")
    elif peer is not None:
        print(f"| whylogs: {peer} | | |")
    print()
    print(f"{'PASS' if ratio <= 1.5 else 'FAIL'}: ddtrack <= 1.5 x summary() ({ratio:.2f})")
    print(f"{'PASS' if growth <= 300 else 'FAIL'}: driver memory growth <= 300 MB ({growth:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
