"""Server time of ddtrack's views, printed beside its target.

    .venv/bin/python benchmarks/views_speed.py                 # both parts
    .venv/bin/python benchmarks/views_speed.py --skip-example  # only the PostgreSQL volume

Part 1, example data: a temporary AIRFLOW_HOME (SQLite), the example DAGs run in process,
then every page and callback requested through Airflow's real FastAPI app (auth guard,
WSGI bridge, Dash) as an authenticated admin. Target: 300 ms each.

Part 2, volume: a new PostgreSQL database seeded with 10,000 runs x 20 tasks (200,000
tries, 200,000 outputs, 800,000 column profiles) through COPY, then the task-history page
(queries and layout) and the other heavy queries. Target: 500 ms for the task history
page. Every SQL statement the task-history page sends is shown with its EXPLAIN ANALYZE,
so index use (not sequential scans) is visible.

Timings are medians of several warm runs; the first (cold) run is printed too.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

RUNS, TASKS, COLUMNS = 10_000, 20, 4
PG_SERVER = os.environ.get("DDTRACK_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")


def timed(fn: Callable[[], object], repeat: int = 7) -> tuple[float, float]:
    """(cold ms, median warm ms) of ``fn``."""
    t0 = time.perf_counter()
    fn()
    cold = (time.perf_counter() - t0) * 1000
    warm = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        warm.append((time.perf_counter() - t0) * 1000)
    return cold, statistics.median(warm)


def report(label: str, cold: float, warm: float, target_ms: float) -> bool:
    ratio = warm / target_ms
    verdict = "ok" if ratio <= 1 else "SLOW"
    print(
        f"  {label:<58} cold {cold:8.1f} ms   warm {warm:8.1f} ms   target {target_ms:5.0f} ms   ratio {ratio:5.2f}  {verdict}"
    )
    return ratio <= 1


# ---------------------------------------------------------------------------
# Part 1: example data through Airflow's app
# ---------------------------------------------------------------------------


def example_part() -> bool:
    """Runs in a child process: Airflow reads its configuration once, at import."""
    home = Path(tempfile.mkdtemp(prefix="ddtrack-bench-"))
    dags = home / "dags"
    dags.mkdir()
    for source in (REPO / "tests" / "dags").glob("*.py"):
        (dags / source.name).symlink_to(source)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "AIRFLOW__API_AUTH__JWT_SECRET": "benchmark-secret-benchmark-secret-benchmark-secret-benchmark-sec",
            "DDTRACK_DEMO_DATA": str(home / "data"),
            "PYTHONPATH": f"{dags}:{env.get('PYTHONPATH', '')}",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        }
    )
    bin_dir = Path(sys.executable).parent
    subprocess.run([str(bin_dir / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run([str(bin_dir / "ddtrack"), "install"], env=env, check=True, capture_output=True)
    try:
        proc = subprocess.run([sys.executable, __file__, "--example-child"], env=env)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return proc.returncode == 0


def example_child() -> int:
    import logging
    from urllib.parse import quote

    logging.disable(logging.WARNING)
    from airflow.dag_processing.dagbag import DagBag

    from ddtrack import conf
    from ddtrack.server.ingest_worker import worker
    from ddtrack.store.ingest import ingest_run

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    runs = {}
    for dag_id in (
        "titanic",
        "titanic",
        "quality_check",
        "mapped_batches",
        "sales_producer",
        "sales_consumer",
    ):
        run = bag.get_dag(dag_id).test()
        worker.wait_idle(60)
        ingest_run(conf.metastore_url(), conf.store_url(), dag_id, run.run_id)
        runs[dag_id] = run.run_id
    logging.disable(logging.INFO)

    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser
    from fastapi.testclient import TestClient

    client = TestClient(create_app())
    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="admin", role="admin"))
    headers = {"Authorization": f"Bearer {token}"}
    titanic = quote(runs["titanic"])
    mapped = quote(runs["mapped_batches"])
    pages = {
        "home": ("", ""),
        "dag titanic (lineage + runs)": ("dag", "?dag_id=titanic"),
        "dag sales_consumer (cross-DAG)": ("dag", "?dag_id=sales_consumer"),
        "task titanic.features (50 runs)": ("task", "?dag_id=titanic&task_id=features"),
        "task quality_check (failed tries)": ("task", "?dag_id=quality_check&task_id=check_no_missing_ages"),
        "task instance titanic.load_passengers": (
            "ti",
            f"?dag_id=titanic&task_id=load_passengers&run_id={titanic}",
        ),
        "task instance mapped load_day[2]": (
            "ti",
            f"?dag_id=mapped_batches&task_id=load_day&run_id={mapped}&map_index=2",
        ),
        "run titanic (waterfall)": ("run", f"?dag_id=titanic&run_id={titanic}"),
    }

    def page(path: str, search: str) -> Callable[[], object]:
        body = {
            "output": "page.children",
            "outputs": {"id": "page", "property": "children"},
            "inputs": [
                {"id": "url", "property": "pathname", "value": f"/ddtrack/{path}"},
                {"id": "url", "property": "search", "value": search},
            ],
            "changedPropIds": ["url.pathname"],
        }

        def call() -> object:
            resp = client.post("/ddtrack/_dash-update-component", json=body, headers=headers)
            assert resp.status_code == 200, resp.text[:300]
            return resp

        return call

    def search() -> object:
        body = {
            "output": "home-search-results.children",
            "outputs": {"id": "home-search-results", "property": "children"},
            "inputs": [{"id": "home-search", "property": "value", "value": "fare"}],
            "changedPropIds": ["home-search.value"],
        }
        return client.post("/ddtrack/_dash-update-component", json=body, headers=headers)

    print("\nPart 1: example data, whole request through Airflow's app (auth, WSGI bridge, Dash)")
    ok = True
    for label, (path, query) in pages.items():
        ok &= report(f"page: {label}", *timed(page(path, query)), 300)
    ok &= report("callback: search 'fare'", *timed(search), 300)
    ok &= report("static: Dash index HTML", *timed(lambda: client.get("/ddtrack/", headers=headers)), 300)
    return 0 if ok else 1


# ---------------------------------------------------------------------------
# Part 2: 10,000 runs x 20 tasks on PostgreSQL
# ---------------------------------------------------------------------------


def _csv(rows, columns: list[str]) -> io.StringIO:
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join("\\N" if row.get(c) is None else str(row[c]) for c in columns))
        buf.write("\n")
    buf.seek(0)
    return buf


_FILL_CATALOG = """
INSERT INTO ddtrack_catalog (entry_hash, kind, dag_id, task_id, output_name, text)
SELECT md5(kind || chr(31) || dag_id || chr(31) || task_id || chr(31) || output_name || chr(31) || text),
       kind, dag_id, task_id, output_name, text
FROM (
    SELECT DISTINCT 'dag' AS kind, dag_id, '' AS task_id, '' AS output_name, dag_id AS text FROM ddtrack_task_run
    UNION SELECT DISTINCT 'task', dag_id, task_id, '', task_id FROM ddtrack_task_run
    UNION SELECT DISTINCT 'output', dag_id, task_id, name, name FROM ddtrack_output
    UNION SELECT DISTINCT 'column', o.dag_id, o.task_id, o.name, c.name
          FROM ddtrack_column c JOIN ddtrack_output o ON o.id = c.output_id
) entries
"""


def seed(url: str) -> None:
    """COPY 10,000 runs x 20 tasks into ddtrack's tables at ``url``."""
    import datetime as dt

    from ddtrack.store.engine import get_engine
    from ddtrack.store.models import ColumnProfile, Output, TaskRun

    base = dt.datetime(2025, 1, 1)
    now = dt.datetime(2026, 1, 1)
    runs, outputs, columns = [], [], []
    col_names = ["id", "amount", "city", "created_at"]
    kinds = [("int64", "integer"), ("float64", "float"), ("str", "string"), ("datetime64[ns]", "datetime")]
    rid = oid = cid = 0
    for r in range(RUNS):
        run_id = f"scheduled__{(base + dt.timedelta(hours=r)).isoformat()}+00:00"
        for t in range(TASKS):
            rid += 1
            started = base + dt.timedelta(hours=r, seconds=10 * t)
            failed = (r * TASKS + t) % 97 == 0
            runs.append(
                {
                    "id": rid,
                    "dag_id": "bench_dag",
                    "run_id": run_id,
                    "task_id": f"task_{t:02d}",
                    "map_index": -1,
                    "try_number": 1,
                    "tracked": "t",
                    "state": "failed" if failed else "success",
                    "function": f"bench.task_{t:02d}",
                    "started_at": started,
                    "ended_at": started + dt.timedelta(seconds=5),
                    "duration_s": 5.0 + (r % 7),
                    "error_type": "ValueError" if failed else None,
                    "error_message": "bad batch" if failed else None,
                    "record_hash": "x" * 64,
                    "ingested_at": now,
                }
            )
            if failed:
                continue
            oid += 1
            outputs.append(
                {
                    "id": oid,
                    "task_run_id": rid,
                    "dag_id": "bench_dag",
                    "task_id": f"task_{t:02d}",
                    "run_id": run_id,
                    "started_at": started,
                    "name": "return_value",
                    "kind": "pandas",
                    "type_name": "pandas.DataFrame",
                    "rows": 1000 + (r % 50),
                    "n_columns": COLUMNS,
                    "memory_bytes": 64000,
                    "schema_fingerprint": f"fp{r // 1000}",
                    "truncated": "f",
                }
            )
            for position, (name, (dtype, kind)) in enumerate(zip(col_names, kinds, strict=True)):
                cid += 1
                columns.append(
                    {
                        "id": cid,
                        "output_id": oid,
                        "position": position,
                        "name": name,
                        "dtype": dtype,
                        "kind": kind,
                        "count": 1000,
                        "nulls": r % 5,
                        "null_pct": (r % 5) / 10,
                        "n_distinct": 900,
                        "distinct_estimated": "f",
                        "mean": 10.0 + r % 3 if kind in ("integer", "float") else None,
                    }
                )
    engine = get_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for model, rows in ((TaskRun, runs), (Output, outputs), (ColumnProfile, columns)):
            table = model.__table__
            names = [c.name for c in table.columns if any(c.name in row for row in rows[:1])]
            cur.copy_expert(f"COPY {table.name} ({', '.join(names)}) FROM STDIN", _csv(rows, names))
            cur.execute(
                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))"
            )
        cur.execute(_FILL_CATALOG)  # what ingest (and migration 0002) keep for search and home
        raw.commit()
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    print(f"  seeded {len(runs):,} task tries, {len(outputs):,} outputs, {len(columns):,} column profiles")


def volume_part() -> bool:
    import airflow.configuration  # noqa: F401  (loaded in the api-server; not a page's cost)
    from dev_tools.airflow_local import create_postgres_database, drop_database
    from sqlalchemy import event, text

    from ddtrack import queries
    from ddtrack.store.engine import get_engine
    from ddtrack.store.schema import upgrade
    from ddtrack.views.context import PageContext
    from ddtrack.views.pages import dag as dag_page
    from ddtrack.views.pages import home as home_page
    from ddtrack.views.pages import instance as instance_page
    from ddtrack.views.pages import run as run_page
    from ddtrack.views.pages import task as task_page

    url = create_postgres_database(PG_SERVER)
    print(f"\nPart 2: {RUNS:,} runs x {TASKS} tasks on PostgreSQL ({url.rsplit('/', 1)[-1]})")
    try:
        upgrade(url)
        t0 = time.perf_counter()
        seed(url)
        print(f"  (seeding took {time.perf_counter() - t0:.1f} s)")
        # No Airflow tables here: the store on its own (a metastore URL that cannot be read is an error).
        sources = queries.Sources(store_url=url, metastore_url="")
        ALLOWED = {"bench_dag"}  # noqa: N806
        ctx = PageContext(sources, ALLOWED)
        last_run = f"scheduled__{(__import__('datetime').datetime(2025, 1, 1) + __import__('datetime').timedelta(hours=RUNS - 1)).isoformat()}+00:00"
        ok = True
        ok &= report(
            "task history page, last 50 runs (queries + layout)",
            *timed(lambda: task_page.layout(ctx, {"dag_id": "bench_dag", "task_id": "task_07"})),
            500,
        )
        ok &= report(
            "task history page, last 1,000 runs (queries + layout)",
            *timed(lambda: task_page.layout(ctx, {"dag_id": "bench_dag", "task_id": "task_07", "n": "1000"})),
            500,
        )
        ti = {"dag_id": "bench_dag", "task_id": "task_07", "run_id": last_run}
        report("home page (queries + layout)", *timed(lambda: home_page.layout(ctx, {})), 500)
        report(
            "DAG page (lineage + runs; queries + layout)",
            *timed(lambda: dag_page.layout(ctx, {"dag_id": "bench_dag"})),
            500,
        )
        report("task instance page (queries + layout)", *timed(lambda: instance_page.layout(ctx, ti)), 500)
        report(
            "run page (queries + layout)",
            *timed(lambda: run_page.layout(ctx, {"dag_id": "bench_dag", "run_id": last_run})),
            500,
        )
        report(
            "query: task_history(50)",
            *timed(lambda: queries.task_history(sources, "bench_dag", "task_07", 50, allowed=ALLOWED)),
            500,
        )
        report(
            "query: task_instance (newest run, diff vs previous)",
            *timed(lambda: queries.task_instance(sources, "bench_dag", last_run, "task_07", allowed=ALLOWED)),
            500,
        )
        report(
            "query: search 'amount' (catalog)",
            *timed(lambda: queries.search(sources, "amount", {"bench_dag"})),
            500,
        )
        report(
            "query: tracked_dags (home)", *timed(lambda: queries.tracked_dags(sources, {"bench_dag"})), 500
        )
        report(
            "query: run_detail (20 tasks)",
            *timed(lambda: queries.run_detail(sources, "bench_dag", last_run, allowed=ALLOWED)),
            500,
        )
        report("query: lineage_graph", *timed(lambda: queries.lineage_graph(sources, "bench_dag", allowed=ALLOWED)), 500)
        _explain(
            get_engine(url), lambda: queries.task_history(sources, "bench_dag", "task_07", 50, allowed=ALLOWED), event, text
        )
        return ok
    finally:
        from ddtrack.store.engine import dispose_all

        dispose_all()
        drop_database(url)


def _explain(engine, fn: Callable[[], object], event, text) -> None:
    """EXPLAIN ANALYZE of every statement ``fn`` sends."""
    statements: list[tuple[str, object]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        fn()
    finally:
        event.remove(engine, "before_cursor_execute", record)
    print("\n  EXPLAIN ANALYZE of the task history page's statements:")
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        for statement, parameters in statements:
            cur.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON) " + statement, parameters)
            plan = [r[0] for r in cur.fetchall()]
            first_line = " ".join(statement.split())[:150]
            print(f"\n  -- {first_line}…")
            for line in plan:
                print(f"     {line}")
            if any("Seq Scan on ddtrack_" in line for line in plan):
                print("     !! sequential scan on a ddtrack table")
        raw.rollback()
    finally:
        raw.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--skip-example", action="store_true", help="skip part 1 (example data through Airflow's app)"
    )
    parser.add_argument("--skip-volume", action="store_true", help="skip part 2 (PostgreSQL volume)")
    parser.add_argument("--example-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.example_child:
        return example_child()
    ok = True
    if not args.skip_example:
        ok &= example_part()
    if not args.skip_volume:
        ok &= volume_part()
    print("\nall within target" if ok else "\nSOME TIMINGS OVER TARGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
