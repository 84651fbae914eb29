"""``fresh_within=`` and ``pii_free=`` from a real Airflow task run (dag.test()) to the
dataset rows ingest keeps."""

from __future__ import annotations

import os

from helpers import run_in_process
from sqlalchemy import select

from ddtrack.store.engine import session_factory
from ddtrack.store.models import Dataset, TaskRun


def test_windows_and_pii_free_reach_the_datasets(airflow_home, metastore_url):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    run = run_in_process(bag.get_dag("deco_fresh"), metastore_url)
    with session_factory(metastore_url)() as s:
        rows = {(d.task_id, d.name): d for d in s.scalars(select(Dataset).where(Dataset.dag_id == "deco_fresh"))}
        states = set(s.scalars(select(TaskRun.state).where(TaskRun.dag_id == "deco_fresh", TaskRun.run_id == run.run_id)))
    assert states == {"success"}
    # The task's window, a log_output's own window, and the task's window for a log_output without one.
    assert rows["customers", "return_value"].fresh_within_s == 86400
    assert rows["customers", "hourly_extract"].fresh_within_s == 2 * 3600
    assert rows["customers", "side_file"].fresh_within_s == 86400
    assert rows["customers", "return_value"].pii_columns == ["email"] and rows["customers", "return_value"].has_pii
    assert not rows["customers", "return_value"].pii_free
    totals = rows["totals", "return_value"]
    assert totals.pii_free and not totals.has_pii and totals.fresh_within_s is None
    assert totals.last_success_at is not None and totals.n_versions == 1
