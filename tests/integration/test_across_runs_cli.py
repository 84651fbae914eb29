"""``ddtrack compare|drift|alerts|checks|baseline`` through the real entry point.

The store holds thirteen runs of one task (tests/views/across_runs_data.py): twelve of one
random process, then ``run_13`` whose ``amount`` moved, whose ``city`` gained a category
(the error-severity ``values_in`` check fails) and whose checks include one that cannot be
evaluated. Ingest stored drift, anomalies and check results, as the listener does.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from views.across_runs_data import DRIFTED_RUN, drifting_records

from ddtrack.store.ingest import ingest_records
from ddtrack.store.schema import upgrade

DDTRACK = str(Path(sys.executable).parent / "ddtrack")
DAG = "drifting_cli"
LAST_STABLE = "run_12"


@pytest.fixture(scope="module")
def env(airflow_home, tmp_path_factory) -> dict[str, str]:
    store = f"sqlite:///{tmp_path_factory.mktemp('across_cli') / 'ddtrack.db'}"
    upgrade(store)
    report = ingest_records(store, drifting_records(DAG))
    assert report.failed == 0, report.errors
    return {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": store, "COLUMNS": "250"}


def ddtrack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=env, timeout=300)


def as_json(env: dict[str, str], *args: str):
    proc = ddtrack(env, *args, "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_drift_rows_have_the_measures_and_flag_the_moved_column(env):
    rows = as_json(env, "drift", DAG, DRIFTED_RUN)
    assert rows and all({"column", "psi", "ks", "null_rate_change", "drifted"} <= set(r) for r in rows)
    by_column = {r["column"]: r for r in rows}
    assert by_column["amount"]["drifted"] is True and by_column["amount"]["psi"] > 0.2
    assert by_column["amount"]["baseline_run_id"] == LAST_STABLE
    assert by_column["city"]["new_categories"] == ["Rome"]
    assert by_column["a_code"]["drifted"] is False
    stable = as_json(env, "drift", DAG, LAST_STABLE)
    assert stable and not any(r["drifted"] for r in stable)


def test_drift_against_a_chosen_baseline(env):
    rows = as_json(env, "drift", DAG, DRIFTED_RUN, "--baseline", "run_03")
    assert {r["baseline_run_id"] for r in rows} == {"run_03"}
    assert {r["column"] for r in rows if r["drifted"]} >= {"amount"}


def test_alerts_carry_status_or_anomaly_and_a_column(env):
    rows = as_json(env, "alerts", "--dag", DAG)
    assert rows and all("column" in r for r in rows)
    assert all(r["status"] in ("warn", "fail") or r["anomaly"] is True for r in rows)
    kinds = {(r["kind"], r["column"], r["status"], r["anomaly"]) for r in rows if r["run_id"] == DRIFTED_RUN}
    assert ("drift", "amount", "warn", False) in kinds
    assert ("check", "city", "fail", False) in kinds
    assert any(kind == "anomaly" and column == "amount" and anomaly for kind, column, _, anomaly in kinds)
    assert not any(r["kind"] in ("drift", "anomaly") for r in rows if r["run_id"] != DRIFTED_RUN)
    assert as_json(env, "alerts", "--dag", DAG, "--since", "2030-01-01") == []
    assert all(r["started_at"].endswith("+00:00") for r in rows)  # UTC, said, as every command says it


def test_checks_of_a_run(env):
    rows = as_json(env, "checks", DAG, DRIFTED_RUN)
    by_check = {(r["check"], r["column"]): r for r in rows}
    assert by_check[("values_in", "city")]["status"] == "fail"
    assert by_check[("rows_between", None)]["status"] == "pass"
    assert by_check[("min_max", "no_such_column")]["status"] == "error"  # never silently passed
    assert {r["run_id"] for r in as_json(env, "checks", DAG)} >= {DRIFTED_RUN, LAST_STABLE}


def test_compare_gives_both_runs_values_per_column(env):
    result = as_json(env, "compare", DAG, LAST_STABLE, DRIFTED_RUN)
    assert result["run_a"] == LAST_STABLE and result["run_b"] == DRIFTED_RUN
    assert [t["task_id"] for t in result["tasks"]] == ["load"]
    columns = {c["column"]: c for c in result["columns"]}
    assert set(columns) == {"a_code", "id", "amount", "city"}
    assert 9 < columns["amount"]["a"]["mean"] < 11 and 15 < columns["amount"]["b"]["mean"] < 17
    assert columns["amount"]["drifted"] is True


def test_tables_for_people(env):
    proc = ddtrack(env, "alerts", "--dag", DAG)
    assert proc.returncode == 0, proc.stderr
    assert "status" in proc.stdout and "amount" in proc.stdout and "fail" in proc.stdout
    assert not proc.stdout.lstrip().startswith(("[", "{"))
    drift = ddtrack(env, "drift", DAG, DRIFTED_RUN)
    assert drift.returncode == 0 and "PSI" in drift.stdout and "amount" in drift.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (("drift", "no_such_dag", DRIFTED_RUN), "'no_such_dag'"),
        (("drift", DAG, "run_99"), "'run_99'"),
        (("drift", DAG, DRIFTED_RUN, "--baseline", "run_98"), "'run_98'"),
        (("compare", DAG, LAST_STABLE, "run_99"), "'run_99'"),
        (("compare", DAG, "run_97", DRIFTED_RUN), "'run_97'"),
        (("checks", DAG, "run_99"), "'run_99'"),
        (("alerts", "--dag", "no_such_dag"), "'no_such_dag'"),
        (("baseline", "pin", DAG, "load", "run_99"), "'run_99'"),
        (("baseline", "pin", DAG, "no_such_task", "run_02"), "'no_such_task'"),
    ],
)
def test_unknown_ids_get_one_line_and_exit_1(env, args, named):
    proc = ddtrack(env, *args, "--json")
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert named in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and proc.stdout == ""


@pytest.mark.parametrize(
    "args",
    [("compare", DAG, LAST_STABLE), ("drift",), ("alerts", "--since", "last tuesday"), ("baseline", "move", DAG)],
)
def test_usage_errors_exit_2(env, args):
    proc = ddtrack(env, *args)
    assert proc.returncode == 2 and "Usage:" in proc.stderr and "Traceback" not in proc.stderr


def test_pin_and_unpin_a_baseline(env):
    assert as_json(env, "baseline", "pin", DAG, "load", "run_05") == {
        "dag_id": DAG, "task_id": "load", "output": "", "run_id": "run_05", "pinned": True,
    }
    wrong = ddtrack(env, "baseline", "unpin", DAG, "load", "run_04")
    assert wrong.returncode == 1 and "'run_05'" in wrong.stderr
    assert as_json(env, "baseline", "unpin", DAG, "load")["run_id"] == "run_05"
    again = ddtrack(env, "baseline", "unpin", DAG, "load")
    assert again.returncode == 1 and "no baseline pinned" in again.stderr


def test_help_says_the_cli_reads_every_dag(env):
    for command in ("alerts", "drift", "compare", "checks"):
        proc = ddtrack(env, command, "--help")
        assert proc.returncode == 0 and "trusted operator tool" in proc.stdout


def test_the_drifting_example_dag_in_process(env, metastore_url):
    """dag.test() of tests/dags/drifting_sales.py: a stable run passes its checks, a run with
    ``{"drift": true}`` fails on the error-severity check and its results are stored."""
    from helpers import load_dag

    from ddtrack.store.ingest import ingest_run

    dag = load_dag("drifting_sales")
    stable = dag.test()
    drifted = dag.test(run_conf={"drift": True})
    assert (stable.state, drifted.state) == ("success", "failed")
    for run in (stable, drifted):
        assert ingest_run(metastore_url, metastore_url, dag.dag_id, run.run_id).failed == 0
    meta_env = {**env, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": metastore_url}
    results = {(r["run_id"], r["check"], r["status"]) for r in as_json(meta_env, "checks", "drifting_sales")}
    assert (drifted.run_id, "values_in", "fail") in results
    assert (drifted.run_id, "null_pct_at_most", "warn") in results
    assert {(stable.run_id, c, "pass") for c in ("rows_between", "unique", "values_in", "null_pct_at_most")} <= results
