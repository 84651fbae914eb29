"""Two DAGs joined by an Asset: the producer writes a parquet file, the consumer reads it."""

from __future__ import annotations

import pandas as pd
import pendulum
from _demo_data import data_dir, sales
from airflow.sdk import Asset, dag, task

from ddtrack import log_input, track

DAILY_SALES = Asset(name="daily_sales", uri=f"file://{data_dir() / 'daily_sales.parquet'}")


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def sales_producer():
    @task(outlets=[DAILY_SALES])
    @track(uri=DAILY_SALES.uri, tags={"domain": "sales"})
    def write_daily_sales():
        df = sales(day=1)
        df.to_parquet(data_dir() / "daily_sales.parquet")
        return df

    write_daily_sales()


@dag(schedule=[DAILY_SALES], start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def sales_consumer():
    @task(inlets=[DAILY_SALES])
    @track
    def store_totals():
        df = pd.read_parquet(data_dir() / "daily_sales.parquet")
        log_input(df, name="daily_sales", uri=DAILY_SALES.uri)
        return df.groupby("store", as_index=False).agg(amount=("amount", "sum"), orders=("order_id", "count"))

    store_totals()


sales_producer()
sales_consumer()
