"""Column lineage on the pages, served by Airflow's own FastAPI app: the trace page's column
mode (a click on a column follows it), the column page's upstream and downstream columns
across DAGs, and the PII page's columns, declared and derived. The two DAGs of
tests/integration/shared/dags/column_lineage.py run in process into the session's store."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dash_client import error_cards, find
from records import run_in_process as run_dag

from ddtrack import queries
from ddtrack.views.context import sources

DAGS = Path(__file__).parents[1] / "integration" / "shared" / "dags" / "column_lineage.py"


@pytest.fixture(scope="module")
def cl_runs(example_runs, metastore_url):
    from dev_tools.airflow_versions import dag_bag

    linked = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAGS.name
    if not linked.exists():
        linked.symlink_to(DAGS)
    bag = dag_bag(str(linked))
    return {dag_id: run_dag(bag.get_dag(dag_id), metastore_url).run_id for dag_id in ("cl_customers", "cl_report")}


def _version(runs, dag_id, task_id):
    return queries.find_version(sources(), dag_id, runs[dag_id], task_id, allowed=None)


def _columns(tree) -> set[str]:
    return {n["props"]["data-column"] for n in find(tree, lambda n: n["props"].get("data-column"))}


def test_trace_page_follows_a_column_across_dags(admin, cl_runs):
    report = _version(cl_runs, "cl_report", "report")
    versions = admin.page("trace", f"?output_id={report.output_id}")
    offered = find(versions, lambda n: n["props"].get("id") == "trace-columns")
    assert offered and {"id", "greeting", "doubled"} <= _columns(offered[0])  # each links to its column mode
    tree = admin.page("trace", f"?output_id={report.output_id}&column=greeting&direction=upstream")
    assert not error_cards(tree)
    assert {"cl_customers/transform/return_value/greeting", "cl_customers/extract/return_value/name"} <= _columns(tree)
    graph = find(tree, lambda n: n["props"].get("id") == "trace-graph")[0]
    urls = [e["data"].get("url") for e in graph["props"]["elements"] if "url" in e["data"]]
    extract = _version(cl_runs, "cl_customers", "extract")
    assert any(u and f"output_id={extract.output_id}" in u and "column=name" in u for u in urls)  # a click follows it


def test_column_page_shows_upstream_and_downstream_columns(admin, cl_runs):
    tree = admin.page("catalog/column", "?name=greeting&dag_id=cl_customers&task_id=transform&output=return_value")
    assert not error_cards(tree)
    up = find(tree, lambda n: n["props"].get("id") == "column-upstream")[0]
    down = find(tree, lambda n: n["props"].get("id") == "column-downstream")[0]
    assert _columns(up) == {"cl_customers/extract/return_value/name"}
    assert _columns(down) == {"cl_report/report/return_value/greeting"}


def test_pii_page_lists_columns_declared_and_derived(admin, cl_runs):
    tree = admin.page("pii")
    table = find(tree, lambda n: n["props"].get("id") == "pii-columns")[0]
    rows = {n["props"]["data-column"]: n["props"]["data-pii"] for n in find(table, lambda n: n["props"].get("data-pii"))}
    assert rows["cl_customers/extract/return_value/name"] == "declared"
    assert rows["cl_report/report/return_value/greeting"] == "derived"
    assert "cl_report/report/return_value/id" not in rows and "cl_report/report/return_value/doubled" not in rows
    resp = admin.callback("pii-download.data", {"id": "pii-download", "property": "data"},
                          [{"id": "pii-download-button", "property": "n_clicks", "value": 1}])
    report = json.loads(resp.json()["response"]["pii-download"]["data"]["content"])
    assert {"dag_id": "cl_report", "task_id": "report", "output": "return_value", "column": "greeting",
            "pii": "derived", "via": ["cl_customers.extract.return_value.name"]} in report["columns"]
