"""Badges and flags on a real deployment (shared: PostgreSQL, LocalExecutor, api-server as
its own process): after a scheduled run of ``titanic``, the DAG page's badges count its PII
output, home's summary does too, and a user who may not edit gets one and the same refusal
for a version id that is not stored and for a stored one. The deployment's own ingest
threads keep the per-DAG stale counts home's badge reads."""

from __future__ import annotations

import os
import time

import httpx
import pytest
from sqlalchemy import select
from views.dash_client import DashClient, texts

from ddtrack import queries
from ddtrack.queries.freshness import stale_counts_of
from ddtrack.server.stale_refresh import LEASE
from ddtrack.store.engine import get_engine
from ddtrack.store.models import Lease
from ddtrack.store.stale_counts import valid_counts

from .runs import run_stored

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG = "titanic"
FLAG = "..catalog-flag-result.children...catalog-flag-list.children.."


def badges(user: DashClient, dag_id: str) -> list[str]:
    resp = user.callback(
        "across-badges.children",
        {"id": "across-badges", "property": "children"},
        [{"id": "across-badges-dag", "property": "data", "value": dag_id}],
    )
    assert resp.status_code == 200, resp.text
    return texts(resp.json()["response"]["across-badges"]["children"])


def flag(user: DashClient, output_id: int, ids: dict) -> str:
    from views.dash_client import outputs_spec

    resp = user.callback(
        FLAG,
        outputs_spec(FLAG),
        [
            {"id": "catalog-flag-button", "property": "n_clicks", "value": 1},
            {"id": "catalog-review-button", "property": "n_clicks", "value": 0},
        ],
        [
            {"id": "catalog-flag-version", "property": "value", "value": output_id},
            {"id": "catalog-flag-note", "property": "value", "value": "looks wrong"},
            {"id": "catalog-ids", "property": "data", "value": ids},
        ],
    )
    assert resp.status_code == 200, resp.text
    return " ".join(texts(resp.json()["response"]["catalog-flag-result"]["children"]))


def test_badges_and_flag_refusals_on_a_real_deployment(shared_airflow):
    airflow = shared_airflow
    run_id = run_stored(airflow, DAG)
    sources = queries.Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
    stored = queries.find_version(sources, DAG, run_id, "load_passengers", allowed=None)
    assert stored is not None
    with httpx.Client(base_url=airflow.base_url, timeout=120) as http:
        admin = DashClient(http, airflow.token("admin"))
        assert any("1 PII output" in w for w in badges(admin, DAG))
        assert any("PII output" in w for w in badges(admin, ""))
        viewer = DashClient(http, airflow.token("viewer"))
        ids = {"dag_id": DAG, "task_id": stored.task_id, "name": stored.name}
        missing = stored.output_id + 10_000_000
        answers = [flag(viewer, output_id, ids).replace(str(output_id), "N") for output_id in (missing, stored.output_id)]
    assert answers[0] == answers[1] and "Refused" in answers[0], answers
    assert not queries.flags_of(sources, stored.output_id, allowed=None)


def test_the_deployment_keeps_the_stale_counts_up_to_date(shared_airflow):
    """No ``ddtrack`` command and no page visit: the scheduler's or api-server's ingest thread
    takes the lease and counts the DAG after its run is ingested, as the pages would."""
    airflow = shared_airflow
    run_stored(airflow, DAG)
    engine = get_engine(airflow.metastore_url)
    deadline = time.monotonic() + 120
    while True:
        with engine.connect() as conn:
            kept = valid_counts(conn)
            live = stale_counts_of(conn, [DAG])
            holder = conn.execute(select(Lease.holder).where(Lease.name == LEASE)).scalar()
        if DAG in kept:
            break
        assert time.monotonic() < deadline, f"{DAG} was not counted within 2 minutes (lease: {holder})"
        time.sleep(2)
    assert kept[DAG] == live.get(DAG, 0)
    assert holder and not holder.endswith(f":{os.getpid()}")  # one of the deployment's processes
