"""A small tracked DAG whose runs ``airflow db clean`` deletes in the history tests: two
tracked tasks; ``{"fail": true}`` makes the second fail, so a run can be failed."""

from __future__ import annotations

import pandas as pd
import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import track


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-test"])
def kept_history():
    @task
    @track
    def extract():
        return pd.DataFrame({"id": [1, 2, 3, 4], "amount": [10.0, 12.5, 9.0, 11.0]})

    @task
    @track
    def load(df):
        if get_current_context()["dag_run"].conf.get("fail"):
            raise ValueError("asked to fail")
        return df.assign(total=df["amount"].cumsum())

    load(extract())


kept_history()
