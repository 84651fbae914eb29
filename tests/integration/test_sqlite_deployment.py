"""The embedded default: a real deployment on a SQLite metastore (LocalExecutor, the
scheduler, dag-processor and api-server as processes), where ddtrack's tables share the
SQLite file with Airflow and its writes compete with the scheduler's for the lock."""

from __future__ import annotations

import pytest
from dev_tools.airflow_local import LocalAirflow
from helpers import task_runs, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.timeout(1200)]


@pytest.fixture(scope="module")
def sqlite_airflow(tmp_path_factory):
    airflow = LocalAirflow(home=tmp_path_factory.mktemp("airflow"))
    try:
        airflow.setup()
        airflow.start()
        airflow.wait_dags(["quality_check", "titanic"])
        runs = [(d, airflow.trigger(d)) for d in ("quality_check", "titanic")]
        airflow.states = airflow.wait_runs(runs, timeout=600)
        yield airflow
    finally:
        airflow.stop()


def test_every_try_is_kept_on_sqlite(sqlite_airflow):
    store = sqlite_airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    run_ids = {d: r for (d, r) in sqlite_airflow.states}
    expected = {
        "quality_check": {("extract", 1), ("check_no_missing_ages", 1), ("check_no_missing_ages", 2)},
        "titanic": {("load_passengers", 1), ("features", 1), ("train_model", 1)},
    }

    def got() -> dict:
        return {d: {(r.task_id, r.try_number) for r in task_runs(store, d, run_ids[d])} for d in expected}

    wait_for(lambda: got() == expected, timeout=120, what="every try of both runs", every=2)
    sqlite_airflow.check_alive()
