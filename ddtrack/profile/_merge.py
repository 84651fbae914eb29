"""``merge_profiles``: one profile for the union of several (map indexes, batches).

Exact parts stay exact: rows, counts, nulls, zeros, negatives, infinities, min, max and
str_len min/max are sums / extremes; mean and std are combined exactly (Chan et al.'s
parallel variance formula, up to float rounding).  Estimates are flagged in each merged
column's ``"estimates"`` list (and ``distinct_estimated``):

* ``distinct``: exact when every part lists all its values in ``top_values`` or when only
  one part has values; otherwise the union of the HLL sketches (rel. std. error 1.6 %),
  clamped to the hard bounds [max of the parts, sum of the parts].  Without sketches
  (stripped) it is None unless those bounds meet.
* ``quantiles``: from the parts' quantile summaries (normalised rank error <= 1/128); if the
  sketches were stripped, from the parts' histograms (error up to one source bin).
* ``histogram``: re-binned over the union's range assuming values spread evenly inside each
  source bin; counts still sum exactly to the number of finite values.
* ``top_values``: counts summed; a value missing from a part's top 20 counts 0 there, so
  counts are lower bounds when some part had more than 20 distinct values.

A column that failed to profile in any part (kind "error") stays an error in the union,
with the first failing part's ``error`` text and its counts summed when every part has
them; none of its other statistics are merged.
"""

from __future__ import annotations

import copy
import functools
import json
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _columns as C
from . import _sketch as sk
from ._jsonsafe import float_value
from ._profile import empty_profile, fingerprint
from .keys import NUMERIC_KINDS, order_key


def merge_profiles(profiles: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Merge version-1 profile dicts into one describing their union.

    Columns are matched by name (the k-th column called "x" in one profile with the k-th
    called "x" in another); rows of a profile lacking a column count as nulls of it.
    Never raises for well-formed input; non-dict items are ignored.
    """
    parts = [p for p in (profiles or []) if isinstance(p, dict)]
    if not parts:
        return empty_profile("none", "NoneType")
    if len(parts) == 1:
        return json.loads(json.dumps(parts[0], allow_nan=False))
    out = empty_profile(_common([p.get("kind") for p in parts], "other"), _common([p.get("type") for p in parts], "mixed"))
    out["rows"] = _sum_or_none([p.get("rows") for p in parts])
    out["memory_bytes"] = _sum_or_none([p.get("memory_bytes") for p in parts])
    pii = sorted({str(x) for p in parts for x in (p.get("pii") or [])})
    out["pii"] = pii
    out["truncated"] = any(bool(p.get("truncated")) for p in parts)
    out["repr"] = next((p.get("repr") for p in parts if p.get("repr") is not None), None)
    groups = _match_columns(parts)
    if groups:
        columns = []
        for pos, (name, members) in enumerate(groups):
            extra_nulls = sum(int(p.get("rows") or 0) for i, p in enumerate(parts) if i not in members)
            col = _merge_column(name, pos, [members[i] for i in sorted(members)], extra_nulls)
            if name in pii:
                C.strip_pii(col)
            columns.append(col)
        out["columns"] = columns
        out["schema"] = [{"name": c["name"], "dtype": c["dtype"]} for c in columns]
        out["n_columns"] = len(columns)
    else:
        out["schema"] = copy.deepcopy(parts[0].get("schema") or [])
        out["n_columns"] = parts[0].get("n_columns")
    out["schema_fingerprint"] = fingerprint(out["schema"]) if out["schema"] or groups else None
    out["sample"] = _merge_samples(parts, set(pii))
    return out


def _common(values: list[Any], fallback: str) -> Any:
    """The shared value, or ``fallback`` when the parts disagree."""
    vals = {v for v in values if v is not None}
    return vals.pop() if len(vals) == 1 else (fallback if vals else None)


def _sum_or_none(values: list[Any]) -> int | None:
    """Sum of integers, None if any part does not know its value."""
    if any(not isinstance(v, int) for v in values):
        return None
    return int(sum(values))


def _match_columns(parts: list[dict[str, Any]]) -> list[tuple[str, dict[int, dict[str, Any]]]]:
    """Group columns across profiles by (name, occurrence), in first-seen order."""
    order: list[tuple[str, int]] = []
    groups: dict[tuple[str, int], dict[int, dict[str, Any]]] = {}
    for i, p in enumerate(parts):
        seen: dict[str, int] = {}
        for col in p.get("columns") or []:
            name = str(col.get("name"))
            key = (name, seen.get(name, 0))
            seen[name] = key[1] + 1
            if key not in groups:
                groups[key] = {}
                order.append(key)
            groups[key][i] = col
    return [(k[0], groups[k]) for k in order]


def _merge_samples(parts: list[dict[str, Any]], pii: set[str]) -> list[dict[str, Any]] | None:
    """Concatenated samples, as many rows as the largest sample, PII removed."""
    samples = [p.get("sample") for p in parts if p.get("sample")]
    if not samples:
        return None
    limit = max(len(s) for s in samples)
    rows = [{k: v for k, v in r.items() if k not in pii} for s in samples for r in s]
    return rows[:limit]


# ---------------------------------------------------------------- columns
def _merge_column(name: str, position: int, cols: list[dict[str, Any]], extra_nulls: int) -> dict[str, Any]:
    """Merge the profiles of one column."""
    kinds = [c.get("kind") for c in cols]
    kind = _merged_kind(kinds)
    dtypes = list(dict.fromkeys(str(c.get("dtype")) for c in cols))
    counts = [c.get("count") for c in cols]
    nulls = [c.get("nulls") for c in cols]
    if kind == "error" or any(not isinstance(v, int) for v in counts + nulls):
        col = C.base_column(name, position, " | ".join(dtypes), kind, 0, 0)
        if any(not isinstance(v, int) for v in counts + nulls):
            col["count"] = col["nulls"] = col["null_pct"] = None
        else:
            C.set_counts(col, sum(counts), sum(nulls) + extra_nulls)
        if kind == "error":
            col["error"] = next(c.get("error") for c in cols if c.get("kind") == "error")
        col["estimates"] = []
        return col
    col = C.base_column(name, position, " | ".join(dtypes), kind, sum(counts), sum(nulls) + extra_nulls)
    estimates: list[str] = []
    live = [c for c in cols if c.get("count")]
    union = functools.cache(lambda: _hll_union(live))  # decoded once for distinct and sketch
    col["distinct"], col["distinct_estimated"] = _merge_distinct(cols, live, union)
    if col["distinct_estimated"]:
        estimates.append("distinct")
    if len(live) == 1 and len({c.get("kind") for c in cols}) == 1:
        # only one part has values: its statistics are the union's
        for f in C.VALUE_FIELDS:
            col[f] = copy.deepcopy(live[0].get(f))
        sketch = _merge_sketch(cols, live, kind, None, union)
        col["sketch"] = sketch
        col["estimates"] = estimates + [f for f in live[0].get("estimates", []) if f not in estimates]
        return col
    if live:
        _merge_extremes(col, live, kind)
        _merge_moments(col, live)
        for f in ("zeros", "negatives", "infinities"):
            col[f] = _sum_or_none([c.get(f) for c in live])
        if kind in NUMERIC_KINDS or kind == "datetime":
            estimates += _merge_distribution(col, live, kind)
        if any(c.get("top_values") is not None for c in live) and _merge_top(col, live):
            estimates.append("top_values")
        _merge_str_len(col, live)
    col["sketch"] = _merge_sketch(cols, live, kind, col, union)
    col["estimates"] = estimates
    return col


def _merged_kind(kinds: list[Any]) -> str:
    """Kind of the union: "error" if any part failed; shared kind; integer+float -> float;
    otherwise object."""
    ks = {k for k in kinds if k is not None}
    if "error" in ks:
        return "error"
    if len(ks) == 1:
        return ks.pop()
    if ks and ks <= {"integer", "float"}:
        return "float"
    return "object" if ks else "other"


def _hll_union(live: list[dict[str, Any]]) -> np.ndarray | None:
    """Register-wise union of the parts' HLL sketches; None if a part has none."""
    hlls = [(c.get("sketch") or {}).get("hll") for c in live]
    if not hlls or not all(isinstance(h, str) for h in hlls):
        return None
    return sk.union_hll(hlls)


def _merge_distinct(
    cols: list[dict[str, Any]], live: list[dict[str, Any]], union: Callable[[], np.ndarray | None]
) -> tuple[int | None, bool]:
    """Distinct count of the union and whether it is an estimate (see module docstring)."""
    ds = [c.get("distinct") for c in live]
    if not live:
        return 0, False
    if any(d is None for d in ds):
        return None, True
    lower, upper = max(ds), sum(ds)
    if lower == upper:
        return lower, any(c.get("distinct_estimated") for c in live)
    tops = [c.get("top_values") for c in live]
    if all(t is not None and len(t) == d and all(len(x["value"]) < 200 for x in t) for t, d in zip(tops, ds, strict=True)):
        return len({x["value"] for t in tops for x in t}), False
    reg = union()
    if reg is not None:
        est = int(round(sk.hll_estimate(reg)))
        return int(min(max(est, lower), upper)), True
    return None, True


def _merge_extremes(col: dict[str, Any], live: list[dict[str, Any]], kind: str) -> None:
    """min of mins and max of maxes, when every part has them and they compare."""
    for f, pick in (("min", min), ("max", max)):
        vals = [c.get(f) for c in live]
        if any(v is None for v in vals) or kind == "categorical":
            continue
        try:
            keys = [order_key(v, kind) for v in vals]
            if any(k is None for k in keys):
                continue
            best = pick(range(len(vals)), key=lambda i, keys=keys: keys[i])
            col[f] = vals[best]
        except TypeError:
            col[f] = None


def _as_float(v: Any) -> float | None:
    """A JSON statistic back to float ("inf" strings included)."""
    if v is None:
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def _merge_moments(col: dict[str, Any], live: list[dict[str, Any]]) -> None:
    """Exact mean and ddof=1 std of the union (Chan's parallel algorithm)."""
    ns = [c["count"] for c in live]
    means = [_as_float(c.get("mean")) for c in live]
    if any(m is None for m in means):
        return
    n = float(sum(ns))
    if any(np.isinf(m) for m in means):
        mean = float(np.sum(means))  # inf, -inf or nan like pandas
        col["mean"] = float_value(mean)
        return
    mean = sum(m * k for m, k in zip(means, ns, strict=True)) / n
    col["mean"] = float_value(mean)
    m2 = 0.0
    for c, m, k in zip(live, means, ns, strict=True):
        sd = _as_float(c.get("std"))
        if sd is None and k > 1:
            return
        m2 += (sd or 0.0) ** 2 * (k - 1) + k * (m - mean) ** 2
    if n > 1:
        col["std"] = float_value(np.sqrt(m2 / (n - 1)))


def _merge_top(col: dict[str, Any], live: list[dict[str, Any]]) -> bool:
    """Summed top values; returns True when the counts are only lower bounds."""
    total: dict[str, int] = {}
    partial = False
    for c in live:
        tv = c.get("top_values") or []
        if c.get("distinct") is None or len(tv) < (c.get("distinct") or 0):
            partial = True
        for item in tv:
            total[item["value"]] = total.get(item["value"], 0) + int(item["count"])
    items = sorted(total.items(), key=lambda t: (-t[1], t[0]))[: C.TOP_N]
    col["top_values"] = [{"value": v, "count": k} for v, k in items]
    return partial


def _merge_str_len(col: dict[str, Any], live: list[dict[str, Any]]) -> None:
    """String lengths: exact min/max, count-weighted mean."""
    sl = [c.get("str_len") for c in live]
    if any(s is None for s in sl):
        return
    ns = [c["count"] for c in live]
    col["str_len"] = {
        "min": min(s["min"] for s in sl),
        "mean": float(sum(s["mean"] * k for s, k in zip(sl, ns, strict=True)) / sum(ns)),
        "max": max(s["max"] for s in sl),
    }


# ---------------------------------------------------------------- distributions
def _to_num(values: Sequence[Any], kind: str) -> np.ndarray:
    """Numeric axis of a distribution: datetimes as UTC nanoseconds (unreadable -> NaN).

    Converted as whole arrays: a merge of a thousand map indexes converts ~50 edges per
    part and column, where a call per value would dominate the merge."""
    if kind == "datetime":
        return _instants_ns(values)
    try:
        return np.asarray(values, dtype=np.float64)  # numbers, None, "inf"/"-inf"
    except (TypeError, ValueError):
        return np.array([_as_float(v) for v in values], dtype=np.float64)


def _instants_ns(values: Sequence[Any]) -> np.ndarray:
    """ISO datetimes (naive ones read as UTC, as :func:`order_key` reads them) as UTC nanoseconds."""
    import pandas as pd

    try:
        stamps = pd.to_datetime(pd.Index(values, dtype=object), utc=True, format="ISO8601", errors="coerce")
        stamps = stamps.as_unit("ns")
        ns = stamps.asi8.astype(np.float64)
        ns[np.asarray(stamps.isna())] = np.nan
        return ns
    except (TypeError, ValueError, OverflowError):
        return np.array([order_key(v, "datetime") for v in values], dtype=np.float64)


def _from_num(x: float, kind: str, tz: str | None, is_int: bool) -> Any:
    """Inverse of :func:`_to_num` for output."""
    if kind == "datetime":
        return C.ticks_to_iso(int(round(x)), "ns", tz)
    return float_value(x)


def _tz_of(live: list[dict[str, Any]]) -> str | None:
    """Time zone to show merged datetimes in (the first part's)."""
    for c in live:
        tz = (c.get("sketch") or {}).get("tz")
        if tz:
            return tz
        v = c.get("min")
        if isinstance(v, str) and (v.endswith("+00:00") or v.endswith("Z")):
            return "UTC"
    return None


def _hist_sources(live: list[dict[str, Any]], kind: str) -> list[tuple[np.ndarray, np.ndarray, int] | None]:
    """(edges, cumulative fraction at each edge, n) of each part's histogram (None where a
    part has none); all parts' edges are converted to numbers in one call."""
    hists = [c.get("histogram") or {} for c in live]
    usable = [bool(h.get("counts")) and len(h.get("edges") or ()) == len(h["counts"]) + 1 for h in hists]
    edges_all = _to_num([e for h, ok in zip(hists, usable, strict=True) if ok for e in h["edges"]], kind)
    out: list[tuple[np.ndarray, np.ndarray, int] | None] = []
    start = 0
    for h, ok in zip(hists, usable, strict=True):
        if not ok:
            out.append(None)
            continue
        edges = edges_all[start : start + len(h["edges"])]
        start += len(h["edges"])
        out.append(_hist_source(edges, np.asarray(h["counts"], dtype=np.float64)))
    return out


def _hist_source(edges: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(edges, cumulative fraction at each edge, n) of one histogram."""
    n = int(counts.sum())
    if n == 0 or np.isnan(edges).any():
        return None
    if edges[0] == edges[-1]:
        return np.array([edges[0]]), np.array([1.0]), n
    return edges, np.concatenate([[0.0], np.cumsum(counts)]) / n, n


def _summary_source(c: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(points, rank fraction of each point, n) of a part's quantile summary."""
    sketch = c.get("sketch") or {}
    if "summary" not in sketch:
        return None
    pts = sk.decode_floats(sketch["summary"])
    n = int(sketch.get("summary_n") or 0)
    if pts is None or n == 0 or pts.size == 0:
        return None
    if pts.size == 1:
        return pts, np.array([1.0]), n
    return pts, np.linspace(0.0, 1.0, pts.size), n


def _merge_distribution(col: dict[str, Any], live: list[dict[str, Any]], kind: str) -> list[str]:
    """Quantiles, histogram and quantile summary of the union; returns the estimated fields."""
    summaries = [_summary_source(c) for c in live]
    hists = _hist_sources(live, kind)
    have_summary = all(s is not None for s in summaries)
    q_sources = summaries if have_summary else hists
    if any(s is None for s in q_sources):
        return ["quantiles", "histogram"]
    tz = _tz_of(live) if kind == "datetime" else None
    is_int = kind == "integer"
    xs, cdf, cdf_left = sk.mixed_cdf_at_knots(q_sources)
    qs = sk.quantiles_from_cdf(xs, cdf, C.QUANTILES, cdf_left)
    col["quantiles"] = {k: _from_num(v, kind, tz, is_int) for k, v in zip(C.QUANTILE_KEYS, qs, strict=True)}
    summary = np.linspace(0, 1, sk.SUMMARY_POINTS)
    col["_summary"] = sk.quantiles_from_cdf(xs, cdf, summary, cdf_left) if have_summary else None
    col["_summary_n"] = sum(s[2] for s in summaries) if have_summary else None
    h_sources = [h for h in hists if h is not None]
    if len(h_sources) == len(live):
        n_fin = sum(h[2] for h in h_sources)
        lo = min(h[0][0] for h in h_sources)
        hi = max(h[0][-1] for h in h_sources)
        if lo == hi:
            edges = np.array([lo, hi])
            counts = np.array([n_fin])
        else:
            if kind == "datetime":
                edges = np.linspace(lo, hi, C.n_bins(n_fin) + 1)
            else:
                edges = C._edges(lo, hi, is_int, n_fin)
            fr = sk.mixed_cdf(h_sources, edges)[0]
            fr[0], fr[-1] = 0.0, 1.0
            counts = _round_keep_total(np.diff(fr) * n_fin, n_fin)
        col["histogram"] = {"edges": [_from_num(e, kind, tz, is_int) for e in edges], "counts": [int(c) for c in counts]}
    return ["quantiles", "histogram"]


def _round_keep_total(x: np.ndarray, total: int) -> np.ndarray:
    """Round non-negative values to integers summing exactly to ``total`` (largest remainder)."""
    x = np.maximum(x, 0)
    base = np.floor(x).astype(np.int64)
    short = int(total - base.sum())
    if short > 0:
        order = np.argsort(-(x - base), kind="stable")
        base[order[:short]] += 1
    elif short < 0:
        order = np.argsort(x - base, kind="stable")
        for i in order:
            if short == 0:
                break
            take = min(base[i], -short)
            base[i] -= take
            short += take
    return base


def _merge_sketch(
    cols: list[dict[str, Any]], live: list[dict[str, Any]], kind: str, col: dict[str, Any] | None,
    union: Callable[[], np.ndarray | None],
) -> dict[str, Any] | None:
    """Union of the parts' sketches (None if any part with values lacks one)."""
    sketches = [c.get("sketch") for c in live]
    if not live:
        return copy.deepcopy(cols[0].get("sketch")) if cols else None
    if any(not isinstance(s, dict) or "hll" not in s for s in sketches):
        if col is not None:
            col.pop("_summary", None)
            col.pop("_summary_n", None)
        return None
    reg = union()
    out: dict[str, Any] = {"hll": sk.encode_hll(reg)} if reg is not None else {}
    if col is None:  # single live part: keep its sketch as is
        return copy.deepcopy(sketches[0])
    summary = col.pop("_summary", None)
    summary_n = col.pop("_summary_n", None)
    if summary is not None:
        out["summary"] = sk.encode_floats(summary)
        out["summary_n"] = int(summary_n)
        if kind == "datetime":
            out["unit"] = "ns"
            tz = _tz_of(live)
            if tz:
                out["tz"] = tz
    return out or None
