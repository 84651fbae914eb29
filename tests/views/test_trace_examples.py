"""Trace, path and PII on the example DAGs, run in process with Airflow's ``dag.test()`` and
ingested as the listener does: titanic_report reads the file titanic's ``features`` writes
and the Asset sales_producer writes, so its trace crosses two DAG boundaries."""

from __future__ import annotations

import os

import pytest
from records import run_in_process
from sqlalchemy import func, select

from ddtrack import queries
from ddtrack.store.engine import session_factory
from ddtrack.store.models import TaskRun


@pytest.fixture(scope="module")
def report_run(example_runs, metastore_url):
    from dev_tools.airflow_versions import dag_bag

    bag = dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    return run_in_process(bag.get_dag("titanic_report"), metastore_url)


@pytest.fixture
def sources(metastore_url) -> queries.Sources:
    return queries.Sources(store_url=metastore_url, metastore_url=metastore_url)


def newest_start(sources, dag_id: str, task_id: str, run_id: str):
    """When the newest try of a task in a run started (ddtrack's own record of it)."""
    with session_factory(sources.store_url)() as s:
        return s.scalar(select(func.max(TaskRun.started_at)).where(
            TaskRun.dag_id == dag_id, TaskRun.task_id == task_id, TaskRun.run_id == run_id))


def newest_run_before(sources, dag_id: str, task_id: str, before) -> str | None:
    """The run of a task's newest successful try started before ``before``."""
    with session_factory(sources.store_url)() as s:
        return s.scalar(select(TaskRun.run_id).where(
            TaskRun.dag_id == dag_id, TaskRun.task_id == task_id, TaskRun.state == "success",
            TaskRun.started_at < before).order_by(TaskRun.started_at.desc()).limit(1))


def test_a_titanic_report_traces_back_to_titanic_s_external_input_and_the_asset(sources, example_runs, report_run):
    report = queries.find_version(sources, "titanic_report", report_run.run_id, "build_report", "report", allowed=None)
    assert report is not None
    result = queries.trace(sources, report.output_id, allowed=None)
    versions = {(n.dag_id, n.task_id, n.label.rsplit(".", 1)[-1]): n for n in result.nodes if n.kind == "version"}
    # The newest titanic run before the report: the version the report read (other test modules
    # of this process may have run titanic again since example_runs did).
    started = newest_start(sources, "titanic_report", "build_report", run_id=report_run.run_id)
    titanic_run = newest_run_before(sources, "titanic", "features", started)
    assert titanic_run is not None
    assert versions[("titanic", "features", "model_input")].run_id == titanic_run
    assert versions[("titanic", "load_passengers", "return_value")].run_id == titanic_run
    producer_run = newest_run_before(sources, "sales_producer", "write_daily_sales", started)
    assert versions[("sales_producer", "write_daily_sales", "return_value")].run_id == producer_run
    assert "s3://example-bucket/fares.parquet" in {n.uri for n in result.nodes if n.kind == "external"}
    assert versions[("titanic", "load_passengers", "return_value")].pii
    assert {n.dag_id for n in result.nodes if n.kind == "try"} == {"titanic_report", "titanic", "sales_producer"}


def test_what_lies_between_passengers_age_and_train_model(sources, example_runs):
    result = queries.path(sources, "passengers.age", "titanic.train_model", allowed=None)
    assert result is not None
    assert [n.label for n in result.nodes] == [
        "titanic.load_passengers.return_value",
        "titanic.features",
        "titanic.features.return_value",
        "titanic.train_model",
    ]


def test_pii_follows_columns_across_dags(sources, report_run):
    """titanic's ``features`` drops the PII column ``name`` (column lineage knows every column
    it read): nothing downstream of it, in titanic or in titanic_report, is PII-derived."""
    report = queries.pii_report(sources, allowed=None)
    assert ("titanic", "load_passengers", "return_value") in {(d.dag_id, d.task_id, d.name) for d in report.pii_outputs}
    assert ("titanic", "load_passengers", "return_value", "name", "declared") in {
        (c.dag_id, c.task_id, c.output, c.column, c.pii) for c in report.columns
    }
    derived = {(d.dag_id, d.task_id) for d, _ in report.derived}
    assert not derived & {("titanic", "features"), ("titanic", "train_model"), ("titanic_report", "build_report")}
    assert not [c for c in report.columns if c.dag_id in ("titanic", "titanic_report") and c.pii == "derived"]
    only_report = queries.pii_report(sources, allowed={"titanic_report"})
    assert only_report.pii_outputs == [] and only_report.derived == [] and only_report.columns == []
    assert only_report.hidden >= 1
    assert "titanic" not in repr(only_report).replace("titanic_report", "")
