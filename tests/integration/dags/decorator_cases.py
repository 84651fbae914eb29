"""DAGs for test_decorator.py (linked into the test session's DAG folder, not the demo's)."""

from __future__ import annotations

import pandas as pd
import pendulum
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import dag, task

from ddtrack import log_input, log_output, track

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def plain(n: int = 3):
    return {"n": n}


@dag(dag_id="deco_orders", schedule=None, start_date=START)
def deco_orders():
    @task
    @track
    def below():
        return pd.DataFrame({"a": [1, 2, 3]})

    @track(name="counts", tags={"k": "v"})
    @task
    def above():
        return [1, 2, 3]

    below() >> above() >> PythonOperator(task_id="classic", python_callable=track(plain))


@dag(dag_id="deco_produce", schedule=None, start_date=START)
def deco_produce():
    @task
    @track
    def produce():
        return {"answer": 42}

    produce()


@dag(dag_id="deco_untracked", schedule=None, start_date=START)
def deco_untracked():
    @task
    def export():
        log_input("postgres://warehouse/public.orders", name="orders")
        log_output(pd.DataFrame({"x": range(5)}), name="batch", uri="file:///tmp/b1.parquet")
        log_output(pd.DataFrame({"x": range(7)}), name="batch", uri="file:///tmp/b2.parquet")
        return "done"

    export()


@dag(dag_id="deco_awkward", schedule=None, start_date=START)
def deco_awkward():
    @task
    @track
    def awkward():
        import numpy as np

        df = pd.DataFrame(
            {
                "empty": [None, None, None],
                "mixed": [1, "two", 3.0],
                "when": pd.date_range("2026-01-01", periods=3, tz="Europe/Paris"),
                "cat": pd.Categorical(["a", "b", "a"]),
                "nested": [[1], {"k": 2}, None],
                "<b>bold</b>": [np.inf, -np.inf, np.nan],
            }
        )
        # Airflow cannot XCom such a frame itself; ddtrack still profiles it.
        log_output(df, name="awkward_frame", sample=2)
        return {"rows": len(df)}

    @task
    @track
    def nothing():
        return None

    awkward() >> nothing()


deco_orders()
deco_produce()
deco_untracked()
deco_awkward()
