"""Column lineage speed (issue 23), two targets, each printed next to its anchor as a ratio:

* **ingest**: what column lineage adds to ingest, per output column, <= 1 ms. Records of
  ``--columns`` columns whose one input (an upstream task's output) has the same columns, so
  every output column has an edge (inferred by name, as the task works it out), ingested
  into PostgreSQL through the real ``ingest_records``; the same records without column
  lineage (no input columns, no edges) ingested in alternate rounds. (with - without) /
  columns is the figure.
* **trace**: a column traced upstream over 10 hops, < 300 ms, on the across-DAGs benchmark
  store (``across_dags_speed.seed``: 1,000,000 outputs, 20,000,000 column profiles), with
  column lineage for every try: each task's 20 columns derive from its upstream task's (and
  a chain's first task from the previous DAG's file), about 20,000,000 edges. The output-level
  trace of the same version at the same depth is timed too, in the same run.

    .venv/bin/python benchmarks/column_lineage_speed.py ingest
    .venv/bin/python benchmarks/column_lineage_speed.py trace            # seeds (about 30 min), then measures
    .venv/bin/python benchmarks/column_lineage_speed.py trace --seed-only   # seed only (then --reuse under the heavy lock)
    .venv/bin/python benchmarks/column_lineage_speed.py trace --reuse    # measures the seeded store
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

import across_dags_speed as across  # noqa: E402  (the across-DAGs store and its seeding)
import store_scale as scale  # noqa: E402

INGEST_DB = "ddtrack_bench_column_lineage_ingest"
STORE_DB = "ddtrack_scale_column_lineage"
INGEST_TARGET_MS = 1.0  # added per output column
TRACE_TARGET_MS = 300.0
DEPTH = 10


# -- ingest -------------------------------------------------------------------------------------


def _records(columns: int, n: int, with_lineage: bool, tag: str) -> list[dict]:
    from records import make_record

    from ddtrack.column_lineage import derive

    rng = np.random.default_rng(0)
    data = pd.DataFrame({f"c{i}": rng.normal(size=200) for i in range(columns)})
    base = make_record("bench_cl", "run_0", "load", data=data)
    names = [c["name"] for c in base["outputs"][0]["profile"]["schema"]]
    records = []
    for k in range(n):
        record = copy.deepcopy(base)
        record.update(run_id=f"{tag}_{k}", task_id="transform")
        record["inputs"] = [{"kind": "task", "task_id": "load", "name": "return_value", "uri": None}]
        if with_lineage:
            record["inputs"][0]["columns"] = names
            lineage, _ = derive({"return_value": names}, record["inputs"], {})
            record["outputs"][0]["column_lineage"] = lineage["return_value"]
        records.append(record)
    return records


def bench_ingest(columns: int, per_round: int, rounds: int) -> bool:
    from ddtrack.store.ingest import ingest_records
    from ddtrack.store.schema import upgrade

    url = scale.recreate(INGEST_DB)
    upgrade(url)
    ingest_records(url, _records(columns, 5, True, "warm"))  # pool, caches, catalog rows
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(rounds):
        for with_lineage in (r % 2 == 0, r % 2 != 0):  # alternate which goes first
            records = _records(columns, per_round, with_lineage, f"r{r}_{int(with_lineage)}")
            t0 = time.perf_counter()
            report = ingest_records(url, records)
            assert report.failed == 0, report.errors
            times[with_lineage].append((time.perf_counter() - t0) * 1000 / per_round)
    with sa.create_engine(url).connect() as conn:
        edges = conn.execute(sa.text("SELECT count(*) FROM ddtrack_column_lineage")).scalar_one()
    with_ms, without_ms = statistics.median(times[True]), statistics.median(times[False])
    per_column = (with_ms - without_ms) / columns
    print(f"ingest of one record of {columns} columns (median of {rounds} rounds of {per_round}), PostgreSQL:")
    print(f"  without column lineage {without_ms:8.2f} ms")
    print(f"  with column lineage    {with_ms:8.2f} ms   ({edges:,} edges stored in all)")
    print(f"\n{'case':<34} {'ms':>8} {'target ms':>10} {'ratio':>7}")
    ok = per_column <= INGEST_TARGET_MS
    print(f"{'added per output column':<34} {per_column:>8.4f} {INGEST_TARGET_MS:>10.1f} "
          f"{per_column / INGEST_TARGET_MS:>7.3f} {'ok' if ok else 'OVER'}")
    return ok


# -- trace on the across-DAGs store -------------------------------------------------------------


def column_lineage_sql(shape: scale.Shape) -> list[tuple[str, str]]:
    """Edges for every try of the regular DAGs: column c of task_k from column c of task_k-1
    (store_scale names them 'col_<c>_<task>', column 0 'email'), and a chain's task_0 from the
    previous DAG's final file; inserted without the table's indexes, which are built after."""

    def name(task: str) -> str:
        return f"CASE WHEN c = 0 THEN 'email' ELSE 'col_' || c || '_' || {task} END"

    last = f"'task_{shape.tasks - 1}'"
    columns = f"generate_series(0, {shape.columns - 1}) AS c"
    return [
        ("column lineage: drop its indexes", """
            DROP INDEX ix_ddtrack_column_lineage_output; DROP INDEX ix_ddtrack_column_lineage_input;
            DROP INDEX ix_ddtrack_column_lineage_column"""),
        ("column lineage: task inputs", f"""
            INSERT INTO ddtrack_column_lineage (task_run_id, dag_id, run_id, task_id, output_name, column_name,
                input_kind, input_uri, upstream_task_id, upstream_output, input_column, how)
            SELECT l.task_run_id, l.dag_id, l.run_id, l.task_id, 'return_value', {name('l.task_id')}, 'task', NULL,
                   l.upstream_task_id, l.upstream_output, {name('l.upstream_task_id')}, 'declared'
            FROM ddtrack_lineage l CROSS JOIN {columns}
            WHERE l.kind = 'task' AND l.direction = 'input'"""),
        ("column lineage: files across DAGs", f"""
            INSERT INTO ddtrack_column_lineage (task_run_id, dag_id, run_id, task_id, output_name, column_name,
                input_kind, input_uri, upstream_task_id, upstream_output, input_column, how)
            SELECT l.task_run_id, l.dag_id, l.run_id, l.task_id, 'return_value', {name('l.task_id')}, 'uri', l.uri,
                   NULL, NULL, {name(last)}, 'declared'
            FROM ddtrack_lineage l CROSS JOIN {columns}
            WHERE l.kind = 'uri' AND l.direction = 'input' AND l.name = 'upstream file';
            UPDATE ddtrack_lineage SET columns_known = true
            WHERE direction = 'input' AND (kind = 'task' OR name = 'upstream file')"""),
        ("column lineage: its indexes", """
            CREATE INDEX ix_ddtrack_column_lineage_output ON ddtrack_column_lineage (task_run_id, output_name, column_name);
            CREATE INDEX ix_ddtrack_column_lineage_input ON ddtrack_column_lineage (task_run_id, input_column);
            CREATE INDEX ix_ddtrack_column_lineage_column
                ON ddtrack_column_lineage (dag_id, task_id, output_name, column_name)"""),
    ]


def bench_trace(reuse: bool, seed_only: bool = False) -> bool:
    from ddtrack import queries
    from ddtrack.queries.column_lineage import trace_column
    from ddtrack.queries.trace import trace

    shape = across.SHAPE
    store_url = f"{scale.SERVER}/{STORE_DB}"
    if not reuse:
        print(f"Seeding {shape.tries + 2 * across.HOT_RUNS:,} outputs with column lineage on PostgreSQL")
        t0 = time.perf_counter()
        scale.recreate(STORE_DB)
        across.seed(store_url, shape, across.HOT_RUNS, extra=column_lineage_sql(shape))
        print(f"  seeded in {time.perf_counter() - t0:.0f} s")
    if seed_only:
        return True
    with sa.create_engine(store_url).connect() as conn:
        edges = conn.execute(sa.text("SELECT count(*) FROM ddtrack_column_lineage")).scalar_one()
        outputs = conn.execute(sa.text("SELECT count(*) FROM ddtrack_output")).scalar_one()
    sources = queries.Sources(store_url=store_url, metastore_url="")
    allowed = [f"dag_{d}" for d in range(shape.dags) if d % 25 != 1] + ["dag_hot"]  # as across_dags_speed's user
    end_of_chain = f"dag_{across.CHAIN * 7 + across.CHAIN - 1}"
    traced = across.newest_output_id(store_url, end_of_chain, f"task_{shape.tasks - 1}")
    column = f"col_3_task_{shape.tasks - 1}"
    answer = trace_column(sources, traced, column, allowed=allowed, depth=DEPTH)
    column_ms = across.median_ms(lambda: trace_column(sources, traced, column, allowed=allowed, depth=DEPTH))
    output_ms = across.median_ms(lambda: trace(sources, traced, allowed=allowed, depth=DEPTH))
    far = max(c.hops for c in answer.columns)
    dags = sorted({c.dag_id for c in answer.columns if c.dag_id})
    print(f"store: {outputs:,} outputs, {edges:,} column lineage edges")
    print(f"column trace of {end_of_chain}.task_{shape.tasks - 1}.{column}: {len(answer.columns)} columns, "
          f"{far} hops, DAGs {', '.join(dags)}, truncated {answer.truncated}")
    print(f"\n{'case':<40} {'median ms':>10} {'target ms':>10} {'ratio':>7}")
    ok = column_ms < TRACE_TARGET_MS
    print(f"{'column trace over 10 hops':<40} {column_ms:>10.1f} {TRACE_TARGET_MS:>10.0f} "
          f"{column_ms / TRACE_TARGET_MS:>7.3f} {'ok' if ok else 'OVER'}")
    print(f"{'output trace of the same version':<40} {output_ms:>10.1f} {'':>10} {column_ms / output_ms:>7.3f} "
          "(column / output)")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("case", choices=("ingest", "trace"))
    parser.add_argument("--columns", type=int, default=200, help="ingest: columns of each output")
    parser.add_argument("--per-round", type=int, default=20, help="ingest: records per round")
    parser.add_argument("--rounds", type=int, default=8, help="ingest: rounds of each kind")
    parser.add_argument("--reuse", action="store_true", help="trace: measure the store a previous run seeded")
    parser.add_argument("--seed-only", action="store_true", help="trace: seed, then stop (measure with --reuse)")
    args = parser.parse_args()
    print(f"{time.strftime('%Y-%m-%d %H:%M')} on {scale.SERVER.split('@')[-1]}; load average "
          f"{__import__('os').getloadavg()[0]:.1f} (2 cores)\n")
    if args.case == "ingest":
        ok = bench_ingest(args.columns, args.per_round, args.rounds)
    else:
        ok = bench_trace(args.reuse, args.seed_only)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
