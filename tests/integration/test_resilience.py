"""Hard endings on a real deployment: a task killed mid-profile, a task cleared and re-run
three times, a DAG deleted. ddtrack keeps every try it could record, never keeps a task
alive past its timeout, and cleans up after deleted DAGs."""

from __future__ import annotations

import pytest
from dev_tools.airflow_local import REPO, dags_folder_with
from helpers import postgres_deployment, task_runs, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    with postgres_deployment(
        home,
        dags_folder=dags_folder_with(home, REPO / "tests" / "integration" / "dags" / "resilience_cases.py"),
        extra_env={"AIRFLOW__DDTRACK__STRICT": "False"},
    ) as deployment:
        deployment.wait_dags(["killed_mid_profile", "titanic", "sales_producer"])
        yield deployment


def test_timeout_mid_profile_kills_the_try_and_the_retry_is_recorded(airflow):
    run_id = airflow.trigger("killed_mid_profile")
    assert airflow.wait_runs([("killed_mid_profile", run_id)], timeout=300)[("killed_mid_profile", run_id)] == "success"
    tis = airflow.api("GET", f"/api/v2/dags/killed_mid_profile/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    assert tis[0]["try_number"] == 2  # the first try really was killed by its timeout
    wait_for(
        lambda: [(r.try_number, r.state) for r in task_runs(airflow.metastore_url, "killed_mid_profile", run_id)]
        == [(2, "success")],
        timeout=90,
        what="the retry's record, and no record of the killed try",
    )
    airflow.check_alive()


def test_cleared_three_times_keeps_four_tries(airflow):
    run_id = airflow.trigger("titanic")
    airflow.wait_runs([("titanic", run_id)])
    for _ in range(3):
        assert airflow.clear_and_rerun("titanic", run_id, "features") == "success"

    def tries():
        return [(r.try_number, r.state) for r in task_runs(airflow.metastore_url, "titanic", run_id) if r.task_id == "features"]

    wait_for(lambda: tries() == [(1, "success"), (2, "success"), (3, "success"), (4, "success")], 90, "four tries")


def test_deleted_dag_leaves_no_orphans_after_cleanup(airflow):
    run_id = airflow.trigger("sales_producer")
    airflow.wait_runs([("sales_producer", run_id)])
    wait_for(lambda: task_runs(airflow.metastore_url, "sales_producer"), 90, "sales_producer's records")
    assert airflow.api("DELETE", "/api/v2/dags/sales_producer").status_code in (200, 204)
    out = airflow.run_cli(["ddtrack", "cleanup", "--orphans"]).stdout
    assert "deleted: 1 task tries" in out
    assert task_runs(airflow.metastore_url, "sales_producer") == []
    assert task_runs(airflow.metastore_url, "titanic")  # others untouched
