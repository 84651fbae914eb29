"""DAG for test_elsewhere_spark_files.py (shared deployment): data profiled where it lives.

``spark_orders`` runs Spark in local[2] (one SparkSession for the task), writes a Parquet
folder partitioned by city and returns the DataFrame: ``@track`` profiles it on Spark (its
``unique`` check is a Spark aggregation) and hands Airflow None, since a DataFrame cannot be
an XCom.  ``events_folder`` records the folder through Airflow's ``ObjectStoragePath``,
streamed in record batches, with a ``values_in`` check answered on the batches.  Both name
the same dataset URI (OpenLineage's ``file:///path``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pendulum
from airflow.sdk import ObjectStoragePath, dag, task

from ddtrack import checks, log_output, track

ROWS = 20_000
FOLDER = Path(os.environ.get("DDTRACK_DEMO_DATA", "/tmp/ddtrack-demo-data")) / "elsewhere_events"
URI = f"file://{FOLDER}"


@dag(dag_id="elsewhere_spark_files", schedule=None, start_date=pendulum.datetime(2026, 1, 1, tz="UTC"), catchup=False)
def elsewhere_spark_files():
    @task
    @track(name="orders", uri=URI, checks=[checks.unique("order_id"), checks.rows_between(ROWS, ROWS)])
    def spark_orders():
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # executors run ddtrack's profiler
        from pyspark.sql import SparkSession

        spark = (SparkSession.builder.master("local[2]").appName("elsewhere_spark_files")
                 .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "2").getOrCreate())
        df = spark.range(0, ROWS, numPartitions=2).selectExpr(
            "id AS order_id", "id % 97 AS customer", "CAST(id % 1000 AS DOUBLE) / 10 AS amount",
            "CASE WHEN id % 3 = 0 THEN 'Paris' ELSE 'Oslo' END AS city",
        )
        df.write.mode("overwrite").partitionBy("city").parquet(str(FOLDER))
        return df

    @task
    def events_folder():
        log_output(ObjectStoragePath(f"{URI}/"), name="events", checks=[checks.values_in("city", ["Paris", "Oslo"])])

    spark_orders() >> events_folder()


elsewhere_spark_files()
