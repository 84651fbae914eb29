"""The query layer on every supported store backend (SQLite, PostgreSQL, MariaDB).

Records are built as the decorator builds them (tests/records.py) and ingested for real;
the metastore URL points at the store itself, so the queries also prove they fall back
to the side tables where Airflow's tables are out of reach.
"""

from __future__ import annotations

import copy
import datetime as dt

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
    return queries.Sources(store_url=installed_store, metastore_url=installed_store)


ALLOWED = {"dag_a", "dag_c"}


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
    history = queries.task_history(sources, "dag_a", "clean", 50)
    assert [h.run_id for h in history] == ["run_5", "run_4", "run_3", "run_2", "run_1"]
    assert history[2].state == "failed" and history[2].rows is None and "ValueError" in history[2].error
    assert history[0].schema_changed and not any(h.schema_changed for h in history[1:])
    assert history[1].rows == 94 and history[1].null_pct is not None
    assert len(queries.task_history(sources, "dag_a", "clean", 2)) == 2


def test_task_instance_with_diff_against_previous_success(sources):
    detail = queries.task_instance(sources, "dag_a", "run_5", "clean")
    assert detail is not None and detail.state == "success"
    assert detail.source and detail.code_hash and detail.tags == {"team": "data-eng"}
    assert [i["upstream_task_id"] for i in detail.inputs] == ["load"]
    assert detail.previous is not None and detail.previous.run_id == "run_4"  # run_3 failed
    diff = detail.previous.diffs[0]
    assert (diff.rows_before, diff.rows_after, diff.schema_changed) == (94, 95, True)
    assert {c.name: c.change for c in diff.columns}["city"] == "removed"
    load = queries.task_instance(sources, "dag_a", "run_5", "load")
    assert {(c["task_id"], c["via"]) for c in load.consumers} == {("clean", "xcom"), ("read_shared", "uri")}
    assert queries.task_instance(sources, "dag_a", "run_9", "clean") is None


def test_lineage_graph_has_data_and_cross_dag_edges(sources):
    graph = queries.lineage_graph(sources, "dag_a")
    edges = {(e.source, e.target, e.kind) for e in graph.edges}
    assert ("output::dag_a::load::return_value", "task::dag_a::clean", "data") in edges
    assert ("output::dag_a::load::return_value", "dag::dag_c::read_shared", "cross_dag") in edges
    ups, downs = queries.neighbours([(e.source, e.target) for e in graph.edges], "task::dag_a::clean")
    assert "task::dag_a::load" in ups and "output::dag_a::clean::return_value" in downs


def test_run_detail_and_dag_runs_from_side_tables(sources):
    run = queries.run_detail(sources, "dag_a", "run_3")
    assert {t.task_id: t.state for t in run.tasks} == {"load": "success", "clean": "failed"}
    runs = queries.dag_runs(sources, "dag_a", limit=3)
    assert [r.run_id for r in runs] == ["run_5", "run_4", "run_3"]
    assert runs[2].failed_tasks == 1 and runs[0].tracked_tasks == 2
    assert queries.run_detail(sources, "dag_a", "nope") is None
