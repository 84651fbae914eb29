"""merge_profiles: exact parts exact, estimates within their documented bounds and flagged."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from ddtrack.profile import merge_profiles, profile
from ddtrack.profile._sketch import SUMMARY_RANK_ERROR

EXACT = ("count", "nulls", "min", "max", "zeros", "negatives", "infinities")


def frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    f = rng.normal(size=n)
    f[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({
        "f": f,
        "i": rng.integers(0, 1000, n),
        "s": rng.choice([f"v{k}" for k in range(50)], n),
        "t": pd.date_range("2020-01-01", periods=n, freq="s", tz="UTC") + pd.Timedelta(seconds=seed * n),
        "b": rng.random(n) > 0.4,
        "few": rng.choice(["x", "y", "z"], n),
    })


def split(df: pd.DataFrame, k: int) -> list[pd.DataFrame]:
    bounds = np.linspace(0, len(df), k + 1).astype(int)
    return [df.iloc[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def rank_of(values: np.ndarray, x: float) -> tuple[float, float]:
    """Range of normalised ranks that value x occupies in the data."""
    v = np.sort(values)
    return np.searchsorted(v, x, "left") / len(v), np.searchsorted(v, x, "right") / len(v)


@pytest.mark.parametrize("k", [2, 5])
def test_merge_equals_whole_for_exact_statistics(k):
    df = frame(20_000, 1)
    whole = profile(df).to_dict()
    merged = merge_profiles([profile(p).to_dict() for p in split(df, k)])
    json.dumps(merged, allow_nan=False)
    assert merged["rows"] == whole["rows"] and merged["n_columns"] == whole["n_columns"]
    assert merged["schema"] == whole["schema"] and merged["schema_fingerprint"] == whole["schema_fingerprint"]
    for m, w in zip(merged["columns"], whole["columns"], strict=True):
        for f in EXACT:
            assert m[f] == w[f], (m["name"], f, m[f], w[f])
        assert m["null_pct"] == pytest.approx(w["null_pct"])
        for f in ("mean", "std"):
            assert (m[f] is None and w[f] is None) or m[f] == pytest.approx(w[f], rel=1e-9), (m["name"], f)
        if w["str_len"]:
            assert m["str_len"] == pytest.approx(w["str_len"])
        if w["histogram"]:
            assert sum(m["histogram"]["counts"]) == sum(w["histogram"]["counts"])
            assert m["histogram"]["edges"][0] == w["histogram"]["edges"][0]
            assert m["histogram"]["edges"][-1] == w["histogram"]["edges"][-1]
    # few distinct values listed completely in top_values: merged distinct and counts exact
    few = next(c for c in merged["columns"] if c["name"] == "few")
    assert few["distinct"] == 3 and few["distinct_estimated"] is False
    assert few["top_values"] == next(c for c in whole["columns"] if c["name"] == "few")["top_values"]
    b = next(c for c in merged["columns"] if c["name"] == "b")
    assert b["distinct"] == 2 and not b["distinct_estimated"]


def test_merged_distinct_within_hll_bound_and_flagged():
    df = frame(60_000, 2)
    merged = merge_profiles([profile(p).to_dict() for p in split(df, 3)])
    for name in ("f", "i", "s", "t"):
        c = next(c for c in merged["columns"] if c["name"] == name)
        true = df[name].nunique()
        assert c["distinct_estimated"] is True and "distinct" in c["estimates"]
        assert abs(c["distinct"] - true) <= 0.05 * true, (name, c["distinct"], true)


def test_merged_quantiles_within_rank_bound():
    df = frame(30_000, 3)
    merged = merge_profiles([profile(p).to_dict() for p in split(df, 4)])
    for name in ("f", "i"):
        c = next(c for c in merged["columns"] if c["name"] == name)
        assert "quantiles" in c["estimates"]
        data = df[name].dropna().to_numpy(dtype=float)
        for q, v in c["quantiles"].items():
            lo, hi = rank_of(data, v)
            err = max(0.0, lo - float(q), float(q) - hi)
            assert err <= SUMMARY_RANK_ERROR + 1 / len(data), (name, q, v, lo, hi)
    t = next(c for c in merged["columns"] if c["name"] == "t")
    ns = df["t"].dt.as_unit("ns").astype("int64").to_numpy().astype(float)
    for q, v in t["quantiles"].items():
        lo, hi = rank_of(ns, pd.Timestamp(v).value)
        assert max(0.0, lo - float(q), float(q) - hi) <= SUMMARY_RANK_ERROR + 1e-3


@pytest.mark.parametrize("k", [2, 4, 13])
def test_merged_quantiles_of_heavily_tied_values_stay_in_the_rank_bound(k):
    """Integer codes 1..9 and prices rounded to a few values: a quantile falling inside a
    tied value's jump is that value, not one interpolated towards its neighbour."""
    rng = np.random.default_rng(k)
    n = 20_000
    df = pd.DataFrame({
        "code": rng.integers(1, 10, n),
        "price": rng.choice([0.99, 4.99, 9.99, 19.99], n, p=[0.5, 0.3, 0.15, 0.05]),
    })
    merged = merge_profiles([profile(p).to_dict() for p in split(df, k)])
    for name in ("code", "price"):
        c = next(c for c in merged["columns"] if c["name"] == name)
        data = df[name].to_numpy(dtype=float)
        for q, v in c["quantiles"].items():
            lo, hi = rank_of(data, v)
            assert max(0.0, lo - float(q), float(q) - hi) <= SUMMARY_RANK_ERROR + 1 / n, (name, q, v, lo, hi)


def test_merge_is_associative_enough_and_accepts_merged_input():
    parts = [profile(p).to_dict() for p in split(frame(9000, 4), 3)]
    once = merge_profiles(parts)
    twice = merge_profiles([merge_profiles(parts[:2]), parts[2]])
    for a, b in zip(once["columns"], twice["columns"], strict=True):
        for f in ("count", "nulls", "min", "max", "zeros", "negatives"):
            assert a[f] == b[f]
        assert (a["mean"] is None) or a["mean"] == pytest.approx(b["mean"])


def test_merge_without_sketches_keeps_exact_parts_and_flags_estimates():
    df = frame(10_000, 5)
    parts = []
    for p in split(df, 2):
        d = profile(p).to_dict()
        for c in d["columns"]:
            c.pop("sketch")
        parts.append(d)
    merged = merge_profiles(parts)
    whole = profile(df).to_dict()
    for m, w in zip(merged["columns"], whole["columns"], strict=True):
        for f in EXACT:
            assert m[f] == w[f]
        assert m["sketch"] is None
        if w["quantiles"]:
            assert "quantiles" in m["estimates"] and m["quantiles"] is not None
        if m["name"] in ("f", "i", "s", "t"):
            assert m["distinct"] is None and m["distinct_estimated"] is True
    i = next(c for c in merged["columns"] if c["name"] == "i")
    data = df["i"].to_numpy(dtype=float)
    for q, v in i["quantiles"].items():  # from histograms: within one source bin (1000/50 values wide)
        assert abs(v - np.quantile(data, float(q))) <= 1000 / 50 + 1


def test_missing_columns_count_as_nulls_and_schema_union():
    a = profile(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]})).to_dict()
    b = profile(pd.DataFrame({"x": [3.5, None, 4.0]})).to_dict()
    m = merge_profiles([a, b])
    assert m["rows"] == 5 and [c["name"] for c in m["columns"]] == ["x", "y"]
    x, y = m["columns"]
    assert x["dtype"] == "int64 | float64" and x["kind"] == "float"
    assert x["count"] == 4 and x["nulls"] == 1 and x["min"] == 1 and x["max"] == 4.0
    assert x["mean"] == pytest.approx(np.mean([1, 2, 3.5, 4.0]))
    assert x["std"] == pytest.approx(np.std([1, 2, 3.5, 4.0], ddof=1))
    assert x["distinct"] == 4
    assert y["count"] == 2 and y["nulls"] == 3 and y["null_pct"] == pytest.approx(60.0)


def test_merge_pii_empty_and_odd_inputs():
    a = profile(pd.DataFrame({"email": ["a@x", "b@x"]}), pii=["email"]).to_dict()
    b = profile(pd.DataFrame({"email": ["c@x"]}), sample=1).to_dict()  # not marked PII in this batch
    m = merge_profiles([a, b])
    assert m["pii"] == ["email"]
    c = m["columns"][0]
    assert c["top_values"] is None and c["min"] is None and (c["sketch"] is None or set(c["sketch"]) == {"hll"})
    assert "c@x" not in json.dumps(m) and c["count"] == 3 and c["distinct"] == 3
    assert merge_profiles([])["kind"] == "none"
    one = profile(pd.DataFrame({"a": [1]})).to_dict()
    assert merge_profiles([one]) == one
    s = merge_profiles([profile(1).to_dict(), profile("x").to_dict()])
    assert s["kind"] == "scalar" and s["columns"] == []
    empty = merge_profiles([profile(pd.DataFrame({"a": pd.Series([], dtype=float)})).to_dict(), one])
    assert empty["columns"][0]["count"] == 1 and empty["columns"][0]["mean"] == 1.0


def test_merge_mean_with_inf_and_single_rows():
    a = profile(pd.DataFrame({"v": [1.0]})).to_dict()
    b = profile(pd.DataFrame({"v": [3.0]})).to_dict()
    m = merge_profiles([a, b])["columns"][0]
    assert m["mean"] == 2.0 and math.isclose(m["std"], np.std([1.0, 3.0], ddof=1))
    c = profile(pd.DataFrame({"v": [np.inf]})).to_dict()
    m = merge_profiles([a, c])["columns"][0]
    assert m["mean"] == "inf" and m["max"] == "inf" and m["infinities"] == 1


def test_merge_samples_and_polars_pyarrow_parts():
    pl = pytest.importorskip("polars")
    import pyarrow as pa

    a = profile(pd.DataFrame({"v": [1, 2]}), sample=2).to_dict()
    b = profile(pl.DataFrame({"v": [3, 4]}), sample=2).to_dict()
    c = profile(pa.table({"v": [5, 6]})).to_dict()
    m = merge_profiles([a, b, c])
    assert m["kind"] == "other" and m["type"] == "mixed"
    assert m["sample"] == [{"v": 1}, {"v": 2}]
    assert m["columns"][0]["count"] == 6 and m["columns"][0]["max"] == 6 and m["columns"][0]["distinct"] == 6


def test_merge_large_parts_from_fast_paths():
    """Parts big enough for the bincount (small-range ints) and identity (object strings) paths."""
    rng = np.random.default_rng(21)
    n = 240_000
    labels = np.array([f"label_{k}" for k in range(30)], dtype=object)
    df = pd.DataFrame({"i": rng.integers(-20, 500, n), "o": pd.Series(labels[rng.integers(0, 30, n)], dtype=object)})
    parts = [profile(p).to_dict() for p in split(df, 3)]
    merged = merge_profiles(parts)
    i = merged["columns"][0]
    assert (i["count"], i["min"], i["max"]) == (n, int(df["i"].min()), int(df["i"].max()))
    assert i["mean"] == pytest.approx(df["i"].mean()) and i["std"] == pytest.approx(df["i"].std())
    assert i["zeros"] == int((df["i"] == 0).sum()) and i["negatives"] == int((df["i"] < 0).sum())
    assert abs(i["distinct"] - df["i"].nunique()) <= 0.05 * df["i"].nunique()
    data = df["i"].to_numpy(dtype=float)
    for q, v in i["quantiles"].items():
        lo, hi = rank_of(data, v)
        assert max(0.0, lo - float(q), float(q) - hi) <= SUMMARY_RANK_ERROR + 1 / n
    o = merged["columns"][1]
    assert o["distinct"] == 30 and o["count"] == n
    # 30 labels > 20 listed per part: merged counts are lower bounds, and flagged as such
    want = df["o"].value_counts()
    assert "top_values" in o["estimates"] and len(o["top_values"]) == 20
    assert all(t["count"] <= want[t["value"]] for t in o["top_values"])


def test_merged_cdf_sweep_handles_ties_and_many_parts():
    """The mixed CDF is exact for the piecewise-linear parts, ties included (a jump)."""
    from ddtrack.profile._sketch import mixed_cdf

    tied = (np.array([1.0, 1.0, 1.0, 2.0]), np.array([0.0, 1 / 3, 2 / 3, 1.0]), 30)
    point = (np.array([5.0]), np.array([1.0]), 10)
    at_or_below, below = mixed_cdf([tied, point], np.array([0.5, 1.0, 1.5, 2.0, 4.9, 5.0, 6.0]))
    assert at_or_below == pytest.approx([0.0, 0.5, 0.625, 0.75, 0.75, 1.0, 1.0])
    assert below == pytest.approx([0.0, 0.0, 0.625, 0.75, 0.75, 0.75, 1.0])
    parts = [profile(pd.DataFrame({"v": np.arange(k, k + 100, dtype=float)})).to_dict() for k in range(0, 30_000, 100)]
    merged = merge_profiles(parts)["columns"][0]
    assert merged["count"] == 30_000 and merged["min"] == 0 and merged["max"] == 29_999
    assert merged["quantiles"]["0.5"] == pytest.approx(14_999.5, abs=30_000 * SUMMARY_RANK_ERROR)


@pytest.mark.parametrize("tz", [None, "Europe/Paris"])
def test_merged_datetime_histogram_and_quantiles_for_naive_and_zoned_columns(tz):
    """Datetime edges are read back as instants whatever their zone (naive ones as UTC):
    the merged histogram spans the true range and counts every value, and the merged
    median is within the summary's rank bound."""
    n = 30_000
    t = pd.Series(pd.date_range("2021-03-27", periods=n, freq="37s", tz=tz))
    merged = merge_profiles([profile(p).to_dict() for p in split(pd.DataFrame({"t": t}), 4)])
    whole = profile(pd.DataFrame({"t": t})).to_dict()
    m, w = merged["columns"][0], whole["columns"][0]
    assert (m["min"], m["max"]) == (w["min"], w["max"])
    assert m["histogram"]["edges"][0] == w["histogram"]["edges"][0]
    assert m["histogram"]["edges"][-1] == w["histogram"]["edges"][-1]
    assert sum(m["histogram"]["counts"]) == n
    median = pd.Timestamp(m["quantiles"]["0.5"])
    median = median.tz_convert("UTC") if median.tzinfo else median
    values = (t.dt.tz_convert("UTC") if tz else t).dt.as_unit("ns").astype("int64").to_numpy()
    lo, hi = rank_of(values, pd.Timestamp(median).as_unit("ns").value)
    assert lo - SUMMARY_RANK_ERROR <= 0.5 <= hi + SUMMARY_RANK_ERROR


def test_an_error_in_any_part_keeps_the_merged_column_an_error(monkeypatch):
    from ddtrack.profile import _columns

    good = profile(pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})).to_dict()
    with monkeypatch.context() as m:
        m.setattr(_columns, "numeric_column", lambda *a, **k: 1 / 0)
        bad = profile(pd.DataFrame({"x": [3.0, None, 5.0], "s": ["c", None, "d"]})).to_dict()
    for parts in ([good, bad], [bad, good], [bad, good, good]):
        x, s = merge_profiles(parts)["columns"]
        assert x["kind"] == "error" and x["error"] == "ZeroDivisionError: division by zero"
        assert x["mean"] is None and x["quantiles"] is None and x["histogram"] is None
        assert (x["count"], x["nulls"]) == (2 * (len(parts) - 1) + 2, 1)
        assert s["kind"] == "string" and "error" not in s
    unknown = json.loads(json.dumps(bad))
    unknown["columns"][0]["count"] = None  # a part whose counts could not be had either
    x = merge_profiles([good, unknown])["columns"][0]
    assert x["kind"] == "error" and x["count"] is None and x["error"].startswith("ZeroDivisionError")
