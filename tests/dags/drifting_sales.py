"""Sales whose data drifts on purpose: ddtrack flags the drift, the anomalies and a failed check.

Each run draws a new sample of the same random process (a new seed each run), so runs
differ only by noise, and ddtrack raises no alarm. Triggered with the run conf
``{"drift": true}``, amounts move up, a new city appears and discounts go missing: the
drift and anomalies are stored at ingest, the ``warn`` check on discounts records a warning,
and the ``error`` check on cities fails the task (after its record is pushed).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import checks, track

CITIES = ["Paris", "Oslo", "Lima"]


def daily_sales(drift: bool, rows: int = 2000) -> pd.DataFrame:
    """One day of orders; ``drift`` moves amounts, adds a city and loses discounts."""
    rng = np.random.default_rng()  # a new seed each run: stable data is noise only
    cities = [*CITIES, "Rome"] if drift else CITIES
    discount = rng.uniform(0, 0.3, rows)
    discount[rng.random(rows) < (0.3 if drift else 0.02)] = np.nan
    return pd.DataFrame(
        {
            "order_id": np.arange(rows),
            "amount": rng.normal(16 if drift else 10, 2, rows).round(2),
            "city": rng.choice(cities, rows),
            "discount": discount,
        }
    )


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def drifting_sales():
    @task(retries=0)
    @track(
        checks=[
            checks.rows_between(min=500, max=50_000),
            checks.unique("order_id"),
            checks.values_in("city", CITIES),  # severity "error": fails the task on a new city
            checks.null_pct_at_most("discount", 5.0, severity="warn"),
        ]
    )
    def load_sales():
        conf = get_current_context()["dag_run"].conf or {}
        return daily_sales(drift=bool(conf.get("drift")))

    @task
    @track
    def city_totals(df):
        return df.groupby("city", as_index=False).agg(amount=("amount", "sum"), orders=("order_id", "count"))

    city_totals(load_sales())


drifting_sales()
