"""Load test DAG: one tracked task mapped over 200 items, each recording an output."""

from __future__ import annotations

import os

import pendulum
from airflow.sdk import dag, task

from ddtrack import track

FANOUT = int(os.environ.get("DDTRACK_LOAD_FANOUT", "200"))


@dag(dag_id="load_fanout", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), max_active_tasks=64)
def load_fanout():
    @task
    def items():
        return list(range(FANOUT))

    @task
    @track(tags={"test": "load"})
    def record(i: int):
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(i)
        return pd.DataFrame({"item": np.full(100 + i, i), "value": rng.normal(size=100 + i)})

    record.expand(i=items())


load_fanout()
