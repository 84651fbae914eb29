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


CODES = [f"C{k:03d}" for k in range(500)]


def sparse_orders(rows: int = 300_000) -> pd.DataFrame:
    """Shuffled sparse ids with one duplicate, and 500 codes plus one outside them: the
    profile's estimate and top 20 values cannot see either."""
    rng = np.random.default_rng(3)
    ids = rng.choice(2**62, rows, replace=False).astype(np.int64)
    ids[rows // 2] = ids[rows // 3]
    codes = np.array(CODES)[rng.integers(0, 500, rows)]
    codes[rows // 4] = "X999"
    return pd.DataFrame({"id": ids, "code": codes})


@dag(dag_id="checks_exact", schedule=None, start_date=START)
def checks_exact():
    @task
    @track(checks=[checks.unique("id"), checks.values_in("code", CODES)])
    def load():
        return sparse_orders()

    load()


@dag(dag_id="checks_unknown_column", schedule=None, start_date=START)
def checks_unknown_column():
    @task
    @track(checks=[checks.null_pct_at_most("amount", 5)])
    def gated():
        return pd.DataFrame({"id": [1, 2]})

    @task
    @track(checks=[checks.null_pct_at_most("amount", 5, severity="warn")])
    def warned():
        return pd.DataFrame({"id": [1, 2]})

    gated()
    warned()


@dag(dag_id="checks_batches", schedule=None, start_date=START)
def checks_batches():
    @task
    @track
    def export():
        for start in (0, 1_000, 1_999):  # each batch is unique; 1999 is in the second and the third
            batch = pd.DataFrame({"id": np.arange(start, start + 1_000)})
            log_output(batch, name="export", checks=[checks.unique("id")])
        log_output(pd.DataFrame({"id": [1, 2]}), name="late")  # its check comes with the second batch only
        log_output(pd.DataFrame({"id": [3, 4]}), name="late", checks=[checks.unique("id")])

    export()


checks_fail()
checks_pass()
checks_untracked()
checks_missing_output()
checks_exact()
checks_unknown_column()
checks_batches()
