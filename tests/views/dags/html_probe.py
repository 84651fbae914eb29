"""A DAG whose output has markup in column names, values and tags: the views must show it as text."""

from __future__ import annotations

import pendulum
from airflow.sdk import dag, task

from ddtrack import track

IMG = "<img src=x onerror=\"document.title='pwned'\">"
BOLD = "<b>bold</b>"
SCRIPT = "<script>document.title='pwned'</script>"


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-test"])
def html_probe():
    @task
    @track(tags={"<i>owner</i>": SCRIPT})
    def weird_columns():
        import pandas as pd

        return pd.DataFrame({IMG: [1, 2, 3, 4], BOLD: [SCRIPT, "a", "a", BOLD]})

    weird_columns()


html_probe()
