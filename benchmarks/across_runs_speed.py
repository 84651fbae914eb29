"""Across runs at scale: drift at ingest per column, the compare page, one column's trend.

Seeds a PostgreSQL store and a migrated Airflow metastore with ``benchmarks/store_scale.py``'s
set-based seeding (default here: 20 DAGs x 10 tasks x 1,000 runs = 200,000 tries, 20
columns each), then ingests, through the production ingest (``ingest_records``, which
computes drift, anomalies and check results per try), real profiled records:

* 1,000 runs of ``dag_0.orders`` (20 columns, 2,000 rows, a new seed each run: numbers,
  categories, datetimes, a nullable column), run ids matching the metastore's runs;
* a few runs of ``dag_1.wide`` (200 columns): the first one has no baseline, the others
  are timed in ``ddtrack.store.across_runs.write_across_runs`` (drift against the previous
  try, anomalies against the history, check results) -> ms per column.

Then times ``queries.compare_runs`` plus the compare page's layout (serialized as Dash
sends it) for two runs of ``dag_0``, and ``queries.column_trend`` of one column over 1,000
runs. Each median is printed with its target as a ratio, then the PostgreSQL plans of each
case's slowest SELECT statements (captured as they ran).

    .venv/bin/python benchmarks/across_runs_speed.py           # seed (~3-5 min) and measure
    .venv/bin/python benchmarks/across_runs_speed.py --reuse   # measure an already seeded database
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

import store_scale as scale  # noqa: E402

STORE_DB = "ddtrack_across_store"
META_DB = "ddtrack_across_meta"
DAG, TASK, COLUMN = "dag_0", "orders", "amount"
WIDE_DAG, WIDE_TASK, WIDE_COLUMNS, WIDE_RUNS = "dag_1", "wide", 200, 10
TARGETS = {"drift at ingest, ms per column": 5.0, "compare page (query + layout)": 300.0,
           "trend of one column over the runs": 500.0}
REPEAT = 7
T0 = dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc)  # store_scale's runs: run N starts at T0 + N hours


def run_id(n: int) -> str:
    return f"scheduled__run_{n:05d}"


def orders(seed: int, rows: int = 2000) -> pd.DataFrame:
    """A realistic narrow output: ids, amounts, categories, a datetime and a nullable column."""
    rng = np.random.default_rng(seed)
    data = {
        "order_id": np.arange(rows),
        "amount": rng.normal(10, 2, rows).round(2),
        "city": rng.choice(["Paris", "Oslo", "Lima", "Rome", "Kyiv"], rows),
        "channel": rng.choice(["web", "shop", "phone"], rows, p=[0.6, 0.3, 0.1]),
        "ordered_at": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86_400, rows), unit="s"),
        "discount": np.where(rng.random(rows) < 0.05, np.nan, rng.uniform(0, 0.3, rows)),
    }
    for i in range(14):
        data[f"metric_{i}"] = rng.gamma(2.0 + i, 1.5, rows)
    return pd.DataFrame(data)


def wide(seed: int, rows: int = 2000) -> pd.DataFrame:
    """A wide output: 160 numeric and 40 categorical columns."""
    rng = np.random.default_rng(seed)
    data = {f"num_{i:03d}": rng.normal(i, 1 + i % 5, rows) for i in range(WIDE_COLUMNS - 40)}
    data |= {f"cat_{i:02d}": rng.choice(["a", "b", "c", "d", "e", "f"], rows) for i in range(40)}
    return pd.DataFrame(data)


def records(dag_id: str, task_id: str, runs: int, make) -> list[dict]:
    from records import make_record

    return [
        make_record(dag_id, run_id(n), task_id, started=T0 + dt.timedelta(hours=n, seconds=30), data=make(seed=n))
        for n in range(runs)
    ]


def seed_across(store_url: str, runs: int) -> None:
    """1,000 runs of the narrow task through the real ingest, in batches (profiling included)."""
    from ddtrack.store.ingest import ingest_records

    with sa.create_engine(store_url).begin() as conn:  # store_scale sets every other sequence
        conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('ddtrack_column', 'id'), "
                             "(SELECT max(id) FROM ddtrack_column))"))
    with scale.step(f"profile and ingest {runs:,} runs of {DAG}.{TASK} (20 columns; drift/anomalies at ingest)"):
        for start in range(0, runs, 100):
            batch = records(DAG, TASK, min(runs, start + 100), orders)[start:]
            report = ingest_records(store_url, batch)
            assert report.failed == 0, report.errors[:3]
    with sa.create_engine(store_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


@contextmanager
def timing_write_across_runs(times: list[float]):
    """Time the ingest-time function itself, inside the real ingest transaction."""
    from ddtrack.store import across_runs

    original = across_runs.write_across_runs

    def timed(*args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            times.append((time.perf_counter() - t0) * 1000)

    across_runs.write_across_runs = timed
    try:
        yield
    finally:
        across_runs.write_across_runs = original


def drift_at_ingest(store_url: str) -> float:
    """Median ms per column of ``write_across_runs`` for tries of the wide output that have a
    baseline (the first try has none and is left out)."""
    from ddtrack.store.ingest import ingest_records

    batch = records(WIDE_DAG, WIDE_TASK, WIDE_RUNS, wide)
    times: list[float] = []
    with sa.create_engine(store_url).begin() as conn:  # a re-run measures fresh tries
        conn.execute(sa.text("DELETE FROM ddtrack_task_run WHERE dag_id = :d AND task_id = :t"),
                     {"d": WIDE_DAG, "t": WIDE_TASK})
    with timing_write_across_runs(times):
        for record in batch:
            assert ingest_records(store_url, [record]).failed == 0
    per_column = [ms / WIDE_COLUMNS for ms in times[1:]]
    print(f"  write_across_runs per try of {WIDE_COLUMNS} columns (ms): " + ", ".join(f"{t:.0f}" for t in times))
    return statistics.median(per_column)


class Statements:
    """SELECT statements run on the store while a case runs, with their durations."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, object]] = []

    def before(self, conn, cursor, statement, parameters, context, executemany):
        context._ddtrack_t0 = time.perf_counter()

    def after(self, conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT"):
            self.seen.append(((time.perf_counter() - context._ddtrack_t0) * 1000, statement, parameters))


@contextmanager
def capture(url: str):
    from ddtrack.store.engine import get_engine

    engine, found = get_engine(url), Statements()
    sa.event.listen(engine, "before_cursor_execute", found.before)
    sa.event.listen(engine, "after_cursor_execute", found.after)
    try:
        yield found
    finally:
        sa.event.remove(engine, "before_cursor_execute", found.before)
        sa.event.remove(engine, "after_cursor_execute", found.after)


def median_ms(fn) -> float:
    fn()  # warm the pool and caches, as a running api-server has them
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def measure(store_url: str, meta_url: str, runs: int) -> tuple[dict[str, float], dict[str, list]]:
    import plotly

    from ddtrack import queries
    from ddtrack.queries.trends import column_trend
    from ddtrack.views.context import PageContext
    from ddtrack.views.pages import compare

    sources = queries.Sources(store_url=store_url, metastore_url=meta_url)
    allowed = {f"dag_{d}" for d in range(50)}
    ctx = PageContext(sources, allowed)
    params = {"dag_id": DAG, "a": run_id(runs - 2), "b": run_id(runs - 1)}

    def compare_page():
        return json.dumps(compare.layout(ctx, params), cls=plotly.utils.PlotlyJSONEncoder)

    def trend():
        result = column_trend(sources, allowed, DAG, TASK, "return_value", COLUMN, limit=runs)
        assert result is not None and len(result.points) == runs, "the trend must cover every run"
        return result

    cmp = queries.compare_runs(sources, allowed, DAG, params["a"], params["b"])
    assert cmp is not None and any(o.task_id == TASK for o in cmp.outputs), "both runs must be compared"
    results, plans = {}, {}
    print("  drift at ingest (wide output):")
    results["drift at ingest, ms per column"] = drift_at_ingest(store_url)
    for label, fn in (("compare page (query + layout)", compare_page), ("trend of one column over the runs", trend)):
        results[label] = median_ms(fn)
        with capture(store_url) as found:
            fn()
        plans[label] = sorted(found.seen, key=lambda s: s[0], reverse=True)[:2]
    with capture(store_url) as found:  # the ingest's reads: baseline, history, pins
        from ddtrack.store.ingest import ingest_records

        ingest_records(store_url, records(WIDE_DAG, WIDE_TASK, WIDE_RUNS + 1, wide)[-1:])
    plans["drift at ingest, ms per column"] = sorted(found.seen, key=lambda s: s[0], reverse=True)[:3]
    return results, plans


def explain(store_url: str, plans: dict[str, list]) -> None:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        for label, statements in plans.items():
            for ms, statement, parameters in statements:
                print(f"\n-- {label}: a statement that took {ms:.1f} ms\n   {' '.join(statement.split())[:400]}")
                rows = conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", parameters)
                for (line,) in rows:
                    print(f"   {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="measure the databases a previous run seeded")
    parser.add_argument("--dags", type=int, default=20)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--runs", type=int, default=1000, help="runs of every task (the trend covers them all)")
    args = parser.parse_args()
    shape = scale.Shape(dags=args.dags, tasks=args.tasks, runs=args.runs, columns=20)
    store_url, meta_url = f"{scale.SERVER}/{STORE_DB}", f"{scale.SERVER}/{META_DB}"
    if not args.reuse:
        print(f"Seeding {shape.tries:,} tries ({shape.tries * shape.columns:,} column profiles) on PostgreSQL")
        scale.recreate(META_DB)
        with scale.step("airflow db migrate (metastore)"):
            scale.migrate_metastore(meta_url)
        scale.seed_metastore(meta_url, shape)
        scale.recreate(STORE_DB)
        scale.seed(store_url, shape)
        seed_across(store_url, shape.runs)
    scale.sizes(store_url, meta_url)
    results, plans = measure(store_url, meta_url, shape.runs)
    print(f"\n{'case':<36} {'median':>10} {'target':>10} {'ratio':>7}")
    for label, value in results.items():
        target = TARGETS[label]
        unit = "ms/col" if "per column" in label else "ms"
        print(f"{label:<36} {value:>7.2f} {unit:<6} {target:>6.0f} {unit:<6} {value / target:>6.3f} "
              f"{'ok' if value <= target else 'OVER'}")
    explain(store_url, plans)
    return 0 if all(v <= TARGETS[k] for k, v in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
