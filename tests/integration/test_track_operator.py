"""track(operator, outputs=[Table(...)]) inside real Airflow task runs (dag.test()): the
operator does and returns what it did, its output tables are profiled where they live."""

from __future__ import annotations

import logging

import pendulum
import pytest
import sqlalchemy as sa
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from helpers import columns, lineage, load_dag, outputs, pushed_records, run_in_process

from ddtrack import Table, checks, track


def _xcom(dag_id: str, run_id: str, task_id: str) -> object:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(sa.select(XComModel).filter_by(
            dag_id=dag_id, run_id=run_id, task_id=task_id, key="return_value")).one()
        return XComModel.deserialize_value(row)


def test_the_warehouse_example_records_the_sql_task_output_and_its_input(metastore_url):
    run = run_in_process(load_dag("warehouse"), metastore_url)
    outs = outputs(metastore_url, "warehouse", run.run_id)
    daily = outs[("daily_revenue", "daily_revenue")]
    assert daily.rows == 4 and daily.kind == "sql"
    assert daily.uri.startswith("sqlite://") and daily.uri.endswith("warehouse.db.daily_revenue")
    assert columns(daily)["orders"].kind == "integer"
    raw = outs[("load", "raw_orders")]
    assert raw.rows == 500 and raw.uri.endswith("warehouse.db.raw_orders")
    inputs = [row for row in lineage(metastore_url, "warehouse")
              if row.run_id == run.run_id and row.task_id == "daily_revenue" and row.direction == "input"]
    assert [r.uri for r in inputs if r.kind == "uri"] == [raw.uri]


def test_the_operator_returns_what_it_returned(metastore_url):
    """The same SELECT, plain and wrapped (tests/integration/dags/track_operator_cases.py)."""
    values = []
    for dag_id in ("g1_plain_sql", "g1_wrapped_sql"):
        run = load_dag(dag_id).test()
        assert run.state == "success"
        values.append(_xcom(dag_id, run.run_id, "q"))
    assert values[0] == values[1] and len(values[0]) == 3  # the same rows, as Airflow stored them
    (record,) = [r for r in pushed_records(metastore_url, "g1_wrapped_sql") if r["task_id"] == "q"]
    assert record["tracked"] and record["state"] == "success"
    assert record["function"].endswith("SQLExecuteQueryOperator")
    assert record["source"] == "SELECT id, code FROM src ORDER BY code"
    (out,) = record["outputs"]
    assert out["name"] == "src" and out["profile"]["rows"] == 3


def test_a_check_that_needs_values_is_answered_by_the_database_and_fails_the_task(metastore_url):
    run = load_dag("g1_sql_check").test()
    assert run.state == "failed"
    (record,) = [r for r in pushed_records(metastore_url, "g1_sql_check", run.run_id) if r["task_id"] == "q"]
    results = {r["check"]: r for r in record["outputs"][0]["checks"]}
    assert results["unique"]["status"] == "fail" and results["unique"]["value"] == 1
    assert results["values_in"]["status"] == "fail" and "'c'" in results["values_in"]["message"]


def test_an_output_that_cannot_be_profiled_warns_once_and_the_task_succeeds(metastore_url, monkeypatch, caplog):
    monkeypatch.setenv("AIRFLOW__DDTRACK__STRICT", "False")
    with caplog.at_level(logging.WARNING, logger="ddtrack"):
        run = load_dag("g1_sql_missing").test()
    assert run.state == "success"
    warnings = [r for r in caplog.records if r.name == "ddtrack" and "no_such_table" in r.getMessage()]
    assert len(warnings) == 1
    (record,) = [r for r in pushed_records(metastore_url, "g1_sql_missing", run.run_id) if r["task_id"] == "q"]
    assert record["outputs"] == [] and "no_such_table" in record["warnings"][0]


def test_track_of_an_operator_is_checked_where_the_dag_is_written():
    with DAG("g1_misuse", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        op = PythonOperator(task_id="x", python_callable=lambda: 1)
        with pytest.raises(TypeError, match=r"python_callable=track\(my_function\)"):
            track(checks=[checks.rows_between(1)])(op)  # @track(...) on an operator
        with pytest.raises(TypeError, match="need outputs="):
            track(op, checks=[checks.rows_between(1)])
        with pytest.raises(TypeError, match="for operators"):
            track(lambda: 1, outputs=[Table("t", conn_id="c")])
