"""Exactness of ddtrack.profile against pandas' own results on the same data."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ddtrack.profile import Profile, profile

QS = [0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99]
COLUMN_KEYS = {
    "name", "position", "dtype", "kind", "count", "nulls", "null_pct", "distinct", "distinct_estimated",
    "min", "max", "mean", "std", "zeros", "negatives", "infinities", "quantiles", "histogram",
    "top_values", "str_len", "sketch",
}
TOP_KEYS = {
    "format", "kind", "type", "rows", "n_columns", "memory_bytes", "schema", "schema_fingerprint",
    "columns", "repr", "sample", "pii", "truncated",
}


def prof(obj, **kw) -> dict:
    """Profile and check the dict is strict JSON with the format's keys."""
    p = profile(obj, **kw)
    assert isinstance(p, Profile)
    d = p.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d) == TOP_KEYS
    assert d["format"] == 1
    for c in d["columns"]:
        keys = COLUMN_KEYS | {"error"} if c["kind"] == "error" else COLUMN_KEYS
        assert set(c) == keys, set(c) ^ keys
        assert isinstance(c["name"], str)
    return d


def close(a, b, rel=1e-9) -> bool:
    """Float equality up to summation-order rounding; None == NaN."""
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None) and (b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, str) and a in ("inf", "-inf"):
        return float(a) == b
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-12)


def iso(ts) -> str:
    return pd.Timestamp(ts).isoformat()


def check_numeric(c: dict, s: pd.Series, *, distinct_estimate_ok: bool = False) -> None:
    """Every numeric statistic equals pandas' result on the same Series (the distinct count
    may be an HLL estimate within 5 % where ``distinct_estimate_ok``)."""
    x = s.astype("float64") if not pd.api.types.is_bool_dtype(s.dtype) else s
    nonnull = x.dropna()
    assert c["count"] == int(s.count())
    assert c["nulls"] == int(s.isna().sum())
    if distinct_estimate_ok and c["distinct_estimated"]:
        assert abs(c["distinct"] - s.nunique()) <= 0.05 * s.nunique(), (c["distinct"], s.nunique())
    else:
        assert c["distinct"] == s.nunique() and c["distinct_estimated"] is False
    if len(nonnull) == 0:
        assert c["min"] is None and c["max"] is None and c["mean"] is None
        return
    assert close(c["min"], nonnull.min()) and close(c["max"], nonnull.max())
    assert close(c["mean"], nonnull.mean())
    assert close(c["std"], nonnull.std()) or (c["std"] is None and len(nonnull) < 2)
    assert c["zeros"] == int((nonnull == 0).sum())
    assert c["negatives"] == int((nonnull < 0).sum())
    assert c["infinities"] == int(np.isinf(nonnull).sum())
    finite = nonnull[np.isfinite(nonnull)]
    if len(finite):
        want = finite.quantile(QS).tolist()
        got = [c["quantiles"][str(q)] for q in QS]
        assert all(close(g, w, 1e-12) for g, w in zip(got, want, strict=True)), (got, want)
        edges = np.asarray(c["histogram"]["edges"], dtype=float)
        assert len(edges) <= 51
        if edges[0] == edges[-1]:
            assert c["histogram"]["counts"] == [len(finite)]
        else:
            np_counts, _ = np.histogram(finite.to_numpy(), bins=edges)
            assert c["histogram"]["counts"] == np_counts.tolist()
        assert sum(c["histogram"]["counts"]) == len(finite)


def check_top(c: dict, s: pd.Series) -> None:
    """top_values equal pandas value_counts (as text, most frequent first)."""
    vc = s.dropna().astype(str).value_counts()
    got = {t["value"]: t["count"] for t in c["top_values"]}
    assert len(c["top_values"]) == min(20, len(vc))
    for v, n in got.items():
        assert vc[v] == n
    if len(vc):
        assert c["top_values"][0]["count"] == vc.iloc[0]


def check_string(c: dict, s: pd.Series) -> None:
    """String statistics equal pandas'."""
    nonnull = s.dropna().astype(object)
    assert c["kind"] == "string"
    assert c["count"] == len(nonnull) and c["nulls"] == int(s.isna().sum())
    assert c["distinct"] == s.nunique()
    if len(nonnull):
        assert c["min"] == min(nonnull) and c["max"] == max(nonnull)
        lens = nonnull.str.len()
        assert c["str_len"] == {"min": int(lens.min()), "mean": pytest.approx(lens.mean()), "max": int(lens.max())}
    check_top(c, s)


def col(d: dict, name: str) -> dict:
    return next(c for c in d["columns"] if c["name"] == name)


# ---------------------------------------------------------------- numeric
def test_float_with_nan_and_inf_matches_pandas():
    rng = np.random.default_rng(0)
    x = rng.normal(size=5000)
    x[::7] = np.nan
    x[3] = np.inf
    x[5] = -np.inf
    x[10:20] = 0.0
    s = pd.Series(x, name="f")
    d = prof(s.to_frame())
    c = d["columns"][0]
    assert c["kind"] == "float"
    assert c["min"] == "-inf" and c["max"] == "inf"
    assert c["infinities"] == 2
    assert c["mean"] is None  # inf + -inf -> NaN in pandas too
    assert math.isnan(s.mean())
    check_numeric(c, s)


def test_plain_numeric_columns_match_pandas():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({
        "f": rng.normal(size=3000),
        "i": rng.integers(-50, 1000, 3000),
        "small": rng.integers(0, 10, 3000),
        "u8": rng.integers(0, 255, 3000).astype(np.uint8),
        "f32": rng.random(3000).astype(np.float32),
        "const": np.full(3000, 7),
    })
    d = prof(df)
    for name in df:
        check_numeric(col(d, name), df[name])
    assert col(d, "i")["kind"] == "integer" and isinstance(col(d, "i")["min"], int)
    assert col(d, "small")["histogram"]["counts"] == df["small"].value_counts().sort_index().tolist()
    assert col(d, "const")["std"] == 0.0


def test_only_inf_and_single_value():
    s = pd.Series([np.inf, np.inf, np.nan])
    c = prof(s.to_frame("x"))["columns"][0]
    assert c["min"] == "inf" and c["max"] == "inf" and c["mean"] == "inf" and c["std"] is None
    assert c["quantiles"] is None and c["histogram"] is None and c["distinct"] == 1
    c1 = prof(pd.DataFrame({"x": [5.0]}))["columns"][0]
    assert c1["std"] is None and c1["mean"] == 5.0 and c1["quantiles"]["0.5"] == 5.0


def test_nullable_extension_dtypes():
    df = pd.DataFrame({
        "I": pd.array([1, None, 3, 3, -2], dtype="Int64"),
        "F": pd.array([1.5, None, 0.0, 2.5, None], dtype="Float64"),
        "B": pd.array([True, None, False, True, True], dtype="boolean"),
        "S": pd.array(["a", None, "bb", "a", "ccc"], dtype="string[pyarrow]"),
        "SP": pd.array(["a", None, "bb", "a", "ccc"], dtype="string[python]"),
        "U": pd.array([1, 2, None, 4, 5], dtype="UInt16"),
    })
    d = prof(df)
    check_numeric(col(d, "I"), df["I"])
    check_numeric(col(d, "F"), df["F"])
    check_numeric(col(d, "U"), df["U"])
    assert col(d, "I")["kind"] == "integer"
    b = col(d, "B")
    assert b["kind"] == "boolean" and b["count"] == 4 and b["nulls"] == 1
    assert b["mean"] == pytest.approx(df["B"].mean()) and b["std"] == pytest.approx(df["B"].astype(float).std())
    assert b["min"] is False and b["max"] is True
    check_top(b, df["B"])
    check_string(col(d, "S"), df["S"])
    check_string(col(d, "SP"), df["SP"])


def test_pandas_default_string_dtype_and_object_strings():
    df = pd.DataFrame({"s": ["x", "yy", None, "x", "é" * 3]})
    df["o"] = df["s"].astype(object)
    d = prof(df)
    check_string(col(d, "s"), df["s"])
    check_string(col(d, "o"), df["o"])
    assert col(d, "o")["dtype"] == "object"


def test_long_strings_are_cut_and_flagged():
    df = pd.DataFrame({"s": ["a" * 500, "b"]})
    d = prof(df, sample=2)
    c = d["columns"][0]
    assert len(c["min"]) == 200 and len(c["top_values"][0]["value"]) == 200
    assert len(d["sample"][0]["s"]) == 200
    assert d["truncated"] is True


# ---------------------------------------------------------------- awkward frames
def test_empty_frames():
    d = prof(pd.DataFrame())
    assert d["rows"] == 0 and d["n_columns"] == 0 and d["columns"] == []
    d = prof(pd.DataFrame({"a": pd.Series([], dtype=float), "b": pd.Series([], dtype=object),
                           "t": pd.Series([], dtype="datetime64[ns]"), "s": pd.Series([], dtype="str")}))
    assert d["rows"] == 0 and d["n_columns"] == 4
    for c in d["columns"]:
        assert c["count"] == 0 and c["nulls"] == 0 and c["null_pct"] == 0.0 and c["distinct"] == 0
        assert c["min"] is None and c["quantiles"] is None and c["histogram"] is None


def test_all_null_columns():
    df = pd.DataFrame({
        "f": [np.nan] * 4, "o": [None] * 4, "s": pd.Series([None] * 4, dtype="str"),
        "t": pd.Series([pd.NaT] * 4, dtype="datetime64[ns]"), "I": pd.array([None] * 4, dtype="Int64"),
        "b": pd.array([None] * 4, dtype="boolean"),
    })
    d = prof(df)
    for c in d["columns"]:
        assert c["count"] == 0 and c["nulls"] == 4 and c["null_pct"] == 100.0 and c["distinct"] == 0, c
        assert c["min"] is None and c["max"] is None and c["mean"] is None


def test_mixed_type_object_and_nested_values():
    s = pd.Series([1, "a", 2.5, None, [1, 2], {"k": [1]}, [1, 2], b"x", dt.date(2020, 1, 1), decimal.Decimal("1.5")])
    d = prof(s.to_frame("m"), sample=10)
    c = d["columns"][0]
    assert c["kind"] == "object"
    assert c["count"] == 9 and c["nulls"] == 1
    assert c["distinct"] == 8  # [1, 2] twice
    assert c["min"] is None and c["max"] is None  # mixed types do not compare
    assert c["top_values"][0] == {"value": "[1, 2]", "count": 2}
    assert d["sample"][4]["m"] == [1, 2] and d["sample"][5]["m"] == {"k": [1]}
    assert d["sample"][8]["m"] == "2020-01-01T00:00:00"


def test_object_numbers_and_dates():
    d = prof(pd.DataFrame({"n": pd.Series([1, 2, None, 4], dtype=object),
                           "d": pd.Series([dt.date(2020, 1, 2), dt.date(2019, 5, 1), None], dtype=object)}))
    n = col(d, "n")
    assert n["kind"] == "integer" and n["min"] == 1 and n["max"] == 4 and n["mean"] == pytest.approx(7 / 3)
    dd = col(d, "d")
    assert dd["kind"] == "object" and dd["min"] == "2019-05-01T00:00:00" and dd["max"] == "2020-01-02T00:00:00"


def test_tz_aware_and_naive_datetimes():
    t = pd.Series(pd.date_range("2021-03-27", periods=500, freq="37min", tz="Europe/Paris"))
    t[5] = pd.NaT
    naive = pd.Series(pd.to_datetime(["2020-01-01", None, "1999-12-31 23:59:59.5", "2020-01-01"], format="ISO8601"))
    sec = pd.Series(pd.to_datetime(["2020-01-01", "2021-01-01"]).astype("datetime64[s]"))
    d = prof(pd.DataFrame({"t": t}))
    c = d["columns"][0]
    assert c["kind"] == "datetime" and c["count"] == 499 and c["nulls"] == 1
    assert c["min"] == iso(t.min()) and c["max"] == iso(t.max())
    assert c["distinct"] == t.nunique()
    for q in QS:
        want = t.quantile(q)
        got = pd.Timestamp(c["quantiles"][str(q)])
        assert abs((got - want).total_seconds()) < 1e-6, (q, got, want)
    assert sum(c["histogram"]["counts"]) == 499
    assert c["histogram"]["edges"][0] == c["min"] and c["histogram"]["edges"][-1] == c["max"]
    edges = [pd.Timestamp(e).value for e in c["histogram"]["edges"]]
    np_counts, _ = np.histogram(t.dropna().astype("int64").to_numpy() // 1000 * 1000 if False else
                                t.dropna().dt.tz_convert(None).astype("datetime64[ns]").astype("int64").to_numpy(),
                                bins=np.asarray(edges, dtype=float))
    assert c["histogram"]["counts"] == np_counts.tolist()
    d2 = prof(pd.DataFrame({"n": naive, "s": sec}))
    n = col(d2, "n")
    assert n["min"] == iso(naive.min()) and n["max"] == iso(naive.max()) and n["distinct"] == 2
    assert col(d2, "s")["max"] == "2021-01-01T00:00:00"


def test_timedelta_in_seconds():
    s = pd.Series(pd.to_timedelta([1, 2, None, -3, 0], unit="s"))
    c = prof(s.to_frame("d"))["columns"][0]
    assert c["kind"] == "timedelta" and c["count"] == 4
    secs = s.dt.total_seconds()
    check_numeric(c, secs.rename("d"))


def test_categoricals():
    s = pd.Series(pd.Categorical(["b", "a", None, "b", "c"], categories=["c", "b", "a", "unused"], ordered=True))
    c = prof(s.to_frame("c"))["columns"][0]
    assert c["kind"] == "categorical" and c["count"] == 4 and c["nulls"] == 1
    assert c["distinct"] == s.nunique() == 3
    assert c["min"] == s.min() == "c" and c["max"] == s.max() == "a"
    check_top(c, s)
    u = pd.Series(pd.Categorical([1, 2, 2, None]))
    cu = prof(u.to_frame("u"))["columns"][0]
    assert cu["min"] is None and cu["distinct"] == 2 and cu["top_values"][0] == {"value": "2", "count": 2}


def test_duplicate_non_string_and_multiindex_names():
    df = pd.DataFrame([[1, 2.0, "x"], [3, np.nan, "y"]], columns=["a", "a", 7])
    d = prof(df)
    assert [s["name"] for s in d["schema"]] == ["a", "a", "7"]
    assert [c["position"] for c in d["columns"]] == [0, 1, 2]
    assert d["columns"][0]["kind"] == "integer" and d["columns"][1]["nulls"] == 1
    mi = pd.DataFrame(np.arange(6).reshape(2, 3), columns=pd.MultiIndex.from_tuples([("x", 1), ("x", 2), ("y", "z")]))
    d = prof(mi)
    assert [s["name"] for s in d["schema"]] == ["x / 1", "x / 2", "y / z"]


def test_schema_fingerprint_depends_on_names_dtypes_and_order():
    a = prof(pd.DataFrame({"a": [1], "b": ["x"]}))["schema_fingerprint"]
    assert a == prof(pd.DataFrame({"a": [5, 6], "b": ["y", "z"]}))["schema_fingerprint"]
    assert a != prof(pd.DataFrame({"b": ["x"], "a": [1]}))["schema_fingerprint"]
    assert a != prof(pd.DataFrame({"a": [1.0], "b": ["x"]}))["schema_fingerprint"]
    assert len(a) == 16


@pytest.mark.timeout(120)
def test_ten_thousand_columns():
    rng = np.random.default_rng(2)
    df = pd.DataFrame(rng.random((20, 10_000)))
    d = prof(df)
    assert d["n_columns"] == 10_000 and d["columns"][9999]["name"] == "9999"
    check_numeric(d["columns"][1234], df[1234])


# ---------------------------------------------------------------- PII and sample
def test_pii_columns_reveal_no_values():
    df = pd.DataFrame({"email": ["a@x.org", "b@y.org", None, "a@x.org"], "age": [30, 40, 50, 60],
                       "when": pd.to_datetime(["2020-01-01"] * 4), "ok": [1.0, 2.0, 3.0, 4.0]})
    d = prof(df, pii=["email", "age", "when"], sample=3)
    assert d["pii"] == ["age", "email", "when"]
    for name in ("email", "age", "when"):
        c = col(d, name)
        for f in ("min", "max", "mean", "std", "zeros", "negatives", "infinities", "quantiles", "histogram",
                  "top_values", "str_len"):
            assert c[f] is None, (name, f)
        assert c["sketch"] is None or set(c["sketch"]) == {"hll"}
        assert c["count"] is not None and c["distinct"] is not None
    assert col(d, "email")["distinct"] == 2 and col(d, "email")["nulls"] == 1
    assert all(set(r) == {"ok"} for r in d["sample"]) and len(d["sample"]) == 3
    text = json.dumps(d)
    assert "a@x.org" not in text and "b@y.org" not in text


def test_sample_is_first_rows_json_safe():
    df = pd.DataFrame({"f": [1.5, np.nan, np.inf], "t": pd.to_datetime(["2020-01-01", None, "2020-01-03"]),
                       "s": ["a", None, "c"]})
    d = prof(df, sample=2)
    assert d["sample"] == [{"f": 1.5, "t": "2020-01-01T00:00:00", "s": "a"}, {"f": None, "t": None, "s": None}]
    assert prof(df)["sample"] is None
    assert prof(df, sample=10)["sample"][2]["f"] == "inf"


# ---------------------------------------------------------------- other kinds
def test_numpy_kinds():
    a = np.array([1.0, np.nan, 3.0])
    d = prof(a)
    assert d["kind"] == "numpy" and d["type"] == "numpy.ndarray" and d["columns"][0]["name"] == "value"
    check_numeric(d["columns"][0], pd.Series(a))
    d2 = prof(np.arange(12).reshape(4, 3))
    assert [c["name"] for c in d2["columns"]] == ["0", "1", "2"] and d2["rows"] == 4
    check_numeric(d2["columns"][1], pd.Series(np.arange(12).reshape(4, 3)[:, 1]))
    d3 = prof(np.zeros((2, 3, 4)))
    assert d3["columns"] == [] and d3["rows"] == 2 and "(2, 3, 4)" in d3["repr"]
    d4 = prof(np.array(["a", "bb", "a"]))
    assert d4["columns"][0]["kind"] == "string" and d4["columns"][0]["distinct"] == 2
    d5 = prof(np.array(["2020-01-01", "NaT"], dtype="datetime64[D]"))
    assert d5["columns"][0]["min"] == "2020-01-01T00:00:00" and d5["columns"][0]["nulls"] == 1


def test_list_and_dict_kinds():
    d = prof([3, 1, None, 2])
    assert d["kind"] == "list" and d["type"] == "list" and d["columns"][0]["name"] == "value"
    assert d["columns"][0]["count"] == 3 and d["columns"][0]["max"] == 3
    d = prof([{"a": 1, "b": "x"}, {"a": 2}])
    assert d["kind"] == "list" and [c["name"] for c in d["columns"]] == ["a", "b"] and d["rows"] == 2
    assert col(d, "b")["nulls"] == 1
    d = prof({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    assert d["kind"] == "dict" and d["rows"] == 3 and d["n_columns"] == 2 and d["columns"][0]["mean"] == 2.0
    d = prof({"a": 1, "b": "text", 3: [1, 2]})
    assert d["kind"] == "dict" and d["n_columns"] == 3 and d["columns"] == []
    assert d["schema"] == [{"name": "a", "dtype": "int"}, {"name": "b", "dtype": "str"}, {"name": "3", "dtype": "list"}]
    assert d["repr"].startswith("{'a': 1")
    d = prof({"user": "secret", "n": 1}, pii=["user"])
    assert "secret" not in json.dumps(d)
    assert prof([])["kind"] == "list"


def test_scalar_none_other():
    d = prof(42)
    assert d["kind"] == "scalar" and d["type"] == "int" and d["repr"] == "42"
    assert prof("x" * 500)["repr"] == repr("x" * 500)[:200] and prof("x" * 500)["truncated"]
    assert prof(None)["kind"] == "none"
    assert prof(np.float64(1.5))["kind"] == "scalar"
    assert prof(pd.Timestamp("2020-01-01"))["kind"] == "scalar"
    assert prof(pd.Timestamp("2020-01-01"))["type"] == "pandas.Timestamp"

    class Weird:
        def __repr__(self):
            raise RuntimeError("boom")

    d = prof(Weird())
    assert d["kind"] == "other" and d["type"].endswith("Weird") and d["repr"]
    assert prof(object())["kind"] == "other"


def test_pyarrow_native_matches_pandas():
    rng = np.random.default_rng(3)
    n = 2000
    f = rng.normal(size=n)
    f[::5] = np.nan
    tbl = pa.table({
        "f": pa.array(f, mask=np.arange(n) % 11 == 0),
        "i": pa.array(rng.integers(0, 100, n), mask=np.arange(n) % 13 == 0),
        "s": pa.array(rng.choice(["a", "b", "cc"], n).tolist()),
        "t": pa.array(pd.date_range("2020", periods=n, freq="h", tz="UTC")),
        "b": pa.array(rng.random(n) > 0.3),
        "d": pa.array(rng.choice(["x", "y"], n)).dictionary_encode(),
        "l": pa.array([[1, 2]] * n),
        "dec": pa.array([decimal.Decimal("1.5")] * n),
    })
    d = prof(tbl, sample=2)
    assert d["kind"] == "pyarrow" and d["type"] == "pyarrow.Table" and d["rows"] == n
    df = tbl.to_pandas()
    check_numeric(col(d, "f"), df["f"])
    check_numeric(col(d, "i"), df["i"])
    check_string(col(d, "s"), df["s"])
    assert col(d, "t")["min"] == iso(df["t"].min())
    assert col(d, "b")["mean"] == pytest.approx(df["b"].mean())
    assert col(d, "d")["kind"] == "categorical" and col(d, "d")["distinct"] == 2
    assert col(d, "l")["kind"] == "object" and col(d, "l")["distinct"] == 1
    assert col(d, "dec")["mean"] == 1.5
    assert len(d["sample"]) == 2
    rb = prof(tbl.to_batches()[0])
    assert rb["type"] == "pyarrow.RecordBatch"
    assert prof(pa.chunked_array([[1, 2], [3]]))["columns"][0]["count"] == 3


@pytest.fixture(params=["kernel", "arrow"])
def string_counter(request, monkeypatch):
    """Run a test with ddtrack's C string kernel and again with Arrow's own kernels (what
    an install without a C compiler uses)."""
    from ddtrack.profile import _native

    if request.param == "kernel" and not _native.available():
        pytest.skip("C kernel not built")
    if request.param == "arrow":
        monkeypatch.setattr(_native, "_strcount", None)
    return request.param


@pytest.mark.parametrize("arrow_type", ["string", "large_string", "string_view", "chunked"])
def test_large_arrow_string_columns_are_counted_exactly(arrow_type, string_counter):
    """Big Arrow string columns (counted by the C kernel, or by Acero's hash group-by
    without it): same counts, nulls, distinct, min/max and lengths as pandas, whatever
    the string layout."""
    rng = np.random.default_rng(11)
    words = np.array([f"w{k}" * (k % 4 + 1) for k in range(300)] + ["", "é✓"], dtype=object)
    values = words[rng.integers(0, words.size, 50_000)]
    values[rng.random(values.size) < 0.07] = None
    if arrow_type == "chunked":
        arr = pa.chunked_array([pa.array(values[:20_000].tolist()), pa.array(values[20_000:].tolist())])
    elif arrow_type == "string_view" and not hasattr(pa, "string_view"):
        pytest.skip("pyarrow without string_view")
    else:
        arr = pa.array(values.tolist(), type=getattr(pa, arrow_type)())
    c = prof(pa.table({"s": arr}))["columns"][0]
    s = pd.Series(values, dtype=object)
    assert c["kind"] == "string"
    check_string(c, s)
    assert c["nulls"] == int(s.isna().sum()) and c["distinct"] == s.nunique()
    assert c["min"] == s.dropna().min() and c["max"] == s.dropna().max()
    if pl := _polars_or_none():
        pc_ = prof(pl.Series("s", values.tolist()).to_frame())["columns"][0]
        assert {k: pc_[k] for k in ("count", "nulls", "distinct", "top_values", "min", "max", "str_len")} == {
            k: c[k] for k in ("count", "nulls", "distinct", "top_values", "min", "max", "str_len")
        }


@pytest.mark.parametrize("dtype,offset", [("float64", 0), ("float64", 5), ("float32", 3)])
def test_large_arrow_floats_with_nulls_are_read_in_place(dtype, offset):
    """Big Arrow float columns with nulls are read in Arrow's buffer, null slots skipped by
    the validity bitmap (whatever they hold); NaN and infinities among the values still
    count as in pandas.  Sliced arrays (an offset into the buffers) included."""
    rng = np.random.default_rng(21)
    n = 300_000
    data = rng.normal(5, 2, n + offset).astype(dtype)
    data[rng.random(data.size) < 0.03] = np.nan
    data[7:9] = [np.inf, -np.inf]
    mask = rng.random(data.size) < 0.1
    mask[7:9] = False
    data[mask] = 1e30  # what a null slot holds must not matter
    arr = pa.array(data, mask=mask).slice(offset)
    c = prof(pa.table({"x": arr}))["columns"][0]
    s = pd.Series(np.where(mask, np.nan, data.astype(np.float64))[offset:])
    check_numeric(c, s, distinct_estimate_ok=True)
    assert c["distinct_estimated"] is True and c["max"] == "inf"


@pytest.mark.parametrize("rows,offset", [(50_000, 0), (50_000, 7), (600_000, 3)])
def test_fixed_width_arrow_strings_are_counted_exactly(rows, offset, string_counter):
    """Strings of one byte length (here with multi-byte characters) are grouped as
    fixed-size binary views of the same bytes; sliced arrays and the split into slices
    for Acero's threads give the same counts as pandas."""
    rng = np.random.default_rng(rows + offset)
    words = np.array(["AB-001", "AB-002", "ZZ-999", "é-001", "✓-01", "0000-0"], dtype=object)
    assert len({len(w.encode()) for w in words}) == 1
    values = words[rng.integers(0, words.size, rows + offset)]
    arr = pa.array(values.tolist(), type=pa.string()).slice(offset)
    c = prof(pa.table({"s": arr}))["columns"][0]
    s = pd.Series(values[offset:], dtype=object)
    check_string(c, s)
    assert c["distinct"] == s.nunique() and (c["min"], c["max"]) == (s.min(), s.max())
    assert c["str_len"]["max"] == 6 and c["str_len"]["min"] == 4


def _polars_or_none():
    try:
        import polars
    except ImportError:
        return None
    return polars


def test_polars_native_matches_pandas(string_counter):
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(4)
    n = 1000
    f = rng.normal(size=n)
    f[::9] = np.nan
    df = pl.DataFrame({
        "f": f, "i": rng.integers(0, 10, n), "s": rng.choice(["a", "b", None], n).tolist(),
        "t": pd.date_range("2020", periods=n, freq="min"), "b": rng.random(n) > 0.5,
        "c": pl.Series(rng.choice(["u", "v"], n)).cast(pl.Categorical),
    }).with_columns(pl.when(pl.col("i") == 3).then(None).otherwise(pl.col("i")).alias("i"))
    d = prof(df, sample=3)
    assert d["kind"] == "polars" and d["type"] == "polars.DataFrame" and d["rows"] == n
    pdf = pd.DataFrame({c: df[c].to_list() for c in df.columns})
    check_numeric(col(d, "f"), pdf["f"].astype(float))  # NaN counts as null as in pandas
    check_numeric(col(d, "i"), pdf["i"].astype("Int64"))
    check_string(col(d, "s"), pdf["s"])
    assert col(d, "t")["min"] == iso(pdf["t"].min())
    assert col(d, "c")["kind"] == "categorical" and col(d, "c")["distinct"] == 2
    assert len(d["sample"]) == 3
    assert prof(df["f"])["columns"][0]["name"] == "f"
    assert prof(df.lazy())["kind"] == "other"


def test_import_is_cheap_and_does_not_import_polars():
    code = "import sys, ddtrack.profile; print('polars' in sys.modules, 'airflow' in sys.modules, 'sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False", "False"]


def test_never_raises_on_odd_inputs():
    odd = [
        pd.DataFrame({"p": pd.period_range("2020", periods=3, freq="M")}),
        pd.DataFrame({"iv": pd.IntervalIndex.from_breaks([0, 1, 2])}),
        pd.DataFrame({"c": [1 + 2j, 3j]}),
        pd.Series([1, 2]).to_frame().T,
        pa.table({"n": pa.nulls(3)}),
        np.array([object(), None]),
        {"x": np.zeros((2, 2))},
        [1, [2], {"a": 3}],
        float("nan"),
        range(5),
    ]
    for o in odd:
        d = prof(o)
        assert d["kind"] in {"pandas", "pyarrow", "numpy", "dict", "list", "scalar", "other"}
        assert not [c for c in d["columns"] if c["kind"] == "error"], o  # odd, not broken


# ---------------------------------------------------------------- property test
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_floats = st.one_of(st.floats(-1e6, 1e6, allow_subnormal=False), st.just(np.nan), st.just(np.inf), st.just(-np.inf))


@settings(max_examples=60, deadline=None)
@given(
    st.lists(_floats, max_size=40),
    st.lists(st.one_of(st.none(), st.text(max_size=5)), max_size=40),
    st.lists(st.integers(-(2**40), 2**40), max_size=40),
)
def test_random_columns_match_pandas(floats, texts, ints):
    df_f = pd.DataFrame({"f": pd.Series(floats, dtype="float64")})
    check_numeric(prof(df_f)["columns"][0], df_f["f"])
    df_i = pd.DataFrame({"i": pd.Series(ints, dtype="int64")})
    check_numeric(prof(df_i)["columns"][0], df_i["i"])
    df_s = pd.DataFrame({"s": pd.Series(texts, dtype="str")})
    check_string(prof(df_s)["columns"][0], df_s["s"])


def test_threaded_columns_give_the_same_profile(monkeypatch):
    from ddtrack.profile import _profile

    rng = np.random.default_rng(9)
    n = 50_000
    df = pd.DataFrame({
        "f": rng.normal(size=n), "i": rng.integers(0, 100, n), "o": rng.choice(["a", "b"], n).astype(object),
        "s": pd.Series(rng.choice(["x", "y", None], n), dtype="str"), "t": pd.date_range("2020", periods=n, freq="s"),
    })
    monkeypatch.setattr(_profile, "PARALLEL_MIN_CELLS", 10**12)
    sequential = prof(df)
    monkeypatch.setattr(_profile, "PARALLEL_MIN_CELLS", 1)
    monkeypatch.setattr(_profile, "thread_budget", lambda: 4)
    threaded = prof(df)
    assert threaded == sequential
    for name in ("f", "i"):
        check_numeric(col(threaded, name), df[name])


def test_large_object_columns_counted_by_identity_match_pandas():
    """Big object columns take the identity fast path; results must equal pandas'."""
    rng = np.random.default_rng(12)
    n = 30_000
    labels = np.array(["a", "bb", "ccc", None, np.nan], dtype=object)
    s = pd.Series(labels[rng.integers(0, 5, n)], dtype=object)
    s.iloc[5] = "".join(["cc", "c"])  # equal to "ccc" but a different object
    assert s.iloc[5] is not labels[2] and s.iloc[5] == labels[2]
    d = prof(s.to_frame("s"))
    check_string(d["columns"][0], s)
    mixed = pd.Series(np.array([1, 1.0, True, "x", None], dtype=object)[rng.integers(0, 5, n)], dtype=object)
    c = prof(mixed.to_frame("m"))["columns"][0]
    assert c["distinct"] == mixed.nunique() == 2 and c["nulls"] == int(mixed.isna().sum())
    assert sum(t["count"] for t in c["top_values"]) == c["count"]
    lists = pd.Series([[1], [2]] * (n // 2), dtype=object)
    c = prof(lists.to_frame("l"))["columns"][0]
    assert c["kind"] == "object" and c["distinct"] == 2


@pytest.mark.parametrize("low,high", [(0, 1000), (-50, 50), (5, 6), (10**9, 10**9 + 70_000)])
def test_large_small_range_integers_match_pandas(low, high):
    """Big integer columns with a small range take the bincount path; same results as pandas."""
    rng = np.random.default_rng(low & 0xFFFF)
    s = pd.Series(rng.integers(low, high, 100_000))
    c = prof(s.to_frame("i"))["columns"][0]
    check_numeric(c, s)
    assert isinstance(c["min"], int) and isinstance(c["max"], int)
    nullable = s.astype("Int64").mask(rng.random(s.size) < 0.1)
    check_numeric(prof(nullable.to_frame("n"))["columns"][0], nullable)


def _big_columns() -> dict[str, pd.Series]:
    """Large unsorted columns of several shapes (the profiler bins instead of sorting them)."""
    rng = np.random.default_rng(7)
    n = 300_000
    normal = rng.normal(3, 10, n)
    normal[rng.random(n) < 0.05] = np.nan
    normal[:3] = [np.inf, -np.inf, np.inf]
    lognormal = rng.lognormal(0, 3, n)
    outlier = rng.random(n)
    outlier[5] = 1e12  # nearly everything in one bin: falls back to sorting
    low_card = rng.integers(-200, 200, n) * 0.25
    low_card[rng.random(n) < 0.1] = 0.0
    wide_ints = rng.integers(-(10**15), 10**15, n)
    ids = pd.Series(rng.integers(0, 10**12, n)).astype("Int64").mask(rng.random(n) < 0.1)
    ties = np.repeat(rng.normal(size=n // 100), 100)
    rng.shuffle(ties)
    return {
        "normal_nan_inf": pd.Series(normal), "lognormal": pd.Series(lognormal),
        "outlier": pd.Series(outlier), "low_card": pd.Series(low_card),
        "wide_ints": pd.Series(wide_ints), "nullable_ids": ids, "ties": pd.Series(ties),
        "float32": pd.Series(rng.normal(size=n).astype(np.float32)),
    }


@pytest.mark.parametrize("name", list(_big_columns()))
def test_large_unsorted_columns_match_pandas(name):
    """Big unsorted columns skip the full sort: quantiles, histogram, min/max/mean/std, zeros
    and negatives still equal pandas/numpy exactly; distinct is exact up to 16,384 values,
    an HLL estimate within 5 % above."""
    s = _big_columns()[name]
    c = prof(s.to_frame("x"))["columns"][0]
    check_numeric(c, s, distinct_estimate_ok=True)
    if s.nunique() <= 10_000:
        assert c["distinct_estimated"] is False
    if name in ("normal_nan_inf", "lognormal", "wide_ints", "nullable_ids"):
        assert c["distinct_estimated"] is True  # the fast path ran


def test_thread_budget_discounts_the_load_this_process_made(monkeypatch):
    """Busy cores = load average minus our own recent CPU use: after profiling on both
    cores for a minute we keep both; another process's load takes one away."""
    from collections import deque

    from ddtrack.profile import _profile

    monkeypatch.setattr(_profile.os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    clock = {"wall": 1000.0, "cpu": 50.0}
    monkeypatch.setattr(_profile.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(_profile.time, "process_time", lambda: clock["cpu"])
    monkeypatch.setattr(_profile, "_cpu_samples", deque(maxlen=256))
    monkeypatch.setattr(_profile.os, "getloadavg", lambda: (2.0, 2.0, 2.0))
    assert _profile.thread_budget() == 1  # no history: only this thread is ours, one core is taken
    clock["wall"] += 30
    clock["cpu"] += 60  # we used two cores for the last 30 s: the load is ours
    assert _profile.thread_budget() == 2
    clock["wall"] += 30
    clock["cpu"] += 30  # one core of ours over the window, load 3: another process uses one
    monkeypatch.setattr(_profile.os, "getloadavg", lambda: (3.0, 3.0, 3.0))
    assert _profile.thread_budget() == 1


def test_profiling_never_modifies_the_input():
    """Sorting happens on private copies only: the user's data must be untouched."""
    pl = pytest.importorskip("polars")
    rng = np.random.default_rng(5)
    n = 70_000
    df = pd.DataFrame({
        "f": rng.normal(size=n), "fn": np.where(rng.random(n) < 0.1, np.nan, rng.normal(size=n)),
        "F": pd.array(rng.normal(size=n), dtype="Float64"), "I": pd.array(rng.integers(-9, 9, n), dtype="Int64"),
        "i": rng.integers(-(10**9), 10**9, n), "t": pd.to_datetime(rng.integers(0, 10**18, n)),
        "d": pd.to_timedelta(rng.integers(0, 10**12, n)), "o": rng.choice(["a", "b"], n).astype(object),
    })
    before = df.copy(deep=True)
    tbl = pa.table({"f": pa.array(df["fn"].to_numpy(), from_pandas=True), "i": df["i"].to_numpy()})
    tbl_before = tbl.to_pandas()
    pdf = pl.from_pandas(df[["fn", "i"]])
    pdf_before = pdf.clone()
    prof(df)
    prof(tbl)
    prof(pdf)
    prof(df["f"].to_numpy())
    pd.testing.assert_frame_equal(df, before)
    pd.testing.assert_frame_equal(tbl.to_pandas(), tbl_before)
    assert pdf.equals(pdf_before)


def test_pyarrow_and_polars_are_not_converted_to_pandas(monkeypatch):
    pl = pytest.importorskip("polars")

    def refuse(*args, **kwargs):
        raise AssertionError("converted to pandas")

    class NoFrame(pd.DataFrame):
        __init__ = refuse

    class NoSeries(pd.Series):
        __init__ = refuse

    monkeypatch.setattr(pl.DataFrame, "to_pandas", refuse)
    monkeypatch.setattr(pl.Series, "to_pandas", refuse)
    monkeypatch.setattr(pd, "DataFrame", NoFrame)
    monkeypatch.setattr(pd, "Series", NoSeries)
    data = {"f": [1.5, None, 2.5], "s": ["a", None, "b"], "i": [1, 2, 3], "b": [True, False, None]}
    for obj in (pa.table(data), pl.DataFrame(data)):
        d = profile(obj).to_dict()
        assert d["kind"] in ("pyarrow", "polars")
        assert [c["kind"] for c in d["columns"]] == ["float", "string", "integer", "boolean"]
        assert d["columns"][0]["mean"] == 2.0 and d["columns"][1]["distinct"] == 2


def test_a_failing_column_is_an_error_with_its_message_and_counts(broken_numbers):
    d = prof(pd.DataFrame({"x": [1.0, None, 3.0], "s": ["a", "b", None]}))
    x, s = d["columns"]
    assert x["kind"] == "error" and x["error"] == "RuntimeError: boom"
    assert x["count"] == 2 and x["nulls"] == 1 and x["null_pct"] == pytest.approx(100 / 3)
    assert all(x[f] is None for f in ("distinct", "min", "max", "mean", "std", "quantiles", "histogram", "sketch"))
    assert s["kind"] == "string" and s["distinct"] == 2 and "error" not in s
    d = prof(pa.table({"x": [1.0, None]}))
    assert d["columns"][0]["kind"] == "error" and d["columns"][0]["nulls"] == 1
    assert d["columns"][0]["error"] == "RuntimeError: boom"


def test_a_failing_pii_column_keeps_only_the_exception_type(monkeypatch):
    from ddtrack.profile import _columns

    def leaks(*args, **kwargs):
        raise ValueError("could not read 'Jane Doe'")

    monkeypatch.setattr(_columns, "string_column", leaks)
    (name,) = prof(pd.DataFrame({"name": ["Jane Doe", "John Roe"]}), pii=["name"])["columns"]
    assert name["kind"] == "error" and name["error"] == "ValueError (message withheld: PII column)"
    assert "Jane" not in json.dumps(name)


def test_a_failing_column_raises_in_strict_mode(broken_numbers):
    from ddtrack.profile import ColumnError

    with pytest.raises(ColumnError, match="column 'x' could not be profiled: RuntimeError: boom") as info:
        profile(pd.DataFrame({"x": [1.0, 2.0]}), strict=True)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert profile(pd.DataFrame({"s": ["a"]}), strict=True)["columns"][0]["kind"] == "string"


def test_dictionary_encoded_strings_profile_as_the_strings_they_encode():
    """``encoded_strings``: Arrow dictionaries read from storage are string columns (counted on
    their codes); without it a dictionary array stays a categorical."""
    rng = np.random.default_rng(5)
    values = np.array(["a", "bb", "ccc", None, "déjà"], dtype=object)[rng.integers(0, 5, 5000)]
    plain = pa.table({"s": pa.array(values)})
    first = pa.array(values[:2000]).dictionary_encode()
    # a second chunk with another dictionary: an unused entry and a null entry among them
    codes = pa.array(np.where(values[2000:] == None, 3, rng.integers(0, 3, 3000)).astype(np.int32))  # noqa: E711
    second_values = pa.array(["bb", "zz", "a", None, "unused"])
    second = pa.DictionaryArray.from_arrays(codes, second_values)
    want = profile(pa.table({"s": pa.chunked_array([pa.array(values[:2000]), second.dictionary_decode()])})).to_dict()
    got = profile(pa.table({"s": pa.chunked_array([first, second])}), encoded_strings=True).to_dict()
    assert got["columns"] == want["columns"] and got["schema"] == want["schema"]
    assert got["columns"][0]["kind"] == "string" and got["columns"][0]["dtype"] == "string"
    assert "unused" not in {t["value"] for t in got["columns"][0]["top_values"]}
    assert profile(pa.table({"s": first})).to_dict()["columns"][0]["kind"] == "categorical"
    assert profile(plain, encoded_strings=True).to_dict()["columns"] == profile(plain).to_dict()["columns"]


def test_chunks_sharing_a_dictionary_count_as_the_strings_they_encode():
    """Batches of one Parquet row group share its dictionary: their counts are added up
    (runs of one dictionary), and runs of different dictionaries merged by value."""
    rng = np.random.default_rng(9)
    shared = pa.array(["x", None, "yy", "unused"])
    other = pa.array(["yy", "w"])

    def chunk(dictionary: pa.Array, rows: int, codes: int) -> pa.DictionaryArray:
        indices = pa.array(rng.integers(0, codes, rows).astype(np.int32), mask=rng.random(rows) < 0.1)
        return pa.DictionaryArray.from_arrays(indices, dictionary)

    parts = [chunk(shared, 3000, 3), chunk(shared, 2000, 3), chunk(other, 1000, 2), chunk(shared, 500, 3)]
    got = profile(pa.table({"s": pa.chunked_array(parts)}), encoded_strings=True).to_dict()["columns"]
    want = profile(pa.table({"s": pa.chunked_array([p.dictionary_decode() for p in parts])})).to_dict()["columns"]
    assert got == want
    one_run = profile(pa.table({"s": pa.chunked_array(parts[:2])}), encoded_strings=True).to_dict()["columns"]
    assert one_run == profile(pa.table({"s": pa.chunked_array([p.dictionary_decode() for p in parts[:2]])})).to_dict()["columns"]
    empty = pa.table({"s": pa.chunked_array([], pa.dictionary(pa.int32(), pa.string()))})
    assert profile(empty, encoded_strings=True).to_dict()["columns"][0]["count"] == 0
