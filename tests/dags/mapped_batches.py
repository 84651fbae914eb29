"""Dynamic task mapping: one tracked task instance per day, then a combine step that loads
the days in batches (one output, its batches merged into one profile)."""

from __future__ import annotations

import pendulum
from _demo_data import sales
from airflow.sdk import dag, task

from ddtrack import track


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def mapped_batches():
    @task
    def list_days():
        return [1, 2, 3, 4]

    @task
    @track(tags={"team": "analytics"})
    def load_day(day: int):
        return sales(day, n=200 + 50 * day)

    @task
    @track
    def combine(frames):
        import pandas as pd

        from ddtrack import log_output

        frames = list(frames)
        for frame in frames:  # loaded into the warehouse one batch at a time
            log_output(frame, name="warehouse_load", uri="warehouse://analytics.sales_daily")
        return pd.concat(frames, ignore_index=True)

    combine(load_day.expand(day=list_days()))


mapped_batches()
