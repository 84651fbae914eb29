"""Shared helpers of the integration tests: run DAGs in process, read the side tables."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from ddtrack.store.engine import session_factory
from ddtrack.store.ingest import ingest_run
from ddtrack.store.models import ColumnProfile, Lineage, Output, TaskRun


def run_in_process(dag, metastore_url: str) -> Any:
    """``dag.test()`` then an explicit ingest of the run (the listener's thread may lag)."""
    from ddtrack.server.ingest_worker import worker

    dag_run = dag.test()
    worker.wait_idle(60)
    report = ingest_run(metastore_url, metastore_url, dag.dag_id, dag_run.run_id)
    assert report.failed == 0, report.errors
    return dag_run


def task_runs(url: str, dag_id: str, run_id: str | None = None) -> list[TaskRun]:
    with session_factory(url)() as s:
        q = select(TaskRun).where(TaskRun.dag_id == dag_id)
        if run_id:
            q = q.where(TaskRun.run_id == run_id)
        return list(s.scalars(q.order_by(TaskRun.task_id, TaskRun.map_index, TaskRun.try_number)))


def outputs(url: str, dag_id: str, run_id: str | None = None) -> dict[tuple[str, str], Output]:
    """(task_id, output name) -> Output, with columns loaded."""
    with session_factory(url)() as s:
        q = select(Output).where(Output.dag_id == dag_id)
        if run_id:
            q = q.where(Output.run_id == run_id)
        rows = list(s.scalars(q))
        for row in rows:
            _ = row.columns
        return {(o.task_id, o.name): o for o in rows}


def columns(output: Output) -> dict[str, ColumnProfile]:
    return {c.name: c for c in output.columns}


def lineage(url: str, dag_id: str) -> list[Lineage]:
    with session_factory(url)() as s:
        return list(s.scalars(select(Lineage).where(Lineage.dag_id == dag_id)))
