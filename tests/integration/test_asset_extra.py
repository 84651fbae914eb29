"""ddtrack's summary on Airflow's own asset events, through dag.test() (in process).

test_ecosystem_deployment.py repeats this on a real scheduler, with the REST API and an
asset-triggered consumer.
"""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from helpers import columns, load_dag, outputs, run_in_process

from ddtrack.integrations.asset_events import MAX_BYTES

SUMMARY_KEYS = {
    "output", "rows", "columns", "schema", "null_pct_max", "null_pct_max_column", "pii_columns", "outputs", "link",
}


def asset_event_extras(metastore_url: str, dag_id: str, run_id: str) -> dict[str, dict]:
    """Asset URI -> the ``extra`` Airflow stored on the event, read with plain SQL."""
    engine = sa.create_engine(metastore_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT a.uri, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                    "WHERE e.source_dag_id = :dag_id AND e.source_run_id = :run_id"
                ),
                {"dag_id": dag_id, "run_id": run_id},
            ).all()
    finally:
        engine.dispose()
    return {uri: json.loads(extra) if isinstance(extra, str) else extra for uri, extra in rows}


@pytest.fixture(scope="module")
def producer_run(airflow_home, metastore_url):
    return run_in_process(load_dag("ax_producer"), metastore_url)


def check_orders_summary(extra: dict, stored) -> None:
    """The orders event as the tests expect it, against ddtrack's stored profile ``stored``."""
    assert extra["source"] == "shop-db"  # the user's own entry is kept
    summary = extra["ddtrack"]
    assert set(summary) == SUMMARY_KEYS
    assert summary["output"] == "return_value"
    assert (summary["rows"], summary["columns"], summary["schema"]) == (stored.rows, stored.n_columns, stored.schema_fingerprint)
    assert (summary["rows"], summary["columns"]) == (40, 4)
    worst = max(columns(stored).values(), key=lambda c: c.null_pct)
    assert (summary["null_pct_max_column"], summary["null_pct_max"]) == (worst.name, round(worst.null_pct, 2)) == ("discount", 25.0)
    assert summary["pii_columns"] == 1 and summary["outputs"] == 2
    assert summary["link"].startswith("/ddtrack/ti?dag_id=ax_producer&run_id=")
    assert "task_id=write_orders&map_index=-1&try_number=1" in summary["link"]
    text = json.dumps(summary)
    assert len(text.encode()) <= MAX_BYTES
    assert "buyer" not in text and "example.com" not in text  # no value of the PII column


def test_tracked_outlet_events_carry_the_summary(producer_run, metastore_url):
    extras = asset_event_extras(metastore_url, "ax_producer", producer_run.run_id)
    stored = outputs(metastore_url, "ax_producer", producer_run.run_id)
    check_orders_summary(extras["file:///tmp/ddtrack-ax/orders.parquet"], stored[("write_orders", "return_value")])
    customers = extras["s3://ax-bucket/customers.parquet"]["ddtrack"]
    assert customers["output"] == "customers"  # matched by URI, not the return value
    assert (customers["rows"], customers["columns"], customers["null_pct_max_column"]) == (3, 1, "customer")
    assert customers["null_pct_max"] == pytest.approx(33.33)


def test_untracked_task_events_are_left_alone(producer_run, metastore_url):
    extras = asset_event_extras(metastore_url, "ax_producer", producer_run.run_id)
    assert extras["file:///tmp/ddtrack-ax/untracked.txt"] == {}
