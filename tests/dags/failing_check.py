"""A data-quality check that fails: ddtrack records the failed tries and their error."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from _demo_data import passengers
from airflow.sdk import dag, task

from ddtrack import track


class DataQualityError(ValueError):
    pass


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def quality_check():
    @task
    @track
    def extract():
        return passengers(n=300)

    @task(retries=1, retry_delay=timedelta(seconds=2))
    @track
    def check_no_missing_ages(df):
        missing = int(df["age"].isna().sum())
        if missing:
            raise DataQualityError(f"{missing} passengers have no age")
        return df

    check_no_missing_ages(extract())


quality_check()
