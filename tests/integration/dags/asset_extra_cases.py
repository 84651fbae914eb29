"""DAGs for test_asset_extra.py and test_openlineage.py: tracked tasks with Asset outlets,
and a consumer that reads ddtrack's summary from its triggering asset events."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pendulum
from airflow.sdk import Asset, dag, get_current_context, task

from ddtrack import log_input, log_output, track

START = pendulum.datetime(2026, 1, 1, tz="UTC")
ORDERS = Asset(name="ax_orders", uri="file:///tmp/ddtrack-ax/orders.parquet")
CUSTOMERS = Asset(name="ax_customers", uri="s3://ax-bucket/customers.parquet")
UNTRACKED = Asset(name="ax_untracked", uri="file:///tmp/ddtrack-ax/untracked.txt")


def orders() -> pd.DataFrame:
    """Orders with a gap in "discount" (the worst column, 25 % nulls) and a PII "email"."""
    n = 40
    discount = np.arange(n, dtype=float)
    discount[::4] = np.nan
    return pd.DataFrame(
        {
            "order_id": np.arange(n),
            "amount": np.linspace(1.0, 40.0, n),
            "discount": discount,
            "email": [f"buyer{i}@example.com" for i in range(n)],
        }
    )


@dag(dag_id="ax_producer", schedule=None, start_date=START, catchup=False)
def ax_producer():
    @task(outlets=[ORDERS, CUSTOMERS])
    @track(pii=["email"])
    def write_orders():
        # The user's own entry on the event: kept next to ddtrack's.
        get_current_context()["outlet_events"][ORDERS].extra["source"] = "shop-db"
        log_input("postgres://shop-db:5432/shop/public/orders", name="orders_table")
        log_output(pd.DataFrame({"customer": ["a", "b", None]}), name="customers", uri=CUSTOMERS.uri)
        return orders()

    @task(outlets=[UNTRACKED])
    def untracked():
        return 1

    @task
    @track
    def summarize(df: pd.DataFrame):
        return df.describe()

    summarize(write_orders()) >> untracked()


@dag(dag_id="ax_consumer", schedule=[ORDERS], start_date=START, catchup=False)
def ax_consumer():
    @task(inlets=[ORDERS])
    def read_summary():
        """What an asset-triggered DAG sees of ddtrack: the summary on its triggering event."""
        events = get_current_context()["triggering_asset_events"][ORDERS]
        return {"ddtrack": events[-1].extra.get("ddtrack"), "source": events[-1].extra.get("source")}

    read_summary()


ax_producer()
ax_consumer()
