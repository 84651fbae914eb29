"""Drift of one output's columns between two runs, from their stored profiles alone.

Why from profiles: ddtrack keeps a mergeable profile of every run (quantile summary,
histogram, top values, counts), so "what changed" is answered at ingest without reading the
data again (milliseconds per output, where a test on the raw rows takes seconds to minutes).

Numeric and datetime columns are read off their 129-point quantile summaries (exact values at
129 evenly spaced ranks; else the stored quantiles, else the histogram), which are near-exact
at any skew: equal-width histogram bins are not (on lognormal, Pareto or Cauchy data one bin
holds almost every value, and shares read off it are guesses).

* **Wasserstein** (the scale-aware distance): the mean distance a value moves between the two
  runs (the area between their quantile functions) over the central 90 % of ranks, in units of
  the baseline's mean absolute deviation from its median over the same ranks.  A shift by
  that deviation gives 1, a spread × k gives |k - 1| (× 1.5: 0.5), whatever the
  distribution; trimming 5 % at each end keeps single extreme values (Cauchy, Pareto) out.
* **PSI** (population stability index) on the baseline's deciles: the share of the new values
  falling in each tenth of the baseline.  It is the per-column score the pages plot.
* **KS distance**: the largest gap between the two CDFs (each off by at most 1/128).

Categorical, boolean and text columns are read off their top values:

* **Jensen–Shannon distance** (natural log, as scipy's ``jensenshannon``) between the shares of
  the values either run lists plus an "other" bucket; a value one run does not list is given
  the share closest to the other run's that its list allows, so an unknown count never
  raises an alarm; values too rare to judge join "other".
* **PSI** on the baseline's nine most frequent values plus "other" (the plotted score), and
  **new or vanished categories** (certain only when the top values list every value).

Every column: **null-rate change** in percentage points, and **distinct-count change**
beyond what the row count explains.

A measure marks the column ``drifted`` only when it reaches its threshold *and* exceeds what
sampling noise explains for the two sizes at ``alpha`` (both conditions): small samples do
not alarm on noise, huge samples do not alarm on tiny but "significant" shifts.  Wasserstein
also needs the KS distance beyond its noise: its band ends at the baseline's observed
extremes, which a handful of rows (an aggregate) say little about.  The noise
bounds: chi-square on the bins for PSI and Jensen–Shannon (n·PSI and 8·n·JS² are about
chi-square for identical processes), the two-sample KS critical value for KS (plus the
summaries' rank error), for Wasserstein the widest move the KS critical band around the
baseline's quantile function allows, and a two-proportion z-test for null rates.
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
TRIM = 0.05  # Wasserstein leaves out this share of ranks at each end
RANK_GRID = 1024  # ranks the quantile functions are compared at (midpoints of equal cells)
MIN_EXPECTED = 5.0  # a value needs this many expected rows (in the smaller run) to be its own bin


@dataclass(frozen=True)
class DriftThresholds:
    """When a column counts as drifted; ``[ddtrack] drift_*`` options map onto these."""

    psi: float = 0.2  # population stability index at or above: drifted
    ks: float = 0.2  # KS distance at or above (and above the sampling-noise bound): drifted
    wasserstein: float = 0.25  # normalised Wasserstein distance at or above: drifted
    js: float = 0.05  # Jensen–Shannon distance of the category shares at or above: drifted
    null_rate: float = 5.0  # |null % change| in percentage points at or above (and significant): drifted
    distinct_ratio: float = 0.5  # |distinct change| beyond what the row count explains (both > 20)
    alpha: float = 1e-5  # false-alarm rate of each sampling-noise bound

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha must be between 0 and 1 (exclusive), not {self.alpha!r}")
        for name in ("psi", "ks", "wasserstein", "js", "null_rate", "distinct_ratio"):
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
        "column": str(after.get("name")), "kind": ka, "psi": None, "ks": None, "wasserstein": None, "js": None,
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
    """Drift of every column present in both output profiles (``profile(...).to_dict()``
    documents, or stored ones), matched by name (first occurrence), in ``after``'s column
    order; columns that cannot be compared are left out.

    Each result: ``column``, ``kind``, ``drifted``, ``reasons`` (one sentence per measure that
    crossed its threshold), ``notes``, the measures ``psi``, ``ks``, ``wasserstein``, ``js``,
    ``null_rate_change`` (points), ``distinct_change`` (relative; None where they do not apply)
    and ``new_categories`` / ``vanished_categories``."""
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


def _distribution(col: Mapping) -> Source | None:
    """The column's values as a CDF: its 129-point quantile summary (exact ranks), else min,
    quantiles and max (sketches stripped to bound a record's size), else the histogram."""
    return _merge._summary_source(dict(col)) or _quantile_source(col) or _histogram_source(col)


class _Curve:
    """One run's CDF, built once from its :data:`Source` and read many times (a column's drift
    reads each side's CDF or quantile function about eight times)."""

    def __init__(self, source: Source) -> None:
        self.n = source[2]
        self._knots = sk.mixed_cdf_knots([source])
        knots, below, jumps, _ = self._knots
        self.points = knots
        self._inverse = sk.inverse_cdf(knots, np.clip(below, 0.0, 1.0), np.clip(below - jumps, 0.0, 1.0))

    def cdf(self, at: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fractions of values <= and < each point."""
        return sk.cdf_at(self._knots, at)

    def quantiles(self, probs: np.ndarray) -> np.ndarray:
        """The quantile function at ``probs`` (a probability inside a jump maps to its point)."""
        return np.interp(np.asarray(probs, dtype=np.float64), *self._inverse)


def _decile_edges(curve: _Curve, bins: int = PSI_BINS) -> np.ndarray:
    """Inner edges at the baseline's quantiles 1/bins ... (bins-1)/bins, ties merged."""
    return np.unique(curve.quantiles(np.arange(1, bins) / bins))


def _bin_shares(curve: _Curve, inner_edges: np.ndarray) -> np.ndarray:
    """Share of values in (-inf, e1], (e1, e2], ..., (ek, inf)."""
    below = curve.cdf(inner_edges)[0]
    return np.diff(np.concatenate([[0.0], below, [1.0]]))


def psi(before_shares: np.ndarray, after_shares: np.ndarray, epsilon: float = PSI_EPSILON) -> float:
    """Population stability index sum((a - b) * ln(a / b)), empty bins floored at ``epsilon``."""
    b = np.maximum(np.asarray(before_shares, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(after_shares, dtype=np.float64), epsilon)
    return float(np.sum((a - b) * np.log(a / b)))


def _ks_distance(before: _Curve, after: _Curve) -> float:
    """Largest gap between two piecewise linear CDFs: it lies on a knot of either one
    (on both sides of a knot where tied values make the CDF jump)."""
    knots = np.union1d(before.points, after.points)
    b_le, b_lt = before.cdf(knots)
    a_le, a_lt = after.cdf(knots)
    return float(max(np.max(np.abs(b_le - a_le)), np.max(np.abs(b_lt - a_lt))))


CENTRAL_RANKS = TRIM + (np.arange(RANK_GRID) + 0.5) / RANK_GRID * (1.0 - 2.0 * TRIM)  # midpoints of equal cells


def _wasserstein(before: _Curve, after: _Curve, q_before: np.ndarray, spread: float) -> float | None:
    """Normalised Wasserstein distance: the mean |difference| of the two quantile functions
    over the central ranks, divided by the baseline's ``spread`` (None when it is 0: a
    constant core)."""
    q_after = after.quantiles(CENTRAL_RANKS)
    if not spread > 0 or not np.isfinite(q_after).all():
        return None
    return float(np.mean(np.abs(q_after - q_before)) / spread)


def _spread(curve: _Curve, q_central: np.ndarray) -> float:
    """Mean absolute deviation from the median over the central ranks (the Wasserstein unit)."""
    return float(np.mean(np.abs(q_central - curve.quantiles(np.array([0.5]))[0])))


def _wasserstein_noise(before: _Curve, q_before: np.ndarray, spread: float, n_after: int, alpha: float) -> float:
    """The normalised Wasserstein distance sampling noise stays under with probability 1 - alpha.

    For identical processes the two empirical CDFs differ by at most the KS critical value D
    (probability 1 - alpha), so each after-quantile lies between the baseline's quantiles at
    ranks p - D and p + D: the distance is at most the mean of the wider side of that band.
    Conservative (it allows the worst gap at every rank at once), and it grows with the tails.
    """
    d = _ks_critical(before.n, n_after, alpha)
    up = before.quantiles(np.minimum(CENTRAL_RANKS + d, 1.0)) - q_before
    down = q_before - before.quantiles(np.maximum(CENTRAL_RANKS - d, 0.0))
    return float(np.mean(np.maximum(up, down)) / spread)


def _chi2_quantile(df: int, alpha: float) -> float:
    """Upper ``alpha`` quantile of chi-square with ``df`` degrees of freedom (Wilson–Hilferty;
    a little above the exact value in far tails, i.e. on the quiet side)."""
    k = max(df, 1)
    z = NormalDist().inv_cdf(1.0 - alpha)
    return k * (1.0 - 2.0 / (9 * k) + z * math.sqrt(2.0 / (9 * k))) ** 3


def _psi_noise(bins: int, n_before: float, n_after: float, alpha: float) -> float:
    """PSI that identical processes exceed with probability ``alpha``: n_eff·PSI is
    approximately chi-square with bins-1 degrees of freedom."""
    return _chi2_quantile(bins - 1, alpha) * (1.0 / n_before + 1.0 / n_after)


def _ks_critical(n_before: int, n_after: int, alpha: float) -> float:
    """Two-sample KS critical value for the sizes (asymptotic)."""
    return math.sqrt(-0.5 * math.log(alpha / 2.0)) * math.sqrt(1.0 / n_before + 1.0 / n_after)


def _ks_noise(n_before: int, n_after: int, alpha: float) -> float:
    """The KS critical value plus the summaries' rank error (1/128 each)."""
    return _ks_critical(n_before, n_after, alpha) + 2.0 * sk.SUMMARY_RANK_ERROR


def _numeric_measures(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """Wasserstein, PSI on the baseline's deciles and KS, all off the quantile summaries."""
    sb, sa = _distribution(before), _distribution(after)
    if sb is None or sa is None:
        return
    cb, ca = _Curve(sb), _Curve(sa)
    q_before = cb.quantiles(CENTRAL_RANKS)
    spread = _spread(cb, q_before)
    ks = _ks_distance(cb, ca)
    # The Wasserstein band stops at the baseline's observed extremes, which a few rows say
    # little about: the distributions must also differ beyond noise (KS), else a 3-row
    # aggregate drifts on every other run.
    distinct = ks > _ks_noise(cb.n, ca.n, th.alpha)
    value = _wasserstein(cb, ca, q_before, spread)
    if value is not None:
        out["wasserstein"] = round(value, 6)
        if value >= th.wasserstein and distinct and value > _wasserstein_noise(cb, q_before, spread, ca.n, th.alpha):
            out["reasons"].append(f"Wasserstein {value:.3f} ≥ {th.wasserstein:g}")
    edges = _decile_edges(cb)
    value = psi(_bin_shares(cb, edges), _bin_shares(ca, edges))
    out["psi"] = round(value, 6)
    if value >= th.psi and value > _psi_noise(edges.size + 1, cb.n, ca.n, th.alpha):
        out["reasons"].append(f"PSI {value:.3f} ≥ {th.psi:g}")
    out["ks"] = round(ks, 6)
    if ks >= th.ks and distinct:
        out["reasons"].append(f"KS {ks:.3f} ≥ {th.ks:g}")


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
    below = sk.mixed_cdf([source], edges)[1]
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

    @property
    def unlisted(self) -> int:
        """Values not counted by the list."""
        return max(self.total - sum(self.counts.values()), 0)

    def count_like(self, value: str, share: float) -> float:
        """Count of ``value``: exact when listed (0 when the list is exhaustive), else the count
        nearest ``share`` of this side's values that the list allows (no more than its smallest
        listed count), so that a count the profile does not keep never reads as a change."""
        if value in self.counts:
            return float(self.counts[value])
        if self.exhaustive:
            return 0.0
        bound = min(self.counts.values()) if self.counts else self.unlisted
        return float(min(bound, self.unlisted, share * self.total))


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


def _category_counts(side: _Categories, other: _Categories, values: list[str]) -> np.ndarray:
    """This side's counts of ``values`` (each listed by one side at least), values it does not
    list read as :meth:`_Categories.count_like` the other side's share, then scaled into
    what this side leaves unlisted."""
    counts = np.array([side.count_like(v, other.counts.get(v, 0) / other.total) for v in values], dtype=np.float64)
    guessed = np.array([v not in side.counts for v in values], dtype=bool)
    if guessed.any() and counts[guessed].sum() > side.unlisted:
        counts[guessed] *= side.unlisted / counts[guessed].sum()
    return counts


def _with_other(counts: np.ndarray, total: int) -> np.ndarray:
    """Shares of the given counts and of everything else ("other", last)."""
    return np.append(counts, max(total - counts.sum(), 0.0)) / total


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance of two distributions (normalised first; natural log, so
    between 0 and sqrt(ln 2)); the same as ``scipy.spatial.distance.jensenshannon``."""
    p = np.asarray(p, dtype=np.float64) / np.sum(p)
    q = np.asarray(q, dtype=np.float64) / np.sum(q)
    m = (p + q) / 2.0

    def kl(x: np.ndarray) -> float:
        nz = x > 0
        return float(np.sum(x[nz] * np.log(x[nz] / m[nz])))

    return math.sqrt(max((kl(p) + kl(q)) / 2.0, 0.0))


def _js_noise(bins: int, n_before: int, n_after: int, alpha: float) -> float:
    """Jensen–Shannon distance identical processes exceed with probability ``alpha``:
    8·n_eff·JS² is approximately the chi-square homogeneity statistic (bins-1 df)."""
    n_eff = n_before * n_after / (n_before + n_after)
    return math.sqrt(_chi2_quantile(bins - 1, alpha) / (8.0 * n_eff))


def _category_measures(before: Mapping, after: Mapping, th: DriftThresholds, out: dict) -> None:
    """Jensen–Shannon on both sides' top values, PSI on the baseline's most frequent values
    + "other", and new and vanished categories."""
    cb, ca = _categories(before), _categories(after)
    if cb is None or ca is None or cb.total == 0 or ca.total == 0:
        return
    values = sorted(set(cb.counts) | set(ca.counts))
    b, a = _category_counts(cb, ca, values), _category_counts(ca, cb, values)
    judged = (b / cb.total + a / ca.total) / 2.0 * min(cb.total, ca.total) >= MIN_EXPECTED  # rare ones join "other"
    sb, sa = _with_other(b[judged], cb.total), _with_other(a[judged], ca.total)
    value = jensen_shannon(sb, sa)
    out["js"] = round(value, 6)
    bins = int(np.count_nonzero(sb + sa))
    if value >= th.js and value > _js_noise(bins, cb.total, ca.total, th.alpha):
        out["reasons"].append(f"Jensen–Shannon {value:.3f} ≥ {th.js:g}")
    top = sorted(cb.counts, key=lambda v: (-cb.counts[v], v))[: PSI_BINS - 1]
    value = psi(_with_other(_category_counts(cb, ca, top), cb.total), _with_other(_category_counts(ca, cb, top), ca.total))
    out["psi"] = round(value, 6)
    if value >= th.psi and value > _psi_noise(len(top) + 1, cb.total, ca.total, th.alpha):
        out["reasons"].append(f"PSI {value:.3f} ≥ {th.psi:g}")
    _new_and_vanished(cb, ca, th, out)


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
