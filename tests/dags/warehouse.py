"""Data that lives in a database: a SQL-only task tracked where its table lives.

The warehouse is an embedded SQLite file (so the demo needs nothing but Python). ``load``
writes raw orders with SQL from Python and records the table with ``log_output(Table)``;
``daily_revenue`` is a plain ``SQLExecuteQueryOperator`` wrapped by ``track``: after its
SQL ran, its output table is profiled inside SQLite and recorded, with ``raw_orders`` as
its input.  No row of either table passes through ddtrack's Python.
"""

from __future__ import annotations

import json
import os

import pendulum
from _demo_data import data_dir, sales
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import dag, task

from ddtrack import Table, checks, log_output, track

CONN_ID = "ddtrack_demo_warehouse"
# The demo's connection, defined here so the example runs anywhere (a real deployment defines
# its connections in Airflow); the worker parses this file too, so it sees the same one.
os.environ.setdefault(
    f"AIRFLOW_CONN_{CONN_ID.upper()}", json.dumps({"conn_type": "sqlite", "host": str(data_dir() / "warehouse.db")})
)

DAILY_REVENUE_SQL = """
DROP TABLE IF EXISTS daily_revenue;
CREATE TABLE daily_revenue AS
SELECT store, COUNT(*) AS orders, SUM(amount) AS revenue, AVG(amount) AS avg_amount, MAX(ordered_at) AS last_order
FROM raw_orders GROUP BY store;
"""


@dag(schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False, tags=["ddtrack-example"])
def warehouse():
    @task
    def load():
        from airflow.providers.sqlite.hooks.sqlite import SqliteHook

        df = sales(day=1)
        engine = SqliteHook(sqlite_conn_id=CONN_ID).get_sqlalchemy_engine()
        df.to_sql("raw_orders", engine, if_exists="replace", index=False)
        log_output(Table("raw_orders", conn_id=CONN_ID), name="raw_orders", checks=[checks.unique("order_id")])

    daily_revenue = track(
        SQLExecuteQueryOperator(task_id="daily_revenue", conn_id=CONN_ID, sql=DAILY_REVENUE_SQL, split_statements=True),
        outputs=[Table("daily_revenue", conn_id=CONN_ID)],
        inputs=[Table("raw_orders", conn_id=CONN_ID)],
        checks=[checks.rows_between(1, None), checks.unique("store")],
    )
    load() >> daily_revenue


warehouse()
