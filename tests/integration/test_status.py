"""``ddtrack status``: the schema states it tells apart, its panel, and a real deployment
reported healthy, then unhealthy once ddtrack's database is stopped."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import time

import pytest
import sqlalchemy as sa
from dev_tools.airflow_local import BIN, LocalAirflow
from dev_tools.own_postgres import OwnPostgres

from ddtrack.queries import Sources
from ddtrack.queries.status import (
    DatabaseState,
    DeploymentStatus,
    PluginState,
    deployment_status,
    store_state,
)
from ddtrack.server import spool
from ddtrack.store import spool_folder
from ddtrack.store.schema import head_revision, upgrade
from ddtrack.views.status_panel import status_panel


def test_store_states(tmp_path):
    url = f"sqlite:///{tmp_path / 'own.db'}"
    assert store_state(url).state == "not_installed"
    assert not (tmp_path / "own.db").exists()  # reported, never created
    upgrade(url, "0001")
    old = store_state(url)
    assert (old.state, old.revision, old.head) == ("outdated", "0001", head_revision())
    upgrade(url)
    assert store_state(url).ok
    with sa.create_engine(url).begin() as conn:
        conn.execute(sa.text("UPDATE ddtrack_alembic_version SET version_num = '9999'"))
    assert store_state(url).state == "newer"


def test_spool_and_dead_letters_are_problems(tmp_path, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__SPOOL_DIR", str(tmp_path / "spool"))
    store = f"sqlite:///{tmp_path / 'own.db'}"
    upgrade(store)
    sources = Sources(store_url=store, metastore_url=f"sqlite:///{tmp_path / 'none.db'}")
    clean = deployment_status(sources)
    assert (clean.spool_pending, clean.dead_letters) == (0, 0)
    assert [p for p in clean.problems if "wait in the spool" in p or "could not be stored" in p] == []
    spool.put([{"dag_id": "d"}, {"dag_id": "e"}])
    (tmp_path / "spool" / spool_folder.DEAD).mkdir()
    (tmp_path / "spool" / spool_folder.DEAD / "x.json").write_text("{}")
    report = deployment_status(sources)
    assert (report.spool_pending, report.dead_letters) == (2, 1)
    assert f"2 record(s) wait in the spool {tmp_path / 'spool'}: run `ddtrack sync`" in report.problems
    assert any(p.startswith(f"1 record(s) could not be stored and sit in {tmp_path / 'spool' / 'dead'}")
               for p in report.problems)
    assert report.metastore.state == "missing" and not report.healthy


def _report(problems: list[str]) -> DeploymentStatus:
    ok = DatabaseState("sqlite:////tmp/airflow.db", "ok", revision=head_revision(), head=head_revision())
    return DeploymentStatus(
        airflow_version="3.3.2",
        airflow_supported=True,
        metastore=ok,
        store=ok,
        plugin=PluginState(True, True, True),
        waiting_in_xcom=2,
        oldest_waiting=dt.datetime(2026, 1, 2, 3, 4, 5),
        stuck_in_xcom=0,
        spool_dir="/tmp/spool",
        spool_pending=0,
        dead_letters=0,
        last_ingest=dt.datetime(2026, 1, 2, 3, 4, 6),
        retention_days=90,
        table_rows={"ddtrack_task_run": 1234},
        problems=problems,
    )


def _texts(component) -> list[str]:
    children = getattr(component, "children", component)
    if isinstance(children, str):
        return [children]
    if isinstance(children, (list, tuple)):
        return [t for c in children for t in _texts(c)]
    return _texts(children) if children is not None and children is not component else []


def test_panel_shows_the_summary_and_each_problem_as_text():
    healthy = _texts(status_panel(_report([])))
    assert "Healthy: tracking works." in healthy
    assert "2, oldest pushed 2026-01-02 03:04:05 UTC" in healthy and "task_run 1,234" in healthy
    problem = "<b>ddtrack's tables</b> are missing: run `ddtrack install`"
    unhealthy = _texts(status_panel(_report([problem])))
    assert problem in unhealthy and "Healthy: tracking works." not in unhealthy
    assert json.loads(json.dumps(_report([problem]).to_json()))["healthy"] is False


def _status(airflow: LocalAirflow) -> tuple[int, dict, str]:
    """``ddtrack status --json`` and ``ddtrack status`` in the deployment's environment."""
    as_json = subprocess.run(
        [str(BIN / "ddtrack"), "status", "--json"], env=airflow.env, capture_output=True, text=True, timeout=120
    )
    table = subprocess.run([str(BIN / "ddtrack"), "status"], env=airflow.env, capture_output=True, text=True, timeout=120)
    assert as_json.returncode == table.returncode, table.stdout + table.stderr
    assert "Traceback" not in as_json.stderr + table.stderr
    return as_json.returncode, json.loads(as_json.stdout), table.stdout


@pytest.mark.scheduler
@pytest.mark.postgres
@pytest.mark.timeout(1200)
def test_status_of_a_real_deployment_healthy_then_its_store_stopped(tmp_path):
    """A demo-like deployment (SQLite metastore, LocalExecutor) with ddtrack's tables in a
    PostgreSQL server of the test's own: healthy after a tracked run; a record the
    listener lost is reported until `ddtrack sync`; unhealthy once the server stops."""
    pg = OwnPostgres().init()
    pg.start()
    airflow = LocalAirflow(home=tmp_path / "home", store_url=pg.url)
    try:
        with airflow:
            airflow.wait_dags(["titanic"])
            run_id = airflow.trigger("titanic")
            assert airflow.wait_runs([("titanic", run_id)])[("titanic", run_id)] == "success"
            deadline = time.monotonic() + 120
            code, report, table = _status(airflow)
            while report["waiting_in_xcom"] and time.monotonic() < deadline:  # the listener's thread
                time.sleep(2)
                code, report, table = _status(airflow)
            assert code == 0, table
            assert "healthy: tracking works" in table and f"{head_revision()} (current)" in table
            assert report["store"]["state"] == "ok" and report["metastore"]["state"] == "ok"
            assert report["plugin"] == {"loaded": True, "listener_active": True, "capture_active": True, "detail": ""}
            assert report["waiting_in_xcom"] == 0 and report["table_rows"]["ddtrack_task_run"] == 3
            assert report["last_ingest"] is not None

            # A record the listener lost: it waits in XCom, and once its run is long over, status says so.
            with sa.create_engine(pg.url).begin() as conn:
                conn.execute(sa.text("DELETE FROM ddtrack_task_run WHERE task_id = 'features'"))
            later = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(hours=1)
            sources = Sources(store_url=pg.url, metastore_url=airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
            lost = deployment_status(sources, now=later)
            assert (lost.waiting_in_xcom, lost.stuck_in_xcom) == (1, 1)
            assert any("still wait in XCom: run `ddtrack sync`" in p for p in lost.problems)
            airflow.run_cli(["ddtrack", "sync"])
            assert deployment_status(sources, now=later).waiting_in_xcom == 0

            pg.stop()
            code, report, table = _status(airflow)
            assert code == 1 and report["store"]["state"] == "unreachable"
            assert report["waiting_in_xcom"] is None
            expected = (
                f"! ddtrack's database postgresql+psycopg2://postgres@127.0.0.1:{pg.port}/postgres is unreachable"
            )
            line = next(line for line in table.splitlines() if line.startswith(expected))
            assert line.endswith("records wait in XCom and the spool until it answers; check that it runs and "
                                 "[ddtrack] sql_alchemy_conn"), line
    finally:
        pg.remove()
