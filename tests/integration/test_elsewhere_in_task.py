"""Outputs an engine holds, recorded by real task runs (dag.test()): a tracked task that
returns a polars LazyFrame succeeds and hands Airflow no XCom of it; a DuckDB relation and a
Parquet folder logged by a task are profiled where they are, with their dataset URI; a
``unique`` check on a folder fails its task on a duplicate only the data shows, and one on
batches read partly in memory and partly in place fails closed."""

from __future__ import annotations

from helpers import load_dag, outputs, run_in_process, task_runs
from sqlalchemy import select
from test_checks_in_task import results, states

DATA_DIR = "elsewhere_cases"


def xcom_keys(dag_id: str, run_id: str, task_id: str) -> set[str]:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(select(XComModel.key).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id))
        return set(rows)


def test_lazy_results_and_logged_engines_are_profiled_where_they_live(metastore_url):
    run = run_in_process(load_dag("elsewhere_lazy"), metastore_url)
    assert states(metastore_url, "elsewhere_lazy", run.run_id) == {"lazy_orders": "success", "logged": "success"}
    assert xcom_keys("elsewhere_lazy", run.run_id, "lazy_orders") == {"ddtrack"}  # no return_value
    assert "return_value" in xcom_keys("elsewhere_lazy", run.run_id, "logged")  # other results untouched
    outs = outputs(metastore_url, "elsewhere_lazy", run.run_id)
    lazy, relation, events = outs[("lazy_orders", "orders")], outs[("logged", "relation")], outs[("logged", "events")]
    assert (lazy.kind, lazy.type_name, lazy.rows) == ("polars", "polars.LazyFrame", 1000)
    assert (relation.kind, relation.rows) == ("duckdb", 5000)
    assert (events.kind, events.type_name, events.rows) == ("files", "parquet", 40_000)
    assert events.uri.startswith("file:///") and events.uri.endswith(f"/{DATA_DIR}/clean")
    statuses = {k: r.status for k, r in results(metastore_url, "elsewhere_lazy", run.run_id).items()}
    assert statuses == {
        ("orders", "unique", "order_id"): "pass",
        ("relation", "values_in", "m"): "pass",
        ("events", "unique", "order_id"): "pass",
    }


def test_a_duplicate_in_a_folder_fails_the_check_and_its_task(metastore_url):
    run = run_in_process(load_dag("elsewhere_dupes"), metastore_url)
    assert run.state == "failed"
    records = {r.task_id: r for r in task_runs(metastore_url, "elsewhere_dupes", run.run_id)}
    assert {r.error_type for r in records.values()} == {"CheckFailed"}
    assert "output 'events': column 'order_id' has 1 duplicate values" in records["folder_with_a_duplicate"].error_message
    found = results(metastore_url, "elsewhere_dupes", run.run_id)
    events = found[("events", "unique", "order_id")]
    assert (events.check_name, events.status, events.value) == ("unique", "fail", 1)
    # A batch read in memory and one profiled where it lives cannot be compared: the gate
    # fails closed instead of passing on the first batch's ids alone.
    mixed = found[("mixed", "unique", "order_id")]
    assert mixed.status == "error" and "partly in memory" in mixed.message
