"""Running a DAG of the shared deployment the way every test module here does."""

from __future__ import annotations

from typing import Any

from helpers import task_runs, wait_for


def run_stored(airflow: Any, dag_id: str, *, state: str = "success", tries: int | None = None,
               conf: dict | None = None) -> str:
    """Trigger ``dag_id``, wait for it to end in ``state``, then for the listener to store its
    tries (``tries`` of them, or any); returns the run id."""
    airflow.wait_dags([dag_id])
    run_id = airflow.trigger(dag_id, conf=conf)
    ended = airflow.wait_runs([(dag_id, run_id)])[(dag_id, run_id)]
    assert ended == state, f"{dag_id}/{run_id} ended {ended}, not {state}\n{airflow.log_tail('scheduler')}"
    wait_for(lambda: (len(task_runs(airflow.metastore_url, dag_id, run_id)) == tries) if tries
             else task_runs(airflow.metastore_url, dag_id, run_id),
             timeout=180, what=f"{dag_id}'s tries stored")
    return run_id
