"""The across-DAG pages (issue 13) served by Airflow's own FastAPI app: catalog, column, URI,
trace, suspects, PII and search, as an admin, a viewer, and a partial user who may not read
the Asset consumer (``sales_consumer``) - whose id must appear in no answer they get."""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import pytest
from dash_client import DashClient, error_cards, find, outputs_spec, texts

from ddtrack import queries
from ddtrack.views.context import sources

IMG = "<img src=x onerror=\"document.title='pwned'\">"
BOLD = "<b>bold</b>"
SECRET = "sales_consumer"  # the DAG the partial user may not read
SECRET_TASK = "store_totals"
FLAG = "..catalog-flag-result.children...catalog-flag-list.children.."
REVIEW = "..suspects-result.children...suspects-list.children.."


@pytest.fixture
def hidden_consumer(example_runs):
    """sales_consumer moved into a bundle owned by team "secret" (Airflow's multi-team
    model), so that a viewer of another team reads the producer and not the consumer."""
    from airflow.models.dag import DagModel
    from airflow.models.dagbundle import DagBundleModel
    from airflow.models.team import Team, dag_bundle_team_association_table
    from airflow.utils.session import create_session
    from sqlalchemy import delete, insert, select, update

    with create_session() as session:
        before = session.scalar(select(DagModel.bundle_name).where(DagModel.dag_id == SECRET))
        session.add(DagBundleModel(name="secret-sales"))
        session.add(Team(name="secret-sales-team"))
        session.flush()
        session.execute(
            insert(dag_bundle_team_association_table).values(
                dag_bundle_name="secret-sales", team_name="secret-sales-team"
            )
        )
        session.execute(update(DagModel).where(DagModel.dag_id == SECRET).values(bundle_name="secret-sales"))
    yield
    with create_session() as session:
        session.execute(update(DagModel).where(DagModel.dag_id == SECRET).values(bundle_name=before))
        session.execute(
            delete(dag_bundle_team_association_table).where(
                dag_bundle_team_association_table.c.team_name == "secret-sales-team"
            )
        )
        session.execute(delete(Team).where(Team.name == "secret-sales-team"))
        session.execute(delete(DagBundleModel).where(DagBundleModel.name == "secret-sales"))


@pytest.fixture
def partial(client, make_token, hidden_consumer) -> DashClient:
    """A viewer who may read every DAG but sales_consumer."""
    return DashClient(client, make_token("parker", "viewer", ["analytics"]))


def version(example_runs, dag_id: str, task_id: str, output: str | None = None) -> queries.VersionRef:
    run_id = example_runs[dag_id][-1].run_id
    found = queries.find_version(sources(), dag_id, run_id, task_id, output, allowed=None)
    assert found is not None, (dag_id, run_id, task_id, output)
    return found


def pages(example_runs) -> dict[str, str]:
    producer = version(example_runs, "sales_producer", "write_daily_sales")
    passengers = version(example_runs, "titanic", "load_passengers")
    return {
        "catalog/output": f"?dag_id=sales_producer&task_id=write_daily_sales&name={quote(producer.name)}",
        "catalog/column": "?name=age",
        "catalog/uri": f"?uri={quote(producer.uri or '')}",
        "trace": f"?output_id={passengers.output_id}&direction=downstream",
        "trace#impact": f"?output_id={producer.output_id}&direction=downstream&depth=3",
        "trace#upstream": f"?output_id={version(example_runs, 'titanic', 'train_model').output_id}",
        "suspects": "",
        "pii": "",
        "search": "?q=sales",
        "": "",
    }


def test_every_new_page_renders_for_an_admin(admin, example_runs):
    for name, search in pages(example_runs).items():
        tree = admin.page(name.split("#")[0], search)
        assert not error_cards(tree), (name, error_cards(tree))
        assert "No page" not in json.dumps(tree), name


def test_catalog_page_shows_versions_columns_consumers_and_pii(admin, example_runs):
    tree = admin.page("catalog/output", "?dag_id=titanic&task_id=load_passengers&name=return_value")
    words = texts(tree)
    assert "Versions over time" in words and "Columns (latest version)" in words
    assert find(tree, lambda n: n["props"].get("id") == "catalog-versions-graph")
    versions = find(tree, lambda n: "data-output-id" in n["props"])
    assert len(versions) >= 2  # titanic ran twice: two versions, newest first
    assert find(tree, lambda n: n["props"].get("data-column") == "name")
    assert "name" in " ".join(words)  # the PII column, named
    assert any(w == "PII" for w in words)
    # editors get the flag form
    assert find(tree, lambda n: n["props"].get("id") == "catalog-flag-button")


def test_consumers_across_dags_show_on_the_producers_page(admin, example_runs):
    producer = version(example_runs, "sales_producer", "write_daily_sales")
    tree = admin.page("catalog/output", f"?dag_id=sales_producer&task_id=write_daily_sales&name={quote(producer.name)}")
    assert SECRET in json.dumps(tree)  # the admin reads the consumer: it is named


def test_partial_user_never_sees_an_unreadable_dag(partial, example_runs):
    """Every new page, and the home page with its badges, without sales_consumer's id,
    task or run; where it reads the producer's output, a count says so."""
    secret_run = example_runs[SECRET][-1].run_id
    bodies = {}
    for name, search in pages(example_runs).items():
        tree = partial.page(name.split("#")[0], search)
        body = json.dumps(tree)
        assert not error_cards(tree), (name, error_cards(tree))
        for secret in (SECRET, SECRET_TASK, secret_run):
            assert secret not in body, (name, secret)
        bodies[name] = body
    assert "DAGs you cannot read" in bodies["catalog/output"]
    assert "cannot read" in bodies["trace#impact"]


def test_viewer_gets_no_flag_buttons_and_the_server_refuses_a_flag(viewer, example_runs):
    producer = version(example_runs, "sales_producer", "write_daily_sales")
    tree = viewer.page("catalog/output", f"?dag_id=sales_producer&task_id=write_daily_sales&name={quote(producer.name)}")
    assert not find(tree, lambda n: n["props"].get("id") in ("catalog-flag-button", "catalog-review-button"))
    assert "Only users who may edit this DAG can flag or review a version." in texts(tree)
    resp = flag(viewer, producer, "viewer says bad")
    assert resp.status_code == 200, resp.text
    assert "Refused" in json.dumps(resp.json())
    assert not any(f.note == "viewer says bad" for f in queries.flags_of(sources(), producer.output_id, allowed=None))


def flag(user: DashClient, v: queries.VersionRef, note: str, review: bool = False):
    return user.callback(
        FLAG,
        outputs_spec(FLAG),
        [
            {"id": "catalog-review-button" if review else "catalog-flag-button", "property": "n_clicks", "value": 1},
            {"id": "catalog-flag-button" if review else "catalog-review-button", "property": "n_clicks", "value": 0},
        ],
        [
            {"id": "catalog-flag-version", "property": "value", "value": v.output_id},
            {"id": "catalog-flag-note", "property": "value", "value": note},
            {"id": "catalog-ids", "property": "data", "value": {"dag_id": v.dag_id, "task_id": v.task_id, "name": v.name}},
        ],
    )


def review_suspect(user: DashClient, output_id: int, note: str):
    ident = {"type": "suspect-review", "output_id": output_id}
    body = {
        "output": REVIEW,
        "outputs": outputs_spec(REVIEW),
        "inputs": [[{"id": ident, "property": "n_clicks", "value": 1}]],
        "state": [{"id": "suspects-note", "property": "value", "value": note}],
        "changedPropIds": [json.dumps(ident, sort_keys=True, separators=(",", ":")) + ".n_clicks"],
    }
    return user.client.post(f"{user.prefix}/_dash-update-component", json=body, headers=user.headers)


def test_flag_lists_suspects_downstream_until_reviewed(admin, viewer, example_runs):
    producer = version(example_runs, "sales_producer", "write_daily_sales")
    note = "<b>bad</b> totals from a broken feed"
    resp = flag(admin, producer, note)
    assert resp.status_code == 200 and "Flagged" in json.dumps(resp.json()), resp.text
    try:
        flags = queries.flags_of(sources(), producer.output_id, allowed=None)
        assert any(f.note == note and f.flagged_by == "admin" and f.reviewed_at is None for f in flags)
        page = admin.page("suspects")
        suspects = [s for s in queries.suspects(sources(), allowed=None) if s.flag.output_id == producer.output_id]
        assert suspects and any(s.version.dag_id == SECRET for s in suspects)
        assert note in texts(page)  # the note, as text
        buttons = find(page, lambda n: isinstance(n["props"].get("id"), dict))
        assert buttons, "an editor gets review buttons"
        assert not find(viewer.page("suspects"), lambda n: isinstance(n["props"].get("id"), dict))
        words = texts(badges(admin, ""))
        assert any("suspect version" in w for w in words), words  # home's badge
        assert any("suspect output" in w for w in texts(badges(admin, SECRET)))  # the consumer DAG's page: its outputs
        suspect = suspects[0].version
        refused = review_suspect(viewer, suspect.output_id, "viewer")
        assert refused.status_code == 200 and "Refused" in json.dumps(refused.json())
        done = review_suspect(admin, suspect.output_id, "checked, fine")
        assert done.status_code == 200 and "Reviewed" in json.dumps(done.json()), done.text
        left = [s for s in queries.suspects(sources(), allowed=None) if s.flag.output_id == producer.output_id]
        assert suspect.output_id not in {s.version.output_id for s in left}
    finally:
        closed = flag(admin, producer, "closing", review=True)
        assert closed.status_code == 200 and "Reviewed" in json.dumps(closed.json()), closed.text
    assert all(f.reviewed_at for f in queries.flags_of(sources(), producer.output_id, allowed=None))


def badges(user: DashClient, dag_id: str):
    resp = user.callback(
        "across-badges.children",
        {"id": "across-badges", "property": "children"},
        [{"id": "across-badges-dag", "property": "data", "value": dag_id}],
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["response"]["across-badges"]["children"]


def test_badges_count_pii_outputs_and_say_nothing_of_unreadable_dags(admin, outsider, example_runs):
    assert "1 PII output" in texts(badges(admin, "titanic"))
    assert any("PII output" in w for w in texts(badges(admin, "")))
    assert not texts(badges(outsider, "titanic"))  # a DAG they cannot read: nothing, not even zero
    assert not texts(badges(outsider, ""))


def test_markup_in_column_names_stays_text_on_catalog_and_column_pages(admin, example_runs):
    v = version(example_runs, "html_probe", "weird_columns")
    tree = admin.page("catalog/output", f"?dag_id=html_probe&task_id=weird_columns&name={quote(v.name)}")
    words = texts(tree)
    assert IMG in words and BOLD in words  # literally, as text children
    assert "dangerously_allow_html" not in json.dumps(tree)
    column = admin.page("catalog/column", f"?name={quote(IMG)}")
    assert IMG in texts(column)
    for page in (tree, column):
        for fig in (n["props"]["figure"] for n in find(page, lambda n: n["type"] == "Graph")):
            raw = json.dumps(fig)
            assert "<img" not in raw and "<b>" not in raw and "<script" not in raw


def test_search_page_filters_by_kind_and_hits_open_the_new_pages(admin, example_runs):
    tree = admin.page("search", "?q=age")
    hits = find(tree, lambda n: "data-kind" in n["props"])
    assert {"column"} <= {h["props"]["data-kind"] for h in hits}
    links = [n["props"]["href"] for n in find(tree, lambda n: n["type"] == "Link")]
    assert any("/catalog/column?name=age" in u for u in links)
    only = admin.page("search", "?q=model_input&kind=output")
    kinds = {h["props"]["data-kind"] for h in find(only, lambda n: "data-kind" in n["props"])}
    assert kinds == {"output"}
    assert any("/catalog/output?" in n["props"]["href"] for n in find(only, lambda n: n["type"] == "Link"))
    tags = admin.page("search", "?q=data-eng&kind=tag")  # a tag opens the impact of what carries it
    links = [n["props"]["href"] for n in find(tags, lambda n: n["type"] == "Link")]
    assert any(u.endswith("/trace?tag=team%3Ddata-eng") for u in links), links
    impact = admin.page("trace", "?tag=team%3Ddata-eng")
    assert not error_cards(impact)
    assert find(impact, lambda n: n["props"].get("id") == "trace-graph")


def test_pii_page_lists_pii_outputs_and_offers_json(admin, example_runs):
    tree = admin.page("pii")
    assert find(tree, lambda n: n["props"].get("data-dataset") == "titanic/load_passengers/return_value")
    resp = admin.callback(
        "pii-download.data",
        {"id": "pii-download", "property": "data"},
        [{"id": "pii-download-button", "property": "n_clicks", "value": 1}],
    )
    assert resp.status_code == 200, resp.text
    report = json.loads(resp.json()["response"]["pii-download"]["data"]["content"])
    assert any(d["dag_id"] == "titanic" and "name" in d["pii_columns"] for d in report["pii_outputs"])


def test_trace_graph_has_exact_versions_and_a_depth_control(admin, example_runs):
    model = version(example_runs, "titanic", "train_model")
    tree = admin.page("trace", f"?output_id={model.output_id}&depth=10")
    graph = find(tree, lambda n: n["props"].get("id") == "trace-graph")[0]
    nodes = [e for e in graph["props"]["elements"] if "source" not in e["data"]]
    assert any(e["data"]["id"] == f"version:{model.output_id}" for e in nodes)
    assert any(e["data"]["kind"] == "try" for e in nodes)
    runs = {n["props"]["children"] for n in find(tree, lambda n: n["type"] == "Link")}
    assert example_runs["titanic"][-1].run_id in runs  # the exact run, listed
    deps = admin.client.get("/ddtrack/_dash-dependencies", headers=admin.headers).json()
    output = next(d["output"] for d in deps if any(i["id"] == "trace-depth" for i in d["inputs"]))
    resp = admin.callback(
        output,
        {"id": "url", "property": "search"},
        [
            {"id": "trace-depth", "property": "value", "value": 2},
            {"id": "trace-direction", "property": "value", "value": "upstream"},
        ],
        [{"id": "trace-params", "property": "data", "value": {"output_id": str(model.output_id)}}],
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["response"]["url"]["search"] == f"?output_id={model.output_id}&direction=upstream&depth=2"


def test_path_between_a_task_and_a_later_task_and_an_unknown_node(admin, example_runs):
    tree = admin.page("trace", "?from=titanic.load_passengers&to=titanic.train_model")
    assert not error_cards(tree)
    graph = find(tree, lambda n: n["props"].get("id") == "trace-graph")[0]
    labels = " ".join(e["data"].get("label", "") for e in graph["props"]["elements"])
    assert "load_passengers" in labels and "train_model" in labels and "features" in labels
    unknown = admin.page("trace", "?from=titanic.no_such_task&to=titanic.train_model")
    assert "titanic.no_such_task" in " ".join(texts(unknown))


@pytest.fixture
def consumed_producer(example_runs, metastore_url):
    """sales_producer run again, then sales_consumer: a task's impact starts at its newest
    run, and another module of this process may have run sales_producer since example_runs
    with no consumer after it (test_across_dags_cli's in-process runs reach this store too)."""
    from dev_tools.airflow_versions import dag_bag
    from records import run_in_process

    bag = dag_bag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    return {dag_id: run_in_process(bag.get_dag(dag_id), metastore_url) for dag_id in ("sales_producer", "sales_consumer")}


def test_impact_of_a_uri_and_of_a_task(admin, consumed_producer):
    producer = queries.find_version(
        sources(), "sales_producer", consumed_producer["sales_producer"].run_id, "write_daily_sales", None, allowed=None
    )
    assert producer is not None
    starts = {
        f"?uri={quote(producer.uri or '')}": {"uri": producer.uri},
        "?dag_id=sales_producer&task_id=write_daily_sales": {"dag_id": "sales_producer", "task_id": "write_daily_sales"},
    }
    for search, start in starts.items():
        tree = admin.page("trace", search)
        assert not error_cards(tree), search
        listed = json.dumps(find(tree, lambda n: n["props"].get("id") == "trace-list"))
        # On a failure, say whether the query itself (no rights applied) missed the consumer.
        assert SECRET in listed, (search, unfiltered_impact(start))
        assert consumed_producer["sales_consumer"].run_id in listed, search


def unfiltered_impact(start: dict) -> list[str]:
    """The nodes of an impact walk with no rights applied: (kind, dag, task, run) each."""
    return sorted(str((n.kind, n.dag_id, n.task_id, n.run_id)) for n in queries.impact(sources(), allowed=None, **start).nodes)


def test_a_path_node_opens_the_catalog_page_of_an_output_whose_name_has_dots():
    from urllib.parse import parse_qs, urlsplit

    from ddtrack.queries.types import TraceEdge, TraceNode, TraceResult
    from ddtrack.views.pages.trace import graph_elements

    node = TraceNode("dataset:titanic/features/fares.v2.parquet", "dataset", "titanic.features.fares.v2.parquet", 0,
                     "titanic", "features")
    task = TraceNode("task:titanic/train_model", "task", "titanic.train_model", 1, "titanic", "train_model")
    result = TraceResult("path", node.id, [node, task], [TraceEdge(node.id, task.id, "read")], 20)
    url = next(e["data"]["url"] for e in graph_elements(result) if e["data"]["id"] == node.id)
    assert parse_qs(urlsplit(url).query) == {"dag_id": ["titanic"], "task_id": ["features"], "name": ["fares.v2.parquet"]}
