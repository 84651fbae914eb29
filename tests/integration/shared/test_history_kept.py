"""History outlives ``airflow db clean`` on a real deployment (shared: PostgreSQL metastore
holding ddtrack's tables, LocalExecutor, api-server, scheduler and dag-processor).

``kept_history`` runs twice (succeeding, then failing its second task); the listener stores
both runs' tries when they end. ``airflow db clean --dag-ids kept_history`` then deletes
this DAG's runs only (no other module's runs are touched). The api-server's pages and the
``ddtrack`` CLI still show both runs, with state, times and tries from ddtrack's records,
marked as kept by ddtrack; ddtrack's ingest threads in the scheduler and the api-server
delete nothing of them.
"""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import httpx
import pytest
from helpers import task_runs, wait_for
from views.dash_client import DashClient, find, texts

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1200)]

DAG = "kept_history"


def words(tree) -> list[str]:
    return [t for t in texts(tree) if t.strip(" ·")]


def test_runs_airflow_cleaned_stay_on_the_pages_and_in_the_cli(shared_airflow):
    airflow = shared_airflow
    airflow.wait_dags([DAG])
    ok, failed = airflow.trigger(DAG), airflow.trigger(DAG, conf={"fail": True})
    states = airflow.wait_runs([(DAG, ok), (DAG, failed)])
    assert states == {(DAG, ok): "success", (DAG, failed): "failed"}
    wait_for(lambda: len(task_runs(airflow.metastore_url, DAG)) == 4, what="both runs stored by the listener")

    future = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).isoformat()
    airflow.run_cli(["airflow", "db", "clean", "--clean-before-timestamp", future, "--dag-ids", DAG,
                     "--tables", "dag_run", "--skip-archive", "--yes"])
    assert airflow.api("GET", f"/api/v2/dags/{DAG}/dagRuns/{ok}").status_code == 404  # Airflow forgot them
    assert len(task_runs(airflow.metastore_url, DAG)) == 4  # ddtrack did not

    with httpx.Client(base_url=airflow.base_url, timeout=120) as http:
        pages = DashClient(http, airflow.token())
        dag_page = pages.page("dag", f"?dag_id={DAG}")
        run_page = pages.page("run", f"?dag_id={DAG}&run_id={quote(failed)}")
    rows = {
        words(r)[0]: words(r)
        for r in find(dag_page, lambda n: n["type"] == "Tr" and "dd-row-" in n["props"].get("className", ""))
    }
    assert set(rows) == {ok, failed}
    assert rows[ok][1:3] == ["success", "kept by ddtrack"] and rows[failed][1:3] == ["failed", "kept by ddtrack"]
    assert rows[failed][-2:] == ["2", "1"]  # tracked tries, failed tries
    assert "failed" in words(run_page) and "kept by ddtrack" in words(run_page)

    listed = {r["run_id"]: r for r in json.loads(airflow.run_cli(["ddtrack", "runs", DAG, "--json"]).stdout)}
    assert {r: (x["state"], x["kept_by_ddtrack"], x["tracked_tasks"]) for r, x in listed.items()} == {
        ok: ("success", True, 2),
        failed: ("failed", True, 2),
    }
    assert all(x["start"] and x["end"] for x in listed.values())
    detail = json.loads(airflow.run_cli(["ddtrack", "runs", DAG, failed, "--json"]).stdout)
    assert {t["task_id"]: (t["state"], t["try_number"]) for t in detail["tasks"]} == {
        "extract": ("success", 1),
        "load": ("failed", 1),
    }
