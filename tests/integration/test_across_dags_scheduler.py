"""Across DAGs on a real deployment (LocalExecutor, PostgreSQL metastore holding ddtrack's
tables, api-server, dag-processor): titanic and sales_producer run (the Asset schedules
sales_consumer), then titanic_report, which reads titanic's model_input file and the
daily_sales Asset.

What the listener ingests when each run ends is enough (no ``ddtrack sync``): the CLI traces
the report back through two DAG boundaries to exact runs and titanic's external input,
lists the PII output and its consumers, flags titanic's passengers and lists the suspects
downstream, clears one with a review, and after titanic runs again reports the report
stale with its reason.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import postgres_deployment, task_runs, wait_for

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]

EXAMPLES = Path(__file__).parents[1] / "dags"
FILES = ("_demo_data.py", "titanic.py", "shared_asset.py", "titanic_report.py")
FARES = "s3://example-bucket/fares.parquet"
REPORT = ("titanic_report", "build_report", "report")


def _stored(airflow, dag_id: str, run_id: str, tasks: int):
    return wait_for(lambda: len(task_runs(airflow.metastore_url, dag_id, run_id)) == tasks, timeout=120,
                    what=f"{dag_id} {run_id} stored by the listener")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    for name in FILES:
        (dags / name).symlink_to(EXAMPLES / name)
    with postgres_deployment(home, dags_folder=dags) as airflow:
        airflow.wait_dags(["titanic", "sales_producer", "sales_consumer", "titanic_report"])
        airflow.api("PATCH", "/api/v2/dags/sales_consumer", json={"is_paused": False}).raise_for_status()
        first = {"titanic": airflow.trigger("titanic"), "sales_producer": airflow.trigger("sales_producer")}
        states = airflow.wait_runs(list(first.items()))
        assert set(states.values()) == {"success"}, states
        consumer = wait_for(lambda: [r for r in airflow.find_runs("sales_consumer") if r["state"] == "success"],
                            timeout=240, what="the Asset-scheduled sales_consumer")
        report = airflow.trigger("titanic_report")
        assert airflow.wait_runs([("titanic_report", report)])[("titanic_report", report)] == "success"
        airflow.runs = {**first, "sales_consumer": consumer[0]["dag_run_id"], "titanic_report": report}
        for dag_id, tasks in (("titanic", 3), ("sales_producer", 1), ("sales_consumer", 1), ("titanic_report", 1)):
            _stored(airflow, dag_id, airflow.runs[dag_id], tasks)  # by the listener: no `ddtrack sync`
        yield airflow


def cli(deployment, *args: str):
    return json.loads(deployment.run_cli(["ddtrack", *args, "--json"]).stdout)


def versions(result: dict) -> set[tuple[str, str, str, str]]:
    return {(n["dag_id"], n["run_id"], n["task_id"], n["version"]["name"]) for n in result["nodes"] if n["kind"] == "version"}


def test_trace_of_the_report_crosses_two_dags_to_exact_runs(deployment):
    runs = deployment.runs
    result = cli(deployment, "trace", "titanic_report", runs["titanic_report"], "build_report")
    found = versions(result)
    assert ("titanic", runs["titanic"], "features", "model_input") in found  # DAG boundary 1: a file URI
    assert ("titanic", runs["titanic"], "load_passengers", "return_value") in found
    assert ("sales_producer", runs["sales_producer"], "write_daily_sales", "return_value") in found  # 2: the Asset
    assert any(n["kind"] == "external" and n["uri"] == FARES for n in result["nodes"])
    tries = {(n["dag_id"], n["task_id"]): n for n in result["nodes"] if n["kind"] == "try"}
    assert tries[("titanic", "features")]["code_hash"] and tries[("titanic", "features")]["run_id"] == runs["titanic"]
    assert result["hidden"] == 0 and not result["truncated"]


def test_pii_lists_the_passengers_and_their_consumers(deployment):
    report = cli(deployment, "pii")
    pii = {(d["dag_id"], d["task_id"], d["name"]): d["pii_columns"] for d in report["pii_outputs"]}
    assert pii == {("titanic", "load_passengers", "return_value"): ["name"]}
    # features drops name, the one PII column: PII follows columns, so nothing downstream of it
    # (model_input, the model, the report across DAGs) is PII-derived.
    assert report["derived"] == []
    assert {"dag_id": "titanic", "task_id": "load_passengers", "output": "return_value", "column": "name",
            "pii": "declared", "via": []} in report["columns"]
    assert not any(c["pii"] == "derived" for c in report["columns"])


def test_flag_suspects_and_review(deployment):
    runs = deployment.runs
    flag = cli(deployment, "flag", "titanic", runs["titanic"], "load_passengers", "--note", "manifest was cut short",
               "--user", "alice")
    assert (flag["flagged_by"], flag["note"], flag["run_id"]) == ("alice", "manifest was cut short", runs["titanic"])
    suspects = cli(deployment, "suspects")
    keys = {(s["version"]["dag_id"], s["version"]["run_id"], s["version"]["task_id"], s["version"]["name"])
            for s in suspects}
    assert ("titanic_report", runs["titanic_report"], "build_report", "report") in keys
    assert ("titanic", runs["titanic"], "features", "model_input") in keys
    assert not any(dag.startswith("sales_") for dag, _, _, _ in keys)
    cleared = cli(deployment, "review", "titanic_report", runs["titanic_report"], "build_report", "--note", "fine",
                  "--user", "bob")
    assert cleared["id"] == flag["id"]
    after = {(s["version"]["dag_id"], s["version"]["task_id"]) for s in cli(deployment, "suspects")}
    assert ("titanic_report", "build_report") not in after and ("titanic", "features") in after


def test_the_report_is_stale_after_titanic_runs_again(deployment):
    assert not [s for s in cli(deployment, "stale")["stale"] if s["dag_id"] == "titanic_report"]
    again = deployment.trigger("titanic")
    assert deployment.wait_runs([("titanic", again)])[("titanic", again)] == "success"
    _stored(deployment, "titanic", again, 3)
    stale = {(s["dag_id"], s["task_id"], s["name"]): s for s in cli(deployment, "stale")["stale"]}
    report = stale[REPORT]
    assert report["run_id"] == deployment.runs["titanic_report"]
    assert "model_input" in report["reason"] and "changed" in report["reason"]
