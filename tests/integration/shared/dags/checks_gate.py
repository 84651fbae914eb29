"""DAG for test_checks_gate.py (shared deployment): an error-severity ``unique`` check on
300,000 shuffled sparse ids holding one duplicate.  The profile's distinct count there is a
HyperLogLog estimate that cannot see one duplicate, so only the data can decide."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pendulum
from airflow.sdk import dag, task

from ddtrack import checks, track

ROWS = 300_000


@dag(dag_id="checks_gate", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def checks_gate():
    @task
    @track(name="orders", checks=[checks.unique("order_id")])
    def load_orders():
        rng = np.random.default_rng(7)
        ids = rng.choice(2**62, ROWS, replace=False).astype(np.int64)
        ids[ROWS // 2] = ids[ROWS // 3]  # the one duplicate
        return pd.DataFrame({"order_id": ids, "amount": rng.normal(100, 10, ROWS)})

    load_orders()


checks_gate()
