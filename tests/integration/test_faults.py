"""Faults on a real deployment: ddtrack's own database goes down while DAGs run.

ddtrack's tables live in a PostgreSQL server this test owns; it is stopped before the
DAGs run and started again afterwards. Nothing may be lost: the listener's records wait
in XCom and are retried, and the record of a try that a retry clears is spooled to disk
by the api-server and ingested once the database is back. The tasks themselves must not
notice anything.

The database comes back only once the scheduler's ingest thread has seen it down for both
runs (its "retrying" warning in the scheduler's log), so the retry path is what is tested.
"""

from __future__ import annotations

import pytest
from dev_tools.own_postgres import OwnPostgres
from helpers import postgres_deployment, pushed_hashes, stored_hashes, sync_counts, task_runs, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    pg = OwnPostgres().init()
    pg.start()
    try:
        # setup() installs ddtrack's tables in the owned server
        with postgres_deployment(tmp_path_factory.mktemp("airflow"), store_url=pg.url) as airflow:
            airflow.wait_dags(["titanic", "quality_check"])
            pg.stop()
            runs = [(d, airflow.trigger(d)) for d in ("titanic", "quality_check")]
            airflow.states = airflow.wait_runs(runs, timeout=600)
            airflow.spooled_while_down = sorted((airflow.home / "ddtrack_spool").glob("*.json"))
            wait_for(
                lambda: all(
                    f"ddtrack ingest of {dag_id}/{run_id} failed" in airflow.log_tail("scheduler", 10**7)
                    for dag_id, run_id in runs
                ),
                timeout=120,
                what="the scheduler's ingest to fail for both runs while the database is down",
            )
            pg.start()
            airflow.pg = pg
            yield airflow
    finally:
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

    def got() -> dict:
        try:
            return {d: {(r.task_id, r.try_number) for r in task_runs(outage.pg.url, d, run_ids[d])} for d in expected}
        except Exception:  # the database may still be starting
            return {}

    wait_for(lambda: got() == expected, timeout=240, what="every try of both runs in the store", every=3)
    assert not list((outage.home / "ddtrack_spool").glob("*.json"))
    pushed = {k: v for d in expected for k, v in pushed_hashes(outage.metastore_url, d, run_ids[d]).items()}
    stored = {k: v for d in expected for k, v in stored_hashes(outage.pg.url, d, run_ids[d]).items()}
    assert pushed.items() <= stored.items()  # the cleared try is no longer in XCom, only in the store
    sync = outage.run_cli(["ddtrack", "sync"])
    assert sync_counts(sync.stdout) == (0, len(pushed), 0)
