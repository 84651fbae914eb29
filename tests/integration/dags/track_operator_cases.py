"""DAGs for tests/integration/test_track_operator.py: operators wrapped by track()."""

from __future__ import annotations

import json
import os

import pendulum
from _demo_data import data_dir
from airflow.providers.common.sql.operators.sql import SQLExecuteQueryOperator
from airflow.sdk import DAG, task

from ddtrack import Table, checks, track

CONN_ID = "g1_cases_sqlite"
os.environ.setdefault(f"AIRFLOW_CONN_{CONN_ID.upper()}",
                      json.dumps({"conn_type": "sqlite", "host": str(data_dir() / "track_operator_cases.db")}))
SELECT = "SELECT id, code FROM src ORDER BY code"


@task
def seed():
    """A fresh ``src`` table with a duplicate id and a code outside {a, b}."""
    from airflow.providers.sqlite.hooks.sqlite import SqliteHook

    SqliteHook(sqlite_conn_id=CONN_ID).run(
        ["DROP TABLE IF EXISTS src", "CREATE TABLE src (id INTEGER, code TEXT)",
         "INSERT INTO src VALUES (1, 'a'), (2, 'b'), (2, 'c')"]
    )


def _dag(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)


with _dag("g1_plain_sql"):
    seed() >> SQLExecuteQueryOperator(task_id="q", conn_id=CONN_ID, sql=SELECT)

with _dag("g1_wrapped_sql"):
    seed() >> track(SQLExecuteQueryOperator(task_id="q", conn_id=CONN_ID, sql=SELECT),
                    outputs=[Table("src", conn_id=CONN_ID)])

with _dag("g1_sql_check"):
    seed() >> track(SQLExecuteQueryOperator(task_id="q", conn_id=CONN_ID, sql="SELECT 1"),
                    outputs=[Table("src", conn_id=CONN_ID)],
                    checks=[checks.unique("id"), checks.values_in("code", ["a", "b"])])

with _dag("g1_sql_missing"):
    seed() >> track(SQLExecuteQueryOperator(task_id="q", conn_id=CONN_ID, sql="SELECT 1"),
                    outputs=[Table("no_such_table", conn_id=CONN_ID)])
