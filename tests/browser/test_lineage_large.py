"""The lineage of a 5,000-task DAG in headless Chromium against a live api-server.

The deployment is benchmarks/lineage_speed.py's: a real 5,000-task DAG file in 50 task
groups serialized into a PostgreSQL metastore, 10,000 data edges in ddtrack's side tables,
and three DAGs joined to it through shared datasets. The tests check what a person sees
(no timings: the benchmark times the same steps) and write img/lineage_large.png and
img/lineage_across_dags.png.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.scheduler, pytest.mark.postgres]

REPO = Path(__file__).resolve().parents[2]
IMG = REPO / "img"
CHROMIUM = os.environ.get("DDTRACK_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "tests"))

import lineage_speed  # noqa: E402  (benchmarks/, put on the path above)
from lineage_speed import CY, click_node, wait_graph  # noqa: E402


@pytest.fixture(scope="module")
def big():
    from dev_tools.airflow_local import create_postgres_database, drop_database

    try:
        metastore = create_postgres_database()
    except Exception as exc:  # no server: a skip, which CI=true turns into a failure
        pytest.skip(f"no PostgreSQL server: {exc}")
    home = Path(tempfile.mkdtemp(prefix="ddtrack-lineage-large-"))
    airflow = None
    try:
        airflow, _, _ = lineage_speed.deploy(home, metastore)
        yield airflow
    finally:
        if airflow is not None:
            airflow.remove()
        drop_database(metastore)


@pytest.fixture(scope="module")
def page(big):
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1440, "height": 1250})
        context.set_default_timeout(120_000)
        context.add_cookies([{"name": "_token", "value": big.token("admin"), "url": big.base_url}])
        yield context.new_page()
        browser.close()


def node_ids(page) -> set[str]:
    return set(page.evaluate(f"() => {CY}.nodes().map(n => n.id())"))


def pick_depth(page, depth: int) -> None:
    page.locator(f"#dag-lineage-depth input[value='{depth}']").check()


TASK = "task::big_lineage::g25.s2_k10"


def test_the_5000_task_graph_groups_focus_and_search(big, page):
    page.goto(f"{big.base_url}/ddtrack/dag?dag_id=big_lineage")
    wait_graph(page, "cy.getElementById('group::g25').length > 0")
    groups = {f"group::g{g:02d}" for g in range(50)}
    ids = node_ids(page)
    # the 50 closed groups, the dataset it reads and the DAGs joined to it through datasets
    assert ids == groups | {"uri::s3://lake/raw.parquet", "dag::lake_loader::extract", "dag::reporting::build"}
    page.locator("#dag-lineage-note").get_by_text("50 task groups are closed").wait_for()
    assert page.locator(".dd-edge-list li").count() == 501  # the edge list is bounded too

    # A click on a group opens it: its 100 tasks and their outputs take its place.
    click_node(page, "group::g25")
    wait_graph(page, f"cy.getElementById('{TASK}').length > 0")
    ids = node_ids(page)
    assert "group::g25" not in ids and "group::g24" in ids
    assert sum(1 for i in ids if i.startswith("task::big_lineage::g25.")) == 100
    page.wait_for_timeout(800)
    IMG.mkdir(exist_ok=True)
    page.screenshot(path=str(IMG / "lineage_large.png"))

    # Search-to-focus, then the depth limit around the focus.
    search = page.locator("#dag-lineage-search")
    search.fill("g25.s2_k10")
    search.press("Enter")
    wait_graph(page, f"cy.getElementById('{TASK}').length > 0 && cy.nodes('.group').length === 0")
    pick_depth(page, 1)
    page.locator("#dag-lineage-note").get_by_text("Showing 1 step around g25.s2_k10").wait_for()
    near = node_ids(page)
    # one step: its output, what it reads, the tasks next to it; not what those produce
    assert {TASK, "output::big_lineage::g25.s2_k10::return_value", "task::big_lineage::g25.s3_k10"} <= near
    assert "output::big_lineage::g25.s3_k10::return_value" not in near
    pick_depth(page, 3)
    wait_graph(page, "cy.getElementById('output::big_lineage::g25.s3_k10::return_value').length > 0")

    # Select another node, then focus on it.
    page.wait_for_timeout(500)
    click_node(page, "task::big_lineage::g25.s3_k10")
    page.locator("#dag-node-panel").get_by_text("Feeds from (").wait_for()
    page.get_by_role("button", name="Focus on the selected node").click()
    page.locator("#dag-lineage-note").get_by_text("Showing 3 steps around g25.s3_k10").wait_for()

    page.get_by_role("button", name="Whole graph").click()
    wait_graph(page, "cy.nodes('.group').length === 50")


def test_the_lineage_expands_across_dags_hop_by_hop(big, page):
    page.goto(f"{big.base_url}/ddtrack/dag?dag_id=big_lineage")
    wait_graph(page, "cy.getElementById('group::g25').length > 0")
    pick_depth(page, 1)
    page.get_by_text("Across DAGs (shared datasets)").click()
    wait_graph(page, "cy.getElementById('dag::reporting').length > 0")
    one = node_ids(page)
    assert {"dag::big_lineage", "dag::lake_loader", "dag::reporting"} <= one and "dag::dashboard" not in one
    pick_depth(page, 2)
    wait_graph(page, "cy.getElementById('dag::dashboard').length > 0")
    page.locator("#dag-lineage-note").get_by_text("4 DAGs within 2 hops").wait_for()
    page.wait_for_timeout(500)
    page.screenshot(path=str(IMG / "lineage_across_dags.png"))
