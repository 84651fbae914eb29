"""Drift of one output's columns between two runs, from their stored profiles alone.

Why from profiles: ddtrack keeps a mergeable profile of every run (histogram, quantile
summary, top values, counts), so "what changed" is answered at ingest without reading the
data again.  Each measure is read off those summaries:

* **PSI** (population stability index) on *coarse common bins*: numeric and datetime columns
  are re-binned onto the baseline's deciles (at most :data:`PSI_BINS` bins, assuming values
  spread evenly inside a stored histogram bin); categorical columns use the baseline's most
  frequent values plus an "other" bucket.  Coarse bins keep sampling noise low: for two
  samples of n rows on K bins the PSI of identical processes is about (K - 1)·2/n
  (0.018 at 1,000 rows), far below the 0.2 threshold.
* **KS distance**: the largest gap between the two CDFs, each piecewise linear through its
  129-point quantile summary (off by at most 1/128 of the rows), else through the stored
  quantiles and min/max.
* **null-rate change** in percentage points, **distinct-count change** (relative), and
  **new or vanished categories** (certain only when the top values list every value).

A measure marks the column ``drifted`` only when it reaches its threshold *and* exceeds what
sampling noise explains for the two sizes at ``alpha`` (both conditions): small samples do
not alarm on noise, huge samples do not alarm on tiny but "significant" shifts.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import numpy as np

from . import _columns as C
from . import _merge
from . import _sketch as sk

NUMERIC_KINDS = ("integer", "float", "timedelta", "datetime")
CATEGORY_KINDS = ("string", "categorical", "boolean", "object")
PSI_BINS = 10  # deciles: coarse enough that noise at ~1,000 rows stays far below 0.2
PSI_EPSILON = 1e-4  # share given to an empty bin, so an empty bin costs a finite amount
TEXT_LIMIT = 200  # top values are cut to this many characters (see the profile format)


@dataclass(frozen=True)
class DriftThresholds:
    """When a column counts as drifted; ``[ddtrack] drift_*`` options map onto these."""

    psi: float = 0.2  # population stability index at or above: drifted
    ks: float = 0.2  # KS distance at or above (and above the sampling-noise bound): drifted
    null_rate: float = 10.0  # |null % change| in percentage points at or above: drifted
    distinct_ratio: float = 0.5  # |distinct change| beyond what the row count explains (both > 20)
    alpha: float = 0.001  # false-alarm rate of the sampling-noise bounds

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (exclusive), not {self.alpha!r}")
        for name in ("psi", "ks", "null_rate", "distinct_ratio"):
            if getattr(self, name) < 0:
                raise ValueError(f"the {name} threshold must not be negative, not {getattr(self, name)!r}")


DEFAULT_THRESHOLDS = DriftThresholds()
_MIN_DISTINCT = 20  # distinct counts this small change by a few values: leave them to categories


def column_drift(before: Mapping, after: Mapping, thresholds: DriftThresholds = DEFAULT_THRESHOLDS) -> dict | None:
    """Drift of one column (two ColumnProfile dicts of the same name), or None when the
    column cannot be compared (kind "error"/"other", or an empty output on either side)."""
    kb, ka = before.get("kind"), after.get("kind")
    comparable = (*NUMERIC_KINDS, *CATEGORY_KINDS)
    if kb not in comparable or ka not in comparable or _rows(before) == 0 or _rows(after) == 0:
        return None
    out: dict[str, Any] = {
        "column": str(after.get("name")), "kind": ka, "psi": None, "ks": None,
        "null_rate_change": None, "distinct_change": None,
        "new_categories": [], "vanished_categories": [], "drifted": False, "reasons": [], "notes": [],
    }
    if _family(kb) != _family(ka):
        out["reasons"].append(f"type changed from {kb} to {ka}")
    elif ka in NUMERIC_KINDS:
        _numeric_measures(before, after, thresholds, out)
    else:
        _category_measures(before, after, thresholds, out)
    _null_rate(before, after, thresholds, out)
    _distinct(before, after, thresholds, out)
    out["drifted"] = bool(out["reasons"])
    return out


def output_drift(before: Mapping, after: Mapping, thresholds: DriftThresholds = DEFAULT_THRESHOLDS) -> list[dict]:
    """Drift of every column present in both output profiles (matched by name, first
    occurrence), in ``after``'s column order; columns that cannot be compared are left out."""
    baseline: dict[str, Mapping] = {}
    for col in before.get("columns") or []:
        baseline.setdefault(str(col.get("name")), col)
    out, seen = [], set()
    for col in after.get("columns") or []:
        name = str(col.get("name"))
        if name in seen or name not in baseline:
            continue
        seen.add(name)
        result = column_drift(baseline[name], col, thresholds)
        if result is not None:
            out.append(result)
    return out


# ---------------------------------------------------------------- distributions
Source = tuple[np.ndarray, np.ndarray, int]  # (points, CDF fraction at each point, values)


def _family(kind: Any) -> str:
    """Kinds whose values compare: integer and float (pandas turns integers with nulls into
    floats), and all kinds with top values (booleans with nulls become objects)."""
    if kind in ("integer", "float"):
        return "number"
    return "category" if kind in CATEGORY_KINDS else str(kind)


def _rows(col: Mapping) -> int | None:
    """Values + nulls of a column (None when unknown)."""
    count, nulls = col.get("count"), col.get("nulls")
    return count + nulls if isinstance(count, int) and isinstance(nulls, int) else None


def _histogram_source(col: Mapping) -> Source | None:
    """The stored histogram as a CDF (uniform inside each bin), decoded like merges do."""
    return _merge._hist_sources([dict(col)], str(col.get("kind")))[0]


def _quantile_source(col: Mapping) -> Source | None:
    """CDF through min, the stored quantiles and max: the fallback when sketches were stripped."""
    qs, lo, hi = col.get("quantiles"), col.get("min"), col.get("max")
    if not isinstance(qs, Mapping) or lo is None or hi is None or not col.get("count"):
        return None
    keys = sorted(qs, key=float)
    fr = np.array([0.0, *(float(k) for k in keys), 1.0])
    pts = _merge._to_num([lo, *(qs[k] for k in keys), hi], str(col.get("kind")))
    if not np.isfinite(pts).all() or (np.diff(pts) < 0).any():
        return None
    return pts, fr, int(col["count"])


def _summary_source(col: Mapping) -> Source | None:
    """The 129-point quantile summary (exact ranks), decoded like merges do."""
    return _merge._summary_source(dict(col))


def _psi_source(col: Mapping) -> Source | None:
    """PSI reads the histogram (as the issue asks), else the summary."""
    return _histogram_source(col) or _summary_source(col)


def _ks_source(col: Mapping) -> Source | None:
    """KS reads the summary (rank error <= 1/128), else the quantiles, else the histogram."""
    return _summary_source(col) or _quantile_source(col) or _histogram_source(col)


def _cdf(source: Source, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fractions of values <= and < each point."""
    return sk.mixed_cdf([source], at)


def _decile_edges(source: Source, bins: int = PSI_BINS) -> np.ndarray:
    """Inner edges at the baseline's quantiles 1/bins ... (bins-1)/bins, ties merged."""
    knots, cdf, left = sk.mixed_cdf_at_knots([source])
    probs = np.arange(1, bins) / bins
    return np.unique(sk.quantiles_from_cdf(knots, cdf, probs, left))


def _bin_shares(source: Source, inner_edges: np.ndarray) -> np.ndarray:
    """Share of values in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    below = _cdf(source, inner_edges)[0]
    return np.diff(np.concatenate([[0.0], below, [1.0]]))


def psi(before_shares: np.ndarray, after_shares: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index sum((a - b) * ln(a / b)), empty bins floored at ``epsilon``."""
    b = np.maximum(np.asarray(before_shares, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(after_shares, dtype=np.float64), epsilon)
    return float(np.sum((a - b) * np.log(a / b)))


def ks_distance(before: Source, after: Source) -> float:
    """Largest gap between two piecewise linear CDFs: it lies on a knot of either one
    (on both sides of a knot where tied values make the CDF jump)."""
    knots = np.union1d(before[0], after[0])
    b_le, b_lt = _cdf(before, knots)
    a_le, a_lt = _cdf(after, knots)
    return float(max(np.max(np.abs(b_le - a_le)), np.max(np.abs(b_lt - a_lt))))


def _psi_noise(bins: int, n_before: int, n_after: int, alpha: float) -> float:
    """PSI that identical processes exceed with probability ``alpha``: n_eff·PSI is
    approximately chi-square with bins-1 degrees of freedom (Wilson-Hilferty quantile)."""
    k = max(bins - 1, 1)
    z = NormalDist().inv_cdf(1.0 - alpha)
    chi2 = k * (1.0 - 2.0 / (9 * k) + z * math.sqrt(2.0 / (9 * k))) ** 3
    return chi2 * (1.0 / n_before + 1.0 / n_after)


def _ks_noise(n_before: int, n_after: int, alpha: float) -> float:
    """Two-sample KS critical value for the sizes, plus the summaries' rank error (1/128 each)."""
    c = math.sqrt(-0.5 * math.log(alpha / 2.0))
    return c * math.sqrt(1.0 / n_before + 1.0 / n_after) + 2.0 * sk.SUMMARY_RANK_ERROR


def _numeric_measures(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """PSI on the baseline's deciles and the KS distance of the quantile summaries."""
    pb, pa = _psi_source(before), _psi_source(after)
    if pb is not None and pa is not None:
        edges = _decile_edges(pb)
        value = psi(_bin_shares(pb, edges), _bin_shares(pa, edges))
        out["psi"] = round(value, 6)
        if value >= th.psi and value > _psi_noise(edges.size + 1, pb[2], pa[2], th.alpha):
            out["reasons"].append(f"PSI {value:.3f} ≥ {th.psi:g}")
    kb, ka = _ks_source(before), _ks_source(after)
    if kb is not None and ka is not None:
        value = ks_distance(kb, ka)
        out["ks"] = round(value, 6)
        if value >= th.ks and value > _ks_noise(kb[2], ka[2], th.alpha):
            out["reasons"].append(f"KS {value:.3f} ≥ {th.ks:g}")


# ---------------------------------------------------------------- common bins (compare page)
def common_bins(before: Mapping, after: Mapping, max_bins: int = 30) -> tuple[list, list[int], list[int]] | None:
    """Both runs' histograms on one set of equal-width bins over the union of their ranges
    (one bin per integer for small integer ranges), for overlaid histograms.

    Edges are floats, or ISO strings for datetimes; counts assume values spread evenly
    inside each stored bin and still sum exactly to each run's finite values.  None when
    either side has no histogram or the columns are not both numeric (or both datetime).
    """
    kb, ka = before.get("kind"), after.get("kind")
    if kb not in NUMERIC_KINDS or ka not in NUMERIC_KINDS or (kb == "datetime") != (ka == "datetime"):
        return None
    sb, sa = _histogram_source(before), _histogram_source(after)
    if sb is None or sa is None:
        return None
    edges = _display_edges(sb, sa, kb == "integer" and ka == "integer", max_bins)
    counts = [_counts_on(s, edges) for s in (sb, sa)]
    if ka == "datetime":
        tz = _merge._tz_of([dict(after), dict(before)])
        labels = [_merge._from_num(e, "datetime", tz, False) for e in edges]
    else:
        labels = [float(e) for e in edges]
    return labels, counts[0], counts[1]


def _display_edges(sb: Source, sa: Source, integers: bool, max_bins: int) -> np.ndarray:
    """Equal-width edges over both ranges; one bin per integer when that fits in max_bins."""
    lo, hi = min(sb[0][0], sa[0][0]), max(sb[0][-1], sa[0][-1])
    if hi == lo:
        return np.array([lo, hi])
    if integers and hi - lo <= max_bins and float(lo).is_integer() and float(hi).is_integer():
        return np.arange(lo, hi + 1.0)
    return np.linspace(lo, hi, max(1, min(max_bins, C.n_bins(sb[2] + sa[2]))) + 1)


def _counts_on(source: Source, edges: np.ndarray) -> list[int]:
    """Counts on bins [a, b) (last closed) from a CDF, rounded to sum to the source's n."""
    n = source[2]
    below = _cdf(source, edges)[1]
    below[0], below[-1] = 0.0, 1.0
    return [int(c) for c in _merge._round_keep_total(np.diff(below) * n, n)]


# ---------------------------------------------------------------- categories
@dataclass(frozen=True)
class _Categories:
    """One side's top values and what is known about the values they leave out."""

    counts: dict[str, int]
    total: int  # non-null values
    distinct: int | None
    exhaustive: bool  # the top values list every distinct value

    def count_of(self, value: str) -> float:
        """Exact count when listed (or when the list is exhaustive), else an estimate:
        the unlisted values share the rest evenly, none above the smallest listed count."""
        if value in self.counts:
            return float(self.counts[value])
        if self.exhaustive or not self.counts:
            return 0.0
        smallest = float(min(self.counts.values()))
        rest = float(max(self.total - sum(self.counts.values()), 0))
        unlisted = (self.distinct - len(self.counts)) if self.distinct else rest / max(smallest, 1.0)
        return min(smallest, rest / max(unlisted, 1.0))


def _categories(col: Mapping) -> _Categories | None:
    """The top values of a column as counts (None when it has none)."""
    top = col.get("top_values")
    if top is None or not isinstance(col.get("count"), int):
        return None
    counts = {str(t["value"]): int(t["count"]) for t in top}
    distinct = col.get("distinct")
    exhaustive = (
        isinstance(distinct, int) and not col.get("distinct_estimated") and len(counts) == distinct
        and all(len(v) < TEXT_LIMIT for v in counts)
    )
    return _Categories(counts, int(col["count"]), distinct if isinstance(distinct, int) else None, bool(exhaustive))


def _category_measures(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """PSI on the baseline's most frequent values + "other"; new and vanished categories."""
    cb, ca = _categories(before), _categories(after)
    if cb is None or ca is None or cb.total == 0 or ca.total == 0:
        return
    bins = sorted(cb.counts, key=lambda v: (-cb.counts[v], v))[: PSI_BINS - 1]
    shares = [_category_shares(c, bins) for c in (cb, ca)]
    value = psi(shares[0], shares[1])
    out["psi"] = round(value, 6)
    if value >= th.psi and value > _psi_noise(len(bins) + 1, cb.total, ca.total, th.alpha):
        out["reasons"].append(f"PSI {value:.3f} ≥ {th.psi:g}")
    _new_and_vanished(cb, ca, th, out)


def _category_shares(side: _Categories, bins: list[str]) -> np.ndarray:
    """Shares of the given values and of everything else ("other", last)."""
    counts = np.array([side.count_of(v) for v in bins], dtype=np.float64)
    if counts.sum() > side.total:  # estimates can overshoot: scale them into the total
        counts *= side.total / counts.sum()
    return np.append(counts, side.total - counts.sum()) / side.total


def _new_and_vanished(cb: _Categories, ca: _Categories, th: DriftThresholds, out: dict) -> None:
    """Values present on one side only.  Certain when both lists are exhaustive; then a value
    counts as drift when its count could not be a chance absence on the other side
    (expected count there above ln(1/alpha), i.e. P(absent by chance) < alpha)."""
    new = [v for v in ca.counts if v not in cb.counts]
    vanished = [v for v in cb.counts if v not in ca.counts]
    out["new_categories"], out["vanished_categories"] = new, vanished
    if not (cb.exhaustive and ca.exhaustive):
        if new or vanished:
            out["notes"].append("new and vanished categories are among the top values only (not every value is listed)")
        return
    floor = math.log(1.0 / th.alpha)
    strong_new = [v for v in new if ca.counts[v] * cb.total / ca.total > floor]
    strong_gone = [v for v in vanished if cb.counts[v] * ca.total / cb.total > floor]
    if strong_new:
        out["reasons"].append("new categories: " + ", ".join(repr(v) for v in strong_new[:5]))
    if strong_gone:
        out["reasons"].append("vanished categories: " + ", ".join(repr(v) for v in strong_gone[:5]))


def top_value_shift(before: Mapping, after: Mapping) -> list[dict]:
    """Top values of both runs side by side, for the compare page.

    One row per value listed on either side, most frequent (after, then before) first:
    ``{"value", "before", "after", "before_pct", "after_pct", "other": False}``; a count is
    None where that side does not list the value and does not list every value (0 when it
    does).  Last, the "other" bucket (``"value": None, "other": True``): each side's values
    not counted in the rows above.  Percentages are of non-null values.
    """
    cb, ca = _categories(before), _categories(after)
    if cb is None or ca is None:
        return []
    values = sorted(set(cb.counts) | set(ca.counts), key=lambda v: (-ca.counts.get(v, 0), -cb.counts.get(v, 0), v))
    rows = [{"value": v, **_side("before", cb, v), **_side("after", ca, v), "other": False} for v in values]
    other = {"value": None, "other": True}
    for key, side in (("before", cb), ("after", ca)):
        shown = sum(side.counts.values())
        other[key] = max(side.total - shown, 0)
        other[f"{key}_pct"] = _pct(other[key], side.total)
    rows.append(other)
    return rows


def _side(key: str, side: _Categories, value: str) -> dict[str, Any]:
    count = side.counts.get(value, 0 if side.exhaustive else None)
    return {key: count, f"{key}_pct": _pct(count, side.total)}


def _pct(count: int | None, total: int) -> float | None:
    return None if count is None or total == 0 else round(100.0 * count / total, 4)


# ---------------------------------------------------------------- nulls and distinct counts
def _null_rate(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """Change of null % in points; drifted past the threshold and a two-proportion z-test."""
    pb, pa = before.get("null_pct"), after.get("null_pct")
    nb, na = _rows(before), _rows(after)
    if pb is None or pa is None or not nb or not na:
        return
    change = float(pa) - float(pb)
    out["null_rate_change"] = round(change, 6)
    pooled = (float(pb) * nb + float(pa) * na) / (100.0 * (nb + na))
    noise = 100.0 * NormalDist().inv_cdf(1.0 - th.alpha / 2) * math.sqrt(pooled * (1 - pooled) * (1 / nb + 1 / na))
    if abs(change) >= th.null_rate and abs(change) > noise:
        out["reasons"].append(f"null % {float(pb):.1f} → {float(pa):.1f} ({change:+.1f} points)")


def _distinct(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """Relative distinct-count change; drifted only beyond what the row count explains.

    A column of unique values grows with the rows and a saturated one (a few categories)
    stays put, so the expected distinct count lies between d_before and d_before times
    the ratio of non-null counts; only the distance outside that range counts.
    """
    db, da = before.get("distinct"), after.get("distinct")
    if not isinstance(db, int) or not isinstance(da, int) or db == 0:
        return
    out["distinct_change"] = round(da / db - 1.0, 6)
    cb, ca = before.get("count") or 0, after.get("count") or 0
    if db <= _MIN_DISTINCT or da <= _MIN_DISTINCT or cb == 0:
        return
    lo, hi = sorted((float(db), db * ca / cb))
    excess = da / hi - 1.0 if da > hi else (1.0 - da / lo if da < lo else 0.0)
    if excess >= th.distinct_ratio:
        out["reasons"].append(f"distinct count {db} → {da} ({da / db - 1:+.0%}), beyond the row count change")
