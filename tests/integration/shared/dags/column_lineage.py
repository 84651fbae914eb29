"""DAGs for column lineage (test_column_lineage_scheduler.py on the shared deployment, and
tests/integration/test_column_lineage.py in process): two DAGs sharing a file's URI.

``cl_customers``: ``extract`` returns customers with the PII columns ``name`` and ``email``;
``transform`` is handed that frame and writes ``customers.parquet``: ``id`` passes through
(inferred by name), ``greeting`` is a rename of ``name`` and ``amount_x2`` a computed column,
both declared. ``cl_report`` (another DAG) reads the file and logs it as its input:
``greeting`` passes through (PII-derived), ``doubled`` is declared from ``amount_x2`` (not
PII), and two declarations name nothing (warnings recorded with the try, not failures).
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pendulum
from airflow.sdk import dag, task

from ddtrack import log_input, log_output, track

DATA = Path(os.environ.get("DDTRACK_DEMO_DATA", "/tmp/ddtrack-demo-data")) / "column_lineage"
CUSTOMERS = f"file://{DATA / 'customers.parquet'}"
START = pendulum.datetime(2026, 1, 1, tz="UTC")


@dag(dag_id="cl_customers", schedule=None, start_date=START, catchup=False)
def cl_customers():
    @task
    @track(pii=["name", "email"])
    def extract() -> pd.DataFrame:
        return pd.DataFrame({
            "id": [1, 2, 3],
            "name": ["Ada", "Grace", "Linus"],
            "email": ["ada@example.com", "grace@example.com", "linus@example.com"],
            "amount": [10.0, 20.5, 31.0],
        })

    @task
    @track(uri=CUSTOMERS, column_lineage={"greeting": ["name"], "amount_x2": ["amount"]})
    def transform(customers: pd.DataFrame) -> pd.DataFrame:
        out = pd.DataFrame({
            "id": customers["id"],
            "greeting": "Hello " + customers["name"],
            "amount_x2": customers["amount"] * 2,
        })
        DATA.mkdir(parents=True, exist_ok=True)
        out.to_parquet(DATA / "customers.parquet")
        return out

    transform(extract())


@dag(dag_id="cl_report", schedule=None, start_date=START, catchup=False)
def cl_report():
    @task
    @track(column_lineage={"doubled": ["amount_x2"], "ghost": ["id"]})
    def report() -> pd.DataFrame:
        customers = pd.read_parquet(DATA / "customers.parquet")
        log_input(customers, name="customers", uri=CUSTOMERS)
        log_output(pd.DataFrame({"n": [len(customers)]}), name="summary",
                   column_lineage={"n": ["customers.nothing"]})
        return pd.DataFrame({
            "id": customers["id"], "greeting": customers["greeting"], "doubled": customers["amount_x2"] * 2,
        })

    report()


cl_customers()
cl_report()
