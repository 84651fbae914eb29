"""Shared helpers of the integration tests: run DAGs in process, read what was pushed and
what was stored, wait for an observed state."""

from __future__ import annotations

import functools
import json
import os
import re
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from dev_tools.airflow_local import LocalAirflow, create_postgres_database, drop_database
from records import run_in_process  # noqa: F401 - the integration tests' import of it
from sqlalchemy import select

from ddtrack.record import XCOM_KEY, record_hash
from ddtrack.store.engine import dispose_all, session_factory
from ddtrack.store.models import ColumnProfile, Lineage, Output, TaskRun

T = TypeVar("T")


@functools.cache
def _dagbag():
    from dev_tools.airflow_versions import dag_bag

    bag = dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return bag


def load_dag(dag_id: str):
    """A DAG of the test session's DAG folder (the folder is parsed once)."""
    return _dagbag().get_dag(dag_id)


@contextmanager
def postgres_deployment(home: Path, *, drop: Iterable[str] = (), **options: Any) -> Iterator[LocalAirflow]:
    """A real deployment on a fresh PostgreSQL metastore, set up and started; afterwards
    stopped, and the metastore and the databases in ``drop`` dropped.  ``options`` go to
    :class:`LocalAirflow` (store_url, executor, dags_folder, extra_env, ...)."""
    metastore = create_postgres_database()
    airflow = LocalAirflow(home=home, metastore_url=metastore, **options)
    try:
        airflow.setup()
        airflow.start()
        yield airflow
    finally:
        airflow.stop()
        dispose_all()
        for url in (metastore, *drop):
            drop_database(url)


def wait_for(predicate: Callable[[], T], timeout: float = 60, what: str = "condition", every: float = 1) -> T:
    """Poll ``predicate`` until it returns something truthy (returned), or fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(every)


def sync_counts(stdout: str) -> tuple[int, int, int]:
    """(written, unchanged, failed) from the summary line of ``ddtrack sync``."""
    match = re.search(r"(\d+) written, (\d+) unchanged, (\d+) failed", stdout)
    assert match, stdout
    return int(match[1]), int(match[2]), int(match[3])


def pushed_records(metastore_url: str, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
    """The records the tasks pushed, read from Airflow's XCom table with plain SQL (not
    through ddtrack's reader, which is what is under test)."""
    query = "SELECT value FROM xcom WHERE key = :key AND dag_id = :dag_id"
    params = {"key": XCOM_KEY, "dag_id": dag_id}
    if run_id is not None:
        query += " AND run_id = :run_id"
        params["run_id"] = run_id
    engine = sa.create_engine(metastore_url)
    try:
        with engine.connect() as conn:
            values = list(conn.execute(sa.text(query), params).scalars())
    finally:
        engine.dispose()
    return [_decoded(v) for v in values]


def _decoded(value: Any) -> Any:
    """An XCom value as the database returns it: a dict, or JSON text (twice encoded on some backends)."""
    while isinstance(value, (str, bytes)):
        value = json.loads(value)
    return value


def _try_key(dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int) -> tuple:
    return (dag_id, run_id, task_id, int(map_index), int(try_number))


def pushed_hashes(metastore_url: str, dag_id: str, run_id: str | None = None) -> dict[tuple, str]:
    """(dag, run, task, map index, try) -> content hash of the record pushed for that try."""
    return {
        _try_key(r["dag_id"], r["run_id"], r["task_id"], r["map_index"], r["try_number"]): record_hash(r)
        for r in pushed_records(metastore_url, dag_id, run_id)
    }


def stored_hashes(store_url: str, dag_id: str, run_id: str | None = None) -> dict[tuple, str]:
    """(dag, run, task, map index, try) -> record hash of each try in ddtrack's tables."""
    return {
        _try_key(r.dag_id, r.run_id, r.task_id, r.map_index, r.try_number): r.record_hash
        for r in task_runs(store_url, dag_id, run_id)
    }


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
