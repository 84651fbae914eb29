"""DAGs for test_checks_in_task.py (linked into the test session's DAG folder): data checks
declared on @track and log_output, judged inside real task runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pendulum
from airflow.sdk import dag, task

from ddtrack import checks, log_output, track

START = pendulum.datetime(2026, 1, 1, tz="UTC")


def orders(null_share: float) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    amount = rng.normal(100, 10, 200)
    amount[: int(200 * null_share)] = np.nan
    return pd.DataFrame({"id": range(200), "amount": amount, "city": rng.choice(["Paris", "Oslo", "Rome"], 200)})


ORDER_CHECKS = [
    checks.rows_between(1, None),
    checks.null_pct_at_most("amount", 10),
    checks.values_in("city", ["Paris", "Oslo"], severity="warn"),
    checks.rows_between(1, 3, output="rejects", severity="warn"),
]


@dag(dag_id="checks_fail", schedule=None, start_date=START)
def checks_fail():
    @task
    @track(checks=ORDER_CHECKS)
    def load():
        log_output(pd.DataFrame({"id": [1, 2, 3, 4, 5]}), name="rejects")
        return orders(null_share=0.3)

    @task
    def after(_):
        return "ran"

    after(load())


@dag(dag_id="checks_pass", schedule=None, start_date=START)
def checks_pass():
    @task
    @track(checks=ORDER_CHECKS)
    def load():
        log_output(pd.DataFrame({"id": [1, 2]}), name="rejects")
        return orders(null_share=0.0)

    load()


@dag(dag_id="checks_untracked", schedule=None, start_date=START)
def checks_untracked():
    @task
    def export():
        log_output(pd.DataFrame({"id": [1, 2, 2]}), name="export", checks=[checks.unique("id")])
        return "not reached"

    export()


@dag(dag_id="checks_missing_output", schedule=None, start_date=START)
def checks_missing_output():
    @task
    @track(checks=[checks.rows_between(1, None), checks.unique("id", output="typo")])
    def write():
        log_output(pd.DataFrame({"id": [1, 2]}), name="written")

    write()


checks_fail()
checks_pass()
checks_untracked()
checks_missing_output()
