"""Records of a task whose data drifts on purpose, for the trend, drift and alert tests.

Twelve runs of one random process (new seed each), then a run whose ``amount`` moved and
whose ``city`` gained a category, with checks judged on each profile as the decorator does.
Run 8 changes the function's code, run 10 drops the ``email`` column (a schema change).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from records import make_record

from ddtrack import checks
from ddtrack.record import code_hash

T0 = dt.datetime(2026, 3, 1, 6, 0, tzinfo=dt.timezone.utc)
STABLE_RUNS = 12
DRIFTED_RUN = f"run_{STABLE_RUNS + 1:02d}"
CHECKS = [
    checks.rows_between(min=500, max=5000),
    checks.null_pct_at_most("amount", 1.0, severity="warn"),
    checks.values_in("city", ["Paris", "Oslo", "Lima"]),
    checks.min_max("no_such_column", min=0, severity="warn"),  # cannot be evaluated
]


def sales(seed: int, drifted: bool = False, rows: int = 1000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cities = ["Paris", "Oslo", "Lima", "Rome"] if drifted else ["Paris", "Oslo", "Lima"]
    return pd.DataFrame(
        {
            "a_code": rng.integers(0, 10, rows),  # stable; first by name, never by drift
            "id": np.arange(rows),
            "amount": rng.normal(16 if drifted else 10, 2, rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "city": rng.choice(cities, rows),
        }
    )


def drifting_records(dag_id: str, task_id: str = "load", runs: int = STABLE_RUNS, t0: dt.datetime = T0) -> list[dict]:
    records = []
    for i in range(1, runs + 2):
        drifted = i == runs + 1
        data = sales(seed=1000 + i, drifted=drifted)
        if i >= 10:
            data = data.drop(columns=["email"])
        record = make_record(
            dag_id, f"run_{i:02d}", task_id, started=t0 + dt.timedelta(hours=i), data=data
        )
        if i >= 8:
            source = "def load():\n    return frame()  # v2\n"
            record.update(source=source, code_hash=code_hash(source))
        output = record["outputs"][0]
        output["checks"] = checks.evaluate(output["profile"], CHECKS, output["name"])
        records.append(record)
    return records
