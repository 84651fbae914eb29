"""A DAG with Airflow tags in the three spellings the tag query reads: "key:value",
"key=value" and a plain tag; its task carries a ddtrack tag of the same key."""

from __future__ import annotations

import pandas as pd
import pendulum
from airflow.sdk import dag, task

from ddtrack import track


@dag(
    schedule=None,
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    tags=["owner:ml", "tier=gold", "pii"],
)
def catalog_tagged():
    @task
    @track(tags={"owner": "ml-platform"})
    def scores():
        return pd.DataFrame({"id": [1, 2, 3], "score": [0.1, 0.5, 0.9]})

    scores()


catalog_tagged()
