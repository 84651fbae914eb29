"""Side tables at production scale: 1,000,000 recorded outputs, 20,000,000 column profiles.

Seeds a fresh PostgreSQL database (set-based bulk inserts with generate_series, indexes
built afterwards) next to a migrated Airflow metastore, then times the views' own query
layer (``ddtrack.queries``) on it: task history, the DAG lineage graph, search, the
task-instance page and the run page. Prints each median against the 500 ms target as a
ratio, and the PostgreSQL plans of the underlying statements (index scans, not full scans).

    .venv/bin/python benchmarks/store_scale.py            # seed (~5-10 min) and measure
    .venv/bin/python benchmarks/store_scale.py --reuse    # measure an already seeded database

Shape: 50 DAGs x 20 tasks x 1,000 runs = 1,000,000 task tries, one output each with 20
column profiles; a lineage edge from each task to the previous one; one tag per try.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
SERVER = os.environ.get("DDTRACK_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432")
STORE_DB = "ddtrack_scale_store"
META_DB = "ddtrack_scale_meta"
DAGS, TASKS, RUNS, COLUMNS = 50, 20, 1000, 20
TARGET_MS = 500.0
REPEAT = 7


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
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=url, AIRFLOW_HOME=str(Path("/tmp/ddtrack-scale-airflow")))
    subprocess.run([str(Path(sys.executable).parent / "airflow"), "db", "migrate"], env=env, check=True, capture_output=True)


SEED_SQL = [
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


def seed(store_url: str) -> None:
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
        for label, sql in SEED_SQL:
            with step(f"insert {label}"):
                conn.execute(sa.text(sql))
    with engine.begin() as conn:
        for name, ddl in index_ddl.items():
            with step(f"index {name}"):
                conn.execute(sa.text(ddl))
        with step("catalog (as migration 0002 backfills it)"):
            _fill_catalog(conn)
        for table in ("ddtrack_task_run", "ddtrack_output", "ddtrack_lineage", "ddtrack_tag", "ddtrack_catalog"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, step("vacuum analyze"):
        conn.execute(sa.text("VACUUM ANALYZE"))


def _fill_catalog(conn) -> None:
    conn.execute(
        sa.text(
            """
            INSERT INTO ddtrack_catalog (entry_hash, kind, dag_id, task_id, output_name, text)
            SELECT md5(kind || chr(31) || dag_id || chr(31) || task_id || chr(31) || output_name || chr(31) || text),
                   kind, dag_id, task_id, output_name, text
            FROM (
                SELECT DISTINCT 'dag' AS kind, dag_id, '' AS task_id, '' AS output_name, dag_id AS text FROM ddtrack_task_run
                UNION SELECT DISTINCT 'task', dag_id, task_id, '', task_id FROM ddtrack_task_run
                UNION SELECT DISTINCT 'output', dag_id, task_id, name, name FROM ddtrack_output
                UNION SELECT DISTINCT 'column', o.dag_id, o.task_id, o.name, c.name
                      FROM ddtrack_column c JOIN ddtrack_output o ON o.id = c.output_id
                      WHERE o.run_id = 'scheduled__run_00000'
                UNION SELECT DISTINCT 'tag', r.dag_id, r.task_id, '', t.key || '=' || t.value
                      FROM ddtrack_tag t JOIN ddtrack_task_run r ON r.id = t.task_run_id
            ) entries
            """
        )
    )


def timed(fn, *args, **kwargs) -> tuple[float, object]:
    times, result = [], None
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        result = fn(*args, **kwargs)
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), result


def measure(store_url: str, meta_url: str) -> list[tuple[str, float]]:
    from ddtrack import queries

    sources = queries.Sources(store_url=store_url, metastore_url=meta_url)
    allowed = [f"dag_{d}" for d in range(DAGS)]
    last_run = f"scheduled__run_{RUNS - 1:05d}"
    cases = [
        ("task history, last 50 runs", lambda: queries.task_history(sources, "dag_7", "task_3", 50, allowed=allowed)),
        ("task history, last 1,000 runs", lambda: queries.task_history(sources, "dag_7", "task_3", 1000, allowed=allowed)),
        ("DAG lineage graph", lambda: queries.lineage_graph(sources, "dag_7", allowed=allowed)),
        ("search 'email' (columns)", lambda: queries.search(sources, "email", allowed)),
        ("search 'team_3' (tags)", lambda: queries.search(sources, "team_3", allowed)),
        ("search 'col_19_task_1' (one column)", lambda: queries.search(sources, "col_19_task_1", allowed)),
        ("task instance page", lambda: queries.task_instance(sources, "dag_7", last_run, "task_3", allowed=allowed)),
        ("run page", lambda: queries.run_detail(sources, "dag_7", last_run, allowed=allowed)),
        ("home (all DAGs)", lambda: queries.tracked_dags(sources, allowed)),
    ]
    results = []
    print(f"\n{'query':<40} {'median ms':>10} {'target ms':>10} {'ratio':>7}")
    for label, fn in cases:
        fn()  # warm the connection pool and caches, as a running api-server has them
        ms, _ = timed(fn)
        results.append((label, ms))
        flag = "ok" if ms <= TARGET_MS else "OVER"
        print(f"{label:<40} {ms:>10.1f} {TARGET_MS:>10.0f} {ms / TARGET_MS:>7.3f} {flag}")
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


def sizes(store_url: str) -> None:
    engine = sa.create_engine(store_url)
    with engine.connect() as conn:
        print(f"\n{'table':<20} {'rows':>12} {'size':>10}")
        for table in ("ddtrack_task_run", "ddtrack_output", "ddtrack_column", "ddtrack_lineage", "ddtrack_tag", "ddtrack_catalog"):
            n = conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar()
            size = conn.execute(sa.text(f"SELECT pg_size_pretty(pg_total_relation_size('{table}'))")).scalar()
            print(f"{table:<20} {n:>12,} {size:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="measure the database a previous run seeded")
    args = parser.parse_args()
    store_url, meta_url = f"{SERVER}/{STORE_DB}", f"{SERVER}/{META_DB}"
    if not args.reuse:
        print(f"Seeding {DAGS * TASKS * RUNS:,} outputs and {DAGS * TASKS * RUNS * COLUMNS:,} column profiles on PostgreSQL")
        recreate(META_DB)
        with step("airflow db migrate (metastore)"):
            migrate_metastore(meta_url)
        recreate(STORE_DB)
        seed(store_url)
    sizes(store_url)
    results = measure(store_url, meta_url)
    explain(store_url)
    worst = max(ms for _, ms in results)
    print(f"\nslowest query {worst:.1f} ms = {worst / TARGET_MS:.3f} x the 500 ms target")


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
