"""The query layer on every supported store backend (SQLite, PostgreSQL, MariaDB).

Records are built as the decorator builds them (tests/records.py) and ingested for real;
no metastore is configured (a store on its own), so the queries also prove they answer
from the side tables alone. A configured metastore that fails is an error, not an empty
result (``test_*metastore*``).
"""

from __future__ import annotations

import copy
import datetime as dt
from itertools import pairwise

import pytest
from records import make_record

from ddtrack import queries
from ddtrack.store.ingest import ingest_records

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
SHARED_URI = "s3://bucket/shared.parquet"


def _without_column(record: dict, name: str) -> dict:
    """The record of a run whose output lost a column (a schema change)."""
    record = copy.deepcopy(record)
    profile = record["outputs"][0]["profile"]
    profile["columns"] = [c for c in profile["columns"] if c["name"] != name]
    profile["schema"] = [s for s in profile.get("schema") or [] if s.get("name") != name]
    profile["schema_fingerprint"] = "changed-" + str(profile.get("schema_fingerprint"))
    return record


@pytest.fixture
def sources(installed_store) -> queries.Sources:
    records = []
    for i in range(1, 6):
        started = T0 + dt.timedelta(hours=i)
        load = make_record("dag_a", f"run_{i}", "load", rows=100 + i, started=started, output_uri=SHARED_URI)
        clean = make_record(
            "dag_a",
            f"run_{i}",
            "clean",
            rows=90 + i,
            started=started + dt.timedelta(minutes=1),
            state="failed" if i == 3 else "success",
            inputs=[{"kind": "task", "task_id": "load", "name": "return_value"}],
        )
        if i == 3:
            clean["outputs"] = []
        if i == 5:
            clean = _without_column(clean, "city")
        records += [load, clean]
    records.append(make_record("dag_b", "run_1", "secret", started=T0))
    # dag_b, which ALLOWED does not include, also reads what dag_a writes, and has a mapped task.
    records.append(
        make_record(
            "dag_b",
            "run_1",
            "peek_shared",
            started=T0 + dt.timedelta(hours=8),
            inputs=[{"kind": "uri", "name": "shared", "uri": SHARED_URI}],
        )
    )
    records += [make_record("dag_b", "run_1", "split_b", map_index=i, started=T0) for i in range(2)]
    records.append(
        make_record(
            "dag_c",
            "run_1",
            "read_shared",
            started=T0 + dt.timedelta(hours=9),
            inputs=[{"kind": "uri", "name": "shared", "uri": SHARED_URI}],
        )
    )
    report = ingest_records(installed_store, records)
    assert report.failed == 0, report.errors
    return queries.Sources(store_url=installed_store, metastore_url="")


ALLOWED = {"dag_a", "dag_c"}
HIDDEN = ("dag_b", "peek_shared", "split_b", "secret")  # what a reader of ALLOWED never sees


def test_tracked_dags_only_readable_ones(sources):
    dags = {d.dag_id: d for d in queries.tracked_dags(sources, ALLOWED)}
    assert set(dags) == {"dag_a", "dag_c"}
    assert dags["dag_a"].n_outputs == 2 and dags["dag_a"].n_tasks == 2
    assert [rows for _, rows in dags["dag_a"].rows_by_run][-1] == 105 + 95
    assert queries.tracked_dags(sources, set()) == []


def test_search_is_filtered_by_readable_dags(sources):
    kinds = {(h.kind, h.dag_id, h.label) for h in queries.search(sources, "amount", ALLOWED)}
    assert ("column", "dag_a", "amount") in kinds
    assert not any(h.dag_id == "dag_b" for h in queries.search(sources, "secret", ALLOWED))
    assert any(h.dag_id == "dag_b" for h in queries.search(sources, "secret", None))
    assert queries.search(sources, "100%_", ALLOWED) == []  # LIKE wildcards are escaped


def test_task_history_marks_failures_and_schema_changes(sources):
    history = queries.task_history(sources, "dag_a", "clean", 50, allowed=ALLOWED)
    assert [h.run_id for h in history] == ["run_5", "run_4", "run_3", "run_2", "run_1"]
    assert history[2].state == "failed" and history[2].rows is None and "ValueError" in history[2].error
    assert history[0].schema_changed and not any(h.schema_changed for h in history[1:])
    assert history[1].rows == 94 and history[1].null_pct is not None
    assert len(queries.task_history(sources, "dag_a", "clean", 2, allowed=ALLOWED)) == 2


def test_task_instance_with_diff_against_previous_success(sources):
    detail = queries.task_instance(sources, "dag_a", "run_5", "clean", allowed=ALLOWED)
    assert detail is not None and detail.state == "success"
    assert detail.source and detail.code_hash and detail.tags == {"team": "data-eng"}
    assert [i["upstream_task_id"] for i in detail.inputs] == ["load"]
    assert detail.previous is not None and detail.previous.run_id == "run_4"  # run_3 failed
    diff = detail.previous.diffs[0]
    assert (diff.rows_before, diff.rows_after, diff.schema_changed) == (94, 95, True)
    assert {c.name: c.change for c in diff.columns}["city"] == "removed"
    load = queries.task_instance(sources, "dag_a", "run_5", "load", allowed=ALLOWED)
    assert {(c["task_id"], c["via"]) for c in load.consumers} == {("clean", "xcom"), ("read_shared", "uri")}
    assert load.hidden_consumers == 1  # dag_b's peek_shared: counted, never named
    assert not any(h in repr(load) for h in HIDDEN)
    everyone = queries.task_instance(sources, "dag_a", "run_5", "load", allowed=None)
    assert ("peek_shared", "uri") in {(c["task_id"], c["via"]) for c in everyone.consumers}
    assert everyone.hidden_consumers == 0
    assert queries.task_instance(sources, "dag_a", "run_9", "clean", allowed=ALLOWED) is None


def test_lineage_graph_has_data_and_cross_dag_edges(sources):
    graph = queries.lineage_graph(sources, "dag_a", allowed=ALLOWED)
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert ("output::dag_a::load::return_value", "task::dag_a::clean", "data") in edges
    assert ("output::dag_a::load::return_value", "dag::dag_c::read_shared", "cross_dag") in edges
    hidden = [n for n in graph.nodes if n.kind == "hidden"]
    assert [n.label for n in hidden] == ["1 task in a DAG you cannot read"]
    assert ("output::dag_a::load::return_value", hidden[0].id, "cross_dag") in edges
    assert not any(h in repr(graph) for h in HIDDEN)  # no node, label or edge names dag_b
    everyone = queries.lineage_graph(sources, "dag_a", allowed=None)
    assert "dag::dag_b::peek_shared" in {n.id for n in everyone.nodes}
    assert not any(n.kind == "hidden" for n in everyone.nodes)
    ups, downs = queries.neighbours([(e.source, e.target) for e in graph.edges], "task::dag_a::clean")
    assert "task::dag_a::load" in ups and "output::dag_a::clean::return_value" in downs


def test_run_detail_and_dag_runs_from_side_tables(sources):
    run = queries.run_detail(sources, "dag_a", "run_3", allowed=ALLOWED)
    assert {t.task_id: t.state for t in run.tasks} == {"load": "success", "clean": "failed"}
    runs = queries.dag_runs(sources, "dag_a", limit=3, allowed=ALLOWED)
    assert [r.run_id for r in runs] == ["run_5", "run_4", "run_3"]
    assert runs[2].failed_tasks == 1 and runs[0].tracked_tasks == 2
    assert queries.run_detail(sources, "dag_a", "nope", allowed=ALLOWED) is None


def test_no_query_answers_about_a_dag_the_caller_may_not_read(sources):
    """Every single-DAG question refuses a DAG outside ``allowed``, though its data exists."""
    assert queries.dag_exists(sources, "dag_b", allowed=None)
    assert not queries.dag_exists(sources, "dag_b", allowed=ALLOWED)
    assert not queries.dag_exists(sources, "dag_a", allowed=set())
    assert queries.lineage_graph(sources, "dag_b", allowed=None).nodes
    assert queries.lineage_graph(sources, "dag_b", allowed=ALLOWED).nodes == []
    assert queries.dag_runs(sources, "dag_b", allowed=None)
    assert queries.dag_runs(sources, "dag_b", allowed=ALLOWED) == []
    assert queries.run_detail(sources, "dag_b", "run_1", allowed=None) is not None
    assert queries.run_detail(sources, "dag_b", "run_1", allowed=ALLOWED) is None
    assert queries.task_history(sources, "dag_b", "secret", allowed=None)
    assert queries.task_history(sources, "dag_b", "secret", allowed=ALLOWED) == []
    assert queries.task_instance(sources, "dag_b", "run_1", "secret", allowed=None) is not None
    assert queries.task_instance(sources, "dag_b", "run_1", "secret", allowed=ALLOWED) is None
    assert queries.mapped_whole(sources, "dag_b", "run_1", "split_b", allowed=ALLOWED) is None
    assert queries.mapped_whole(sources, "dag_b", "run_1", "split_b", allowed=None) is not None


def test_every_query_takes_allowed():
    """The rule, checked: a question of the query layer (it takes ``sources``) that does not
    take the caller's readable DAGs (``allowed``; a write: ``editable``) is a bug."""
    import inspect

    asked = [
        name
        for name in queries.__all__
        if callable(fn := getattr(queries, name)) and "sources" in _params(fn)
    ]
    assert {"lineage_graph", "task_instance", "dag_runs", "search", "tracked_dags"} <= set(asked)
    assert [name for name in asked if not {"allowed", "editable"} & _params(getattr(queries, name))] == []
    assert inspect.signature(queries.lineage_graph).parameters["allowed"].default is inspect.Parameter.empty


def _params(fn) -> set[str]:
    import inspect

    try:
        return set(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return set()


# -- a metastore that does not answer -----------------------------------------------------


@pytest.fixture
def broken_metastore(sources, tmp_path, caplog, monkeypatch):
    """The same store, with a metastore URL that answers with errors (a database without
    Airflow's tables); the rate limiter forgets earlier warnings."""
    from ddtrack.queries import sources as sources_module

    monkeypatch.setattr(sources_module, "_last_logged", {})
    caplog.set_level("WARNING", logger="ddtrack.queries")
    return queries.Sources(store_url=sources.store_url, metastore_url=f"sqlite:///{tmp_path / 'empty.db'}")


@pytest.mark.parametrize(
    "ask",
    [
        lambda s: queries.dag_runs(s, "dag_a", allowed=ALLOWED),
        lambda s: queries.run_detail(s, "dag_a", "run_3", allowed=ALLOWED),
        lambda s: queries.lineage_graph(s, "dag_a", allowed=ALLOWED),
        lambda s: queries.dag_exists(s, "dag_c_never_ran", allowed=None),
    ],
    ids=["dag_runs", "run_detail", "lineage_graph", "dag_exists"],
)
def test_a_failing_metastore_is_an_error_not_an_empty_result(broken_metastore, caplog, ask):
    with pytest.raises(queries.MetastoreUnavailable, match="Airflow's metadata could not be read"):
        ask(broken_metastore)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "no such table" in warnings[0]


def test_failing_metastore_warnings_are_rate_limited(broken_metastore, caplog):
    for _ in range(5):
        with pytest.raises(queries.MetastoreUnavailable):
            queries.dag_runs(broken_metastore, "dag_a", allowed=ALLOWED)
    assert len([r for r in caplog.records if r.levelname == "WARNING"]) == 1


# -- lineage layout -----------------------------------------------------------------------

N = 5000


def test_layers_of_a_5000_task_chain():
    nodes = [f"t{i:05d}" for i in reversed(range(N))]  # sorted order starts at the far end
    layer = queries.layers(nodes, list(pairwise(nodes)))
    assert [layer[n] for n in nodes] == list(range(N))


def test_layers_of_a_5000_task_fan_out_and_in():
    leaves = [f"leaf{i}" for i in range(N)]
    edges = [("root", leaf) for leaf in leaves] + [(leaf, "sink") for leaf in leaves]
    layer = queries.layers(["root", "sink", *leaves], edges)
    assert layer["root"] == 0 and layer["sink"] == 2 and {layer[leaf] for leaf in leaves} == {1}


def test_layers_are_longest_paths():
    layer = queries.layers("abcde", [("a", "b"), ("b", "c"), ("a", "c"), ("c", "d"), ("x", "a")])
    assert layer == {"a": 0, "b": 1, "c": 2, "d": 3, "e": 0}


def test_layers_break_cycles():
    layer = queries.layers("abcd", [("a", "b"), ("b", "c"), ("c", "a"), ("c", "d"), ("d", "d")])
    assert set(layer) == set("abcd") and layer["a"] == 0 and layer["b"] == 1 and layer["d"] == 3
    ring = [f"r{i:05d}" for i in range(N)]  # one long cycle: terminates, linear
    assert max(queries.layers(ring, [*pairwise(ring), (ring[-1], ring[0])]).values()) == N - 1
