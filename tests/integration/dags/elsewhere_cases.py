"""DAGs for test_elsewhere_in_task.py: outputs an engine holds, recorded by real task runs.

``elsewhere_lazy``: a tracked task returns a polars LazyFrame (profiled in batches; Airflow
gets None, as a LazyFrame cannot be an XCom); an untracked task logs a DuckDB relation and a
Parquet folder written by the task (``ddtrack.Files``), with checks answered on the batches.
``elsewhere_dupes``: a ``unique`` check on a folder whose duplicate only the data shows, and
one on an output whose batches were read partly in memory and partly where they live.
"""

from __future__ import annotations

import os
from pathlib import Path

import pendulum
from airflow.sdk import dag, task

from ddtrack import Files, checks, log_output, track

DATA = Path(os.environ.get("DDTRACK_DEMO_DATA", "/tmp/ddtrack-demo-data")) / "elsewhere_cases"
START = pendulum.datetime(2026, 1, 1, tz="UTC")


def write_orders(folder: Path, rows: int, duplicate: bool) -> None:
    """Two Parquet files of shuffled sparse ids (one repeated across them if ``duplicate``)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(3)
    ids = rng.choice(2**62, rows, replace=False).astype(np.int64)
    if duplicate:
        ids[-1] = ids[0]
    codes = np.array([f"C{i:03d}" for i in range(300)])[rng.integers(0, 300, rows)]
    folder.mkdir(parents=True, exist_ok=True)
    half = rows // 2
    for i, part in enumerate((slice(0, half), slice(half, rows))):
        pq.write_table(pa.table({"order_id": ids[part], "code": codes[part]}), folder / f"part-{i}.parquet")


@dag(dag_id="elsewhere_lazy", schedule=None, start_date=START, catchup=False)
def elsewhere_lazy():
    @task
    @track(name="orders", checks=[checks.unique("order_id")])
    def lazy_orders():
        import polars as pl

        return pl.LazyFrame({"order_id": list(range(1000))}).with_columns(double=pl.col("order_id") * 2)

    @task
    def logged():
        import duckdb

        log_output(duckdb.connect().sql("SELECT range AS k, range % 3 AS m FROM range(5000)"), name="relation",
                   checks=[checks.values_in("m", ["0", "1", "2"])])
        folder = DATA / "clean"
        write_orders(folder, 40_000, duplicate=False)
        log_output(Files(str(folder)), name="events", checks=[checks.unique("order_id")])
        return "done"

    lazy_orders() >> logged()


@dag(dag_id="elsewhere_dupes", schedule=None, start_date=START, catchup=False)
def elsewhere_dupes():
    @task
    def folder_with_a_duplicate():
        folder = DATA / "dupes"
        write_orders(folder, 300_000, duplicate=True)
        log_output(Files(str(folder)), name="events", checks=[checks.unique("order_id")])

    @task
    def memory_then_folder():
        import pyarrow.parquet as pq

        folder = DATA / "mixed"
        write_orders(folder, 1000, duplicate=False)
        first = pq.read_table(folder / "part-0.parquet").slice(0, 10).to_pandas()  # ids the folder holds too
        log_output(first, name="mixed", checks=[checks.unique("order_id")])
        log_output(Files(str(folder)), name="mixed")

    folder_with_a_duplicate()
    memory_then_folder()


elsewhere_lazy()
elsewhere_dupes()
