"""Across DAGs at scale: search, trace and impact over 10 hops, a catalog page of 10,000
versions, and the PII-and-consumers report, on 1,000,000 outputs / 20,000,000 column profiles.

Seeds PostgreSQL with ``benchmarks/store_scale.py``'s set-based statements (generate_series,
secondary indexes and constraints dropped while the rows go in, rebuilt after), shaped like
production lineage:

* 490 DAGs x 10 tasks x 200 runs, each try one output with 20 column profiles, each task
  reading the previous task's output; plus ``dag_hot.extract -> dag_hot.load`` run 10,000
  times (``load``'s output: the dataset with 10,000 versions) = 1,000,000 outputs;
* DAGs in chains of five through files: each DAG's last task writes
  ``s3://lake/dag_N/final.parquet``, the next DAG's first task reads it (a trace from the
  end of a chain crosses DAG boundaries after 10 hops: chains of up to 50 hops);
* URIs shared across DAGs: 20 external sources each read by ~25 DAGs, ``dag_hot``'s file read
  by 10 DAGs, Asset outlets of every 7th DAG read by another DAG three further on;
* tags on tries and outputs, Airflow DAG tags; PII: every 10th DAG's first output declares
  ``email`` PII, and its task_5 declares ``pii_free`` (PII-derived stops there);
* ``ddtrack_dataset`` and the search catalog filled by the production backfills
  (``ddtrack.store.datasets.backfill``, ``ddtrack.store.catalog.backfill``/``backfill_uris``);
* a migrated Airflow metastore filled at the same scale (``store_scale.seed_metastore``:
  DAGs, serialized DAGs, 98,000 DAG runs, 980,000 task instances) plus DAG tags.

Then times the real query functions (``ddtrack.queries.search.search``, ``trace.trace`` /
``trace.impact`` at depth 10, ``catalog.catalog_output`` of the 10,000-version dataset,
``pii.pii_report``) as a web user who may read all DAGs but every 25th, prints each median
next to its target as a ratio, and the PostgreSQL plans (EXPLAIN ANALYZE) of each case's
slowest statements, captured as they ran.

    .venv/bin/python benchmarks/across_dags_speed.py           # seed (minutes) and measure
    .venv/bin/python benchmarks/across_dags_speed.py --reuse   # measure the seeded databases
    .venv/bin/python benchmarks/across_dags_speed.py --seed-only   # seed only (then --reuse under the heavy lock)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

import across_runs_speed as across  # noqa: E402  (statement capture and plans)
import store_scale as scale  # noqa: E402  (server, seeding, metastore)

STORE_DB = "ddtrack_scale_dags"
META_DB = "ddtrack_scale_dags_meta"
SHAPE = scale.Shape(dags=490, tasks=10, runs=200, columns=20)
HOT_RUNS = 10_000  # versions of dag_hot.load
CHAIN = 5  # DAGs per chain of files
SOURCES = 20  # external URIs shared by many DAGs
TARGETS = {
    "search": 200.0,
    "trace over 10 hops": 500.0,
    "impact over 10 hops": 500.0,
    "catalog page, 10,000 versions": 300.0,
    "PII and consumers": 500.0,
}
REPEAT = 7
BIG_TABLES = ("ddtrack_task_run", "ddtrack_output", "ddtrack_column", "ddtrack_lineage", "ddtrack_tag")


def hot_sql(first_id: int, columns: int, hot_runs: int) -> list[tuple[str, str]]:
    """dag_hot: extract -> load, 10,000 runs; load writes s3://lake/hot/daily.parquet."""
    return [
        (
            f"dag_hot: {2 * hot_runs:,} tries",
            f"""
            INSERT INTO ddtrack_task_run (id, dag_id, run_id, task_id, map_index, try_number, tracked, state, function,
                code_hash, started_at, ended_at, duration_s, error_type, error_message, record_hash, ingested_at, extra)
            SELECT {first_id} + g, 'dag_hot', 'scheduled__hot_' || lpad((g / 2)::text, 5, '0'),
                   CASE WHEN g % 2 = 0 THEN 'extract' ELSE 'load' END, -1, 1, true,
                   CASE WHEN g % 211 = 1 THEN 'failed' ELSE 'success' END, 'hot.step', md5((g % 2)::text),
                   timestamp '2023-01-01' + (g / 2) * interval '1 hour' + (g % 2) * interval '5 minutes',
                   timestamp '2023-01-01' + (g / 2) * interval '1 hour' + (g % 2 + 1) * interval '5 minutes',
                   300, NULL, NULL, md5('hot' || g), now(), '{{}}'::json
            FROM generate_series(0, {2 * hot_runs - 1}) AS g""",
        ),
        (
            "dag_hot: outputs",
            f"""
            INSERT INTO ddtrack_output (id, task_run_id, dag_id, task_id, run_id, started_at, name, uri, kind, type_name,
                rows, n_columns, memory_bytes, schema_fingerprint, schema, truncated, detail)
            SELECT id, id, dag_id, task_id, run_id, started_at, 'return_value',
                   CASE WHEN task_id = 'load' THEN 's3://lake/hot/daily.parquet' END,
                   'pandas', 'pandas.DataFrame', 50000 + (id % 977), {columns}, 4000000, md5(task_id), NULL, false, NULL
            FROM ddtrack_task_run WHERE id >= {first_id}""",
        ),
        (
            "dag_hot: column profiles",
            f"""
            INSERT INTO ddtrack_column (id, output_id, position, name, dtype, kind, count, nulls, null_pct, n_distinct,
                distinct_estimated, mean, std, zeros, negatives, infinities, stats)
            SELECT o.id * {columns} + c, o.id, c, 'hot_' || c, 'float64', 'float', o.rows, 0, 0.0, 1000 + c,
                   false, c * 1.5, 2.0, 0, 0, 0, '{{"min": 0.0, "max": 99.0}}'::json
            FROM ddtrack_output o CROSS JOIN generate_series(0, {columns - 1}) AS c WHERE o.id >= {first_id}""",
        ),
        (
            "dag_hot: lineage",
            f"""
            INSERT INTO ddtrack_lineage (task_run_id, dag_id, run_id, task_id, direction, kind, name, uri,
                upstream_task_id, upstream_output)
            SELECT id, dag_id, run_id, task_id, 'input', 'task', 'return_value', NULL, 'extract', 'return_value'
            FROM ddtrack_task_run WHERE id >= {first_id} AND task_id = 'load'
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'output', 'uri', 'return_value', 's3://lake/hot/daily.parquet', NULL, NULL
            FROM ddtrack_task_run WHERE id >= {first_id} AND task_id = 'load'
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'input', 'uri', 'vendor feed', 's3://vendor/feed.json', NULL, NULL
            FROM ddtrack_task_run WHERE id >= {first_id} AND task_id = 'extract'""",
        ),
    ]


def across_sql(shape: scale.Shape) -> list[tuple[str, str]]:
    """Lineage across DAGs, PII, pii_free and output tags on the regular DAGs' rows."""
    last = f"task_{shape.tasks - 1}"
    # store_scale's try g is DAG g % dags: arithmetic, so dag_hot's rows (ids past the regular ones) need no cast.
    dag_no = f"(id % {shape.dags})"
    regular = f"id < {shape.tries}"
    return [
        (
            "lineage: file chains across DAGs",
            f"""
            INSERT INTO ddtrack_lineage (task_run_id, dag_id, run_id, task_id, direction, kind, name, uri,
                upstream_task_id, upstream_output)
            SELECT id, dag_id, run_id, task_id, 'output', 'uri', 'return_value',
                   's3://lake/' || dag_id || '/final.parquet', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = '{last}' AND {regular}
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'input', 'uri', 'upstream file',
                   's3://lake/dag_' || ({dag_no} - 1) || '/final.parquet', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = 'task_0' AND {regular} AND {dag_no} % {CHAIN} <> 0""",
        ),
        (
            "lineage: shared sources, dag_hot's file, Assets",
            f"""
            INSERT INTO ddtrack_lineage (task_run_id, dag_id, run_id, task_id, direction, kind, name, uri,
                upstream_task_id, upstream_output)
            SELECT id, dag_id, run_id, task_id, 'input', 'uri', 'source',
                   's3://raw/source_' || ({dag_no} % {SOURCES}) || '.csv', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = 'task_0' AND {regular}
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'input', 'uri', 'hot daily', 's3://lake/hot/daily.parquet', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = 'task_1' AND {regular} AND {dag_no} % 49 = 0
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'output', 'asset', 'final', 'asset://' || dag_id || '/final', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = '{last}' AND {regular} AND {dag_no} % 7 = 0
            UNION ALL
            SELECT id, dag_id, run_id, task_id, 'input', 'asset', 'final',
                   'asset://dag_' || (({dag_no} + {shape.dags} - 3) % {shape.dags}) || '/final', NULL, NULL
            FROM ddtrack_task_run WHERE task_id = 'task_3' AND {regular}
                AND (({dag_no} + {shape.dags} - 3) % {shape.dags}) % 7 = 0""",
        ),
        (
            "PII outputs, pii_free tasks, output tags",
            f"""
            UPDATE ddtrack_task_run SET extra = '{{"pii_free": true}}'::json
            WHERE task_id = 'task_5' AND {regular} AND {dag_no} % 10 = 0;
            INSERT INTO ddtrack_tag (task_run_id, output_name, key, value)
            SELECT id, 'return_value', 'domain', CASE WHEN {dag_no} % 3 = 0 THEN 'finance' ELSE 'ops' END
            FROM ddtrack_task_run WHERE task_id = '{last}' AND {regular}
            UNION ALL
            SELECT id, 'return_value', 'pii', 'email'
            FROM ddtrack_task_run WHERE task_id = 'task_0' AND {regular} AND {dag_no} % 10 = 0""",
        ),
    ]


def outputs_sql(shape: scale.Shape) -> str:
    """store_scale's outputs, with every 10th DAG's first output declaring ``email`` PII."""
    return f"""
        INSERT INTO ddtrack_output (id, task_run_id, dag_id, task_id, run_id, started_at, name, uri, kind, type_name,
            rows, n_columns, memory_bytes, schema_fingerprint, schema, truncated, detail)
        SELECT id, id, dag_id, task_id, run_id, started_at, 'return_value',
               CASE WHEN task_id = 'task_{shape.tasks - 1}' THEN 's3://lake/' || dag_id || '/final.parquet' END,
               'pandas', 'pandas.DataFrame', 10000 + (id % 5000), {shape.columns}, 800000,
               CASE WHEN id % 10007 = 0 THEN 'changed' ELSE md5(task_id) END, NULL, false,
               CASE WHEN task_id = 'task_0' AND id % {shape.dags} % 10 = 0 THEN '{{"pii": ["email"]}}'::json END
        FROM ddtrack_task_run"""


def _ddl_to_rebuild(conn: sa.Connection) -> tuple[list[str], list[str]]:
    """Drop the big tables' secondary indexes and unique/foreign-key constraints (rows go in
    without per-row index and FK work) and return the DDL that rebuilds them, in order."""
    tables = list(BIG_TABLES)
    constraints = conn.execute(
        sa.text(
            "SELECT conrelid::regclass::text AS tbl, conname, contype, pg_get_constraintdef(oid) AS ddl "
            "FROM pg_constraint WHERE conrelid::regclass::text = ANY(:t) AND contype IN ('u', 'f') ORDER BY contype DESC"
        ),
        {"t": tables},
    ).all()
    indexes = conn.execute(
        sa.text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.tablename = ANY(:t) AND NOT EXISTS "
            "(SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ),
        {"t": tables},
    ).all()
    for c in sorted(constraints, key=lambda c: c.contype):  # foreign keys ('f') before unique keys
        conn.execute(sa.text(f'ALTER TABLE {c.tbl} DROP CONSTRAINT "{c.conname}"'))
    for i in indexes:
        conn.execute(sa.text(f'DROP INDEX "{i.indexname}"'))
    rebuild = [i.indexdef for i in indexes]
    rebuild += [f'ALTER TABLE {c.tbl} ADD CONSTRAINT "{c.conname}" {c.ddl}' for c in constraints]  # unique, then FKs
    return rebuild, [c.conname for c in constraints]


def seed(store_url: str, shape: scale.Shape, hot_runs: int, extra: list[tuple[str, str]] | None = None) -> None:
    """The side tables at ``shape``; ``extra`` statements (label, SQL) run after the lineage
    rows and before the indexes and backfills (another benchmark's variations of the shape)."""
    from ddtrack.store import catalog, datasets
    from ddtrack.store.schema import upgrade

    upgrade(store_url)
    engine = sa.create_engine(store_url)
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL synchronous_commit = off"))
        rebuild, _ = _ddl_to_rebuild(conn)
        statements = [(label, outputs_sql(shape) if label == "outputs" else sql) for label, sql in scale.seed_sql(shape)]
        statements += hot_sql(shape.tries, shape.columns, hot_runs) + across_sql(shape) + list(extra or [])
        for label, sql in statements:
            with scale.step(f"insert {label}"):
                conn.execute(sa.text(sql))
    with engine.begin() as conn:
        conn.execute(sa.text("SET LOCAL maintenance_work_mem = '1GB'"))
        conn.execute(sa.text("SET LOCAL max_parallel_maintenance_workers = 2"))
        for ddl in rebuild:
            with scale.step(f"rebuild {' '.join(ddl.split()[:6])[:90]}"):
                conn.execute(sa.text(ddl))
    rows_s = time.perf_counter() - t0
    with engine.begin() as conn:
        for table in (*BIG_TABLES, "ddtrack_catalog"):
            conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, scale.step("analyze"):
        conn.execute(sa.text("ANALYZE"))
    with engine.begin() as conn:
        with scale.step("catalog (ddtrack.store.catalog.backfill + backfill_uris, as migrations 0002/0006 run them)"):
            catalog.backfill(conn)
            catalog.backfill_uris(conn)
        with scale.step("datasets (ddtrack.store.datasets.backfill, as migration 0006 runs it)"):
            datasets.backfill(conn)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn, scale.step("vacuum analyze"):
        conn.execute(sa.text("VACUUM ANALYZE"))
    print(f"  rows, indexes and constraints of the side tables: {rows_s:.0f} s")


def seed_dag_tags(meta_url: str, shape: scale.Shape) -> None:
    """Airflow's own DAG tags: an owner per DAG ("owner:team_N") and a plain tier tag."""
    with sa.create_engine(meta_url).begin() as conn, scale.step("metastore: DAG tags"):
        conn.execute(
            sa.text(
                f"INSERT INTO dag_tag (name, dag_id) SELECT 'owner:team_' || (d % 12), 'dag_' || d "
                f"FROM generate_series(0, {shape.dags - 1}) AS d UNION ALL "
                f"SELECT CASE WHEN d % 4 = 0 THEN 'gold' ELSE 'silver' END, 'dag_' || d "
                f"FROM generate_series(0, {shape.dags - 1}) AS d"
            )
        )


def seed_metastore(name: str, meta_url: str, shape: scale.Shape) -> None:
    """A new database ``name`` migrated by ``airflow db migrate`` and filled at ``shape``
    (``store_scale.seed_metastore``), with DAG tags."""
    t0 = time.perf_counter()
    scale.recreate(name)
    with scale.step("airflow db migrate (metastore)"):
        scale.migrate_metastore(meta_url)
    scale.seed_metastore(meta_url, shape)
    seed_dag_tags(meta_url, shape)
    print(f"  metastore seeded in {time.perf_counter() - t0:.0f} s")


def median_ms(fn) -> float:
    fn()  # warm the pool and caches, as a running api-server has them
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def newest_output_id(store_url: str, dag_id: str, task_id: str, offset: int = 0) -> int:
    with sa.create_engine(store_url).connect() as conn:
        return conn.execute(
            sa.text(
                "SELECT id FROM ddtrack_output WHERE dag_id = :d AND task_id = :t AND name = 'return_value' "
                "ORDER BY started_at DESC OFFSET :o LIMIT 1"
            ),
            {"d": dag_id, "t": task_id, "o": offset},
        ).scalar_one()


def measure(
    store_url: str, meta_url: str, shape: scale.Shape, hot_runs: int
) -> tuple[dict[str, float], dict[str, list], list[str]]:
    from ddtrack import queries
    from ddtrack.queries.catalog import catalog_output
    from ddtrack.queries.pii import pii_report
    from ddtrack.queries.search import search
    from ddtrack.queries.trace import impact, trace

    sources = queries.Sources(store_url=store_url, metastore_url=meta_url)
    # A web user who may read every DAG but every 25th (their nodes come back hidden, counted).
    allowed = [f"dag_{d}" for d in range(shape.dags) if d % 25 != 1] + ["dag_hot"]
    last = f"task_{shape.tasks - 1}"
    end_of_chain = f"dag_{CHAIN * 7 + CHAIN - 1}"  # dag_39: four DAGs of files upstream
    start_of_chain = f"dag_{CHAIN * 8}"  # dag_40: a PII DAG, four DAGs downstream
    traced = newest_output_id(store_url, end_of_chain, last)
    impacted = newest_output_id(store_url, start_of_chain, "task_0", offset=shape.runs // 2)
    notes: list[str] = []

    def do_search():
        hits = search(sources, "email", allowed)
        assert hits, "search must find the email columns"
        return hits

    def do_trace():
        result = trace(sources, traced, allowed=allowed, depth=10)
        assert max(n.depth for n in result.nodes) >= 10, "the trace must reach 10 hops"
        return result

    def do_impact():
        result = impact(sources, allowed=allowed, output_id=impacted, depth=10)
        assert max(n.depth for n in result.nodes) >= 10, "the impact must reach 10 hops"
        return result

    def do_catalog():
        page = catalog_output(sources, "dag_hot", "load", "return_value", allowed=allowed)
        assert page is not None and page.n_versions == hot_runs, "every version of the hot dataset is counted"
        return page

    def do_pii():
        report = pii_report(sources, allowed=allowed)
        assert report.pii_outputs and report.derived, "PII outputs and their consumers"
        return report

    cases = {
        "search": do_search,
        "trace over 10 hops": do_trace,
        "impact over 10 hops": do_impact,
        "catalog page, 10,000 versions": do_catalog,
        "PII and consumers": do_pii,
    }
    results, plans = {}, {}
    for label, fn in cases.items():
        results[label] = median_ms(fn)
        with across.capture(store_url) as found:
            answer = fn()
        plans[label] = sorted(found.seen, key=lambda s: s[0], reverse=True)[:2]
        notes.append(f"{label}: {len(found.seen)} SELECT statements; {describe(answer)}")
    return results, plans, notes


def describe(answer) -> str:
    if isinstance(answer, list):
        return f"{len(answer)} hits"
    if hasattr(answer, "nodes"):
        return f"{len(answer.nodes)} nodes, {len(answer.edges)} edges, {answer.hidden} hidden, truncated={answer.truncated}"
    if hasattr(answer, "versions"):
        return f"{len(answer.versions)} versions shown of {answer.n_versions}, {len(answer.columns)} columns"
    if hasattr(answer, "pii_outputs"):
        return f"{len(answer.pii_outputs)} PII outputs, {len(answer.derived)} derived, {answer.hidden} hidden"
    return type(answer).__name__


def explain(store_url: str, plans: dict[str, list]) -> None:
    """EXPLAIN ANALYZE of each case's slowest statements, lines cut (the readable-DAG lists are long)."""
    with sa.create_engine(store_url).connect() as conn:
        for label, statements in plans.items():
            for ms, statement, parameters in statements:
                print(f"\n-- {label}: a statement that took {ms:.1f} ms\n   {' '.join(statement.split())[:300]}")
                for (line,) in conn.exec_driver_sql(f"EXPLAIN (ANALYZE, COSTS OFF) {statement}", parameters):
                    print(f"   {line[:200]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reuse", action="store_true", help="measure the databases a previous run seeded")
    parser.add_argument("--runs", type=int, default=SHAPE.runs, help="runs of each regular DAG (a quick check: 4)")
    parser.add_argument("--hot-runs", type=int, default=HOT_RUNS, help="versions of dag_hot.load")
    parser.add_argument("--seed-only", action="store_true", help="seed, then stop (measure later with --reuse)")
    args = parser.parse_args()
    shape = scale.Shape(SHAPE.dags, SHAPE.tasks, args.runs, SHAPE.columns)
    store_url, meta_url = f"{scale.SERVER}/{STORE_DB}", f"{scale.SERVER}/{META_DB}"
    if not args.reuse:
        total = shape.tries + 2 * args.hot_runs
        print(f"Seeding {total:,} outputs and {total * shape.columns:,} column profiles on PostgreSQL")
        t0 = time.perf_counter()
        scale.recreate(STORE_DB)
        seed(store_url, shape, args.hot_runs)
        print(f"  side tables seeded in {time.perf_counter() - t0:.0f} s")
        seed_metastore(META_DB, meta_url, shape)
    if args.seed_only:
        return 0
    scale.sizes(store_url, meta_url)
    results, plans, notes = measure(store_url, meta_url, shape, args.hot_runs)
    print()
    for note in notes:
        print(f"  {note}")
    print(f"\nload average while measuring (2 cores): {os.getloadavg()[0]:.1f}")
    print(f"\n{'case':<32} {'median ms':>10} {'target ms':>10} {'ratio':>7}")
    for label, ms in results.items():
        target = TARGETS[label]
        print(f"{label:<32} {ms:>10.1f} {target:>10.0f} {ms / target:>7.3f} {'ok' if ms <= target else 'OVER'}")
    explain(store_url, plans)
    return 0 if all(ms <= TARGETS[k] for k, ms in results.items()) else 1


if __name__ == "__main__":
    sys.exit(main())
