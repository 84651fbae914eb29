"""Ingest memory: one DAG run of 1,000 map indexes with ~2 MiB records.

Builds the run in a PostgreSQL database holding Airflow's ``xcom`` table as Airflow 3.3
declares it (``value`` is ``jsonb``, primary key dag_run_id/task_id/map_index/key, index on
``key``): one real ddtrack record per map index, profiled from a 2,000-row frame of 360
columns (~1.9 MiB of JSON, just under ``[ddtrack] max_record_bytes``). Then, each in a
fresh child process, a thread runs the production ``ingest_run`` into a fresh SQLite
store while a sampler reads the process's RSS every 10 ms; the peak growth over the RSS
before the ingest is the figure. The anchor is the total size of the run's records: an
ingest that loads the run at once needs at least that, several times over as Python
objects. The old approach (read every record, then write) is measured the same way on a
smaller run, where it fits in memory; its growth is linear in the run's size.

    .venv/bin/python benchmarks/ingest_memory.py                      # 1,000 map indexes (~6 min)
    .venv/bin/python benchmarks/ingest_memory.py --map-indexes 200 --old-map-indexes 100
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

DAG, RUN, TASK = "wide_mapped", "bench_run", "part"
_XCOM_DDL = """
CREATE TABLE xcom (
    dag_run_id integer NOT NULL, task_id varchar(250) NOT NULL, map_index integer NOT NULL,
    key varchar(512) NOT NULL, dag_id varchar(250) NOT NULL, run_id varchar(250) NOT NULL,
    value jsonb, timestamp timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (dag_run_id, task_id, map_index, key)
);
CREATE INDEX idx_xcom_key ON xcom (key);
"""


def _record() -> dict:
    import numpy as np
    import pandas as pd
    from records import make_record

    rng = np.random.default_rng(0)
    rows = 2000
    columns = {f"num_{i}": rng.normal(size=rows) for i in range(180)}
    columns |= {f"txt_{i}": [f"{'x' * 150}-{j % 400}-{i}" for j in range(rows)] for i in range(180)}
    record = make_record(dag_id=DAG, run_id=RUN, task_id=TASK, data=pd.DataFrame(columns))
    assert not record.get("truncated")
    return record


def build(metastore: str, map_indexes: int) -> int:
    """Fill the xcom table with one record per map index; returns the run's JSON bytes."""
    import sqlalchemy as sa

    record = _record()
    engine = sa.create_engine(metastore)
    with engine.begin() as conn:
        conn.exec_driver_sql(_XCOM_DDL)
    total = 0
    with engine.begin() as conn:
        for i in range(map_indexes):
            value = json.dumps(record | {"map_index": i})
            total += len(value.encode())
            conn.execute(
                sa.text(
                    "INSERT INTO xcom (dag_run_id, task_id, map_index, key, dag_id, run_id, value) "
                    "VALUES (1, :t, :i, 'ddtrack', :d, :r, CAST(:v AS jsonb))"
                ),
                {"t": TASK, "i": i, "d": DAG, "r": RUN, "v": value},
            )
    engine.dispose()
    return total


def _rss() -> int:
    import psutil

    return psutil.Process().memory_info().rss


def measure(metastore: str, approach: str) -> dict:
    """In this (fresh) process: ingest the run in a thread, sample RSS; the peak growth."""
    from ddtrack.store import ingest
    from ddtrack.store.schema import upgrade

    store = f"sqlite:///{tempfile.mkdtemp(prefix='ddtrack-bench-')}/store.db"
    upgrade(store)
    ingest.count_records(metastore)  # engines, imports: not the ingest's memory
    result: dict = {}

    def run() -> None:
        t0 = time.perf_counter()
        if approach == "streamed":
            report = ingest.ingest_run(metastore, store, DAG, RUN)
        else:  # the old way: the whole run's records in one list, then written
            records = list(ingest.iter_records(metastore, dag_id=DAG, run_id=RUN, page=10**9))
            report = ingest.ingest_records(store, records, metastore_url=metastore)
        result.update(written=report.written, failed=report.failed, seconds=time.perf_counter() - t0)

    before = peak = _rss()
    thread = threading.Thread(target=run)
    thread.start()
    while thread.is_alive():
        peak = max(peak, _rss())
        time.sleep(0.01)
    thread.join()
    return result | {"peak_growth": peak - before}


def _child(metastore: str, approach: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", approach, "--metastore", metastore],
        capture_output=True, text=True, check=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def _mib(n: float) -> str:
    return f"{n / 2**20:,.0f} MiB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--map-indexes", type=int, default=1000)
    parser.add_argument("--old-map-indexes", type=int, default=100)
    parser.add_argument("--child", choices=["streamed", "all-at-once"])
    parser.add_argument("--metastore")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.metastore, args.child)))
        return

    from dev_tools.airflow_local import create_postgres_database, drop_database

    rows = []
    for n, approaches in ((args.map_indexes, ["streamed"]), (args.old_map_indexes, ["streamed", "all-at-once"])):
        metastore = create_postgres_database()
        try:
            size = build(metastore, n)
            for approach in approaches:
                got = _child(metastore, approach)
                assert (got["written"], got["failed"]) == (n, 0), got
                rows.append((n, approach, size, got))
        finally:
            drop_database(metastore)

    print(f"{'map indexes':>11}  {'approach':<12} {'records (anchor)':>16}  {'peak RSS growth':>15}  {'growth / records':>16}  {'ingest':>8}")
    for n, approach, size, got in rows:
        print(
            f"{n:>11,}  {approach:<12} {_mib(size):>16}  {_mib(got['peak_growth']):>15}  "
            f"{got['peak_growth'] / size:>16.3f}  {got['seconds']:>7.1f}s"
        )


if __name__ == "__main__":
    main()
