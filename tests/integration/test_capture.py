"""The capture middleware inside Airflow's own FastAPI app, with ddtrack's database silent.

Real task instances (a mapped tracked task run by ``dag.test()``) are put back in the
queue and started again through the execution API, 100 times, while ddtrack's database
is a socket on 127.0.0.1 that accepts and never answers. Every start must copy the
previous try's record to the spool, and the threads of the process must not pile up.
Timings are printed, not asserted (the deployment test asserts the 0.5 s bound).
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import threading
import time
import uuid

import pytest
from dev_tools.tcp_proxy import silent_server
from helpers import load_dag
from records import run_in_process
from sqlalchemy import select, update

from ddtrack.record import XCOM_KEY
from ddtrack.server import capture
from ddtrack.store.airflow_tables import TASK_INSTANCE, XCOM
from ddtrack.store.engine import get_engine

DAG = "many_starts"


@pytest.fixture
def silent_store(monkeypatch, tmp_path):
    """ddtrack's database is a socket that accepts and never answers; a spool of our own."""
    with silent_server() as port:
        monkeypatch.setenv("AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN", f"postgresql+psycopg2://postgres@127.0.0.1:{port}/x")
        monkeypatch.setenv("AIRFLOW__DDTRACK__SPOOL_DIR", str(tmp_path / "spool"))
        yield tmp_path / "spool"


@pytest.fixture(scope="module")
def mapped_run(airflow_home, metastore_url):
    return run_in_process(load_dag(DAG), metastore_url).run_id


def _ti_ids(metastore_url: str, run_id: str) -> list[str]:
    ti = TASK_INSTANCE
    with get_engine(metastore_url).connect() as conn:
        return [str(uuid.UUID(str(r))) for r in conn.scalars(select(ti.c.id).where(ti.c.dag_id == DAG, ti.c.run_id == run_id))]


def _queue_again(metastore_url: str, run_id: str) -> None:
    ti = TASK_INSTANCE
    with get_engine(metastore_url).begin() as conn:
        conn.execute(update(ti).where(ti.c.dag_id == DAG, ti.c.run_id == run_id).values(state="queued"))


@pytest.fixture(scope="module")
def execution_api(airflow_home):
    from airflow.api_fastapi.app import create_app
    from airflow.api_fastapi.execution_api.app import _jwt_generator
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        client.tokens = _jwt_generator()
        yield client


def _start(client, ti_id: str) -> float:
    payload = {
        "state": "running",
        "hostname": "test-host",
        "unixname": "test",
        "pid": os.getpid(),
        "start_date": dt.datetime.now(dt.timezone.utc).isoformat(),
    }
    headers = {"Authorization": f"Bearer {client.tokens.generate({'sub': ti_id})}"}
    t0 = time.perf_counter()
    resp = client.patch(f"/execution/task-instances/{ti_id}/run", json=payload, headers=headers)
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200, resp.text
    return elapsed


def _spooled(folder) -> list:
    return [*folder.glob("*.json"), *folder.glob("*.claimed")] if folder.exists() else []


def test_100_starts_with_a_silent_store_copy_every_record_on_bounded_threads(
    execution_api, mapped_run, metastore_url, silent_store, monkeypatch
):
    ti_ids = _ti_ids(metastore_url, mapped_run)
    assert len(ti_ids) == 10
    # Without capture: what Airflow's start costs on its own here (after a round that warms it up).
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "False")
    for _ in range(2):
        _queue_again(metastore_url, mapped_run)
        without = [_start(execution_api, ti) for ti in ti_ids]
    assert _spooled(silent_store) == []
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "True")

    threads_before = threading.active_count()
    with_capture = []
    for _ in range(10):
        _queue_again(metastore_url, mapped_run)
        with_capture += [_start(execution_api, ti) for ti in ti_ids]
    threads_after = threading.active_count()

    print(
        f"\nstart, capture off: median {statistics.median(without) * 1000:.1f} ms"
        f"\nstart, capture on, store silent: median {statistics.median(with_capture) * 1000:.1f} ms, "
        f"max {max(with_capture) * 1000:.1f} ms over {len(with_capture)} starts"
        f"\nthreads: {threads_before} before, {threads_after} after"
    )
    # Every start copied its task instance's record, although the store never answered.
    assert len(_spooled(silent_store)) == 100
    # The capture pool's threads, the ingest thread: nothing per start.
    assert threads_after <= threads_before + capture._THREADS + 1


def test_the_xcom_delete_copies_a_record_the_start_did_not(execution_api, mapped_run, metastore_url, silent_store):
    ti_id = _ti_ids(metastore_url, mapped_run)[0]
    with get_engine(metastore_url).connect() as conn:
        row = conn.execute(
            select(XCOM.c.task_id, XCOM.c.map_index)
            .select_from(XCOM.join(TASK_INSTANCE, (XCOM.c.run_id == TASK_INSTANCE.c.run_id) & (XCOM.c.task_id == TASK_INSTANCE.c.task_id) & (XCOM.c.map_index == TASK_INSTANCE.c.map_index)))
            .where(TASK_INSTANCE.c.id.in_([ti_id, ti_id.replace("-", "")]), XCOM.c.key == XCOM_KEY)
        ).one()
    path = f"/execution/xcoms/{DAG}/{mapped_run}/{row.task_id}/{XCOM_KEY}"
    headers = {"Authorization": f"Bearer {execution_api.tokens.generate({'sub': ti_id})}"}

    capture._copied.clear()  # the start request could not copy it in time
    resp = execution_api.delete(path, params={"map_index": row.map_index}, headers=headers)
    assert resp.status_code == 200, resp.text
    (copied,) = _spooled(silent_store)
    assert f'"map_index": {row.map_index}' in copied.read_text()
    with get_engine(metastore_url).connect() as conn:  # Airflow's delete still happened
        assert conn.execute(select(XCOM.c.key).where(XCOM.c.run_id == mapped_run, XCOM.c.map_index == row.map_index, XCOM.c.key == XCOM_KEY)).first() is None
