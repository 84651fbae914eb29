"""Column lineage through real Airflow task runs (dag.test()) and the real ingest:
tests/integration/shared/dags/column_lineage.py's two DAGs sharing a file's URI.

Inference by name, declarations (a rename that can only be declared), warnings recorded
with the try for declarations that name nothing, the column trace and impact across the
two DAGs, PII per column (a PII-free column of an output with PII-derived columns is not
PII-derived), unreadable DAGs counted and never named, and the CLI's --column and pii JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from helpers import load_dag, pushed_records, run_in_process, task_runs

from ddtrack.queries import Sources
from ddtrack.queries.column_lineage import UnknownColumn, column_neighbours, trace_column
from ddtrack.queries.pii import pii_report
from ddtrack.queries.versions import find_version
from ddtrack.store.engine import session_factory
from ddtrack.store.models import ColumnLineage, Lineage
from ddtrack.store.schema import upgrade

DAGS = Path(__file__).parent / "shared" / "dags" / "column_lineage.py"
DDTRACK = str(Path(sys.executable).parent / "ddtrack")


@pytest.fixture(scope="module")
def runs(airflow_home, metastore_url, tmp_path_factory):
    from dev_tools.airflow_versions import dag_bag

    store = f"sqlite:///{tmp_path_factory.mktemp('column_lineage') / 'ddtrack.db'}"
    upgrade(store)
    linked = Path(os.environ["AIRFLOW__CORE__DAGS_FOLDER"]) / DAGS.name  # dag.test() runs DAGs of its folder
    if not linked.exists():
        linked.symlink_to(DAGS)
    bag = dag_bag(str(linked))
    assert not bag.import_errors, bag.import_errors
    done = {dag_id: run_in_process(bag.get_dag(dag_id), metastore_url, store).run_id
            for dag_id in ("cl_customers", "cl_report")}
    return done, Sources(store_url=store, metastore_url=metastore_url), metastore_url


def _edges(store: str, dag_id: str, task_id: str) -> set[tuple]:
    with session_factory(store)() as session:
        rows = session.scalars(sa.select(ColumnLineage).where(ColumnLineage.dag_id == dag_id,
                                                              ColumnLineage.task_id == task_id)).all()
        return {(r.output_name, r.column_name, r.input_kind, r.upstream_task_id or r.input_uri, r.input_column, r.how)
                for r in rows}


def test_the_task_records_its_inputs_columns_and_the_lineage(runs):
    done, sources, metastore = runs
    (record,) = [r for r in pushed_records(metastore, "cl_customers", done["cl_customers"]) if r["task_id"] == "transform"]
    (upstream,) = [i for i in record["inputs"] if i["kind"] == "task"]
    assert (upstream["task_id"], upstream["param"], upstream["columns"]) == ("extract", "customers",
                                                                            ["id", "name", "email", "amount"])
    assert sorted(record["outputs"][0]["column_lineage"]) == [
        ["amount_x2", 0, "amount", "declared"], ["greeting", 0, "name", "declared"], ["id", 0, "id", "inferred"],
    ]
    assert _edges(sources.store_url, "cl_customers", "transform") == {
        ("return_value", "id", "task", "extract", "id", "inferred"),
        ("return_value", "greeting", "task", "extract", "name", "declared"),  # a rename: declared only
        ("return_value", "amount_x2", "task", "extract", "amount", "declared"),
    }


def test_a_log_input_frame_gives_its_columns_across_dags(runs):
    _, sources, _ = runs
    uri = "file://" + str(Path(os.environ["DDTRACK_DEMO_DATA"]) / "column_lineage" / "customers.parquet")
    assert _edges(sources.store_url, "cl_report", "report") == {
        ("return_value", "id", "uri", uri, "id", "inferred"),
        ("return_value", "greeting", "uri", uri, "greeting", "inferred"),
        ("return_value", "doubled", "uri", uri, "amount_x2", "declared"),
    }
    with session_factory(sources.store_url)() as session:
        known = session.scalars(sa.select(Lineage.columns_known).where(
            Lineage.dag_id == "cl_report", Lineage.direction == "input")).all()
    assert known == [True]


def test_declarations_that_name_nothing_are_warnings_with_the_try(runs):
    done, sources, _ = runs
    (report,) = task_runs(sources.store_url, "cl_report", done["cl_report"])
    assert report.state == "success"
    warnings = report.extra["warnings"]
    assert any("no output has a column 'ghost'" in w for w in warnings)
    assert any("output 'summary', column 'n': no input column 'customers.nothing'" in w for w in warnings)


def _version(sources, runs, dag_id, task_id):
    return find_version(sources, dag_id, runs[dag_id], task_id, allowed=None)


def test_a_column_traced_upstream_across_two_dags(runs):
    done, sources, _ = runs
    report = _version(sources, done, "cl_report", "report")
    result = trace_column(sources, report.output_id, "greeting", allowed=None)
    found = {(c.dag_id, c.task_id, c.output, c.column, c.hops, c.how) for c in result.columns if c.hops > 0}
    assert found == {
        ("cl_customers", "transform", "return_value", "greeting", 1, "inferred"),
        ("cl_customers", "extract", "return_value", "name", 2, "declared"),
    }
    assert not result.truncated and result.hidden == 0
    doubled = trace_column(sources, report.output_id, "doubled", allowed=None)
    assert {(c.task_id, c.column) for c in doubled.columns if c.hops} == {("transform", "amount_x2"), ("extract", "amount")}
    with pytest.raises(UnknownColumn):
        trace_column(sources, report.output_id, "nope", allowed=None)


def test_a_columns_impact_and_an_unreadable_dag_counted_never_named(runs):
    done, sources, _ = runs
    extract = _version(sources, done, "cl_customers", "extract")
    result = trace_column(sources, extract.output_id, "name", allowed=None, upstream=False)
    assert {(c.dag_id, c.task_id, c.column, c.hops) for c in result.columns if c.hops} == {
        ("cl_customers", "transform", "greeting", 1), ("cl_report", "report", "greeting", 2),
    }
    only_customers = trace_column(sources, extract.output_id, "name", allowed={"cl_customers"}, upstream=False)
    assert only_customers.hidden == 1
    assert "cl_report" not in repr(only_customers) and "report" not in {c.task_id for c in only_customers.columns}
    report = _version(sources, done, "cl_report", "report")
    up, down = column_neighbours(sources, "cl_customers", "transform", "return_value", "greeting", allowed=None)
    assert {(c.task_id, c.column) for c in up.columns if c.hops} == {("extract", "name")}
    assert {(c.output_id, c.column) for c in down.columns if c.hops} == {(report.output_id, "greeting")}
    assert column_neighbours(sources, "cl_report", "report", "return_value", "greeting", allowed={"cl_customers"}) is None


def test_pii_follows_columns_across_two_dags(runs):
    _, sources, _ = runs
    report = pii_report(sources, allowed=None)
    columns = {(c.dag_id, c.task_id, c.output, c.column): c for c in report.columns}
    assert {k: c.pii for k, c in columns.items()} == {
        ("cl_customers", "extract", "return_value", "name"): "declared",
        ("cl_customers", "extract", "return_value", "email"): "declared",
        ("cl_customers", "transform", "return_value", "greeting"): "derived",
        ("cl_report", "report", "return_value", "greeting"): "derived",
    }
    assert columns[("cl_report", "report", "return_value", "greeting")].via == ["cl_customers.extract.return_value.name"]
    # A PII-free column of an output with PII-derived columns: id, doubled, amount_x2 are not listed.
    derived = {(d.dag_id, d.task_id, d.name) for d, _ in report.derived}
    assert derived == {("cl_customers", "transform", "return_value"), ("cl_report", "report", "return_value")}
    hidden = pii_report(sources, allowed={"cl_report"})
    assert [(c.task_id, c.column, c.pii, c.via) for c in hidden.columns] == [
        ("report", "greeting", "derived", ["a DAG you cannot read"])
    ]
    assert hidden.hidden == 2 and "cl_customers" not in repr(hidden)


def test_sql_through_a_tracked_operator_gives_column_lineage(runs):
    """The warehouse example: track(SQLExecuteQueryOperator(...)) writes daily_revenue from
    raw_orders with CREATE TABLE ... AS SELECT; its columns trace back to raw_orders' columns."""
    _, sources, metastore = runs
    run_id = run_in_process(load_dag("warehouse"), metastore, sources.store_url).run_id
    assert {(e[1], e[4], e[5]) for e in _edges(sources.store_url, "warehouse", "daily_revenue")} == {
        ("store", "store", "sql"), ("revenue", "amount", "sql"), ("avg_amount", "amount", "sql"),
        ("last_order", "ordered_at", "sql"),
    }
    daily = find_version(sources, "warehouse", run_id, "daily_revenue", allowed=None)
    result = trace_column(sources, daily.output_id, "revenue", allowed=None)
    assert {(c.task_id, c.output, c.column, c.hops, c.how) for c in result.columns if c.hops} == {
        ("load", "raw_orders", "amount", 1, "sql"),
    }


def _cli(sources, *args: str):
    env = {**os.environ, "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN": sources.store_url, "COLUMNS": "200"}
    return subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=env, timeout=300)


def test_cli_trace_and_impact_follow_a_column(runs):
    done, sources, _ = runs
    proc = _cli(sources, "trace", "cl_report", done["cl_report"], "report", "--output", "return_value",
                "--column", "greeting", "--json")
    assert proc.returncode == 0, proc.stderr
    answer = json.loads(proc.stdout)
    assert {(c["dag_id"], c["task_id"], c["output"], c["column"], c["hops"]) for c in answer["columns"]} == {
        ("cl_customers", "transform", "return_value", "greeting", 1),
        ("cl_customers", "extract", "return_value", "name", 2),
    }
    proc = _cli(sources, "impact", "cl_customers", done["cl_customers"], "extract", "--column", "name", "--json")
    assert proc.returncode == 0, proc.stderr
    assert {(c["dag_id"], c["task_id"], c["column"], c["hops"]) for c in json.loads(proc.stdout)["columns"]} == {
        ("cl_customers", "transform", "greeting", 1), ("cl_report", "report", "greeting", 2),
    }
    table = _cli(sources, "trace", "cl_report", done["cl_report"], "report", "--column", "greeting")
    assert table.returncode == 0 and "name" in table.stdout and "extract" in table.stdout
    unknown = _cli(sources, "trace", "cl_report", done["cl_report"], "report", "--column", "nope")
    assert unknown.returncode == 1 and "unknown column 'nope'" in unknown.stderr and "Traceback" not in unknown.stderr


def test_cli_pii_json_lists_columns(runs):
    _, sources, _ = runs
    proc = _cli(sources, "pii", "--json")
    assert proc.returncode == 0, proc.stderr
    columns = {(c["dag_id"], c["task_id"], c["output"], c["column"], c["pii"]) for c in json.loads(proc.stdout)["columns"]}
    assert ("cl_customers", "extract", "return_value", "name", "declared") in columns
    assert ("cl_report", "report", "return_value", "greeting", "derived") in columns
    assert not {c for c in columns if c[3] in ("id", "doubled", "amount_x2")}
