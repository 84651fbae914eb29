"""DAG for the worker-death test: the first try runs long enough for its worker to be killed."""

from __future__ import annotations

import time
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import track


@dag(dag_id="worker_dies", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def worker_dies():
    @task(retries=2, retry_delay=timedelta(seconds=1))
    @track
    def long_job():
        if get_current_context()["ti"].try_number == 1:
            time.sleep(120)  # the test kills the worker meanwhile
        return {"done": True}

    long_job()


worker_dies()
