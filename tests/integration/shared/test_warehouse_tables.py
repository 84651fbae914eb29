"""SQL tables profiled where they live, on a real scheduler (shared deployment: PostgreSQL
metastore, LocalExecutor, a second PostgreSQL database as the warehouse behind the Airflow
connection ``warehouse``): a ``log_output(Table)`` and a ``track``-wrapped
``SQLExecuteQueryOperator`` are recorded without ``ddtrack sync``, with exact row counts, the
tables' OpenLineage URIs, and lineage from the input table to the operator's output."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import columns, lineage, outputs

from ddtrack.queries import Sources
from ddtrack.queries.alerts import checks_of

from .runs import run_stored

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG = "warehouse_tables"
ROWS, CUSTOMERS = 5_000, 37


@pytest.fixture(scope="module")
def run(shared_airflow):
    return shared_airflow, run_stored(shared_airflow, DAG, tries=2)


def _uri(airflow, table: str) -> str:
    url = sa.engine.make_url(airflow.services["warehouse"])
    return f"postgres://127.0.0.1:5432/{url.database}.public.{table}"


def test_table_and_operator_outputs_are_profiled_in_the_warehouse(run):
    airflow, run_id = run
    stored = outputs(airflow.metastore_url, DAG, run_id)
    orders, totals = stored[("load_orders", "orders")], stored[("order_totals", "public.order_totals")]
    assert (orders.kind, orders.rows, orders.uri) == ("sql", ROWS, _uri(airflow, "orders"))
    assert (totals.kind, totals.rows, totals.uri) == ("sql", CUSTOMERS, _uri(airflow, "order_totals"))
    cols = columns(orders)
    assert set(cols) == {"order_id", "customer", "amount", "city"}
    assert (cols["order_id"].count, cols["order_id"].stats["min"], cols["order_id"].stats["max"]) == (ROWS, 0, ROWS - 1)
    assert cols["amount"].mean == pytest.approx(sum((i % 1000) / 10 for i in range(ROWS)) / ROWS, rel=1e-12)
    assert sum(columns(totals)["orders"].stats["histogram"]["counts"]) == CUSTOMERS
    sources = Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
    results = {(r["task_id"], r["check"], r["column"]): r["status"] for r in checks_of(sources, None, DAG, run_id)}
    assert results == {("load_orders", "unique", "order_id"): "pass", ("order_totals", "unique", "customer"): "pass"}


def test_lineage_runs_from_the_input_table_to_the_operators_output(run):
    airflow, run_id = run
    rows = [r for r in lineage(airflow.metastore_url, DAG) if r.run_id == run_id]
    inputs = {(r.task_id, r.kind, r.uri) for r in rows if r.direction == "input"}
    assert ("order_totals", "uri", _uri(airflow, "orders")) in inputs
    produced = {(r.task_id, r.uri) for r in rows if r.direction == "output"}
    assert {("load_orders", _uri(airflow, "orders")), ("order_totals", _uri(airflow, "order_totals"))} <= produced
