"""@track inside real Airflow task runs (dag.test()): results untouched, faults contained."""

from __future__ import annotations

import logging
import os

import numpy as np
import pendulum
import pytest
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG
from helpers import columns, outputs, run_in_process, task_runs

from ddtrack import log_output, track


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return bag


def xcom_value(dag_id: str, run_id: str, task_id: str, key: str = "return_value"):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).filter_by(dag_id=dag_id, run_id=run_id, task_id=task_id, key=key)
        ).one()
        return XComModel.deserialize_value(row)


def test_track_above_or_below_task_and_on_python_operator(dagbag, metastore_url):
    run = run_in_process(dagbag.get_dag("deco_orders"), metastore_url)
    outs = outputs(metastore_url, "deco_orders", run.run_id)
    assert outs[("below", "return_value")].rows == 3
    assert outs[("above", "counts")].kind == "list"
    assert outs[("classic", "return_value")].kind == "dict"
    assert xcom_value("deco_orders", run.run_id, "classic") == {"n": 3}
    assert xcom_value("deco_orders", run.run_id, "above") == [1, 2, 3]


def test_track_decorating_an_operator_fails_at_parse_time_with_a_fix():
    with DAG("deco_misuse", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC")):
        op = PythonOperator(task_id="x", python_callable=lambda: 1)
        with pytest.raises(TypeError, match=r"python_callable=track\(my_function\)"):
            track(tags={"team": "x"})(op)  # @track(...) stacked on an operator; track(op, outputs=...) wraps it


def test_tracking_failure_leaves_the_task_and_its_result_alone(dagbag, monkeypatch, caplog):
    # A broken setting makes ddtrack fail while sending its record.
    monkeypatch.setenv("AIRFLOW__DDTRACK__MAX_RECORD_BYTES", "not-a-number")
    monkeypatch.setenv("AIRFLOW__DDTRACK__STRICT", "False")
    with caplog.at_level(logging.WARNING, logger="ddtrack"):
        run = dagbag.get_dag("deco_produce").test()
    assert run.state == "success"
    assert xcom_value("deco_produce", run.run_id, "produce") == {"answer": 42}
    assert any("ddtrack could not" in r.getMessage() for r in caplog.records)


def test_strict_mode_raises_tracking_failures(dagbag, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__MAX_RECORD_BYTES", "not-a-number")
    monkeypatch.setenv("AIRFLOW__DDTRACK__STRICT", "True")
    run = dagbag.get_dag("deco_produce").test()
    assert run.state == "failed"


def test_untracked_task_can_log_inputs_and_outputs(dagbag, metastore_url):
    run = run_in_process(dagbag.get_dag("deco_untracked"), metastore_url)
    (record,) = task_runs(metastore_url, "deco_untracked", run.run_id)
    assert record.tracked is False and record.state == "success"
    outs = outputs(metastore_url, "deco_untracked", run.run_id)
    # two log_output calls with one name: one output, the batches merged into one profile
    assert {(k[1], o.rows) for k, o in outs.items()} == {("batch", 12)}
    batch = outs[("export", "batch")]
    assert batch.detail["batches"] == 2 and batch.uri == "file:///tmp/b1.parquet"
    x = columns(batch)["x"]
    assert (x.count, x.stats["min"], x.stats["max"]) == (12, 0, 6)
    assert x.mean == pytest.approx((sum(range(5)) + sum(range(7))) / 12)
    assert x.std == pytest.approx(float(np.std(list(range(5)) + list(range(7)), ddof=1)))
    assert xcom_value("deco_untracked", run.run_id, "export") == "done"


def test_awkward_values_are_recorded_and_returned_unchanged(dagbag, metastore_url):
    run = run_in_process(dagbag.get_dag("deco_awkward"), metastore_url)
    assert run.state == "success"
    outs = outputs(metastore_url, "deco_awkward", run.run_id)
    assert xcom_value("deco_awkward", run.run_id, "awkward") == {"rows": 3}
    assert outs[("nothing", "return_value")].kind == "none"
    cols = columns(outs[("awkward", "awkward_frame")])
    assert cols["empty"].nulls == 3 and cols["empty"].count == 0
    assert cols["<b>bold</b>"].infinities == 2 and cols["<b>bold</b>"].nulls == 1
    assert cols["when"].kind == "datetime" and cols["mixed"].count == 3
    assert outs[("awkward", "awkward_frame")].detail["sample"][0]["mixed"] in (1, "1")


def test_outside_airflow_the_function_just_runs():
    @track
    def f(x):
        return x * 2

    assert f(21) == 42
    log_output([1, 2], name="ignored")  # no running task: nothing to record, no error
