"""DAGs for test_resilience.py: a task killed by its timeout while ddtrack profiles its output."""

from __future__ import annotations

import time
from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_current_context, task

from ddtrack import track


class SlowToDescribe:
    """An output whose repr takes long on the first try: the timeout fires mid-profile."""

    def __init__(self, slow: bool) -> None:
        self.slow = slow

    def __repr__(self) -> str:
        if self.slow:
            time.sleep(60)
        return "SlowToDescribe()"


@dag(dag_id="killed_mid_profile", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"))
def killed_mid_profile():
    @task(execution_timeout=timedelta(seconds=8), retries=1, retry_delay=timedelta(seconds=1), do_xcom_push=False)
    @track
    def slow_output():
        first_try = get_current_context()["ti"].try_number == 1
        return SlowToDescribe(slow=first_try)

    slow_output()


killed_mid_profile()
