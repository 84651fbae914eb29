"""Data profiled where it lives, on a real scheduler (shared deployment: PostgreSQL metastore,
LocalExecutor): a Spark task in local[2] and a Parquet folder read through Airflow's
ObjectStoragePath are recorded without ``ddtrack sync``, with the profiles, check results
and dataset URI of the data where it lives, and no XCom of the DataFrame."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from helpers import columns, outputs

from ddtrack.queries import Sources
from ddtrack.queries.alerts import checks_of

from .runs import run_stored

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(900)]

DAG = "elsewhere_spark_files"
ROWS = 20_000


@pytest.fixture(scope="module")
def run(shared_airflow):
    return shared_airflow, run_stored(shared_airflow, DAG, tries=2)


def test_spark_and_parquet_outputs_are_recorded_where_they_live(run):
    airflow, run_id = run
    folder = f"file://{airflow.home / 'data' / 'elsewhere_events'}"
    stored = outputs(airflow.metastore_url, DAG, run_id)
    spark, files = stored[("spark_orders", "orders")], stored[("events_folder", "events")]
    assert (spark.kind, spark.type_name, spark.rows, spark.uri) == ("spark", "pyspark.sql.DataFrame", ROWS, folder)
    assert (files.kind, files.type_name, files.rows, files.uri) == ("files", "parquet", ROWS, folder)
    expected_mean = sum((i % 1000) / 10 for i in range(ROWS)) / ROWS
    for output in (spark, files):
        cols = columns(output)
        assert set(cols) == {"order_id", "customer", "amount", "city"}
        assert cols["amount"].mean == pytest.approx(expected_mean, rel=1e-12)
        assert (cols["order_id"].stats["min"], cols["order_id"].stats["max"]) == (0, ROWS - 1)
        assert (cols["order_id"].count, cols["amount"].nulls) == (ROWS, 0)
    sources = Sources(store_url=airflow.metastore_url, metastore_url=airflow.metastore_url)
    results = {(r["task_id"], r["check"], r["column"]): r["status"] for r in checks_of(sources, None, DAG, run_id)}
    assert results == {
        ("spark_orders", "unique", "order_id"): "pass",
        ("spark_orders", "rows_between", None): "pass",
        ("events_folder", "values_in", "city"): "pass",
    }


def test_the_dataframe_is_not_pushed_as_an_xcom(run):
    airflow, run_id = run
    engine = sa.create_engine(airflow.metastore_url)
    try:
        with engine.connect() as conn:
            keys = conn.execute(
                sa.text("SELECT key FROM xcom WHERE dag_id = :d AND run_id = :r AND task_id = 'spark_orders'"),
                {"d": DAG, "r": run_id},
            ).scalars().all()
    finally:
        engine.dispose()
    assert "return_value" not in keys and "ddtrack" in keys
