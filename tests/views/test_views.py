"""ddtrack's views served by Airflow's own FastAPI app: wiring, pages, auth, escaping."""

from __future__ import annotations

import json
import subprocess
import sys
from urllib.parse import quote

import pytest
from dash_client import DashClient, error_cards, find, texts

from ddtrack.views.pages.dag import highlight

IMG = "<img src=x onerror=\"document.title='pwned'\">"
BOLD = "<b>bold</b>"


def graph_json(tree) -> str:
    return json.dumps(tree)


# -- wiring -------------------------------------------------------------------------------


def test_plugin_mounts_views_and_tabs(client, make_token):
    resp = client.get("/api/v2/plugins", headers={"Authorization": f"Bearer {make_token()}"})
    plugin = next(p for p in resp.json()["plugins"] if p["name"] == "ddtrack")
    assert plugin["fastapi_apps"][0]["url_prefix"] == "/ddtrack"
    views = {v["destination"]: v for v in plugin["external_views"]}
    assert set(views) == {"nav", "dag", "dag_run", "task", "task_instance"}
    assert all(v["name"] == "Data" for v in views.values())
    assert "{DAG_ID}" in views["dag"]["href"]
    assert {"{DAG_ID}", "{RUN_ID}"} <= {p for p in ("{DAG_ID}", "{RUN_ID}") if p in views["dag_run"]["href"]}
    assert all(
        p in views["task_instance"]["href"] for p in ("{DAG_ID}", "{RUN_ID}", "{TASK_ID}", "{MAP_INDEX}")
    )


def test_importing_the_plugin_does_not_import_dash():
    code = "import sys, ddtrack.plugin; print(sorted(m for m in ('dash', 'plotly', 'a2wsgi', 'flask') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_dash_index_and_assets_are_served(client, make_token):
    headers = {"Authorization": f"Bearer {make_token()}"}
    index = client.get("/ddtrack/", headers=headers)
    assert index.status_code == 200 and "_dash-renderer" in index.text or "dash_renderer" in index.text
    assert client.get("/ddtrack/assets/ddtrack.css", headers=headers).status_code == 200


# -- authentication -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/ddtrack/"),
        ("GET", "/ddtrack/dag?dag_id=titanic"),
        ("GET", "/ddtrack/_dash-layout"),
        ("GET", "/ddtrack/_dash-dependencies"),
        ("POST", "/ddtrack/_dash-update-component"),
        ("GET", "/ddtrack/assets/ddtrack.css"),
    ],
)
def test_unauthenticated_requests_get_401(client, method, path):
    resp = client.request(method, path, json={} if method == "POST" else None)
    assert resp.status_code == 401
    assert "titanic" not in resp.text


def test_every_dash_route_requires_login(client):
    from ddtrack.views.app import create_dash_app

    rules = list(create_dash_app("/ddtrack/").server.url_map.iter_rules())
    assert len(rules) >= 5
    for rule in rules:
        path = "/ddtrack" + "".join("x" if part.startswith("<") else part for part in _split_rule(rule.rule))
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = client.request(method, path)
            assert resp.status_code == 401, (method, path, resp.status_code)


def _split_rule(rule: str) -> list[str]:
    import re

    return re.split(r"(<[^>]+>)", rule)


def test_browser_without_login_is_sent_to_airflows_login(client):
    resp = client.get("/ddtrack/dag?dag_id=titanic", headers={"Accept": "text/html"}, follow_redirects=False)
    assert resp.status_code == 302
    assert "/auth/login" in resp.headers["location"] and "ddtrack%2Fdag" in resp.headers["location"]


def test_forged_token_is_refused(client, admin):
    forged = DashClient(client, "eyJhbGciOiJIUzUxMiJ9.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJhZG1pbiJ9.c2lnbmF0dXJl")
    resp = forged.callback(
        "page.children",
        {"id": "page", "property": "children"},
        [
            {"id": "url", "property": "pathname", "value": "/ddtrack/"},
            {"id": "url", "property": "search", "value": ""},
        ],
    )
    assert resp.status_code == 401


def test_cookie_token_works_like_the_ui(client, make_token):
    client.cookies.set("_token", make_token())
    try:
        assert client.get("/ddtrack/_dash-layout").status_code == 200
    finally:
        client.cookies.clear()


# -- pages --------------------------------------------------------------------------------


def test_home_lists_tracked_dags_with_runs(admin):
    page = admin.page("")
    rows = find(page, lambda n: n["type"] == "Tr" and "data-dag-id" in n["props"])
    dag_ids = {r["props"]["data-dag-id"] for r in rows}
    assert {"titanic", "quality_check", "mapped_batches", "sales_producer", "sales_consumer"} <= dag_ids
    titanic = next(r for r in rows if r["props"]["data-dag-id"] == "titanic")
    assert find(titanic, lambda n: n["type"] == "Graph")  # sparkline of two runs


def test_search_finds_columns_and_tags(admin):
    resp = admin.callback(
        "home-search-results.children",
        {"id": "home-search-results", "property": "children"},
        [{"id": "home-search", "property": "value", "value": "fare"}],
    )
    assert "log_fare" in texts(resp.json()["response"]["home-search-results"]["children"])
    resp = admin.callback(
        "home-search-results.children",
        {"id": "home-search-results", "property": "children"},
        [{"id": "home-search", "property": "value", "value": "data-eng"}],
    )
    assert "team=data-eng" in texts(resp.json()["response"]["home-search-results"]["children"])


def test_dag_page_shows_lineage_between_tasks(admin):
    page = admin.page("dag", "?dag_id=titanic")
    graph = find(page, lambda n: n["type"] == "Cytoscape")[0]
    edges = {
        (e["data"]["source"], e["data"]["target"])
        for e in graph["props"]["elements"]
        if "source" in e["data"]
    }
    assert ("output::titanic::load_passengers::return_value", "task::titanic::features") in edges
    assert ("task::titanic::load_passengers", "output::titanic::load_passengers::return_value") in edges
    assert ("uri::s3://example-bucket/fares.parquet", "task::titanic::features") in edges
    assert "load_passengers.return_value → features (data)" in texts(page)
    assert "Runs" in texts(page)


def test_dag_page_links_dags_through_shared_assets(admin):
    page = admin.page("dag", "?dag_id=sales_consumer")
    graph = find(page, lambda n: n["type"] == "Cytoscape")[0]
    kinds = {e["data"].get("kind") for e in graph["props"]["elements"]}
    assert "dag" in kinds  # the producer DAG as a node
    assert any(
        e["data"].get("kind") == "cross_dag" for e in graph["props"]["elements"] if "source" in e["data"]
    )


def test_clicking_a_node_highlights_upstream_and_downstream(admin):
    page = admin.page("dag", "?dag_id=titanic")
    elements = find(page, lambda n: n["type"] == "Cytoscape")[0]["props"]["elements"]
    node = next(e["data"] for e in elements if e["data"]["id"] == "task::titanic::features")
    resp = admin.callback(
        "..dag-graph.elements...dag-node-panel.children...dag-open.href..",
        [
            {"id": "dag-graph", "property": "elements"},
            {"id": "dag-node-panel", "property": "children"},
            {"id": "dag-open", "property": "href"},
        ],
        [{"id": "dag-graph", "property": "tapNodeData", "value": node}],
        [
            {"id": "dag-graph", "property": "elements", "value": elements},
            {"id": "dag-page-dag-id", "property": "data", "value": "titanic"},
        ],
    )
    out = resp.json()["response"]
    classes = {e["data"]["id"]: e.get("classes", "") for e in out["dag-graph"]["elements"]}
    assert "upstream" in classes["task::titanic::load_passengers"]
    assert "downstream" in classes["task::titanic::train_model"]
    assert "picked" in classes["task::titanic::features"]
    assert "Open task →" in texts(out["dag-node-panel"]["children"])
    # A second click on the selected node opens its task page.
    again = admin.callback(
        "..dag-graph.elements...dag-node-panel.children...dag-open.href..",
        [
            {"id": "dag-graph", "property": "elements"},
            {"id": "dag-node-panel", "property": "children"},
            {"id": "dag-open", "property": "href"},
        ],
        [{"id": "dag-graph", "property": "tapNodeData", "value": node}],
        [
            {"id": "dag-graph", "property": "elements", "value": out["dag-graph"]["elements"]},
            {"id": "dag-page-dag-id", "property": "data", "value": "titanic"},
        ],
    )
    assert again.json()["response"]["dag-open"]["href"] == "/ddtrack/task?dag_id=titanic&task_id=features"


def test_highlight_marks_only_connected_nodes():
    elements = [
        {"data": {"id": "a"}},
        {"data": {"id": "b"}},
        {"data": {"id": "c"}},
        {"data": {"id": "x"}},
        {"data": {"id": "a->b", "source": "a", "target": "b"}},
        {"data": {"id": "b->c", "source": "b", "target": "c"}},
    ]
    classes = {e["data"]["id"]: e["classes"] for e in highlight(elements, "b")}
    assert classes == {
        "a": "upstream",
        "b": "picked",
        "c": "downstream",
        "x": "faded",
        "a->b": "upstream",
        "b->c": "downstream",
    }


def test_task_page_shows_failed_tries(admin):
    page = admin.page("task", "?dag_id=quality_check&task_id=check_no_missing_ages")
    words = texts(page)
    assert "failed" in words
    assert any("DataQualityError" in w for w in words)
    history = find(page, lambda n: n["props"].get("id") == "task-history-graph")[0]
    colors = history["props"]["figure"]["data"][0]["marker"]["color"]
    assert "#dc2626" in colors  # failed tries are red bars


def test_task_page_without_tracking_says_what_to_do(admin):
    page = admin.page("task", "?dag_id=mapped_batches&task_id=list_days")
    assert any("add @track" in w.lower() or "@track" in w for w in texts(page))


def test_task_history_length_is_the_users_choice(admin):
    page = admin.page("task", "?dag_id=titanic&task_id=features&n=1")
    rows = find(page, lambda n: n["type"] == "Tr" and "dd-row-" in str(n["props"].get("className", "")))
    assert len(rows) == 1


def test_task_instance_page_has_histograms_describe_code_and_diff(admin, example_runs):
    run_id = example_runs["titanic"][-1].run_id
    page = admin.page("ti", f"?dag_id=titanic&task_id=load_passengers&run_id={quote(run_id)}&map_index=-1")
    charts = {c["props"]["data-column"]: c for c in find(page, lambda n: "data-column" in n["props"])}
    age = charts["age"]["props"]["children"]["props"]["figure"]
    assert age["data"][0]["type"] == "bar" and sum(age["data"][0]["y"]) > 600
    sex = charts["sex"]["props"]["children"]["props"]["figure"]
    assert sex["data"][0]["orientation"] == "h"
    assert "name" not in charts  # PII column: no values, no chart
    words = texts(page)
    assert "Describe" in words and "Schema" in words
    assert any("def load_passengers" in w for w in words)  # source code
    assert "team=data-eng" in words  # tags
    assert "Compared with the previous successful run" in words
    assert any(
        "features" in w for w in texts(find(page, lambda n: n["props"].get("className") == "dd-consumers"))
    )


def test_mapped_instance_page_lists_map_indexes(admin, example_runs):
    run_id = example_runs["mapped_batches"][-1].run_id
    page = admin.page("ti", f"?dag_id=mapped_batches&task_id=load_day&run_id={quote(run_id)}&map_index=2")
    assert {"0", "1", "2", "3"} <= set(texts(page))


def test_mapped_task_whole_merges_every_map_index(admin, example_runs):
    """The merged whole of load_day: rows and counts are the sums over the four map
    indexes, the per-index chart has one bar per index, and each index stays one click away."""
    run_id = example_runs["mapped_batches"][-1].run_id
    one = admin.page("ti", f"?dag_id=mapped_batches&task_id=load_day&run_id={quote(run_id)}&map_index=2")
    assert any("all 4 (merged)" in t for t in texts(one))
    page = admin.page("ti", f"?dag_id=mapped_batches&task_id=load_day&run_id={quote(run_id)}&map_index=all")
    words = " ".join(texts(page))
    assert "4 mapped instances merged" in words and "Merged from 4 of 4 map indexes" in words
    total = sum(200 + 50 * d for d in (1, 2, 3, 4))
    assert f"{total:,}" in texts(page)  # the Rows fact of the merged output
    bars = [n["props"]["figure"] for n in find(page, lambda n: n["type"] == "Graph")
            if n["props"]["figure"]["layout"].get("xaxis", {}).get("title", {}).get("text") == "map index"]
    assert bars and bars[0]["data"][0]["x"] == ["0", "1", "2", "3"]
    assert bars[0]["data"][0]["y"] == [200 + 50 * d for d in (1, 2, 3, 4)]
    links = {n["props"]["href"] for n in find(page, lambda n: n["type"] == "Link")}
    assert any("map_index=3" in h for h in links)


def test_batched_output_shows_one_merged_profile(admin, example_runs):
    run_id = example_runs["mapped_batches"][-1].run_id
    page = admin.page("ti", f"?dag_id=mapped_batches&task_id=combine&run_id={quote(run_id)}")
    words = " ".join(texts(page))
    assert "Logged in 4 batches, merged into one profile for the whole." in words
    assert "warehouse_load" in texts(page)


def test_whole_of_an_unmapped_task_says_so(admin, example_runs):
    run_id = example_runs["titanic"][-1].run_id
    page = admin.page("ti", f"?dag_id=titanic&task_id=features&run_id={quote(run_id)}&map_index=all")
    assert "This task has no tracked mapped instances in this run." in texts(page)


def test_run_page_has_waterfall_and_links(admin, example_runs):
    run_id = example_runs["titanic"][-1].run_id
    page = admin.page("run", f"?dag_id=titanic&run_id={quote(run_id)}")
    waterfall = find(page, lambda n: n["props"].get("id") == "run-waterfall")[0]["props"]["figure"]
    assert len(waterfall["data"][0]["y"]) == 3
    links = {n["props"]["href"] for n in find(page, lambda n: n["type"] == "Link")}
    assert any("ti?dag_id=titanic" in h and "task_id=features" in h for h in links)


def test_bad_input_gets_a_message_not_a_traceback(admin):
    for path, search, message in [
        ("ti", "?dag_id=titanic&task_id=x&run_id=y&map_index=abc", "This task instance has no tracked outputs."),
        ("task", "?dag_id=titanic&task_id=features&n=zzz", "Task of DAG titanic: its last 50 tracked tries."),
        ("run", "?dag_id=titanic&run_id=nope", "No run 'nope' that you can read."),
        ("dag", "?dag_id=", "No DAG '' that you can read."),
        ("nope", "", "No page 'nope' here."),
    ]:
        page = admin.page(path, search)
        words = texts(page)
        assert "Traceback" not in " ".join(words)
        assert message in words, (path, search, words[:20])
        assert not error_cards(page), (path, search)


# -- Airflow's metastore fails ----------------------------------------------------------


@pytest.fixture
def metastore(metastore_url, tmp_path, caplog, monkeypatch):
    """Point the views at the session's store with another metastore URL for one test."""
    from ddtrack import queries
    from ddtrack.queries import sources as sources_module
    from ddtrack.views import context

    monkeypatch.setattr(sources_module, "_last_logged", {})  # forget earlier rate-limited warnings
    caplog.set_level("WARNING", logger="ddtrack.queries")

    def use(url: str) -> None:
        context.set_sources(queries.Sources(store_url=metastore_url, metastore_url=url))

    yield use
    context.set_sources(None)


def test_a_failing_metastore_is_said_on_the_page_and_logged(admin, metastore, tmp_path, caplog, example_runs):
    metastore(f"sqlite:///{tmp_path / 'no-tables.db'}")  # answers, with errors
    run_id = example_runs["titanic"][-1].run_id
    for path, search in [("dag", "?dag_id=titanic"), ("run", f"?dag_id=titanic&run_id={quote(run_id)}")]:
        page = admin.page(path, search)
        assert "Airflow's metadata could not be read." in texts(page), (path, texts(page)[:10])
        assert "Traceback" not in json.dumps(page) and "Runs" not in texts(page)
    warnings = [r.getMessage() for r in caplog.records if r.name == "ddtrack.queries" and r.levelname == "WARNING"]
    assert warnings and all("no such table" in w for w in warnings)


def test_without_a_metastore_pages_answer_from_ddtracks_tables(admin, metastore, example_runs):
    metastore("")  # not configured: a deliberate fallback, not an error
    page = admin.page("dag", "?dag_id=titanic")
    assert not error_cards(page) and "Runs" in texts(page)
    assert find(page, lambda n: n["type"] == "Cytoscape")


# -- authorization ------------------------------------------------------------------------


def test_viewer_role_reads_dags(viewer):
    assert "titanic" in json.dumps(viewer.page(""))


def test_user_without_access_sees_no_dag_and_no_data(outsider, example_runs):
    home = outsider.page("")
    assert not find(home, lambda n: "data-dag-id" in n["props"])
    assert "titanic" not in json.dumps(home)
    run_id = example_runs["titanic"][-1].run_id
    for path, search in [
        ("dag", "?dag_id=titanic"),
        ("task", "?dag_id=titanic&task_id=features"),
        ("run", f"?dag_id=titanic&run_id={quote(run_id)}"),
        ("ti", f"?dag_id=titanic&task_id=load_passengers&run_id={quote(run_id)}"),
    ]:
        page = json.dumps(outsider.page(path, search))
        assert "that you can read" in page
        assert "passenger" not in page and "load_passengers" not in page.replace(
            "task_id=load_passengers", ""
        )
    resp = outsider.callback(
        "home-search-results.children",
        {"id": "home-search-results", "property": "children"},
        [{"id": "home-search", "property": "value", "value": "fare"}],
    )
    answer = json.dumps(resp.json()["response"]["home-search-results"])
    assert "log_fare" not in answer and "titanic" not in answer and "dd-hits" not in answer


def test_node_callback_refuses_a_forbidden_dag(outsider):
    fake = [{"data": {"id": "task::titanic::features", "label": "features"}}]
    resp = outsider.callback(
        "..dag-graph.elements...dag-node-panel.children...dag-open.href..",
        [
            {"id": "dag-graph", "property": "elements"},
            {"id": "dag-node-panel", "property": "children"},
            {"id": "dag-open", "property": "href"},
        ],
        [{"id": "dag-graph", "property": "tapNodeData", "value": fake[0]["data"]}],
        [
            {"id": "dag-graph", "property": "elements", "value": fake},
            {"id": "dag-page-dag-id", "property": "data", "value": "titanic"},
        ],
    )
    out = resp.json()["response"]
    assert out["dag-graph"]["elements"] == []
    assert "that you can read" in json.dumps(out["dag-node-panel"])


# -- user data is text --------------------------------------------------------------------


def test_markup_in_column_names_and_values_stays_text(admin, example_runs):
    run_id = example_runs["html_probe"][-1].run_id
    page = admin.page("ti", f"?dag_id=html_probe&task_id=weird_columns&run_id={quote(run_id)}")
    words = texts(page)
    assert IMG in words and BOLD in words  # shown literally as text children
    raw = json.dumps(page)
    assert "dangerously_allow_html" not in raw
    for fig in (n["props"]["figure"] for n in find(page, lambda n: n["type"] == "Graph")):
        for trace in fig["data"]:
            for value in [*(trace.get("x") or []), *(trace.get("y") or []), *(trace.get("hovertext") or [])]:
                assert "<img" not in str(value) and "<b>" not in str(value) and "<script" not in str(value)
        assert "<img" not in json.dumps(fig["layout"]) and "<b>" not in json.dumps(fig["layout"])


# -- per-DAG authorization (the auth manager decides DAG by DAG) --------------------------


@pytest.fixture
def restricted_probe(example_runs):
    """html_probe moved into a bundle owned by team "secret" (Airflow's multi-team model)."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team, dag_bundle_team_association_table
    from airflow.utils.session import create_session
    from sqlalchemy import delete, insert, select, update

    with create_session() as session:
        before = session.scalar(select(DagModel.bundle_name).where(DagModel.dag_id == "html_probe"))
        session.add(DagBundleModel(name="secret-bundle"))
        session.add(Team(name="secret"))
        session.flush()
        session.execute(
            insert(dag_bundle_team_association_table).values(
                dag_bundle_name="secret-bundle", team_name="secret"
            )
        )
        session.execute(
            update(DagModel).where(DagModel.dag_id == "html_probe").values(bundle_name="secret-bundle")
        )
    yield
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == "html_probe").values(bundle_name=before))
        session.execute(
            delete(dag_bundle_team_association_table).where(
                dag_bundle_team_association_table.c.team_name == "secret"
            )
        )
        session.execute(delete(Team).where(Team.name == "secret"))
        session.execute(delete(DagBundleModel).where(DagBundleModel.name == "secret-bundle"))


def test_auth_manager_decides_dag_by_dag(client, make_token, restricted_probe, example_runs):
    member = DashClient(client, make_token("sam", "viewer", ["secret"]))
    other = DashClient(client, make_token("otto", "viewer", ["analytics"]))
    run_id = example_runs["html_probe"][-1].run_id
    ti = f"?dag_id=html_probe&task_id=weird_columns&run_id={quote(run_id)}"

    member_home = {
        r["props"]["data-dag-id"] for r in find(member.page(""), lambda n: "data-dag-id" in n["props"])
    }
    other_home = {
        r["props"]["data-dag-id"] for r in find(other.page(""), lambda n: "data-dag-id" in n["props"])
    }
    assert "html_probe" in member_home and "titanic" in member_home
    assert "html_probe" not in other_home and "titanic" in other_home

    assert BOLD in texts(member.page("ti", ti))
    refused = json.dumps(other.page("ti", ti))
    assert "that you can read" in refused and "bold" not in refused
    assert "that you can read" in json.dumps(other.page("dag", "?dag_id=html_probe"))


def test_choosing_history_length_changes_the_shareable_url(admin):
    resp = admin.callback(
        "url.search",
        {"id": "url", "property": "search"},
        [{"id": "task-history-n", "property": "value", "value": 200}],
        [{"id": "task-page-ids", "property": "data", "value": {"dag_id": "titanic", "task_id": "features"}}],
    )
    assert resp.json()["response"]["url"]["search"] == "?dag_id=titanic&task_id=features&n=200"


def test_dag_page_of_an_untracked_dag_says_what_to_do(admin, example_runs):
    # mapped_batches' list_days is untracked; a DAG with no tracked task at all shows the hint.
    page = admin.page("dag", "?dag_id=mapped_batches")
    assert not any(w == "No task of this DAG is tracked yet." for w in texts(page))
    graph = find(page, lambda n: n["type"] == "Cytoscape")[0]
    untracked = [e for e in graph["props"]["elements"] if "untracked" in e.get("classes", "")]
    assert [e["data"]["id"] for e in untracked] == ["task::mapped_batches::list_days"]


def test_app_behind_a_base_url_path_asks_for_assets_under_it():
    from ddtrack.views import common
    from ddtrack.views.app import create_dash_app

    try:
        app = create_dash_app("/airflow/ddtrack/")
        with app.server.test_request_context("/"):
            index = app.index()
        assert (
            '"requests_pathname_prefix": "/airflow/ddtrack/"' in index
            or "/airflow/ddtrack/_dash-component-suites" in index
        )
        assert common.href("dag", dag_id="a b") == "/airflow/ddtrack/dag?dag_id=a+b"
    finally:
        common.set_prefix("/ddtrack/")


def test_graph_clicks_only_ever_open_ddtrack_pages():
    """A node's URL comes back from the browser: the DAG and trace pages navigate only
    within ddtrack (views/common.own_page)."""
    from ddtrack.views.common import href, own_page

    assert own_page(href("dag", dag_id="titanic")) == href("dag", dag_id="titanic")
    for foreign in ("javascript:alert(1)", "//evil.example/ddtrack/", "https://evil.example/ddtrack/", "/other/", None, 3):
        assert own_page(foreign) is None, foreign
