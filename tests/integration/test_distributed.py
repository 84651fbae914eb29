"""A distributed deployment: CeleryExecutor, Redis broker, PostgreSQL metastore, and a
worker whose environment holds no metastore connection at all (its own AIRFLOW_HOME).
The example DAGs are triggered through the REST API; every tracked output must reach
ddtrack's tables, through XCom and the scheduler-side ingest only.
"""

from __future__ import annotations

import random
import time

import pytest
from dev_tools.airflow_local import (
    REPO,
    LocalAirflow,
    create_postgres_database,
    dags_folder_with,
    drop_database,
)
from helpers import outputs, task_runs

from ddtrack.store.engine import dispose_all

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]

EXPECTED_OUTPUTS = {
    "titanic": {("load_passengers", "return_value"), ("features", "return_value"), ("features", "model_input"), ("train_model", "return_value")},
    "mapped_batches": {("load_day", "return_value"), ("combine", "return_value"), ("combine", "warehouse_load")},
    "sales_producer": {("write_daily_sales", "return_value")},
    "sales_consumer": {("store_totals", "return_value")},
    "quality_check": {("extract", "return_value")},
}


@pytest.fixture(scope="module")
def celery_deployment(tmp_path_factory):
    import redis

    db = random.randint(1, 15)
    client = redis.Redis(host="127.0.0.1", port=6379, db=db)
    client.flushdb()
    metastore = create_postgres_database()
    home = tmp_path_factory.mktemp("airflow")
    airflow = LocalAirflow(
        home=home,
        metastore_url=metastore,
        executor="CeleryExecutor",
        redis_db=db,
        dags_folder=dags_folder_with(home, REPO / "tests" / "integration" / "dags" / "worker_dies.py"),
        extra_env={
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
        },
    )
    try:
        airflow.setup()
        airflow.start()
        airflow.start_celery_worker()
        airflow.states = airflow.run_examples()
        yield airflow
    finally:
        airflow.stop()
        dispose_all()
        drop_database(metastore)
        client.flushdb()


def test_worker_has_no_metastore(celery_deployment):
    env = celery_deployment.worker_env()
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    assert env["AIRFLOW_HOME"] != str(celery_deployment.home)
    assert "celery worker" in celery_deployment.processes


def test_every_tracked_output_arrives(celery_deployment):
    by_dag = {dag_id: (run_id, state) for (dag_id, run_id), state in celery_deployment.states.items()}
    assert by_dag["quality_check"][1] == "failed"
    assert all(state == "success" for dag_id, (_, state) in by_dag.items() if dag_id != "quality_check")
    store = celery_deployment.metastore_url
    deadline = time.monotonic() + 60
    missing = {}
    while time.monotonic() < deadline:
        missing = {
            dag_id: expected - set(outputs(store, dag_id, by_dag[dag_id][0]))
            for dag_id, expected in EXPECTED_OUTPUTS.items()
        }
        if not any(missing.values()):
            break
        time.sleep(2)
    assert not any(missing.values()), missing
    mapped = task_runs(store, "mapped_batches", by_dag["mapped_batches"][0])
    assert sorted(r.map_index for r in mapped if r.task_id == "load_day") == [0, 1, 2, 3]
    checks = [r for r in task_runs(store, "quality_check", by_dag["quality_check"][0]) if r.task_id == "check_no_missing_ages"]
    assert [r.try_number for r in checks] == [1, 2]


def test_visible_through_the_views_query_layer(celery_deployment):
    from ddtrack import queries

    sources = queries.Sources(store_url=celery_deployment.metastore_url, metastore_url=celery_deployment.metastore_url)
    by_dag = {dag_id: run_id for (dag_id, run_id) in celery_deployment.states}
    assert {d.dag_id for d in queries.tracked_dags(sources, allowed=None)} >= set(EXPECTED_OUTPUTS)
    detail = queries.task_instance(sources, "titanic", by_dag["titanic"], "features", allowed=None)
    assert detail is not None and {o.name for o in detail.outputs} == {"return_value", "model_input"}
    assert any(i.get("task_id") == "load_passengers" or "load_passengers" in str(i) for i in detail.inputs)
    history = queries.task_history(sources, "quality_check", "check_no_missing_ages", allowed=None)
    assert [(h.try_number, h.state) for h in sorted(history, key=lambda h: h.try_number)] == [(1, "failed"), (2, "failed")]


def test_a_dead_worker_loses_nothing_ddtrack_recorded(celery_deployment):
    """Kill the worker (and its task) mid-try, start a new one: Airflow retries the task and
    ddtrack records the retry; the killed try simply has no record, and nothing errors."""
    import os
    import signal

    from ddtrack import queries

    airflow = celery_deployment
    airflow.wait_dags(["worker_dies"])
    run_id = airflow.trigger("worker_dies")
    path = f"/api/v2/dags/worker_dies/dagRuns/{run_id}/taskInstances/long_job"
    deadline = time.monotonic() + 120
    while airflow.api("GET", path).json().get("state") != "running" and time.monotonic() < deadline:
        time.sleep(1)
    time.sleep(3)
    worker = airflow.processes.pop("celery worker")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    airflow.start_celery_worker()
    states = airflow.wait_runs([("worker_dies", run_id)], timeout=600)
    assert states[("worker_dies", run_id)] == "success"
    deadline = time.monotonic() + 60
    tries: list = []
    while time.monotonic() < deadline:
        tries = [(r.try_number, r.state) for r in task_runs(airflow.metastore_url, "worker_dies", run_id)]
        if tries and tries[-1][1] == "success":
            break
        time.sleep(2)
    assert tries and tries[-1] == (airflow.api("GET", path).json()["try_number"], "success")
    assert all(state == "success" for _, state in tries)  # the killed try pushed nothing
    sources = queries.Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
    detail = queries.task_instance(sources, "worker_dies", run_id, "long_job", allowed=None)
    assert detail is not None and detail.outputs[0].kind == "dict"
