"""Authorization as deployed: a user who may read DAG A only never sees an id of DAG B.

A real deployment (api-server, scheduler and dag-processor as processes; LocalExecutor;
PostgreSQL metastore) runs the example pair of ``tests/dags/shared_asset.py``:
``sales_producer`` (A) writes the ``daily_sales`` URI, ``sales_consumer`` (B) reads it.
The auth manager is ``tests/dev_tools/partial_auth.py:PartialAuthManager``, configured
through ``[core] auth_manager``: it lets user ``pat`` read A and nothing else. Every page,
and every callback the app declares, is requested over HTTP as ``pat``; no response may
carry B's id, its task's id or its run's id. Where B reads A's output, pat's pages say
that a DAG pat cannot read does, and nothing that names it.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from dash_client import (
    DashClient,
    concrete_id,
    error_cards,
    find,
    id_key,
    outputs_spec,
    parse_id,
    texts,
)
from dev_tools.airflow_local import EXAMPLE_DAGS, LocalAirflow, create_postgres_database, drop_database
from sqlalchemy import func, select

from ddtrack.store.engine import dispose_all, get_engine
from ddtrack.store.models import TaskRun

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]

A, B = "sales_producer", "sales_consumer"
A_TASK, B_TASK = "write_daily_sales", "store_totals"
B_DATA = "orders"  # a column only B's output has
USER = "pat"
DEV_TOOLS = Path(__file__).resolve().parents[1] / "dev_tools"


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(2)
    raise TimeoutError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow-partial")
    dags = home / "dags"
    dags.mkdir()
    for name in ("shared_asset.py", "_demo_data.py"):
        (dags / name).symlink_to(EXAMPLE_DAGS / name)
    metastore = create_postgres_database()
    airflow = LocalAirflow(
        home=home,
        metastore_url=metastore,
        dags_folder=dags,
        auth_manager="partial_auth.PartialAuthManager",
        extra_users={USER: "viewer"},
        extra_env={
            "PYTHONPATH": os.pathsep.join(p for p in (str(DEV_TOOLS), os.environ.get("PYTHONPATH", "")) if p),
            "DDTRACK_TEST_PARTIAL_USER": USER,
            "DDTRACK_TEST_READABLE_DAGS": A,
        },
    )
    try:
        airflow.setup()
        airflow.start()
        airflow.wait_dags((A, B))
        airflow.api("PATCH", f"/api/v2/dags/{B}", json={"is_paused": False}).raise_for_status()
        run_a = airflow.trigger(A)
        assert airflow.wait_runs([(A, run_a)]) == {(A, run_a): "success"}
        run_b = wait_for(
            lambda: next((r["dag_run_id"] for r in airflow.find_runs(B) if r["state"] == "success"), None),
            300,
            "the Asset-scheduled consumer's run",
        )
        engine = get_engine(metastore)

        def ingested() -> bool:
            with engine.connect() as conn:
                query = select(func.count(func.distinct(TaskRun.dag_id))).where(TaskRun.dag_id.in_([A, B]))
                return conn.execute(query).scalar() == 2

        wait_for(ingested, 180, "both runs' records in ddtrack's tables")
        airflow.runs = {A: run_a, B: run_b}
        yield airflow
    finally:
        airflow.stop()
        dispose_all()
        drop_database(metastore)


@pytest.fixture(scope="module")
def http(deployment):
    with httpx.Client(base_url=deployment.base_url, timeout=120) as client:
        yield client


@pytest.fixture(scope="module")
def pat(deployment, http) -> DashClient:
    return DashClient(http, deployment.token(USER))


@pytest.fixture(scope="module")
def admin(deployment, http) -> DashClient:
    return DashClient(http, deployment.token("admin"))


def a_pages(deployment) -> list[tuple[str, str]]:
    run_a = quote(deployment.runs[A])
    ti = f"?dag_id={A}&run_id={run_a}&task_id={A_TASK}"
    return [
        ("", ""),
        ("dag", f"?dag_id={A}"),
        ("task", f"?dag_id={A}&task_id={A_TASK}"),
        ("task", f"?dag_id={A}&task_id={A_TASK}&n=200"),
        ("run", f"?dag_id={A}&run_id={run_a}"),
        ("ti", ti),
        ("ti", ti + "&try_number=1"),
        ("ti", ti + "&map_index=all"),
    ]


def b_ids(deployment) -> tuple[str, ...]:
    return (B, B_TASK, deployment.runs[B])


def assert_nothing_of_b(body: str, deployment, what: str, asked: str = "") -> None:
    """No id (or data) of B in ``body``, except what the request itself ``asked`` for."""
    for secret in (*b_ids(deployment), B_DATA):
        if secret not in asked:
            assert secret not in body, f"{what} shows {secret!r} of a DAG the user may not read"


def test_the_two_dags_are_linked_for_a_user_who_may_read_both(admin, deployment):
    """The setup can leak at all: an admin sees B on A's lineage and among A's consumers."""
    graph = admin.page("dag", f"?dag_id={A}")
    assert f"{B}.{B_TASK}" in json.dumps(graph)
    ti = admin.page("ti", f"?dag_id={A}&run_id={quote(deployment.runs[A])}&task_id={A_TASK}")
    consumers = find(ti, lambda n: n["props"].get("className") == "dd-consumers")
    assert any(B_TASK in t for t in texts(consumers))


def test_the_partial_user_reads_a_and_is_told_of_what_it_cannot_read(pat, deployment):
    homes = {r["props"]["data-dag-id"] for r in find(pat.page(""), lambda n: "data-dag-id" in n["props"])}
    assert homes == {A}
    dag_page = pat.page("dag", f"?dag_id={A}")
    elements = find(dag_page, lambda n: n["type"] == "Cytoscape")[0]["props"]["elements"]
    ids = {e["data"]["id"] for e in elements}
    assert f"task::{A}::{A_TASK}" in ids and f"output::{A}::{A_TASK}::return_value" in ids
    hidden = [e["data"] for e in elements if e["data"].get("kind") == "hidden"]
    assert [h["label"] for h in hidden] == ["1 task in a DAG you cannot read"]
    assert any(e["data"].get("target") == hidden[0]["id"] for e in elements)
    ti = pat.page("ti", f"?dag_id={A}&run_id={quote(deployment.runs[A])}&task_id={A_TASK}")
    assert "1 consumer in a DAG you cannot read" in texts(ti)
    assert "No page" not in json.dumps(ti) and "that you can read" not in json.dumps(ti)
    run = pat.page("run", f"?dag_id={A}&run_id={quote(deployment.runs[A])}")
    assert A_TASK in json.dumps(run)


def test_no_page_of_a_shows_an_id_of_b(pat, http, deployment):
    headers = pat.headers
    for path in ("/ddtrack/", f"/ddtrack/dag?dag_id={A}", "/ddtrack/_dash-layout", "/ddtrack/_dash-dependencies"):
        resp = http.get(path, headers=headers)
        assert resp.status_code == 200, (path, resp.status_code)
        assert_nothing_of_b(resp.text, deployment, path)
    for page, search in a_pages(deployment):
        tree = pat.page(page, search)
        assert not error_cards(tree), (page, search, error_cards(tree))
        assert_nothing_of_b(json.dumps(tree), deployment, f"{page}{search}")


def test_search_finds_nothing_of_b(pat, deployment):
    for text in ("sales", "consumer", "store", "totals", "orders", "amount", "return_value", "domain"):
        resp = pat.callback(
            "home-search-results.children",
            {"id": "home-search-results", "property": "children"},
            [{"id": "home-search", "property": "value", "value": text}],
        )
        assert resp.status_code == 200, resp.text
        assert_nothing_of_b(resp.text, deployment, f"search {text!r}", asked=text)
    found = pat.callback(
        "home-search-results.children",
        {"id": "home-search-results", "property": "children"},
        [{"id": "home-search", "property": "value", "value": "sales"}],
    )
    assert A in found.text


def test_b_pages_are_refused_without_its_data(pat, deployment):
    run_b = quote(deployment.runs[B])
    for page, search in [
        ("dag", f"?dag_id={B}"),
        ("task", f"?dag_id={B}&task_id={B_TASK}"),
        ("run", f"?dag_id={B}&run_id={run_b}"),
        ("ti", f"?dag_id={B}&run_id={run_b}&task_id={B_TASK}"),
        ("ti", f"?dag_id={B}&run_id={run_b}&task_id={B_TASK}&map_index=all"),
    ]:
        body = json.dumps(pat.page(page, search))
        assert "that you can read" in body
        for secret in (B_TASK, deployment.runs[B], B_DATA):  # B's id itself is what the user typed
            assert secret not in body, (page, secret)


def test_tapping_every_node_of_a_shows_nothing_of_b(pat, deployment):
    elements = find(pat.page("dag", f"?dag_id={A}"), lambda n: n["type"] == "Cytoscape")[0]["props"]["elements"]
    for node in [e["data"] for e in elements if "source" not in e["data"]]:
        current = elements
        for _ in range(2):  # the second tap on a picked node opens it
            resp = pat.callback(
                "..dag-graph.elements...dag-node-panel.children...dag-open.href..",
                outputs_spec("..dag-graph.elements...dag-node-panel.children...dag-open.href.."),
                [{"id": "dag-graph", "property": "tapNodeData", "value": node}],
                [
                    {"id": "dag-graph", "property": "elements", "value": current},
                    {"id": "dag-page-dag-id", "property": "data", "value": A},
                ],
            )
            assert resp.status_code == 200, resp.text
            assert not error_cards(resp.json()["response"]), resp.text[:500]
            assert_nothing_of_b(resp.text, deployment, f"tap on {node['id']}")
            current = resp.json()["response"].get("dag-graph", {}).get("elements", current)


# -- every callback the app declares, with the values A's pages hold ----------------------

# Values the browser would send for properties no page holds at rest.
BROWSER_VALUES = {"getRowsRequest": {"startRow": 0, "endRow": 100}, "search_value": "a"}


def _matches(pattern, ident) -> dict | None:
    """The MATCH values that make ``ident`` an instance of ``pattern`` (a dict id with wildcards)."""
    if not (isinstance(pattern, dict) and isinstance(ident, dict)) or set(pattern) != set(ident):
        return None
    match = {}
    for k, v in pattern.items():
        if v == ["MATCH"]:
            match[k] = ident[k]
        elif v != ident[k]:
            return None
    return match


def callback_bodies(dep: dict, components: dict[str, dict]) -> list[dict]:
    """Requests for one declared callback as the browser would make them, for each instance
    of its (pattern-matching) ids on the collected pages; one with empty values if none."""
    first = parse_id(dep["inputs"][0]["id"])
    matches = [m for m in (_matches(first, props.get("id")) for props in components.values()) if m is not None]
    bodies = []
    for match in (matches[:3] if isinstance(first, dict) else [{}]) or [{}]:
        def item(spec: dict, match=match) -> dict:
            ident = concrete_id(parse_id(spec["id"]), match)
            props = components.get(id_key(ident), {})
            value = props.get(spec["property"], BROWSER_VALUES.get(spec["property"]))
            return {"id": ident, "property": spec["property"], "value": value}

        outputs = outputs_spec(dep["output"])
        concrete = [{**o, "id": concrete_id(o["id"], match)} for o in (outputs if isinstance(outputs, list) else [outputs])]
        inputs = [item(i) for i in dep["inputs"]]
        bodies.append(
            {
                "output": dep["output"],
                "outputs": concrete if isinstance(outputs, list) else concrete[0],
                "inputs": inputs,
                "state": [item(s) for s in dep.get("state", [])],
                "changedPropIds": [f"{id_key(inputs[0]['id'])}.{inputs[0]['property']}"],
            }
        )
    return bodies


def _forged(body: dict, deployment) -> dict:
    """The same request with every id of A swapped for B's: what a curious user could send."""
    text = json.dumps(body)
    for a, b in ((deployment.runs[A], deployment.runs[B]), (A_TASK, B_TASK), (A, B)):
        text = text.replace(a, b)
    return json.loads(text)


def test_every_callback_as_the_partial_user(pat, http, deployment):
    headers = pat.headers
    dependencies = http.get("/ddtrack/_dash-dependencies", headers=headers).json()
    trees = [http.get("/ddtrack/_dash-layout", headers=headers).json()]
    trees += [pat.page(page, search) for page, search in a_pages(deployment)]
    components = {id_key(n["props"]["id"]): n["props"] for tree in trees for n in find(tree, lambda n: "id" in n["props"])}
    assert dependencies
    for dep in dependencies:
        for body in callback_bodies(dep, components):
            resp = http.post("/ddtrack/_dash-update-component", json=body, headers=headers)
            assert resp.status_code in (200, 204), (dep["output"], resp.status_code, resp.text[:300])
            assert resp.status_code == 204 or not error_cards(resp.json()), (dep["output"], resp.text[:500])
            assert_nothing_of_b(resp.text, deployment, dep["output"])
            forged = http.post("/ddtrack/_dash-update-component", json=_forged(body, deployment), headers=headers)
            assert forged.status_code < 500, (dep["output"], forged.text[:300])
            assert B_DATA not in forged.text, (dep["output"], forged.text[:500])
