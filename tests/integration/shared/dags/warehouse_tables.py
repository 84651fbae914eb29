"""DAG for test_warehouse_tables.py (shared deployment): SQL tables profiled where they live.

The warehouse is a second PostgreSQL database reached through the Airflow connection
``warehouse`` (the ``warehouse`` service).  ``load_orders`` writes ``public.orders`` with SQL
and records it with ``log_output(Table)``; ``order_totals`` is a plain
``SQLExecuteQueryOperator`` wrapped by ``track``, writing ``public.order_totals`` from it:
its declared input and output are profiled in PostgreSQL, no row passing through Python.
"""

from __future__ import annotations

import pendulum
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import dag, task

from ddtrack import Table, checks, log_output, track

ROWS = 5_000
CUSTOMERS = 37

LOAD_SQL = f"""
DROP TABLE IF EXISTS public.orders;
CREATE TABLE public.orders AS
SELECT i AS order_id, i % {CUSTOMERS} AS customer, (i % 1000) / 10.0 AS amount,
       CASE WHEN i % 3 = 0 THEN 'Paris' ELSE 'Oslo' END AS city
FROM generate_series(0, {ROWS - 1}) AS i
"""

TOTALS_SQL = """
DROP TABLE IF EXISTS public.order_totals;
CREATE TABLE public.order_totals AS
SELECT customer, COUNT(*) AS orders, SUM(amount) AS revenue FROM public.orders GROUP BY customer;
"""


@dag(dag_id="warehouse_tables", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def warehouse_tables():
    @task
    def load_orders():
        from airflow.providers.postgres.hooks.postgres import PostgresHook

        PostgresHook(postgres_conn_id="warehouse").run(LOAD_SQL)
        log_output(Table("public.orders", conn_id="warehouse"), name="orders", checks=[checks.unique("order_id")])

    order_totals = track(
        SQLExecuteQueryOperator(task_id="order_totals", conn_id="warehouse", sql=TOTALS_SQL, split_statements=True),
        inputs=[Table("public.orders", conn_id="warehouse")],
        outputs=[Table("public.order_totals", conn_id="warehouse")],
        checks=[checks.unique("customer")],
    )
    load_orders() >> order_totals


warehouse_tables()
