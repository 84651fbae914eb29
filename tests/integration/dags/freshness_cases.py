"""DAGs for test_datasets_worker.py: freshness windows and a PII-free aggregate."""

from __future__ import annotations

import pandas as pd
import pendulum
from airflow.sdk import dag, task

from ddtrack import log_output, track

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="deco_fresh", schedule=None, start_date=START)
def deco_fresh():
    @task
    @track(fresh_within="1d", pii=["email"])
    def customers():
        log_output(pd.DataFrame({"x": range(3)}), name="hourly_extract", fresh_within="2h")
        log_output(pd.DataFrame({"x": range(4)}), name="side_file")
        return pd.DataFrame({"email": ["a@x", "b@x"], "spend": [3.0, 4.0]})

    @task
    @track(pii_free=True)
    def totals(frame):
        return pd.DataFrame({"spend": [frame["spend"].sum()]})

    totals(customers())


deco_fresh()
