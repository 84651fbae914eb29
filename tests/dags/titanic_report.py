"""A report across two DAGs: it reads the file titanic's ``features`` task writes and the
``daily_sales`` Asset that ``sales_producer`` writes.

A trace from its output crosses two DAG boundaries: through titanic back to its external
input ``s3://example-bucket/fares.parquet``, and through the Asset to ``sales_producer``.
Run it after titanic and sales_producer (it reads their files).
"""

from __future__ import annotations

import pandas as pd
import pendulum
from _demo_data import data_dir
from airflow.sdk import Asset, dag, task

from ddtrack import log_input, track

# The Asset of tests/dags/shared_asset.py (importing that file would define its DAGs here too).
DAILY_SALES = Asset(name="daily_sales", uri=f"file://{data_dir() / 'daily_sales.parquet'}")


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def titanic_report():
    @task(inlets=[DAILY_SALES])
    @track(name="report", tags={"team": "analytics"})
    def build_report():
        model_input = data_dir() / "model_input.parquet"
        passengers = pd.read_parquet(model_input)
        log_input(passengers, name="model_input", uri=f"file://{model_input}")
        sales = pd.read_parquet(data_dir() / "daily_sales.parquet")
        log_input(sales, name="daily_sales", uri=DAILY_SALES.uri)
        report = passengers.groupby("pclass", as_index=False).agg(
            passengers=("survived", "size"), survival_rate=("survived", "mean")
        )
        report["survival_rate"] = report["survival_rate"].round(3)
        report["sales_amount"] = round(float(sales["amount"].sum()), 2)  # one figure of the day, on every row
        return report

    build_report()


titanic_report()
