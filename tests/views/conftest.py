"""Fixtures of the view tests: example DAGs run in process, Airflow's real FastAPI app.

The app is ``airflow.api_fastapi.app.create_app()`` with ddtrack's plugin loaded through
its entry point; requests carry JWTs made by the configured SimpleAuthManager, as the UI's
``_token`` cookie or a Bearer header.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from dash_client import DashClient

HERE = Path(__file__).parent


def run_dag(dag, metastore_url: str):
    """``dag.test()``, then ingest the run (what the listener does when a run ends)."""
    from ddtrack.server.ingest_worker import worker
    from ddtrack.store.ingest import ingest_run

    dag_run = dag.test()
    worker.wait_idle(60)
    report = ingest_run(metastore_url, metastore_url, dag.dag_id, dag_run.run_id)
    assert report.failed == 0, report.errors
    return dag_run


@pytest.fixture(scope="session")
def example_runs(airflow_home, metastore_url) -> dict[str, list[Any]]:
    """Every example DAG run in process (titanic twice), plus the HTML probe DAG."""
    from dev_tools.airflow_versions import dag_bag

    dags = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    probe = dags / "html_probe.py"
    if not probe.exists():
        shutil.copy(HERE / "dags" / "html_probe.py", probe)
    bag = dag_bag(str(dags))
    runs: dict[str, list[Any]] = {}
    for dag_id in (
        "titanic",
        "titanic",
        "quality_check",
        "mapped_batches",
        "sales_producer",
        "sales_consumer",
        "html_probe",
    ):
        runs.setdefault(dag_id, []).append(run_dag(bag.get_dag(dag_id), metastore_url))
    return runs


@pytest.fixture(scope="session")
def api_app(example_runs):
    """Airflow's api-server app (plugins loaded fresh), as the api-server builds it."""
    from airflow.api_fastapi.app import create_app
    from dev_tools.airflow_versions import forget_loaded_plugins

    forget_loaded_plugins()
    return create_app()


@pytest.fixture(scope="session")
def make_token(api_app):
    from airflow.api_fastapi.app import get_auth_manager
    from dev_tools.airflow_versions import simple_auth_user

    def make(username: str = "admin", role: str | None = "admin", teams: list[str] | None = None) -> str:
        return get_auth_manager().generate_jwt(simple_auth_user(username, role, teams))

    return make


@pytest.fixture
def client(api_app):
    from fastapi.testclient import TestClient

    with TestClient(api_app) as c:
        yield c


# -- users, as Airflow's SimpleAuthManager knows them --------------------------------------


@pytest.fixture
def admin(client, make_token) -> DashClient:
    return DashClient(client, make_token("admin", "admin"))


@pytest.fixture
def viewer(client, make_token) -> DashClient:
    return DashClient(client, make_token("vera", "viewer"))


@pytest.fixture
def outsider(client, make_token) -> DashClient:
    """A user the auth manager lets read no DAG (SimpleAuthManager user without a role)."""
    return DashClient(client, make_token("olga", None))
