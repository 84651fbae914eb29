"""Property-based: any frame, however hostile, gives a record within its size bound."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ddtrack.profile import profile
from ddtrack.record import bound_size, dumps, new_record, to_json_safe

names = st.one_of(
    st.text(max_size=300),
    st.integers(),
    st.floats(allow_nan=True),
    st.just("<script>alert(1)</script>"),
    st.text(alphabet="\u202e\u0000\U0001f600é中", max_size=20),
)
cells = st.one_of(
    st.none(),
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5000),
    st.booleans(),
    st.lists(st.integers(), max_size=3),
)


@st.composite
def frames(draw) -> pd.DataFrame:
    n_cols = draw(st.integers(0, 12))
    n_rows = draw(st.integers(0, 30))
    cols = [draw(names) for _ in range(n_cols)]  # duplicates allowed
    data = {}
    df = pd.DataFrame(index=range(n_rows))
    for i, _ in enumerate(cols):
        kind = draw(st.sampled_from(["mixed", "float", "int", "str"]))
        if kind == "mixed":
            values = draw(st.lists(cells, min_size=n_rows, max_size=n_rows))
        elif kind == "float":
            values = draw(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=n_rows, max_size=n_rows))
        elif kind == "int":
            values = draw(st.lists(st.integers(-(10**12), 10**12), min_size=n_rows, max_size=n_rows))
        else:
            values = draw(st.lists(st.text(max_size=50), min_size=n_rows, max_size=n_rows))
        data[i] = pd.Series(values, dtype="object" if kind == "mixed" else None)
    if data:
        df = pd.DataFrame(data)
        df.columns = cols
    return df


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(frames(), st.sampled_from([4_000, 20_000, 200_000]))
def test_any_frame_profiles_and_fits_its_bound(df, max_bytes):
    record = new_record(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1, tracked=True)
    data = profile(df, sample=3).to_dict()
    json.dumps(data, allow_nan=False)  # plain JSON, no NaN
    record["outputs"].append({"name": "out", "uri": None, "tags": {}, "profile": data})
    bounded = bound_size(to_json_safe(record), max_bytes)
    assert len(dumps(bounded)) <= max_bytes
    out = bounded["outputs"][0]["profile"]
    assert out["rows"] == len(df) and out["n_columns"] == df.shape[1]
    assert len(out["columns"]) <= df.shape[1] and (out["columns"] or not df.shape[1] or out["truncated"])
    for col in out["columns"]:
        assert col["kind"] != "error", col.get("error")  # every hostile column still profiles
        assert col["count"] + col["nulls"] == len(df), col


def test_megabyte_column_names_still_fit():
    df = pd.DataFrame({"x" * 1_000_000: [1, 2], "y" * 1_000_000: [3, 4]})
    record = new_record(dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1, tracked=True)
    record["outputs"].append({"name": "out", "uri": None, "tags": {}, "profile": profile(df).to_dict()})
    bounded = bound_size(to_json_safe(record), 50_000)
    assert len(dumps(bounded)) <= 50_000
    assert bounded["outputs"][0]["profile"]["rows"] == 2 and bounded["outputs"][0]["profile"]["truncated"]


def test_numpy_scalars_and_inf_in_tags_are_safe():
    safe = to_json_safe({"t": np.float64("inf"), "n": np.int32(3)})
    assert safe == {"t": "inf", "n": 3}
