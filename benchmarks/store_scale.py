"""Side tables and Airflow's metastore at production scale: 1,000,000 recorded tries.

Seeds a fresh PostgreSQL store (set-based bulk inserts with generate_series, indexes built
afterwards, the search catalog by the production backfill ``ddtrack.store.catalog.backfill``)
and a migrated Airflow metastore filled at the same scale (``dag``, ``dag_version``,
``serialized_dag``, ``dag_run``, ``task_instance``: what the pages read), then times the
views' own query layer (``ddtrack.queries``) on them: task history, the DAG lineage graph
and run history, search, the task-instance page, the run page and a page of home. Prints
each median against the 500 ms target as a ratio, and the PostgreSQL plans of the
underlying statements (index scans, not full scans).

    .venv/bin/python benchmarks/store_scale.py            # seed (~5-10 min) and measure
    .venv/bin/python benchmarks/store_scale.py --reuse    # measure an already seeded database
    .venv/bin/python benchmarks/store_scale.py --dags 1000 --tasks 5 --runs 100 --columns 2

Default shape: 50 DAGs x 20 tasks x 1,000 runs = 1,000,000 task tries (and as many task
instances, 50,000 DAG runs), one output each with 20 column profiles; a lineage edge from
each task to the previous one; one tag per try. ``benchmarks/views_speed.py`` seeds the
home-at-scale shape (1,000 DAGs x 100 runs) with the same functions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("DDTRACK_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
STORE_DB = "ddtrack_scale_store"
META_DB = "ddtrack_scale_meta"
TARGET_MS = 500.0
REPEAT = 7


@dataclass(frozen=True)
class Shape:
    dags: int = 50
    tasks: int = 20
    runs: int = 1000
    columns: int = 20

    @property
    def tries(self) -> int:
        return self.dags * self.tasks * self.runs


def admin() -> sa.Engine:
    return sa.create_engine(f"{SERVER}/postgres", isolation_level="AUTOCOMMIT")


def recreate(name: str) -> str:
    with admin().connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    return f"{SERVER}/{name}"


def step(label: str):
    class _Step:
        def __enter__(self):
            self.t0 = time.perf_counter()
            print(f"  {label} ...", end="", flush=True)

        def __exit__(self, *exc):
            print(f" {time.perf_counter() - self.t0:.1f} s", flush=True)

    return _Step()


def migrate_metastore(url: str) -> None:
    """``airflow db migrate`` on ``url``: Airflow's real schema, constraints included."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url, AIRFLOW_HOME=str(Path("/tmp/ddtrack-scale-airflow")))
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)


def seed_sql(shape: Shape) -> list[tuple[str, str]]:
    """The side tables' bulk inserts: try g is DAG g % dags, task (g / dags) % tasks, run g / (dags * tasks)."""
    DAGS, TASKS, RUNS, COLUMNS = shape.dags, shape.tasks, shape.runs, shape.columns  # noqa: N806
    return [
    (
        "task tries",
        f"""
        INSERT INTO ddtrack_task_run (id, dag_id, run_id, task_id, map_index, try_number, tracked, state, function,
            code_hash, started_at, ended_at, duration_s, error_type, error_message, record_hash, ingested_at, extra)
        SELECT g,
               'dag_' || (g % {DAGS}),
               'scheduled__run_' || lpad(((g / {DAGS * TASKS}))::text, 5, '0'),
               'task_' || ((g / {DAGS}) % {TASKS}),
               -1, 1, true,
               CASE WHEN g % 97 = 0 THEN 'failed' ELSE 'success' END,
               'pipeline.step', md5(((g / {DAGS}) % {TASKS})::text),
               timestamp '2024-01-01' + ((g / {DAGS * TASKS}) * interval '1 hour') + ((g / {DAGS}) % {TASKS}) * interval '1 minute',
               timestamp '2024-01-01' + ((g / {DAGS * TASKS}) * interval '1 hour') + ((g / {DAGS}) % {TASKS} + 1) * interval '1 minute',
               30 + (g % 17),
               CASE WHEN g % 97 = 0 THEN 'ValueError' END,
               CASE WHEN g % 97 = 0 THEN 'bad batch' END,
               md5(g::text), now(), '{{}}'::json
        FROM generate_series(0, {DAGS * TASKS * RUNS - 1}) AS g
        """,
    ),
    (
        "outputs",
        f"""
        INSERT INTO ddtrack_output (id, task_run_id, dag_id, task_id, run_id, started_at, name, uri, kind, type_name,
            rows, n_columns, memory_bytes, schema_fingerprint, schema, truncated, detail)
        SELECT id, id, dag_id, task_id, run_id, started_at, 'return_value',
               CASE WHEN task_id = 'task_{TASKS - 1}' THEN 's3://lake/' || dag_id || '/final.parquet' END,
               'pandas', 'pandas.DataFrame', 10000 + (id % 5000), {COLUMNS}, 800000,
               CASE WHEN id % 10007 = 0 THEN 'changed' ELSE md5(task_id) END, NULL, false, NULL
        FROM ddtrack_task_run
        """,
    ),
    (
        "column profiles",
        f"""
        INSERT INTO ddtrack_column (id, output_id, position, name, dtype, kind, count, nulls, null_pct, n_distinct,
            distinct_estimated, mean, std, zeros, negatives, infinities, stats)
        SELECT o.id * {COLUMNS} + c, o.id, c,
               CASE WHEN c = 0 THEN 'email' ELSE 'col_' || c || '_' || o.task_id END,
               'float64', 'float', o.rows - (o.id % 7), o.id % 7, (o.id % 7) * 100.0 / o.rows, 900 + c,
               false, c * 1.5, 2.0, 0, 0, 0,
               '{{"min": 0.0, "max": 99.0, "histogram": {{"edges": [0, 50, 99], "counts": [4000, 5993]}}}}'::json
        FROM ddtrack_output o CROSS JOIN generate_series(0, {COLUMNS - 1}) AS c
        """,
    ),
    (
        "lineage edges",
        """
        INSERT INTO ddtrack_lineage (task_run_id, dag_id, run_id, task_id, direction, kind, name, uri, upstream_task_id,
            upstream_output)
        SELECT id, dag_id, run_id, task_id, 'input', 'task', 'return_value', NULL,
               'task_' || (substr(task_id, 6)::int - 1), 'return_value'
        FROM ddtrack_task_run WHERE task_id <> 'task_0'
        """,
    ),
    (
        "tags",
        "INSERT INTO ddtrack_tag (task_run_id, output_name, key, value) "
        "SELECT id, NULL, 'team', 'team_' || (id % 12) FROM ddtrack_task_run",
    ),
    ]

DROP_INDEXES = ["ix_ddtrack_column_output", "ix_ddtrack_column_name", "ix_ddtrack_output_history", "ix_ddtrack_output_uri"]


def seed(store_url: str, shape: Shape) -> None:
    """ddtrack's side tables at ``shape``."""
    from ddtrack.store.catalog import backfill
    from ddtrack.store.schema import upgrade

    upgrade(store_url)
    engine = sa.create_engine(store_url)
    with engine.begin() as conn:
        # Build the big tables' secondary indexes once, after the rows are in.
        index_ddl = {
            r.indexname: r.indexdef
            for r in conn.execute(sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY(:n)"), {"n": DROP_INDEXES})
        }
        for name in index_ddl:
            conn.execute(sa.text(f"DROP INDEX {name}"))
        for label, sql in seed_sql(shape):
            with step(f"insert {label}"):
                conn.execute(sa.text(sql))
    with engine.begin() as conn:
        for name, ddl in index_ddl.items():
            with step(f"index {name}"):
                conn.execute(sa.text(ddl))
        with step("catalog (ddtrack.store.catalog.backfill, as migration 0002 runs it)"):
            backfill(conn)
        for table in ("ddtrack_task_run", "ddtrack_output", "ddtrack_lineage", "ddtrack_tag", "ddtrack_catalog"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, step("vacuum analyze"):
        conn.execute(sa.text("VACUUM ANALYZE"))


def seed_metastore(meta_url: str, shape: Shape) -> None:
    """Airflow's tables the pages read, at ``shape``: a DAG, its version and serialized DAG
    (a chain of ``tasks`` tasks) per DAG, a DAG run per DAG and run, a task instance per try.
    Ids match the side tables' (``dag_N``, ``task_N``, ``scheduled__run_NNNNN``)."""
    D, T, R = shape.dags, shape.tasks, shape.runs  # noqa: N806
    engine = sa.create_engine(meta_url)
    with engine.begin() as conn:
        with step("metastore: dag bundle, dags, versions, serialized dags"):
            conn.execute(sa.text("INSERT INTO dag_bundle (name, active) VALUES ('bench', true)"))
            conn.execute(sa.text(f"""
                INSERT INTO dag (dag_id, is_paused, is_stale, bundle_name, timetable_type, partition_mapper_info,
                    max_active_tasks, max_consecutive_failed_dag_runs, has_task_concurrency_limits, timetable_summary)
                SELECT 'dag_' || d, false, false, 'bench', 'airflow.timetables.simple.NullTimetable', '{{}}'::json,
                    16, 0, false, 'None'
                FROM generate_series(0, {D - 1}) AS d"""))
            conn.execute(sa.text(f"""
                INSERT INTO dag_version (id, version_number, dag_id, bundle_name, created_at, last_updated)
                SELECT md5('dag_' || d)::uuid, 1, 'dag_' || d, 'bench', now(), now()
                FROM generate_series(0, {D - 1}) AS d"""))
            conn.execute(sa.text(f"""
                INSERT INTO serialized_dag (id, dag_id, data, dag_hash, created_at, last_updated, dag_version_id)
                SELECT md5('sd_' || d)::uuid, 'dag_' || d,
                    json_build_object('__version', 3, 'dag', json_build_object('dag_id', 'dag_' || d, 'tasks',
                        (SELECT json_agg(json_build_object('__var', json_build_object('task_id', 'task_' || t,
                            'downstream_task_ids', CASE WHEN t < {T - 1} THEN json_build_array('task_' || (t + 1))
                                                        ELSE '[]'::json END), '__type', 'operator') ORDER BY t)
                         FROM generate_series(0, {T - 1}) AS t))),
                    md5('dag_' || d), now(), now(), md5('dag_' || d)::uuid
                FROM generate_series(0, {D - 1}) AS d"""))
        with step(f"metastore: {D * R:,} DAG runs"):
            conn.execute(sa.text(f"""
                INSERT INTO dag_run (id, dag_id, run_id, run_type, state, logical_date, run_after, start_date, end_date,
                    clear_number, created_dag_version_id, queued_at)
                SELECT g + 1, 'dag_' || (g % {D}), 'scheduled__run_' || lpad((g / {D})::text, 5, '0'), 'scheduled',
                    CASE WHEN g % 97 = 0 THEN 'failed' ELSE 'success' END,
                    timestamp '2024-01-01' + (g / {D}) * interval '1 hour' + (g % {D}) * interval '1 second',
                    timestamp '2024-01-01' + (g / {D}) * interval '1 hour',
                    timestamp '2024-01-01' + (g / {D}) * interval '1 hour',
                    timestamp '2024-01-01' + (g / {D}) * interval '1 hour' + interval '30 minutes',
                    0, md5('dag_' || (g % {D}))::uuid, timestamp '2024-01-01' + (g / {D}) * interval '1 hour'
                FROM generate_series(0, {D * R - 1}) AS g"""))
            conn.execute(sa.text("SELECT setval(pg_get_serial_sequence('dag_run', 'id'), (SELECT max(id) FROM dag_run))"))
        with step(f"metastore: {shape.tries:,} task instances"):
            conn.execute(sa.text(f"""
                INSERT INTO task_instance (id, task_id, dag_id, run_id, map_index, try_number, max_tries, state,
                    start_date, end_date, duration, pool, pool_slots, queue, priority_weight, operator,
                    dag_version_id, span_status)
                SELECT md5('ti_' || g)::uuid, 'task_' || ((g / {D}) % {T}), 'dag_' || (g % {D}),
                    'scheduled__run_' || lpad((g / {D * T})::text, 5, '0'), -1, 1, 0,
                    CASE WHEN g % 97 = 0 THEN 'failed' ELSE 'success' END,
                    timestamp '2024-01-01' + (g / {D * T}) * interval '1 hour' + ((g / {D}) % {T}) * interval '1 minute',
                    timestamp '2024-01-01' + (g / {D * T}) * interval '1 hour' + ((g / {D}) % {T} + 1) * interval '1 minute',
                    60, 'default_pool', 1, 'default', 1, 'PythonOperator', md5('dag_' || (g % {D}))::uuid, 'not_started'
                FROM generate_series(0, {shape.tries - 1}) AS g"""))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, step("metastore: vacuum analyze"):
        conn.execute(sa.text("VACUUM ANALYZE"))


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def measure(store_url: str, meta_url: str, shape: Shape) -> list[tuple[str, float]]:
    from ddtrack import queries
    from ddtrack.queries.home import home_page

    sources = queries.Sources(store_url=store_url, metastore_url=meta_url)
    allowed = [f"dag_{d}" for d in range(shape.dags)]
    last_run = f"scheduled__run_{shape.runs - 1:05d}"
    dag, task = f"dag_{min(7, shape.dags - 1)}", f"task_{min(3, shape.tasks - 1)}"
    middle = max(1, -(-shape.dags // 50) // 2)
    cases = [
        ("task history, last 50 runs", lambda: queries.task_history(sources, dag, task, 50, allowed=allowed)),
        ("task history, last 1,000 runs", lambda: queries.task_history(sources, dag, task, 1000, allowed=allowed)),
        ("DAG lineage graph (serialized DAG)", lambda: queries.lineage_graph(sources, dag, allowed=allowed)),
        ("DAG run history (dag_run)", lambda: queries.dag_runs(sources, dag, allowed=allowed)),
        ("search 'email' (columns)", lambda: queries.search(sources, "email", allowed)),
        ("search 'team_3' (tags)", lambda: queries.search(sources, "team_3", allowed)),
        ("search 'col_19_task_1' (one column)", lambda: queries.search(sources, "col_19_task_1", allowed)),
        ("task instance page", lambda: queries.task_instance(sources, dag, last_run, task, allowed=allowed)),
        ("run page (task_instance)", lambda: queries.run_detail(sources, dag, last_run, allowed=allowed)),
        ("home, first page of 50 DAGs", lambda: home_page(sources, allowed, 1)),
        (f"home, page {middle} of 50 DAGs", lambda: home_page(sources, allowed, middle)),
    ]
    results = []
    print(f"\n{'query':<40} {'median ms':>10} {'target ms':>10} {'ratio':>7}")
    for label, fn in cases:
        fn()  # warm the connection pool and caches, as a running api-server has them
        ms, _ = timed(fn)
        results.append((label, ms))
        flag = "ok" if ms <= TARGET_MS else "OVER"
        print(f"{label:<40} {ms:>10.1f} {TARGET_MS:>10.0f} {ms / TARGET_MS:>7.3f} {flag}")
    assert home_page(sources, allowed, 1).metastore_error is None, "the metastore must answer"
    return results


PLANS = {
    "task history (tries)": (
        "SELECT id FROM ddtrack_task_run WHERE dag_id = 'dag_7' AND task_id = 'task_3' ORDER BY started_at DESC LIMIT 50"
    ),
    "task history (null rates)": (
        "SELECT output_id, avg(null_pct) FROM ddtrack_column WHERE output_id IN "
        "(SELECT id FROM ddtrack_output WHERE task_run_id IN (SELECT id FROM ddtrack_task_run WHERE dag_id = 'dag_7' "
        "AND task_id = 'task_3' ORDER BY started_at DESC LIMIT 50)) GROUP BY output_id"
    ),
    # Home's sparkline, one DAG's branch (queries/home.py): the (dag_id, started_at) index, backwards.
    "home sparkline (a DAG's newest tries)": (
        "SELECT id, run_id, started_at FROM ddtrack_task_run WHERE dag_id >= 'dag_7' AND dag_id <= 'dag_7' "
        "ORDER BY dag_id DESC, started_at DESC LIMIT 420"
    ),
    "lineage edges of a DAG": "SELECT * FROM ddtrack_lineage WHERE dag_id = 'dag_7' AND task_id = 'task_3' LIMIT 100",
    "search (catalog)": "SELECT * FROM ddtrack_catalog WHERE lower(text) LIKE '%email%' LIMIT 50",
    "outputs by URI (cross-DAG lineage)": "SELECT id FROM ddtrack_output WHERE uri = 's3://lake/dag_7/final.parquet' LIMIT 10",
}


def explain(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        for label, sql in PLANS.items():
            print(f"\n-- {label}\n   {sql}")
            for (line,) in conn.execute(sa.text(f"EXPLAIN (ANALYZE, BUFFERS OFF, COSTS OFF) {sql}")):
                print(f"   {line}")


def sizes(store_url: str, meta_url: str) -> None:
    print(f"\n{'table':<20} {'rows':>12} {'size':>10}")
    for url, tables in (
        (store_url, ("ddtrack_task_run", "ddtrack_output", "ddtrack_column", "ddtrack_lineage", "ddtrack_tag", "ddtrack_catalog")),
        (meta_url, ("dag", "serialized_dag", "dag_run", "task_instance")),
    ):
        with sa.create_engine(url).connect() as conn:
            for table in tables:
                n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
                size = conn.execute(sa.text(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")).scalar()
                print(f"{table:<20} {n:>12,} {size:>10}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="measure the database a previous run seeded")
    default = Shape()
    for name in ("dags", "tasks", "runs", "columns"):
        parser.add_argument(f"--{name}", type=int, default=getattr(default, name))
    args = parser.parse_args()
    shape = Shape(args.dags, args.tasks, args.runs, args.columns)
    store_url, meta_url = f"{SERVER}/{STORE_DB}", f"{SERVER}/{META_DB}"
    if not args.reuse:
        print(f"Seeding {shape.tries:,} tries and outputs, {shape.tries * shape.columns:,} column profiles on PostgreSQL")
        recreate(META_DB)
        with step("airflow db migrate (metastore)"):
            migrate_metastore(meta_url)
        seed_metastore(meta_url, shape)
        recreate(STORE_DB)
        seed(store_url, shape)
    sizes(store_url, meta_url)
    results = measure(store_url, meta_url, shape)
    explain(store_url)
    worst = max(ms for _, ms in results)
    print(f"\nslowest query {worst:.1f} ms = {worst / TARGET_MS:.3f} x the 500 ms target")
    return 0 if worst <= TARGET_MS else 1


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    sys.exit(main())
