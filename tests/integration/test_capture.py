"""The capture middleware inside Airflow's own FastAPI app, with ddtrack's database silent.

Real task instances (a mapped tracked task run by ``dag.test()``) are put back in the
queue and started again through the execution API, 100 times, while ddtrack's database
is a socket on 127.0.0.1 that accepts and never answers. Every new try must copy the
previous try's record to the spool, and the threads of the process must not pile up.
Timings are printed, not asserted (the deployment test asserts the 0.5 s bound).

Requests Airflow refuses (no token, a forged one, another task instance's) must cost
ddtrack nothing: no metastore statement, no spool file. Counted with a SQLAlchemy event
on ddtrack's own metastore engine, and by the spool's files.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import threading
import time
import uuid
from contextlib import contextmanager

import jwt
import pytest
from dev_tools.tcp_proxy import silent_server
from helpers import load_dag
from records import run_in_process
from sqlalchemy import MetaData, Table, delete, event, insert, select, update

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


@pytest.fixture(autouse=True)
def records_kept(mapped_run, metastore_url):
    """Each test finds the run's ten records in XCom, whatever the test before deleted."""
    engine = get_engine(metastore_url)
    xcom = Table("xcom", MetaData(), autoload_with=engine)
    ours = (xcom.c.dag_id == DAG, xcom.c.run_id == mapped_run, xcom.c.key == XCOM_KEY)
    with engine.connect() as conn:
        rows = [row._asdict() for row in conn.execute(select(xcom).where(*ours))]
    assert len(rows) == 10
    yield
    with engine.begin() as conn:
        conn.execute(delete(xcom).where(*ours))
        conn.execute(insert(xcom), rows)


def _ti_ids(metastore_url: str, run_id: str) -> list[str]:
    ti = TASK_INSTANCE
    with get_engine(metastore_url).connect() as conn:
        return [str(uuid.UUID(str(r))) for r in conn.scalars(select(ti.c.id).where(ti.c.dag_id == DAG, ti.c.run_id == run_id))]


def _queue_again(metastore_url: str, run_id: str) -> None:
    ti = TASK_INSTANCE
    with get_engine(metastore_url).begin() as conn:
        conn.execute(update(ti).where(ti.c.dag_id == DAG, ti.c.run_id == run_id).values(state="queued"))


def _new_tries(metastore_url: str, run_id: str) -> list[str]:
    """Queue every task instance of the run for a new try, as Airflow does: a new try of a
    task instance gets a new id (``TaskInstance.prepare_db_for_next_try``). Its XComs, the
    previous try's record among them, stay until the worker deletes them."""
    ti = TASK_INSTANCE
    with get_engine(metastore_url).begin() as conn:
        for old in conn.scalars(select(ti.c.id).where(ti.c.dag_id == DAG, ti.c.run_id == run_id)).all():
            new = uuid.uuid4()
            # Stored as the metastore spells it: 32 hex digits on SQLite, dashed elsewhere.
            conn.execute(update(ti).where(ti.c.id == old).values(id=new.hex if "-" not in str(old) else str(new), state="queued"))
    return _ti_ids(metastore_url, run_id)


@pytest.fixture(scope="module")
def execution_api(airflow_home):
    from airflow.api_fastapi.app import create_app
    from airflow.api_fastapi.execution_api.app import _jwt_generator
    from fastapi.testclient import TestClient

    with TestClient(create_app()) as client:
        client.tokens = _jwt_generator()
        yield client


def _bearer(client, ti_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {client.tokens.generate({'sub': ti_id})}"}


def _start_payload() -> dict:
    return {
        "state": "running",
        "hostname": "test-host",
        "unixname": "test",
        "pid": os.getpid(),
        "start_date": dt.datetime.now(dt.timezone.utc).isoformat(),
    }


def _start(client, ti_id: str) -> float:
    t0 = time.perf_counter()
    resp = client.patch(f"/execution/task-instances/{ti_id}/run", json=_start_payload(), headers=_bearer(client, ti_id))
    elapsed = time.perf_counter() - t0
    assert resp.status_code == 200, resp.text
    return elapsed


def _spooled(folder) -> list:
    return [*folder.glob("*.json"), *folder.glob("*.claimed")] if folder.exists() else []


@contextmanager
def _statements(metastore_url: str):
    """The statements ddtrack's own metastore engine runs meanwhile for the api-server (not
    Airflow's engine's, nor the test's own on this thread)."""
    seen: list[str] = []
    test_thread = threading.get_ident()

    def count(_conn, _cursor, statement, *_args) -> None:
        if threading.get_ident() != test_thread:
            seen.append(statement)

    engine = get_engine(metastore_url)
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _settle() -> None:
    """Wait until every copy the capture pool runs has finished (a copy may outlive its
    budget): both threads at once on a barrier means nothing else is running on them."""
    barrier = threading.Barrier(capture._THREADS)
    for job in [capture._pool.submit(barrier.wait, 60) for _ in range(capture._THREADS)]:
        job.result()


def _record_keys(metastore_url: str, ti_id: str):
    """dag/run/task/map_index of the ddtrack record that belongs to task instance ``ti_id``."""
    joined = XCOM.join(
        TASK_INSTANCE,
        (XCOM.c.run_id == TASK_INSTANCE.c.run_id)
        & (XCOM.c.task_id == TASK_INSTANCE.c.task_id)
        & (XCOM.c.map_index == TASK_INSTANCE.c.map_index),
    )
    with get_engine(metastore_url).connect() as conn:
        return conn.execute(
            select(XCOM.c.dag_id, XCOM.c.run_id, XCOM.c.task_id, XCOM.c.map_index)
            .select_from(joined)
            .where(TASK_INSTANCE.c.id.in_([ti_id, ti_id.replace("-", "")]), XCOM.c.key == XCOM_KEY)
        ).one()


def _forged(ti_id: str) -> str:
    """A well-formed execution-API token for ``ti_id``, signed with a key Airflow does not have."""
    now = int(time.time())
    claims = {"sub": ti_id, "aud": "urn:airflow.apache.org:task", "iat": now, "nbf": now, "exp": now + 600}
    return jwt.encode(claims, "not-the-deployment's-secret-" + "x" * 40, algorithm="HS512")


def test_requests_airflow_refuses_cost_no_statement_and_no_spool_file(
    execution_api, mapped_run, metastore_url, silent_store
):
    """The attack of issue 20: unauthenticated, forged and other task instances' requests
    on both capture paths, against task instances whose previous try's record waits in XCom."""
    ti_ids = _new_tries(metastore_url, mapped_run)
    keys = [_record_keys(metastore_url, ti) for ti in ti_ids]
    refused = []
    with _statements(metastore_url) as statements:
        for _ in range(5):
            for i, (ti, key) in enumerate(zip(ti_ids, keys, strict=True)):
                other = ti_ids[(i + 1) % len(ti_ids)]
                delete = f"/execution/xcoms/{key.dag_id}/{key.run_id}/{key.task_id}/{XCOM_KEY}"
                start = f"/execution/task-instances/{ti}/run"
                for headers in ({}, {"Authorization": "Bearer nonsense"}, {"Authorization": f"Bearer {_forged(ti)}"}):
                    refused.append(execution_api.patch(start, json=_start_payload(), headers=headers).status_code)
                    refused.append(execution_api.delete(delete, params={"map_index": key.map_index}, headers=headers).status_code)
                # A real token, of another task instance: Airflow refuses the start (403)...
                refused.append(execution_api.patch(start, json=_start_payload(), headers=_bearer(execution_api, other)).status_code)
                # ... but lets it delete this one's XComs (one team): ddtrack copies nothing.
                foreign = execution_api.delete(delete, params={"map_index": key.map_index}, headers=_bearer(execution_api, other))
                assert foreign.status_code == 200, foreign.text
        _settle()
    assert set(refused) <= {401, 403}, refused
    assert len(refused) == 5 * 10 * 7
    # One indexed read per token holder (which record is its own), then nothing.
    assert len(statements) == len(ti_ids)
    assert _spooled(silent_store) == []


def test_repeated_starts_of_one_try_copy_its_record_once(execution_api, mapped_run, metastore_url, silent_store):
    """A worker that re-sends its start request (its 5 s patience ran out), or anyone holding
    the task's token, gets one copy per try: one read, one spool file."""
    ti = _new_tries(metastore_url, mapped_run)[0]
    with _statements(metastore_url) as statements:
        for _ in range(5):
            _queue_again(metastore_url, mapped_run)
            _start(execution_api, ti)
        _settle()
    assert len(statements) == 1
    (copied,) = _spooled(silent_store)
    assert f'"map_index": {_record_keys(metastore_url, ti).map_index}' in copied.read_text()


def test_100_starts_with_a_silent_store_copy_every_record_on_bounded_threads(
    execution_api, mapped_run, metastore_url, silent_store, monkeypatch
):
    ti_ids = _ti_ids(metastore_url, mapped_run)
    assert len(ti_ids) == 10
    # Without capture: what Airflow's start costs on its own here (after a round that warms it up).
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "False")
    for _ in range(2):
        ti_ids = _new_tries(metastore_url, mapped_run)
        without = [_start(execution_api, ti) for ti in ti_ids]
    assert _spooled(silent_store) == []
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "True")

    threads_before = threading.active_count()
    with_capture = []
    for _ in range(10):  # ten new tries of each of the ten task instances
        with_capture += [_start(execution_api, ti) for ti in _new_tries(metastore_url, mapped_run)]
    threads_after = threading.active_count()
    _settle()

    print(
        f"\nstart, capture off: median {statistics.median(without) * 1000:.1f} ms"
        f"\nstart, capture on, store silent: median {statistics.median(with_capture) * 1000:.1f} ms, "
        f"max {max(with_capture) * 1000:.1f} ms over {len(with_capture)} starts"
        f"\nthreads: {threads_before} before, {threads_after} after"
    )
    # Every start of a new try copied its record, although the store never answered.
    assert len(_spooled(silent_store)) == 100
    # The capture pool's threads, the ingest thread: nothing per start.
    assert threads_after <= threads_before + capture._THREADS + 1


def test_the_xcom_delete_copies_a_record_the_start_did_not(execution_api, mapped_run, metastore_url, silent_store, monkeypatch):
    # The start request went on without its copy (capture was off for it, as if it had
    # been handled by an api-server that could not copy in time).
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "False")
    ti_id = _new_tries(metastore_url, mapped_run)[0]
    _start(execution_api, ti_id)
    monkeypatch.setenv("AIRFLOW__DDTRACK__CAPTURE_BEFORE_RETRY", "True")
    row = _record_keys(metastore_url, ti_id)
    path = f"/execution/xcoms/{DAG}/{mapped_run}/{row.task_id}/{XCOM_KEY}"

    resp = execution_api.delete(path, params={"map_index": row.map_index}, headers=_bearer(execution_api, ti_id))
    assert resp.status_code == 200, resp.text
    _settle()
    (copied,) = _spooled(silent_store)
    assert f'"map_index": {row.map_index}' in copied.read_text()
    with get_engine(metastore_url).connect() as conn:  # Airflow's delete still happened
        assert conn.execute(select(XCOM.c.key).where(XCOM.c.run_id == mapped_run, XCOM.c.map_index == row.map_index, XCOM.c.key == XCOM_KEY)).first() is None


def test_an_xcom_delete_with_another_task_instances_token_copies_nothing(
    execution_api, mapped_run, metastore_url, silent_store
):
    """Airflow lets any task's token delete any XCom (one team); ddtrack copies a record only
    for the task instance that owns it, and a task instance's own copy is made once."""
    mine, victim = _new_tries(metastore_url, mapped_run)[-2:]
    _start(execution_api, mine)  # its own start: one copy, its own record
    _settle()
    own_key, key = _record_keys(metastore_url, mine), _record_keys(metastore_url, victim)
    with _statements(metastore_url) as statements:
        for target in (key, own_key):  # the victim's record, then (as a worker does) its own
            path = f"/execution/xcoms/{target.dag_id}/{target.run_id}/{target.task_id}/{XCOM_KEY}"
            resp = execution_api.delete(path, params={"map_index": target.map_index}, headers=_bearer(execution_api, mine))
            assert resp.status_code == 200, resp.text
        _settle()
    assert statements == []
    (own,) = _spooled(silent_store)
    assert f'"map_index": {own_key.map_index}' in own.read_text()


def test_a_validator_that_cannot_be_made_is_tried_once_per_process(monkeypatch, caplog):
    """Keys missing (or a factory this Airflow lacks): one warning, and later requests do
    not pay for building the validator again."""
    import asyncio

    from airflow.api_fastapi.execution_api import app as execution_app

    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("no [api_auth] jwt_secret")

    monkeypatch.setattr(execution_app, "_jwt_validator", broken)
    capture._validator.cache_clear()
    caplog.set_level("WARNING", logger=capture.log.name)
    scope = {"headers": [(b"authorization", b"Bearer abc.def.ghi")]}
    try:
        for _ in range(3):
            assert asyncio.run(capture.token_task_instance(scope, frozenset({"execution"}), deadline=1e12)) is None
    finally:
        capture._validator.cache_clear()
    assert len(calls) == 1
    assert sum("cannot check execution-API tokens" in r.getMessage() for r in caplog.records) == 1
