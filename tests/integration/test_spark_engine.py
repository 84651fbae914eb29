"""Spark DataFrames profiled by Spark (pyspark in local[2], Java 17): one SparkSession for
the module, as a task would have one.

The profile is compared with the in-memory profile of the same data: the exact fields
agree; ``unique``/``values_in`` are Spark aggregations; a job past the time limit is
interrupted and the profile fails with a time-out.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import pandas as pd
import pytest

from ddtrack import checks
from ddtrack.engines import bound_to_task, profile_in_place
from ddtrack.profile import profile

pytestmark = pytest.mark.timeout(900)

EXACT = ("count", "nulls", "min", "max", "zeros", "negatives")


@pytest.fixture(scope="module")
def spark():
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)  # the executors run ddtrack's profiler
    from pyspark.sql import SparkSession

    session = (SparkSession.builder.master("local[2]").appName("ddtrack-tests")
               .config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4").getOrCreate())
    yield session
    session.stop()


def orders(rows: int) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    amount = rng.gamma(2.0, 30.0, rows)
    amount[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame({
        "order_id": np.arange(rows, dtype=np.int64),
        "customer": rng.integers(0, 20_000, rows),
        "amount": amount,
        "city": np.array(["Paris", "Oslo", "Lima", "Kyiv"])[rng.integers(0, 4, rows)],
        "paid": rng.random(rows) < 0.5,
    })


def test_a_spark_frame_profiles_like_the_same_data_in_memory(spark):
    data = orders(200_000)
    df = spark.createDataFrame(data).repartition(3)
    assert bound_to_task(df)
    result = profile_in_place(df, sample=2)
    prof = result.profile
    assert (prof["kind"], prof["type"], prof["rows"], result.uri) == ("spark", "pyspark.sql.DataFrame", 200_000, None)
    mine = {c["name"]: c for c in prof["columns"]}
    assert mine["order_id"]["dtype"] == "int64" and mine["amount"]["dtype"] == "double"
    for ref in profile(data).to_dict()["columns"]:
        col = mine[ref["name"]]
        for field in EXACT:
            assert col[field] == ref[field], (ref["name"], field)
        for field in ("mean", "std"):
            expected = None if ref[field] is None else pytest.approx(ref[field], rel=1e-9)
            assert col[field] == expected, (ref["name"], field)
    assert {t["value"]: t["count"] for t in mine["city"]["top_values"]} == data["city"].value_counts().to_dict()
    assert len(prof["sample"]) == 2


def test_many_partitions_are_merged_on_the_executors_first(spark):
    data = orders(30_000)
    df = spark.createDataFrame(data).repartition(70)  # more than 64: a second merge level
    prof = profile_in_place(df).profile
    amount = next(c for c in prof["columns"] if c["name"] == "amount")
    assert prof["rows"] == 30_000
    assert amount["count"] == int(data["amount"].notna().sum())
    assert amount["mean"] == pytest.approx(data["amount"].mean(), rel=1e-9)
    assert amount["max"] == data["amount"].max()


def test_an_empty_frame_has_its_columns_and_no_rows(spark):
    df = spark.createDataFrame(orders(10)).where("order_id < 0")
    prof = profile_in_place(df).profile
    assert prof["rows"] == 0
    assert [c["name"] for c in prof["columns"]] == ["order_id", "customer", "amount", "city", "paid"]


def test_unique_and_values_in_are_spark_aggregations(spark):
    data = orders(50_000)
    data.loc[49_999, "order_id"] = 7  # one duplicate
    data.loc[3, "amount"] = 0.5
    df = spark.createDataFrame(data)
    result = profile_in_place(df)
    asked = [checks.unique("order_id"), checks.unique("customer"), checks.values_in("city", ["Paris", "Oslo"]),
             checks.values_in("paid", ["True"])]
    found = result.evidence(asked)
    assert (found[asked[0]].count, found[asked[0]].duplicates) == (50_000, 1)
    assert found[asked[1]].duplicates == 50_000 - data["customer"].nunique()
    assert (found[asked[2]].outside, found[asked[2]].n_outside) == (("Kyiv", "Lima"), 2)
    assert found[asked[3]].outside == ("False",)


def test_a_profile_past_its_time_is_interrupted(spark, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__IN_PLACE_TIMEOUT", "3")
    slow = spark.range(2).selectExpr("id", "java_method('java.lang.Thread', 'sleep', 120000L) as slept")
    with pytest.raises(TimeoutError, match="in_place_timeout"):
        profile_in_place(slow)
    assert spark.range(5).count() == 5  # the session goes on
