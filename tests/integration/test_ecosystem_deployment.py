"""Asset events and OpenLineage on a real deployment: PostgreSQL metastore, LocalExecutor,
scheduler, dag-processor and api-server as separate processes, Airflow's OpenLineage
provider writing to its file transport. Tasks run under the task SDK supervisor (no
metastore), the provider's listener in a fork of the task process.

Shows what a user sees: Airflow's own asset events (table, REST API and Airflow's asset page
in headless Chromium) carry the row count, an asset-triggered DAG reads ddtrack's summary from its triggering event, and the
OpenLineage events carry ddtrack's facets with the values of the stored profile.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import outputs, postgres_deployment, wait_for
from test_asset_extra import check_orders_summary
from test_openlineage import by_name, check_dataset, complete, parse_event

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1800)]

REPO = Path(__file__).resolve().parents[2]
ORDERS_URI = "file:///tmp/ddtrack-ax/orders.parquet"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    dags = home / "dags"
    dags.mkdir()
    for source in [*(REPO / "tests" / "dags").glob("*.py"), REPO / "tests" / "integration" / "dags" / "asset_extra_cases.py"]:
        (dags / source.name).symlink_to(source)
    events = home / "openlineage.jsonl"
    env = {
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "ddtrack-tests",
    }
    with postgres_deployment(home, dags_folder=dags, extra_env=env) as airflow:
        airflow.wait_dags(["titanic", "sales_producer", "sales_consumer", "ax_producer", "ax_consumer"])
        for consumer in ("sales_consumer", "ax_consumer"):
            airflow.api("PATCH", f"/api/v2/dags/{consumer}", json={"is_paused": False}).raise_for_status()
        runs = {dag_id: airflow.trigger(dag_id) for dag_id in ("titanic", "sales_producer", "ax_producer")}
        states = airflow.wait_runs(list(runs.items()), timeout=900)
        assert set(states.values()) == {"success"}, states
        consumer = wait_for(
            lambda: [r for r in airflow.find_runs("ax_consumer") if r["state"] in ("success", "failed")],
            timeout=300, what="the asset-triggered ax_consumer run",
        )[0]
        assert consumer["state"] == "success"
        airflow.runs, airflow.consumer_run, airflow.events_path = runs, consumer["dag_run_id"], events
        # The listener's thread ingests each run when it ends.
        wait_for(lambda: ("write_orders", "return_value") in outputs(airflow.metastore_url, "ax_producer", runs["ax_producer"]),
                 timeout=300, what="ax_producer's outputs in ddtrack's tables")
        wait_for(lambda: len(outputs(airflow.metastore_url, "titanic", runs["titanic"])) == 4,
                 timeout=300, what="titanic's outputs in ddtrack's tables")
        yield airflow


def stored_orders(deployment):
    return outputs(deployment.metastore_url, "ax_producer", deployment.runs["ax_producer"])[("write_orders", "return_value")]


def test_asset_event_row_stores_the_summary(deployment):
    engine = sa.create_engine(deployment.metastore_url)
    try:
        with engine.connect() as conn:
            rows = dict(conn.execute(
                sa.text("SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE e.source_run_id = :r"),
                {"r": deployment.runs["ax_producer"]},
            ).all())
    finally:
        engine.dispose()
    extra = rows[ORDERS_URI]
    check_orders_summary(extra if isinstance(extra, dict) else json.loads(extra), stored_orders(deployment))


def test_airflow_rest_api_shows_the_row_count(deployment):
    """What Airflow's own asset page lists: GET /api/v2/assets/events."""
    resp = deployment.api("GET", "/api/v2/assets/events", params={"source_dag_id": "ax_producer", "limit": 100})
    resp.raise_for_status()
    events = [e for e in resp.json()["asset_events"] if e["source_run_id"] == deployment.runs["ax_producer"]]
    orders = next(e for e in events if e["uri"] == ORDERS_URI)
    check_orders_summary(orders["extra"], stored_orders(deployment))
    assert orders["extra"]["ddtrack"]["rows"] == 40


def test_asset_triggered_dag_reads_the_summary(deployment):
    resp = deployment.api(
        "GET", f"/api/v2/dags/ax_consumer/dagRuns/{deployment.consumer_run}/taskInstances/read_summary/xcomEntries/return_value"
    )
    resp.raise_for_status()
    value = resp.json()["value"]
    value = json.loads(value) if isinstance(value, str) else value
    assert value["source"] == "shop-db"
    assert value["ddtrack"]["rows"] == 40 and value["ddtrack"]["null_pct_max_column"] == "discount"
    assert value["ddtrack"]["schema"] == stored_orders(deployment).schema_fingerprint


def test_openlineage_events_carry_ddtrack_facets(deployment):
    events = [json.loads(line) for line in deployment.events_path.read_text().splitlines()]
    for event in events:
        parse_event(event)
    orders = complete(events, "ax_producer.write_orders")
    assert set(by_name(orders["outputs"])) == {("file", "/tmp/ddtrack-ax/orders.parquet"), ("s3://ax-bucket", "customers.parquet")}
    checked = 0
    for job, dag_id in (("ax_producer.write_orders", "ax_producer"), ("ax_producer.summarize", "ax_producer"),
                        ("titanic.load_passengers", "titanic"), ("titanic.features", "titanic")):
        stored = outputs(deployment.metastore_url, dag_id, deployment.runs[dag_id])
        for dataset in complete(events, job)["outputs"]:
            facet = dataset["facets"]["ddtrack"]
            check_dataset(dataset, stored[(facet["taskId"], facet["outputName"])])
            checked += 1
    assert checked == 6
    (upstream,) = complete(events, "ax_producer.summarize")["inputs"]
    assert upstream["inputFacets"]["dataQualityMetrics"]["rowCount"] == 40


@pytest.mark.browser
def test_airflow_asset_page_shows_the_row_count(deployment):
    """Airflow's own asset page (its React UI, not ddtrack's) in headless Chromium: the
    producer's event lists ddtrack's summary in its extra, the row count among it. The
    screenshot goes to img/airflow_asset_event.png (README)."""
    from browser.test_views_in_airflow import CHROMIUM, CHROMIUM_ARGS, IMG, TIMEOUT_MS

    playwright = pytest.importorskip("playwright.sync_api")
    resp = deployment.api("GET", "/api/v2/assets", params={"uri_pattern": "orders.parquet"})
    resp.raise_for_status()
    (asset,) = [a for a in resp.json()["assets"] if a["uri"] == ORDERS_URI]
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = chromium.new_context(viewport={"width": 1440, "height": 1000})
            context.set_default_timeout(TIMEOUT_MS)
            page = context.new_page()
            page.goto(f"{deployment.base_url}/")
            page.get_by_label("Username").fill("admin")
            page.get_by_label("Password").fill("admin")
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{deployment.base_url}/")
            page.goto(f"{deployment.base_url}/assets/{asset['id']}")
            editor = page.locator(".monaco-editor").first
            editor.wait_for()
            # The extra is shown folded: unfold it, then the ddtrack entry inside it (each
            # unfold re-renders the editor, which a loaded machine takes a while to do).
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while True:
                text = editor.locator(".view-lines").inner_text().replace("\u00a0", " ")
                if '"rows": 40' in text or time.monotonic() > deadline:
                    break
                folded = editor.locator(".codicon-folding-collapsed")
                if folded.count():
                    folded.first.click(force=True)
                page.wait_for_timeout(500)
            assert '"ddtrack"' in text and '"rows": 40' in text, text
            page.screenshot(path=str(IMG / "airflow_asset_event.png"))
        finally:
            chromium.close()
