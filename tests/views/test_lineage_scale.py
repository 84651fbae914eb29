"""The DAG page's lineage at scale: grouping, the depth limit, search-to-focus, the cap,
the layered layout (edge crossings on the example DAGs, before and after), and the
cross-DAG expansion, hop by hop, through Airflow's real app."""

from __future__ import annotations

import datetime as dt
import json
import random
from dataclasses import asdict
from itertools import pairwise

import pytest
from records import make_record

from ddtrack import queries
from ddtrack.queries import lineage
from ddtrack.queries.graph import count_crossings
from ddtrack.store.ingest import ingest_records
from ddtrack.views import lineage_graph
from ddtrack.views.lineage_graph import MAX_NODES, View, draw

TASKS, GROUPS = 5000, 50


def big_graph(groups: bool = True) -> queries.LineageGraph:
    """5,000 tasks in 50 task groups, an output each, ~10,000 data edges (the previous task's
    output and one of the 200 before), the shape the benchmark seeds."""
    rng = random.Random(7)
    nodes, edges = [], []
    names = [f"g{i // (TASKS // GROUPS):02d}.t{i:04d}" for i in range(TASKS)]
    for name in names:
        group = name.split(".")[0] if groups else None
        task, out = f"task::big::{name}", f"output::big::{name}::return_value"
        nodes += [
            queries.GraphNode(task, "task", name, "big", name, "success", tracked=True, group=group),
            queries.GraphNode(out, "output", "return_value", "big", name, "success", 10, True, group=group),
        ]
        edges.append(queries.GraphEdge(task, out, "produces"))
    for i in range(1, TASKS):
        for j in {i - 1, rng.randrange(max(0, i - 200), i)}:
            edges.append(queries.GraphEdge(f"output::big::{names[j]}::return_value", f"task::big::{names[i]}", "data"))
    parents = {f"g{g:02d}": None for g in range(GROUPS)} if groups else {}
    return queries.LineageGraph("big", nodes, edges, groups=parents)


def drawn_nodes(drawn: lineage_graph.Drawn) -> dict[str, dict]:
    return {el["data"]["id"]: el for el in drawn.elements if "position" in el}


def test_a_5000_task_dag_opens_with_its_groups_collapsed():
    drawn = draw(big_graph(), View(), None)
    nodes = drawn_nodes(drawn)
    assert set(nodes) == {f"group::g{g:02d}" for g in range(GROUPS)}
    assert drawn.collapsed_groups == GROUPS and drawn.not_shown == 0
    assert nodes["group::g07"]["data"]["label"].startswith("g07\n100 tasks")
    bundles = [el for el in drawn.elements if el["data"].get("source") == "group::g00"]
    assert any(el["data"]["target"] == "group::g01" and int(el["data"]["label"]) > 1 for el in bundles)


def test_opening_a_group_shows_its_tasks_and_outputs_in_place_of_it():
    drawn = draw(big_graph(), View(expanded=["g03"]), None)
    nodes = drawn_nodes(drawn)
    assert "group::g03" not in nodes and "group::g02" in nodes
    assert "task::big::g03.t0342" in nodes and "output::big::g03.t0342::return_value" in nodes
    assert sum(1 for n in nodes if n.startswith("task::")) == TASKS // GROUPS


def test_the_server_never_sends_more_than_the_cap():
    drawn = draw(big_graph(groups=False), View(), None)
    nodes = drawn_nodes(drawn)
    assert len(nodes) == MAX_NODES
    assert drawn.not_shown == 2 * TASKS - MAX_NODES
    assert "task::big::g00.t0000" in nodes  # the sources first: one connected piece
    kept = set(nodes)
    assert all(el["data"]["source"] in kept and el["data"]["target"] in kept for el in drawn.elements if "source" in el["data"])


def test_the_depth_limit_around_a_focus():
    graph = big_graph()
    focus = "task::big::g25.t2500"
    near = draw(graph, View(focus=focus, depth=1), None)
    nodes = drawn_nodes(near)
    assert focus in nodes and "focus" in nodes[focus]["classes"].split()
    # depth 1: its own output and the outputs it reads, nothing further
    assert "output::big::g25.t2500::return_value" in nodes and "output::big::g24.t2499::return_value" in nodes
    assert "task::big::g24.t2499" not in nodes
    wider = drawn_nodes(draw(graph, View(focus=focus, depth=3), None))
    assert set(nodes) < set(wider) and "task::big::g24.t2499" in wider
    assert len(drawn_nodes(draw(graph, View(focus=focus, depth=10), None))) <= MAX_NODES


def test_search_finds_exact_then_prefix_then_substring():
    graph = big_graph()
    assert lineage_graph.search(graph, "G07.T0700").id == "task::big::g07.t0700"
    assert lineage_graph.search(graph, "g07.t070").id == "task::big::g07.t0700"
    assert lineage_graph.search(graph, "t4999").id == "task::big::g49.t4999"
    assert lineage_graph.search(graph, "nothing like it") is None


def test_a_5000_task_chain_is_laid_out_left_to_right_within_the_cap():
    """The page's layout on a long chain (the recursive layering once hit the recursion limit)."""
    nodes = [queries.GraphNode(f"task::d::t{i:05d}", "task", f"t{i:05d}", "d", f"t{i:05d}") for i in reversed(range(TASKS))]
    edges = [queries.GraphEdge(a.id, b.id, "dependency") for a, b in pairwise(nodes)]
    drawn = draw(queries.LineageGraph("d", nodes, edges), View(), None)
    x = {k: el["position"]["x"] for k, el in drawn_nodes(drawn).items()}
    assert len(x) == MAX_NODES and drawn.not_shown == TASKS - MAX_NODES
    chain = [n.id for n in nodes if n.id in x]
    assert chain == [n.id for n in nodes[:MAX_NODES]]  # the chain's start
    assert all(x[a] < x[b] for a, b in pairwise(chain))


def test_a_view_from_a_hand_made_request_is_sanitised():
    view = View.from_data({"scope": "<b>", "focus": 3, "depth": 99, "expanded": ["ok", 5, None]})
    assert view == View(scope="dag", focus=None, depth=lineage_graph.DEFAULT_DEPTH, expanded=["ok"])
    assert View.from_data("junk") == View()


# -- crossings on the example DAGs -------------------------------------------------------

EXAMPLE_DAGS = ("titanic", "quality_check", "mapped_batches", "sales_producer", "sales_consumer")


def hand_written_positions(graph: queries.LineageGraph) -> dict[str, tuple[float, float]]:
    """The layout this replaced (kept here as the reference): one column per longest-path
    layer, each column sorted tasks first, then by name."""
    ids = {n.id for n in graph.nodes}
    layer = queries.layers(ids, [(e.source, e.target) for e in graph.edges if e.source in ids and e.target in ids])
    columns: dict[int, list[str]] = {}
    for n in sorted(graph.nodes, key=lambda n: (layer[n.id], n.kind != "task", n.label)):
        columns.setdefault(layer[n.id], []).append(n.id)
    return {
        node_id: (x * 175, (i - (len(members) - 1) / 2) * 70)
        for x, members in columns.items()
        for i, node_id in enumerate(members)
    }


def test_the_layered_layout_crosses_fewer_edges_on_the_example_dags(example_runs, metastore_url, capsys):
    sources = queries.Sources(store_url=metastore_url, metastore_url=metastore_url)
    before_total = after_total = 0
    lines = []
    for dag_id in EXAMPLE_DAGS:
        graph = queries.lineage_graph(sources, dag_id, allowed=None)
        pairs = [(e.source, e.target) for e in graph.edges]
        before = count_crossings(hand_written_positions(graph), pairs)
        after = count_crossings(
            {k: (el["position"]["x"], el["position"]["y"]) for k, el in drawn_nodes(draw(graph, View(), None)).items()},
            pairs,
        )
        lines.append(f"{dag_id}: {len(graph.nodes)} nodes, {len(pairs)} edges, crossings {before} -> {after}")
        assert after <= before, lines[-1]
        before_total, after_total = before_total + before, after_total + after
    with capsys.disabled():
        print("\n" + "\n".join(lines) + f"\nall example DAGs: {before_total} -> {after_total}")


@pytest.mark.parametrize(
    "view",
    [View(focus="task::big::g25.t2550", depth=3), View(focus="task::big::g25.t2550", depth=10)],
    ids=["depth 3", "depth 10"],
)
def test_the_layered_layout_crosses_fewer_edges_than_the_old_columns_at_scale(view, capsys):
    drawn = draw(big_graph(), view, None)
    nodes = drawn_nodes(drawn)
    pairs = [(el["data"]["source"], el["data"]["target"]) for el in drawn.elements if "source" in el["data"]]
    same = queries.LineageGraph(
        "big",
        [queries.GraphNode(i, el["data"]["kind"], el["data"]["name"], "big") for i, el in nodes.items()],
        [queries.GraphEdge(a, b, "data") for a, b in pairs],
    )
    before = count_crossings(hand_written_positions(same), pairs)
    after = count_crossings({k: (el["position"]["x"], el["position"]["y"]) for k, el in nodes.items()}, pairs)
    with capsys.disabled():
        print(f"\n5,000-task DAG, {view.depth} steps around a task: {len(nodes)} nodes, crossings {before} -> {after}")
    assert after < before


# -- through Airflow's app ----------------------------------------------------------------


def change_view(client, trigger: str, **values) -> dict:
    """The lineage view's callback as the browser calls it, ``trigger`` being what changed."""
    deps = client.client.get(f"{client.prefix}/_dash-dependencies", headers=client.headers).json()
    output = next(d["output"] for d in deps if "dag-lineage-note.children" in d["output"])
    inputs = [
        ("dag-lineage-search", "value"),
        ("dag-lineage-focus", "n_clicks"),
        ("dag-lineage-all", "n_clicks"),
        ("dag-lineage-depth", "value"),
        ("dag-lineage-scope", "value"),
        ("dag-graph", "tapNodeData"),
    ]
    body = {
        "output": output,
        "outputs": [
            {"id": "dag-graph", "property": output.split("..")[1].split(".", 1)[1]},
            {"id": "dag-lineage-note", "property": "children"},
            {"id": "dag-lineage-view", "property": "data"},
            {"id": "dag-graph", "property": "layout"},
        ],
        "inputs": [{"id": i, "property": p, "value": values.get(i.replace("-", "_"))} for i, p in inputs],
        "state": [
            {"id": "dag-lineage-view", "property": "data", "value": values.get("view", View().to_data())},
            {"id": "dag-page-dag-id", "property": "data", "value": values["dag_id"]},
        ],
        "changedPropIds": [f"{trigger}.{dict(inputs)[trigger]}"],
    }
    resp = client.client.post(f"{client.prefix}/_dash-update-component", json=body, headers=client.headers)
    assert resp.status_code in (200, 204), resp.text
    return resp.json()["response"] if resp.status_code == 200 else {}


def element_ids(response: dict) -> set[str]:
    return {el["data"]["id"] for el in response["dag-graph"]["elements"] if "source" not in el["data"]}


def test_search_focuses_the_graph_on_a_task(admin):
    out = change_view(admin, "dag-lineage-search", dag_id="titanic", dag_lineage_search="train", dag_lineage_depth=1)
    view = out["dag-lineage-view"]["data"]
    assert view["focus"] == "task::titanic::train_model"
    ids = element_ids(out)
    assert "task::titanic::train_model" in ids and "task::titanic::load_passengers" not in ids
    assert "around train_model" in json.dumps(out["dag-lineage-note"])
    missing = change_view(admin, "dag-lineage-search", dag_id="titanic", dag_lineage_search="no such task")
    assert "Nothing in this graph is named like" in json.dumps(missing["dag-lineage-note"])
    whole = change_view(admin, "dag-lineage-all", dag_id="titanic", view=view)
    assert "task::titanic::load_passengers" in element_ids(whole) and whole["dag-lineage-view"]["data"]["focus"] is None


def test_focus_on_the_selected_node_with_a_depth(admin):
    node = {"id": "task::titanic::features", "kind": "task"}
    out = change_view(admin, "dag-lineage-focus", dag_id="titanic", dag_graph=node, dag_lineage_depth=1)
    assert out["dag-lineage-view"]["data"]["focus"] == "task::titanic::features"
    ids = element_ids(out)
    # one step: its own outputs and the tasks next to it, not what those produce
    assert {"output::titanic::features::return_value", "task::titanic::train_model"} <= ids
    assert "output::titanic::train_model::return_value" not in ids
    deeper = change_view(admin, "dag-lineage-depth", dag_id="titanic", dag_lineage_depth=3, view=out["dag-lineage-view"]["data"])
    assert "output::titanic::train_model::return_value" in element_ids(deeper)
    # A tap on an ordinary node leaves the view to the highlight callback.
    assert change_view(admin, "dag-graph", dag_id="titanic", dag_graph=node) == {}


def test_across_dags_shows_the_linked_dags_by_hops(admin):
    out = change_view(admin, "dag-lineage-scope", dag_id="sales_consumer", dag_lineage_scope="dags", dag_lineage_depth=1)
    ids = element_ids(out)
    assert {"dag::sales_consumer", "dag::sales_producer"} <= ids
    assert any(i.startswith("uri::") for i in ids)
    assert out["dag-lineage-view"]["data"]["scope"] == "dags"


def test_the_view_callback_refuses_a_forbidden_dag(outsider):
    out = change_view(outsider, "dag-lineage-search", dag_id="titanic", dag_lineage_search="train")
    assert out["dag-graph"]["elements"] == [] and "train_model" not in json.dumps(out)


# -- linked DAGs, hop by hop ------------------------------------------------------------------

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)


@pytest.fixture
def chain_of_dags(installed_store) -> queries.Sources:
    """d0 -> d1 -> ... -> d5 through the datasets u0..u4; "secret" (unreadable) reads u1 and
    writes u9, which d9 reads: d9 is only reachable through the DAG the caller cannot read."""
    records = []
    for i in range(6):
        inputs = [{"kind": "uri", "name": f"u{i - 1}", "uri": f"s3://lake/u{i - 1}"}] if i else []
        records.append(make_record(f"d{i}", "run_1", "step", started=T0, inputs=inputs, output_uri=f"s3://lake/u{i}"))
    records.append(
        make_record("secret", "run_1", "peek", started=T0, inputs=[{"kind": "uri", "name": "u1", "uri": "s3://lake/u1"}], output_uri="s3://lake/u9")
    )
    records.append(make_record("d9", "run_1", "after_secret", started=T0, inputs=[{"kind": "uri", "name": "u9", "uri": "s3://lake/u9"}]))
    report = ingest_records(installed_store, records)
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


READABLE = {"d0", "d1", "d2", "d3", "d4", "d5", "d9"}


def dags_in(graph: queries.LineageGraph) -> set[str]:
    return {n.dag_id for n in graph.nodes if n.kind == "dag"}


def test_linked_dags_expand_hop_by_hop(chain_of_dags):
    assert dags_in(queries.linked_dags(chain_of_dags, "d0", 1, allowed=READABLE)) == {"d0", "d1"}
    three = queries.linked_dags(chain_of_dags, "d0", 3, allowed=READABLE)
    assert dags_in(three) == {"d0", "d1", "d2", "d3"}
    assert {n.dag_id: n.hop for n in three.nodes if n.kind == "dag"}["d3"] == 3
    assert dags_in(queries.linked_dags(chain_of_dags, "d2", 10, allowed=READABLE)) == {"d0", "d1", "d2", "d3", "d4", "d5"}
    assert dags_in(queries.linked_dags(chain_of_dags, "d0", 10, allowed=None)) >= {"secret", "d9"}


def test_an_unreadable_linked_dag_is_counted_never_named_nor_walked_through(chain_of_dags):
    graph = queries.linked_dags(chain_of_dags, "d0", 10, allowed=READABLE)
    text = json.dumps([asdict(n) for n in graph.nodes] + [asdict(e) for e in graph.edges])
    assert "secret" not in text and "peek" not in text and "u9" not in text
    assert "d9" not in dags_in(graph)  # reachable only through the unreadable DAG
    assert graph.hidden_dags == 1
    assert [n.label for n in graph.nodes if n.kind == "hidden"] == ["1 DAG you cannot read"]
    assert queries.linked_dags(chain_of_dags, "secret", 3, allowed=READABLE).nodes == []


def test_a_serialized_dag_is_parsed_once_per_version_and_again_when_it_changes(tmp_path):
    """The parsed shape is kept per ``dag_hash``: a new serialized version (a task added to
    the DAG file) is read at once, an unchanged one is not parsed again."""
    import sqlalchemy as sa

    from ddtrack.queries import lineage
    from ddtrack.store.airflow_tables import SERIALIZED_DAG

    url = f"sqlite:///{tmp_path / 'meta.db'}"
    engine = sa.create_engine(url)
    SERIALIZED_DAG.create(engine)

    def serialize(version: str, tasks: list[str], at: int) -> None:
        data = {"dag": {"tasks": [{"__var": {"task_id": t, "downstream_task_ids": []}} for t in tasks]}}
        with engine.begin() as conn:
            conn.execute(SERIALIZED_DAG.insert().values(
                dag_id="shaped", data=data, dag_hash=version, created_at=T0 + dt.timedelta(minutes=at)
            ))

    sources = queries.Sources(store_url=url, metastore_url=url)
    serialize("v1", ["a", "b"], 0)
    first = lineage.serialized_dag(sources, "shaped", allowed={"shaped"})
    assert first.task_ids == ["a", "b"]
    assert lineage.serialized_dag(sources, "shaped", allowed={"shaped"}) is first  # kept, not parsed again
    serialize("v2", ["a", "b", "c"], 1)
    assert lineage.serialized_dag(sources, "shaped", allowed={"shaped"}).task_ids == ["a", "b", "c"]
    assert lineage.serialized_dag(sources, "shaped", allowed={"other"}).task_ids == []  # rights before the cache
    engine.dispose()


def test_each_task_shows_its_own_newest_run_read_whole_or_by_id(installed_store):
    """60 tasks ran in the newest run (read by the run's key), one only in an older run (read
    by its try's id): each output shows the rows of its task's newest run, never summed with
    the older run's (which the whole-run read also returns and must leave out)."""
    assert lineage.WHOLE_RUN_ABOVE < 60
    tasks = [f"t{i:02d}" for i in range(60)]
    old = [make_record("wide", "run_old", t, started=T0, rows=100) for t in tasks]
    old.append(make_record("wide", "run_old", "lonely", started=T0, rows=50))
    new = [make_record("wide", "run_new", t, started=T0 + dt.timedelta(hours=1), rows=200) for t in tasks]
    report = ingest_records(installed_store, old + new)
    assert report.failed == 0, report.errors
    graph = queries.lineage_graph(queries.Sources(store_url=installed_store, metastore_url=""), "wide", allowed={"wide"})
    rows = {n.task_id: n.rows for n in graph.nodes if n.kind == "output"}
    assert rows == {**dict.fromkeys(tasks, 200), "lonely": 50}
