"""A DAG whose output has 10,000 columns (a realistic feature matrix): every page must stay bounded.

``wide_frame`` is also what ``benchmarks/views_speed.py`` profiles, so the browser test and
the benchmark look at the same output.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from ddtrack import track

COLUMNS = 10_000
ROWS = 200


def wide_frame(columns: int = COLUMNS, rows: int = ROWS):
    """Mostly float features with varying null rates, some integer and string columns."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(7)
    data = {}
    for i in range(columns):
        if i % 10 == 3:
            data[f"cat_{i:05d}"] = rng.choice(["a", "b", "c", f"v{i % 50}"], rows)
        elif i % 10 == 7:
            data[f"count_{i:05d}"] = rng.integers(0, 1 + i % 1000, rows)
        else:
            values = rng.normal(i % 17, 1 + i % 5, rows)
            values[rng.random(rows) < (i % 97) / 100] = np.nan
            data[f"feat_{i:05d}"] = values
    return pd.DataFrame(data)


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-test"])
def wide_output():
    @task
    @track
    def build_features() -> None:
        from ddtrack import log_output

        log_output(wide_frame(), name="features")

    build_features()


wide_output()
