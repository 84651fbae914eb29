"""The columns ddtrack reads of Airflow's own tables, described once.

Plain SQLAlchemy Core tables rather than Airflow's ORM models: ingest, the query layer
and cleanup also run where only the metastore URL is known (``ddtrack sync``, a separate
ddtrack database), and ddtrack never writes to these tables.
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, DateTime, Float, Integer, LargeBinary, MetaData, String, Table

metadata = MetaData()

XCOM = Table(
    "xcom",
    metadata,
    Column("dag_id", String),
    Column("run_id", String),
    Column("task_id", String),
    Column("map_index", Integer),
    Column("key", String),
    Column("value", JSON),
    Column("timestamp", DateTime(timezone=True)),
)
DAG_RUN = Table(
    "dag_run",
    metadata,
    Column("id", Integer),
    Column("dag_id", String),
    Column("run_id", String),
    Column("state", String),
    Column("run_type", String),
    Column("start_date", DateTime(timezone=True)),
    Column("end_date", DateTime(timezone=True)),
    Column("logical_date", DateTime(timezone=True)),
    Column("run_after", DateTime(timezone=True)),
)
TASK_INSTANCE = Table(
    "task_instance",
    metadata,
    Column("id", String),
    Column("dag_id", String),
    Column("run_id", String),
    Column("task_id", String),
    Column("map_index", Integer),
    Column("try_number", Integer),
    Column("state", String),
    Column("start_date", DateTime(timezone=True)),
    Column("end_date", DateTime(timezone=True)),
    Column("duration", Float),
    Column("operator", String),
)
TASK_INSTANCE_HISTORY = Table(
    "task_instance_history",
    metadata,
    Column("dag_id", String),
    Column("run_id", String),
    Column("task_id", String),
    Column("map_index", Integer),
    Column("try_number", Integer),
    Column("state", String),
)
SERIALIZED_DAG = Table(
    "serialized_dag",
    metadata,
    Column("dag_id", String),
    Column("data", JSON),
    Column("data_compressed", LargeBinary),
    Column("dag_hash", String),
    Column("created_at", DateTime(timezone=True)),
)
DAG_TAG = Table(
    "dag_tag",
    metadata,
    Column("name", String),
    Column("dag_id", String),
)
