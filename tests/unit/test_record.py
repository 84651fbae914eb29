"""The XCom record: JSON safety and the size bound."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pandas as pd

from ddtrack.profile import profile
from ddtrack.record import bound_size, dumps, new_record, to_json_safe


def test_json_safe_handles_nan_inf_numpy_and_time():
    value = {
        "nan": float("nan"),
        "inf": math.inf,
        "ninf": -math.inf,
        "np": np.int64(3),
        "npf": np.float32(1.5),
        "when": dt.datetime(2026, 1, 1),
        "nested": [{1: (1, 2)}],
        "obj": object(),
    }
    safe = to_json_safe(value)
    json.dumps(safe, allow_nan=False)
    assert safe["nan"] is None and safe["inf"] == "inf" and safe["ninf"] == "-inf"
    assert safe["np"] == 3 and safe["npf"] == 1.5 and safe["when"] == "2026-01-01T00:00:00"
    assert safe["nested"] == [{"1": [1, 2]}] and safe["obj"].startswith("<object")


def _record_with(df: pd.DataFrame) -> dict:
    record = new_record(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1, tracked=True)
    record["outputs"].append({"name": "return_value", "uri": None, "tags": {}, "profile": profile(df).to_dict()})
    return to_json_safe(record)


def test_small_record_is_untouched():
    record = _record_with(pd.DataFrame({"a": [1, 2, 3]}))
    before = dumps(record)
    assert dumps(bound_size(record, 1_000_000)) == before
    assert record["truncated"] is False


def test_wide_record_is_bounded_and_keeps_counts():
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 10_000)), columns=[f"c{i}" for i in range(10_000)])
    record = bound_size(_record_with(df), 2 * 1024 * 1024)
    assert len(dumps(record)) <= 2 * 1024 * 1024
    assert record["truncated"] is True
    out = record["outputs"][0]["profile"]
    assert out["truncated"] is True and out["n_columns"] == 10_000
    first = out["columns"][0]
    assert first["count"] == 50 and first["nulls"] == 0


def test_bounding_leaves_the_callers_record_whole():
    """The decorator's profiles are shared with batches still being merged: bounding a push
    must not strip them for the next push."""
    df = pd.DataFrame(np.random.default_rng(0).normal(size=(50, 2_000)), columns=[f"c{i}" for i in range(2_000)])
    record = _record_with(df)
    before = dumps(record)
    bounded = bound_size(record, 200_000)
    assert bounded["truncated"] is True and len(dumps(bounded)) <= 200_000
    assert dumps(record) == before
