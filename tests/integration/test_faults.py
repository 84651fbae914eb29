"""Faults on a real deployment: ddtrack's own database goes down while DAGs run.

ddtrack's tables live in a PostgreSQL server this test owns; it is stopped before the
DAGs run and started again afterwards. Nothing may be lost: the listener's records wait
in XCom and are retried, and the record of a try that a retry clears is spooled to disk
by the api-server and ingested once the database is back. The tasks themselves must not
notice anything.
"""

from __future__ import annotations

import time

import pytest
from dev_tools.airflow_local import LocalAirflow, create_postgres_database, drop_database
from dev_tools.own_postgres import OwnPostgres
from helpers import task_runs

from ddtrack.store.engine import dispose_all

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    pg = OwnPostgres().init()
    pg.start()
    metastore = create_postgres_database()
    airflow = LocalAirflow(home=tmp_path_factory.mktemp("airflow"), metastore_url=metastore, store_url=pg.url)
    try:
        airflow.setup()  # installs ddtrack's tables in the owned server
        airflow.start()
        airflow.wait_dags(["titanic", "quality_check"])
        pg.stop()
        runs = [(d, airflow.trigger(d)) for d in ("titanic", "quality_check")]
        airflow.states = airflow.wait_runs(runs, timeout=600)
        airflow.spooled_while_down = sorted((airflow.home / "ddtrack_spool").glob("*.json"))
        time.sleep(3)
        pg.start()
        airflow.pg = pg
        yield airflow
    finally:
        airflow.stop()
        dispose_all()
        drop_database(metastore)
        pg.remove()


def test_tasks_did_not_notice(outage):
    states = {d: s for (d, _), s in outage.states.items()}
    assert states == {"titanic": "success", "quality_check": "failed"}  # quality_check fails by design
    outage.check_alive()


def test_the_cleared_try_was_spooled_while_the_database_was_down(outage):
    assert len(outage.spooled_while_down) == 1


def test_everything_arrives_once_the_database_is_back(outage):
    expected = {
        "titanic": {("load_passengers", 1), ("features", 1), ("train_model", 1)},
        "quality_check": {("extract", 1), ("check_no_missing_ages", 1), ("check_no_missing_ages", 2)},
    }
    run_ids = {d: r for (d, r) in outage.states}
    deadline = time.monotonic() + 240
    got: dict = {}
    while time.monotonic() < deadline:
        try:
            got = {d: {(r.task_id, r.try_number) for r in task_runs(outage.pg.url, d, run_ids[d])} for d in expected}
        except Exception:
            got = {}
        if got == expected:
            break
        time.sleep(3)
    assert got == expected
    assert not list((outage.home / "ddtrack_spool").glob("*.json"))
    sync = outage.run_cli(["ddtrack", "sync"])
    assert "0 failed" in sync.stdout
