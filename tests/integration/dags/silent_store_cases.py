"""DAGs for test_silent_store.py: a tracked task that fails twice and then succeeds, and a
mapped tracked task whose instances the in-process test starts again and again."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import track

START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="fails_twice", schedule=None, start_date=START, catchup=False)
def fails_twice():
    @task(retries=2, retry_delay=timedelta(seconds=1))
    @track
    def flaky() -> pd.DataFrame:
        try_number = get_current_context()["ti"].try_number
        if try_number < 3:
            raise RuntimeError(f"try {try_number} fails by design")
        return pd.DataFrame({"try": [try_number], "value": [1.5]})

    flaky()


@dag(dag_id="many_starts", schedule=None, start_date=START, catchup=False)
def many_starts():
    @task
    @track
    def part(i: int) -> pd.DataFrame:
        return pd.DataFrame({"part": [i] * 10, "value": range(10)})

    part.expand(i=list(range(10)))


fails_twice()
many_starts()
