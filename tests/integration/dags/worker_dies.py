"""DAG for the worker-death test: the first try runs long enough for its worker to be killed.

Once the first try is inside its task code, it writes a marker file (in the folder named by
``DDTRACK_TEST_MARKERS``), so the test kills the worker at that observed moment.
"""

from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import track


@dag(dag_id="worker_dies", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def worker_dies():
    @task(retries=2, retry_delay=timedelta(seconds=1))
    @track
    def long_job():
        ti = get_current_context()["ti"]
        if ti.try_number == 1:
            markers = os.environ.get("DDTRACK_TEST_MARKERS")
            if markers:
                Path(markers, f"{ti.run_id}.running").write_text(str(os.getpid()))
            time.sleep(120)  # the test kills the worker meanwhile
        return {"done": True}

    long_job()


worker_dies()
