"""Airflow listener: ingest a DAG run's records when the run ends.

Runs in the scheduler's loop (and where a run's state is set through the REST API). It
only reads two attributes and hands them to :mod:`ddtrack.server.ingest_worker`'s thread.
"""

from __future__ import annotations

import logging
import sys

from airflow.listeners import hookimpl

from ddtrack import conf

log = logging.getLogger("ddtrack.listener")


def _hand_over(dag_run) -> None:
    try:
        if not conf.ingest_on_dag_run_end():
            return
        from ddtrack.server.ingest_worker import worker

        worker.submit(str(dag_run.dag_id), str(dag_run.run_id))
    except Exception as exc:  # never let ddtrack disturb the scheduler
        log.warning("ddtrack could not schedule ingest: %s", exc)


@hookimpl
def on_starting(component) -> None:
    """In the scheduler, start the ingest thread at once: it also sweeps overdue outputs and
    delivers alerts, which must happen even while no run ends. Never in a task's process."""
    try:
        # The job's type is set only after this hook: tell the scheduler by its command line.
        if type(component).__name__ != "Job" or "scheduler" not in sys.argv[1:3]:
            return
        from ddtrack.server.ingest_worker import worker

        worker.start()
    except Exception as exc:  # never let ddtrack disturb the scheduler
        log.warning("ddtrack could not start its ingest thread: %s", exc)


@hookimpl
def on_dag_run_success(dag_run, msg: str) -> None:
    _hand_over(dag_run)


@hookimpl
def on_dag_run_failed(dag_run, msg: str) -> None:
    _hand_over(dag_run)
