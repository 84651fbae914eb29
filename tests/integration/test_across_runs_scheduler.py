"""Drift, anomalies and checks on a real deployment (LocalExecutor, PostgreSQL metastore
holding ddtrack's tables): the drifting example DAG runs a few times on stable data, then
once with ``{"drift": true}``.

What the listener ingests when each run ends is enough: drift and anomalies are listed by
``ddtrack alerts`` and the query layer without ``ddtrack sync``; the error-severity check
fails its task in a real worker, and that try's record (with its check results) is stored.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from helpers import postgres_deployment, task_runs, wait_for

from ddtrack.queries import Sources
from ddtrack.queries.alerts import alerts, checks_of

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1200)]

DAG = "drifting_sales"
STABLE_RUNS = 4
EXAMPLE = Path(__file__).parents[1] / "dags" / "drifting_sales.py"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    (dags / EXAMPLE.name).symlink_to(EXAMPLE)
    env = {"AIRFLOW__DDTRACK__ANOMALY_MIN_HISTORY": "3"}  # a short history is enough to flag
    with postgres_deployment(home, dags_folder=dags, extra_env=env) as airflow:
        airflow.wait_dags([DAG])
        stable = [airflow.trigger(DAG) for _ in range(STABLE_RUNS)]
        states = airflow.wait_runs([(DAG, r) for r in stable])
        assert set(states.values()) == {"success"}, states
        wait_for(lambda: len(task_runs(airflow.metastore_url, DAG)) == 2 * STABLE_RUNS, what="stable runs stored")
        drifted = airflow.trigger(DAG, conf={"drift": True})
        airflow.drifted_state = airflow.wait_runs([(DAG, drifted)])[(DAG, drifted)]
        airflow.stable, airflow.drifted = stable, drifted
        airflow.sources = Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
        wait_for(lambda: task_runs(airflow.metastore_url, DAG, drifted), what="the drifted run stored")
        yield airflow


def test_the_error_check_fails_its_task_in_a_worker_and_the_try_is_stored(deployment):
    assert deployment.drifted_state == "failed"
    (load,) = [r for r in task_runs(deployment.metastore_url, DAG, deployment.drifted) if r.task_id == "load_sales"]
    assert load.state == "failed" and load.error_type == "CheckFailed"
    assert "city" in (load.error_message or "")
    results = {(r["check"], r["column"]): r["status"] for r in checks_of(deployment.sources, None, DAG, deployment.drifted)}
    assert results == {
        ("rows_between", None): "pass",
        ("unique", "order_id"): "pass",
        ("values_in", "city"): "fail",
        ("null_pct_at_most", "discount"): "warn",
    }


def test_drift_and_anomalies_are_listed_without_sync(deployment):
    proc = deployment.run_cli(["ddtrack", "alerts", "--dag", DAG, "--json"])
    listed = json.loads(proc.stdout)

    def key(a: dict) -> tuple:
        return (a["kind"], a["run_id"], a["task_id"], a["output"], a["column"], a["status"], a["anomaly"])

    assert Counter(map(key, listed)) == Counter(map(key, alerts(deployment.sources, None, DAG)))  # the same answers
    on_drifted = {(a["kind"], a["column"]) for a in listed if a["run_id"] == deployment.drifted}
    assert {("drift", "amount"), ("drift", "city"), ("check", "city"), ("check", "discount")} <= on_drifted
    assert {("anomaly", "amount"), ("anomaly", "discount")} <= on_drifted  # mean; null %
    assert all(a["anomaly"] is True for a in listed if a["kind"] == "anomaly")
    # stable data raised no drift
    assert not [a for a in listed if a["kind"] == "drift" and a["run_id"] != deployment.drifted]
    drift = json.loads(deployment.run_cli(["ddtrack", "drift", DAG, deployment.drifted, "--json"]).stdout)
    by_column = {(d["task_id"], d["column"]): d for d in drift}
    assert by_column[("load_sales", "amount")]["drifted"] is True
    assert by_column[("load_sales", "order_id")]["drifted"] is False
    assert by_column[("load_sales", "amount")]["baseline_run_id"] in deployment.stable
