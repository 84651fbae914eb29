"""A distributed deployment: CeleryExecutor, Redis broker, PostgreSQL metastore, and a
worker whose environment holds no metastore connection at all (its own AIRFLOW_HOME).
The example DAGs are triggered through the REST API; every tracked output must reach
ddtrack's tables, through XCom and the scheduler-side ingest only.
"""

from __future__ import annotations

import os
import signal
import uuid

import pytest
from dev_tools.airflow_local import REPO, dags_folder_with
from helpers import outputs, postgres_deployment, task_runs, wait_for

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
    """The deployment's Celery keys all live under a prefix of its own on the shared Redis
    server; only those keys are deleted afterwards."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, db=0)
    prefix = f"ddtrack-test-{uuid.uuid4().hex[:12]}:"
    others_before = set(client.keys())
    home = tmp_path_factory.mktemp("airflow")
    markers = home / "markers"
    markers.mkdir()
    try:
        with postgres_deployment(
            home,
            executor="CeleryExecutor",
            redis_prefix=prefix,
            dags_folder=dags_folder_with(home, REPO / "tests" / "integration" / "dags" / "worker_dies.py"),
            extra_env={
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
                "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
                "DDTRACK_TEST_MARKERS": str(markers),
            },
        ) as airflow:
            airflow.start_celery_worker()
            airflow.states = airflow.run_examples()
            airflow.markers = markers
            airflow.redis_keys = {k.decode() for k in set(client.keys()) - others_before}
            yield airflow
    finally:
        own = list(client.scan_iter(match=f"{prefix}*"))
        if own:
            client.delete(*own)


def test_worker_has_no_metastore(celery_deployment):
    env = celery_deployment.worker_env()
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" not in env
    assert env["AIRFLOW_HOME"] != str(celery_deployment.home)
    assert "celery worker" in celery_deployment.processes


def test_celery_keeps_its_redis_keys_under_the_test_prefix(celery_deployment):
    prefix = celery_deployment.redis_prefix
    assert any(k.startswith(prefix) for k in celery_deployment.redis_keys)  # Celery did use Redis
    assert not [k for k in celery_deployment.redis_keys if not k.startswith(prefix)]


def test_every_tracked_output_arrives(celery_deployment):
    by_dag = {dag_id: (run_id, state) for (dag_id, run_id), state in celery_deployment.states.items()}
    assert by_dag["quality_check"][1] == "failed"
    assert all(state == "success" for dag_id, (_, state) in by_dag.items() if dag_id != "quality_check")
    store = celery_deployment.metastore_url

    def missing() -> dict[str, set]:
        return {
            dag_id: expected - set(outputs(store, dag_id, by_dag[dag_id][0]))
            for dag_id, expected in EXPECTED_OUTPUTS.items()
        }

    try:
        wait_for(lambda: not any(missing().values()), timeout=60, what="every tracked output", every=2)
    except TimeoutError:
        pytest.fail(f"outputs missing after 60 s: {missing()}")
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
    assert sorted(
        (i["direction"], i["kind"], i["name"], i["uri"], i["upstream_task_id"], i["upstream_output"])
        for i in detail.inputs
    ) == [
        ("input", "task", "return_value", None, "load_passengers", "return_value"),
        ("input", "uri", "fares", "s3://example-bucket/fares.parquet", None, None),
    ]
    history = queries.task_history(sources, "quality_check", "check_no_missing_ages", allowed=None)
    assert [(h.try_number, h.state) for h in sorted(history, key=lambda h: h.try_number)] == [(1, "failed"), (2, "failed")]


def test_a_dead_worker_loses_nothing_ddtrack_recorded(celery_deployment):
    """Kill the worker (and its task) mid-try, start a new one: Airflow retries the task and
    ddtrack records the retry; the killed try simply has no record, and nothing errors.
    The worker is killed once the first try's task code runs (it writes a marker file)."""
    from ddtrack import queries

    airflow = celery_deployment
    airflow.wait_dags(["worker_dies"])
    run_id = airflow.trigger("worker_dies")
    path = f"/api/v2/dags/worker_dies/dagRuns/{run_id}/taskInstances/long_job"
    marker = airflow.markers / f"{run_id}.running"
    wait_for(marker.exists, timeout=180, what="the first try of long_job to run its code")
    assert airflow.api("GET", path).json()["state"] == "running"
    worker = airflow.processes.pop("celery worker")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    airflow.start_celery_worker()
    states = airflow.wait_runs([("worker_dies", run_id)], timeout=600)
    assert states[("worker_dies", run_id)] == "success"
    def tries() -> list[tuple[int, str]]:
        return [(r.try_number, r.state) for r in task_runs(airflow.metastore_url, "worker_dies", run_id)]

    wait_for(lambda: tries() and tries()[-1][1] == "success", timeout=60, what="the retry's record", every=2)
    assert tries()[-1] == (airflow.api("GET", path).json()["try_number"], "success")
    assert all(state == "success" for _, state in tries())  # the killed try pushed nothing
    sources = queries.Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
    detail = queries.task_instance(sources, "worker_dies", run_id, "long_job", allowed=None)
    assert detail is not None and detail.outputs[0].kind == "dict"
