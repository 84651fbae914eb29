"""Column statistics computed on plain numpy / pyarrow arrays.

The adapters (``_adapters``) turn each column of any supported input into one of a few
"column data" shapes (non-null values + null count); the functions here compute the
:data:`ColumnProfile` dict from them.  Numeric work avoids sorting whole columns: sorting is
fast only where numpy's SIMD sort kicks in (about 10x slower on some CPUs), so large
unsorted columns get their exact quantiles and histogram from a binning pass that selects
the few values that matter (:func:`_order_statistics`); small or already sorted columns
use one sorted copy.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _native
from . import _sketch as sk
from ._jsonsafe import Cut, float_value, json_value, safe_repr, safe_str

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE_KEYS = tuple(str(q) for q in QUANTILES)
MAX_BINS = 50
TOP_N = 20

VALUE_FIELDS = (
    "min", "max", "mean", "std", "zeros", "negatives", "infinities",
    "quantiles", "histogram", "top_values", "str_len",
)


def base_column(name: str, position: int, dtype: str, kind: str, count: int, nulls: int) -> dict[str, Any]:
    """A ColumnProfile with every statistic unset; callers fill in what applies."""
    total = count + nulls
    return {
        "name": name,
        "position": position,
        "dtype": dtype,
        "kind": kind,
        "count": int(count),
        "nulls": int(nulls),
        "null_pct": (100.0 * nulls / total) if total else 0.0,
        "distinct": None,
        "distinct_estimated": False,
        "min": None,
        "max": None,
        "mean": None,
        "std": None,
        "zeros": None,
        "negatives": None,
        "infinities": None,
        "quantiles": None,
        "histogram": None,
        "top_values": None,
        "str_len": None,
        "sketch": None,
    }


ERROR_LIMIT = 500


def error_column(
    name: str, position: int, dtype: str, exc: BaseException, counts: tuple[int, int] | None, pii: bool, cut: Cut
) -> dict[str, Any]:
    """The ColumnProfile of a column whose profiling raised: kind "error", the exception as
    ``"error": "<type>: <message>"``, counts if they could still be had, every other statistic None.

    A PII column's message is left out (it may quote a value): only the exception's type is kept.
    """
    col = base_column(name, position, dtype, "error", 0, 0)
    if counts is None:
        col["count"] = col["nulls"] = col["null_pct"] = None
    else:
        set_counts(col, *counts)
    kind = type(exc).__name__
    col["error"] = f"{kind} (message withheld: PII column)" if pii else cut.text(f"{kind}: {safe_str(exc)}", ERROR_LIMIT)
    return col


def _hll_sketch(hashes: np.ndarray, extra: dict[str, Any] | None = None, *, registers: bool = False) -> dict[str, Any]:
    """The sketch dict with a serialised HLL of the given value hashes (or ready registers)."""
    out: dict[str, Any] = {"hll": sk.encode_hll(hashes if registers else sk.hll_registers(hashes))}
    if extra:
        out.update(extra)
    return out


def _top_from_counts(labels: Sequence[Any], counts: np.ndarray, cut: Cut) -> list[dict[str, Any]]:
    """Up to 20 (label, count) pairs, most frequent first, ties by label text."""
    counts = np.asarray(counts)
    nz = np.flatnonzero(counts > 0)
    if nz.size > TOP_N:
        # keep everything tied with the 20th count, then order exactly
        kth = np.partition(counts[nz], nz.size - TOP_N)[nz.size - TOP_N]
        nz = nz[counts[nz] >= kth]
    items = [(safe_str(labels[i]), int(counts[i])) for i in nz]
    items.sort(key=lambda t: (-t[1], t[0]))
    return [{"value": cut.text(v), "count": c} for v, c in items[:TOP_N]]


# ---------------------------------------------------------------- numeric
def set_counts(col: dict[str, Any], count: int, nulls: int) -> None:
    """(Re)set count, nulls and null_pct once nulls found inside the values are known."""
    col["count"] = int(count)
    col["nulls"] = int(nulls)
    total = count + nulls
    col["null_pct"] = (100.0 * nulls / total) if total else 0.0


def numeric_column(
    col: dict[str, Any],
    values: np.ndarray,
    *,
    is_int: bool,
    pii: bool,
    scale: float | None = None,
    owned: bool = False,
    valid: np.ndarray | None = None,
    exact: bool = False,
) -> dict[str, Any]:
    """Fill a numeric ColumnProfile from the values (float NaN counted here as nulls).

    Small or already sorted columns: one sort does all the work: NaN sorts last and +-inf to
    the ends, so the finite values are a view in the middle; distinct values are the changes
    between neighbours, and quantiles, histogram counts, zeros and negatives are index
    look-ups / binary searches.  Large unsorted columns: see :func:`_numeric_unsorted`.
    ``scale`` converts integer ticks to float units (timedelta ticks -> seconds).
    ``owned``: ``values`` is a private copy (e.g. Arrow data with nulls turned into NaN),
    so it may be sorted in place instead of copied again.  ``valid``: float values whose
    null slots hold anything (Arrow data read in place), with this mask of the non-null ones.
    Mean and std follow pandas: over all non-null values (so +-inf propagates),
    std with ddof=1.  Quantiles and the histogram use the finite values only.
    ``exact``: count the distinct values exactly (a ``unique`` check reads the count), so
    a large column takes the sorted path: one sort instead of the binning pass and HLL,
    about as fast where numpy's SIMD sort runs, and never slower than sorting it again for
    the check.
    """
    unsorted_ok = not exact or scale is not None  # scaled ticks are floats: not exact keys
    if valid is not None:
        if values.size >= SELECT_MIN_ROWS and unsorted_ok:
            done = _numeric_unsorted(col, values.astype(np.float64, copy=False), False, pii, valid)
            if done is not None:
                return done
        values, owned = np.where(valid, values, np.nan), True
    if scale is not None:
        values = values.astype(np.float64) * scale
        is_int, owned = False, True
    elif is_int:
        converted = _as_int64(values)
        owned = owned or converted is not values
        values = converted
        is_int = values.dtype.kind == "i"
    else:
        converted = values.astype(np.float64, copy=False)
        owned = owned or converted is not values
        values = converted
    if is_int and values.size > SMALL_RANGE_MIN_ROWS:
        lo, hi = int(values.min()), int(values.max())
        if hi - lo < min(values.size, SMALL_RANGE_MAX):
            return _int_counts_column(col, values, lo, hi, pii)
    if values.size >= SELECT_MIN_ROWS and unsorted_ok and not _is_sorted(values):
        done = _numeric_unsorted(col, values, is_int, pii)
        if done is not None:
            return done
    s = _sorted(values, owned)
    n_all = s.size
    n = n_all
    if not is_int:
        n = int(np.searchsorted(s, np.nan, "left")) if n_all and np.isnan(s[-1]) else n_all
        if n < n_all:
            set_counts(col, col["count"] - (n_all - n), col["nulls"] + (n_all - n))
            s = s[:n]
        n_neg_inf = int(np.searchsorted(s, -np.inf, "right")) if n and s[0] == -np.inf else 0
        n_pos_inf = n - int(np.searchsorted(s, np.inf, "left")) if n and s[-1] == np.inf else 0
    else:
        n_neg_inf = n_pos_inf = 0
    finite = s[n_neg_inf : n - n_pos_inf]
    nf = finite.size
    n_unique, uniques = _distinct_sorted(finite)
    col["distinct"] = n_unique + (n_pos_inf > 0) + (n_neg_inf > 0)
    reg = sk.hll_of_numbers(uniques)
    if n_pos_inf or n_neg_inf:
        np.maximum(reg, sk.hll_of_numbers(_infs(n_pos_inf, n_neg_inf)), out=reg)
    if pii:
        col["sketch"] = _hll_sketch(reg, registers=True)
        return col
    if nf:
        zl = int(np.searchsorted(finite, 0, "left"))
        zeros, negatives = int(np.searchsorted(finite, 0, "right")) - zl, zl
        edges = _edges(float(finite[0]), float(finite[-1]), is_int, nf)
        at = sk.interpolate_sorted(finite, _rank_positions(nf))
        order = (at, edges, _hist_sorted(finite, edges))
        extremes = (finite[0], finite[-1])
    else:
        zeros = negatives = 0
        order = extremes = None
    return _fill_numeric(col, finite, n, n_pos_inf, n_neg_inf, is_int, zeros, negatives, order, reg, extremes)


def _rank_positions(nf: int) -> np.ndarray:
    """Fractional 0-based ranks read from a column of ``nf`` finite values: the quantiles,
    then the summary points (see :func:`_fill_numeric`)."""
    summary = np.linspace(0.0, nf - 1, sk.SUMMARY_POINTS) if nf > sk.SUMMARY_POINTS else np.arange(nf, dtype=float)
    return np.concatenate([np.asarray(QUANTILES) * (nf - 1), summary])


def _fill_numeric(
    col: dict[str, Any], finite: np.ndarray, n: int, n_pos_inf: int, n_neg_inf: int, is_int: bool,
    zeros: int, negatives: int, order: tuple[np.ndarray, np.ndarray, list[int]] | None, reg: np.ndarray,
    extremes: tuple[Any, Any] | None,
) -> dict[str, Any]:
    """Write the value statistics of a numeric column (not PII) into ``col``.

    ``finite``: the finite values (any order); ``order``: the values at
    :func:`_rank_positions`, the histogram edges and counts, and ``extremes`` the smallest
    and largest finite value (both None if there is no finite value).
    """
    col["infinities"] = n_pos_inf + n_neg_inf
    nf = finite.size
    if n:
        lo, hi = extremes or (np.inf, -np.inf)
        col["min"] = _num(-np.inf if n_neg_inf else lo, is_int)
        col["max"] = _num(np.inf if n_pos_inf else hi, is_int)
        col["mean"], col["std"] = _mean_std(finite, n, n_pos_inf, n_neg_inf)
    col["zeros"], col["negatives"] = zeros, negatives + n_neg_inf
    summary = np.zeros(0)
    if order is not None:
        at, edges, counts = order
        col["quantiles"] = {k: float_value(v) for k, v in zip(QUANTILE_KEYS, at[: len(QUANTILES)], strict=True)}
        col["histogram"] = {"edges": [float_value(e) for e in edges], "counts": counts}
        summary = at[len(QUANTILES) :]
    col["sketch"] = _hll_sketch(reg, {"summary": sk.encode_floats(summary), "summary_n": nf}, registers=True)
    return col


# Columns from this size on are not sorted (unless already in order); see _numeric_unsorted.
SELECT_MIN_ROWS = 1 << 18
# Above this many distinct values (HLL estimate), such a column's distinct count is the estimate.
EXACT_DISTINCT_MAX = 1 << 14
FINE_BINS = 16384


def _numeric_unsorted(
    col: dict[str, Any], values: np.ndarray, is_int: bool, pii: bool, valid: np.ndarray | None = None
) -> dict[str, Any] | None:
    """A large unsorted numeric column in a few linear passes, or None to sort it instead.

    Counts, min, max, mean, std, zeros, negatives, quantiles and histogram counts stay exact
    (:func:`_order_statistics`).  The distinct count is exact up to 16,384 distinct values
    (hashing) and above that the HyperLogLog estimate (``distinct_estimated``; relative
    standard error 1.6 %), as counting a million distinct values exactly costs a sort.
    ``valid``: which values are not null (Arrow's validity bitmap; the others are ignored).
    """
    scan = _scan(values, is_int, valid)
    finite = scan.finite
    if finite.size < SELECT_MIN_ROWS // 2:
        return None
    n_nan = scan.n_nan + (0 if valid is None else values.size - int(np.count_nonzero(valid)))
    order = None if pii else _order_statistics(finite, scan.lo, scan.hi, is_int)
    if scan.n_nan:
        set_counts(col, col["count"] - scan.n_nan, col["nulls"] + scan.n_nan)
    reg = scan.reg
    distinct, col["distinct_estimated"] = _distinct_by_hash(finite, reg)
    col["distinct"] = distinct + (scan.n_pos_inf > 0) + (scan.n_neg_inf > 0)
    if scan.n_pos_inf or scan.n_neg_inf:
        np.maximum(reg, sk.hll_of_numbers(_infs(scan.n_pos_inf, scan.n_neg_inf)), out=reg)
    if pii:
        col["sketch"] = _hll_sketch(reg, registers=True)
        return col
    return _fill_numeric(
        col, finite, values.size - n_nan, scan.n_pos_inf, scan.n_neg_inf, is_int, scan.zeros, scan.negatives,
        order, reg, (scan.lo, scan.hi),
    )


def _count_dropped(scan: _Scan, values: np.ndarray, valid: np.ndarray | None, good: int, n_valid: int) -> None:
    """Count the NaN and infinities among the non-null values into ``scan`` (``good``:
    the number of finite non-null values, ``n_valid`` of non-null ones)."""
    nan_mask = np.isnan(values)
    if valid is not None:
        nan_mask &= valid
    nan = int(np.count_nonzero(nan_mask))
    infs = n_valid - good - nan
    if infs:
        pos_mask = values == np.inf
        if valid is not None:
            pos_mask &= valid
        pos = int(np.count_nonzero(pos_mask))
        scan.n_pos_inf += pos
        scan.n_neg_inf += infs - pos
    scan.n_nan += nan


BLOCK = 1 << 18  # values per block of the binning pass (see _select)


@dataclass
class _Scan:
    """What the first pass over a large numeric column found."""

    finite: np.ndarray
    n_nan: int = 0
    n_pos_inf: int = 0
    n_neg_inf: int = 0
    lo: Any = None
    hi: Any = None
    zeros: int = 0
    negatives: int = 0
    reg: np.ndarray | None = None


def _scan(values: np.ndarray, is_int: bool, valid: np.ndarray | None) -> _Scan:
    """Drop NaN, infinities and nulls (copying only if there are any) and count them; min,
    max, zeros, negatives and the HLL registers of the finite values."""
    scan = _Scan(values)
    if not is_int:
        ok = np.isfinite(values)
        n_valid = values.size
        if valid is not None:
            ok &= valid
            n_valid = int(np.count_nonzero(valid))
        good = int(np.count_nonzero(ok))
        if good < n_valid:  # NaN or infinities among the (non-null) values
            _count_dropped(scan, values, valid, good, n_valid)
        if good < values.size:
            scan.finite = values[ok]
    finite = scan.finite
    if finite.size:
        scan.lo, scan.hi = finite.min(), finite.max()
        scan.zeros = int(np.count_nonzero(finite == 0)) if scan.lo <= 0 <= scan.hi else 0
        scan.negatives = int(np.count_nonzero(finite < 0)) if scan.lo < 0 else 0
    scan.reg = sk.hll_of_numbers(finite)
    return scan


def _distinct_by_hash(values: np.ndarray, reg: np.ndarray) -> tuple[int, bool]:
    """(distinct count, estimated?) of a large column from its HLL registers: exact by
    hashing when the estimate is small (cheap then), else the estimate itself."""
    est = sk.hll_estimate(reg)
    if est <= EXACT_DISTINCT_MAX:
        import pandas as pd

        return len(pd.unique(values)), False  # pandas counts 0.0 and -0.0 as one, like the sort
    return int(min(max(round(est), 1), values.size)), True


def _order_statistics(values: np.ndarray, lo: Any, hi: Any, is_int: bool) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Exact order statistics of unsorted finite values without sorting them all:
    (values at :func:`_rank_positions`, histogram edges, histogram counts)."""
    nf = values.size
    edges = _edges(float(lo), float(hi), is_int, nf)
    pos = _rank_positions(nf)
    inner = np.ceil(edges[1:-1]).astype(np.int64) if is_int else edges[1:-1]
    first = np.floor(pos).astype(np.int64)
    second = np.minimum(first + 1, nf - 1)
    ranks = np.unique(np.concatenate([first, second]))
    at_rank, below = _select(values, lo, hi, ranks, inner, 0)
    at0 = at_rank[np.searchsorted(ranks, first)].astype(np.float64)
    at1 = at_rank[np.searchsorted(ranks, second)].astype(np.float64)
    bounds = np.concatenate([[0], below, [nf]])
    return sk.lerp(at0, at1, pos - first), edges, [int(c) for c in np.diff(bounds)]


SELECT_SORT_MAX = 1 << 16  # sorting this many values is cheaper than another binning pass
SELECT_MAX_DEPTH = 3


def _select(
    values: np.ndarray, lo: Any, hi: Any, ranks: np.ndarray, thresholds: np.ndarray, depth: int
) -> tuple[np.ndarray, np.ndarray]:
    """(values of the given 0-based sorted ranks, number of values below each threshold),
    exactly, sorting only a small part of ``values`` (never reordering ``values`` itself).

    Values go into 16,384 equal-width bins by ``trunc((x - lo) * scale)``, which never
    decreases as x grows, so every value of a lower bin is smaller than every value of a
    higher bin: the value of rank r lies in the bin where the cumulative count passes r,
    and a threshold t splits only the bin t itself falls in.  Only those bins' values are
    kept (typically ~1 % of the values) and sorted; when they are still many (skewed data:
    most values in a few bins), the same is done on them.
    """
    n = values.size
    span = float(int(hi) - int(lo)) if values.dtype.kind in "iu" else float(hi) - float(lo)
    scale = FINE_BINS / span if span > 0 else np.inf
    if n <= SELECT_SORT_MAX or depth >= SELECT_MAX_DEPTH or not (np.isfinite(scale) and span < 2.0**62):
        s = _native.sorted_numbers(values)
        return s[ranks], np.searchsorted(s, thresholds, "left")
    idx = np.empty(n, dtype=np.uint16)  # FINE_BINS fits; a quarter of the memory traffic of intp
    counts = np.zeros(FINE_BINS, dtype=np.int64)
    for start in range(0, n, BLOCK):
        block_idx = _bin_index(values[start : start + BLOCK], lo, scale)
        idx[start : start + BLOCK] = block_idx
        counts += np.bincount(block_idx, minlength=FINE_BINS)
    before = np.cumsum(counts) - counts  # values in lower bins
    rank_bins = np.searchsorted(before + counts, ranks, "right")
    threshold_bins = _bin_index(np.clip(thresholds, lo, hi), lo, scale)
    needed = np.unique(np.concatenate([rank_bins, threshold_bins]))
    wanted = np.zeros(FINE_BINS, dtype=bool)
    wanted[needed] = True
    kept = values[wanted[idx]]
    start = np.zeros(FINE_BINS, dtype=np.int64)  # where each needed bin starts among the kept values
    start[needed] = np.cumsum(counts[needed]) - counts[needed]
    kept_ranks = start[rank_bins] + ranks - before[rank_bins]
    if kept.size > n // 8:  # skewed: the wanted bins hold much of the data; bin those again
        at_rank, kept_below = _select(kept, kept.min(), kept.max(), kept_ranks, thresholds, depth + 1)
    else:
        kept = _native.sorted_numbers(kept, owned=True)
        at_rank, kept_below = kept[kept_ranks], np.searchsorted(kept, thresholds, "left")
    below = before[threshold_bins] + kept_below - start[threshold_bins]
    return at_rank, np.clip(below, 0, n)


def _bin_index(values: np.ndarray, lo: Any, scale: float) -> np.ndarray:
    """Fine bin of each value: ``trunc((x - lo) * scale)`` capped at the last bin (monotone)."""
    scaled = np.subtract(values, lo)
    scaled = np.multiply(scaled, scale, out=scaled if scaled.dtype == np.float64 else None)
    idx = scaled.astype(np.intp)
    return np.minimum(idx, FINE_BINS - 1, out=idx)


SMALL_RANGE_MIN_ROWS = 65_536
SMALL_RANGE_MAX = 1 << 20


def _int_counts_column(col: dict[str, Any], values: np.ndarray, lo: int, hi: int, pii: bool) -> dict[str, Any]:
    """Integer column with a small value range: one ``bincount`` instead of a sort.

    The count of every value in [lo, hi] gives every statistic exactly (distinct values,
    mean and std from the weighted values, quantiles and histogram from the cumulative
    counts) - codes, years, ratings, small ids are common in task outputs.
    """
    counts = np.bincount(values - lo if lo else values, minlength=hi - lo + 1)
    n = int(values.size)
    present = np.flatnonzero(counts)
    col["distinct"] = int(present.size)
    reg = sk.hll_of_numbers(present + lo)
    if pii:
        col["sketch"] = _hll_sketch(reg, registers=True)
        return col
    offsets = np.arange(counts.size, dtype=np.float64)
    weights = counts.astype(np.float64)
    mean_off = float(np.einsum("i,i->", weights, offsets)) / n
    col["min"], col["max"] = lo, hi
    col["mean"] = float(lo + mean_off)
    if n > 1:
        dev = offsets[present] - mean_off
        col["std"] = float(np.sqrt(float(np.einsum("i,i,i->", weights[present], dev, dev)) / (n - 1)))
    col["infinities"] = 0
    col["zeros"] = int(counts[-lo]) if lo <= 0 <= hi else 0
    col["negatives"] = int(counts[: -lo].sum()) if lo < 0 else 0
    below = np.concatenate([[0], np.cumsum(counts)])  # below[k] = number of values < lo + k

    def at_rank(pos: np.ndarray) -> np.ndarray:
        """Linearly interpolated value at fractional 0-based ranks (numpy 'linear')."""
        r0 = np.floor(pos).astype(np.int64)
        r1 = np.minimum(r0 + 1, n - 1)
        v0 = lo + np.searchsorted(below, r0, "right") - 1
        v1 = lo + np.searchsorted(below, r1, "right") - 1
        return v0 + (v1 - v0) * (pos - r0)

    qs = at_rank(np.asarray(QUANTILES) * (n - 1))
    col["quantiles"] = {k: float_value(v) for k, v in zip(QUANTILE_KEYS, qs, strict=True)}
    edges = _edges(float(lo), float(hi), True, n)
    k = np.clip(np.ceil(edges[1:-1]).astype(np.int64) - lo, 0, counts.size)
    bounds = np.concatenate([[0], below[k], [n]])
    col["histogram"] = {"edges": [float_value(e) for e in edges], "counts": [int(c) for c in np.diff(bounds)]}
    summary = at_rank(np.linspace(0.0, n - 1, sk.SUMMARY_POINTS)) if n > sk.SUMMARY_POINTS else np.repeat(
        np.arange(lo, hi + 1, dtype=np.float64), counts
    )
    col["sketch"] = _hll_sketch(reg, {"summary": sk.encode_floats(summary), "summary_n": n}, registers=True)
    return col


def _sorted(values: np.ndarray, owned: bool = False) -> np.ndarray:
    """Sorted values: skips the sort when already in order (ids, timestamps), sorts a
    private copy in place, and copies otherwise (never reorders the caller's data)."""
    if values.size > 1 and values[0] <= values[-1] and _is_sorted(values):
        return values
    return _native.sorted_numbers(values, owned)


def _is_sorted(values: np.ndarray) -> bool:
    """Non-decreasing check, first on a short prefix so random data costs almost nothing."""
    head = values[:1024]
    if not bool(np.all(head[1:] >= head[:-1])):
        return False
    return bool(np.all(values[1:] >= values[:-1]))


def _distinct_sorted(s: np.ndarray) -> tuple[int, np.ndarray]:
    """Number of distinct values of a sorted array and the values to hash for the HLL.

    Duplicates do not change an HLL, so when most values are distinct the array itself is
    hashed (saving a compaction pass); otherwise only the distinct values.
    """
    if s.size == 0:
        return 0, s
    change = np.empty(s.size, dtype=bool)
    change[0] = True
    np.not_equal(s[1:], s[:-1], out=change[1:])
    n_unique = int(np.count_nonzero(change))
    return n_unique, (s if n_unique * 2 > s.size else s[change])


def _as_int64(values: np.ndarray) -> np.ndarray:
    """Integers as int64 (uint64 beyond int64's range fall back to float64)."""
    if values.dtype == np.int64:
        return values
    if values.dtype == np.uint64 and values.size and values.max() > np.iinfo(np.int64).max:
        return values.astype(np.float64)
    return values.astype(np.int64)


def _infs(n_pos: int, n_neg: int) -> np.ndarray:
    """The distinct infinities present, for hashing."""
    return np.array(([np.inf] if n_pos else []) + ([-np.inf] if n_neg else []), dtype=np.float64)


def _num(x: Any, is_int: bool) -> Any:
    """A statistic as a JSON number (int for integer columns), infinities as strings."""
    if is_int and np.isfinite(x):
        return int(x)
    return float_value(x)


def _mean_std(finite: np.ndarray, n: int, n_pos_inf: int, n_neg_inf: int) -> tuple[Any, Any]:
    """Mean and sample std (ddof=1) like pandas, in float64.

    The variance uses the one-pass sum of squares (a BLAS dot, no temporary) when the
    mean is small against the spread, where its rounding error stays below ~1e-12
    relative; otherwise the two-pass sum of squared deviations pandas uses.
    """
    if n_pos_inf or n_neg_inf:
        mean = np.inf if not n_neg_inf else (-np.inf if not n_pos_inf else np.nan)
        return float_value(mean), None
    f = finite if finite.dtype == np.float64 else finite.astype(np.float64)
    mean = float(f.sum()) / n
    if n < 2:
        return float_value(mean), None
    sq = float(np.einsum("i,i->", f, f))  # not np.dot: BLAS threads would spin on busy cores
    var = (sq - n * mean * mean) / (n - 1)
    if not (var > 0 and mean * mean <= 1e3 * var):
        dev = np.subtract(f, mean)
        var = float(np.einsum("i,i->", dev, dev)) / (n - 1)
    return float_value(mean), float_value(np.sqrt(var))


def n_bins(n: int) -> int:
    """Square-root rule capped at 50 bins: few values do not get 50 mostly empty bins."""
    return int(min(MAX_BINS, max(1, np.ceil(np.sqrt(n)))))


def _edges(lo: float, hi: float, is_int: bool, n: int) -> np.ndarray:
    """Histogram edges: one bin per integer for small integer ranges, else equal-width bins."""
    if hi == lo:
        return np.array([lo, hi], dtype=np.float64)
    if is_int and hi - lo + 1 <= MAX_BINS:
        return np.arange(lo, hi + 2, dtype=np.float64)
    return np.linspace(lo, hi, n_bins(n) + 1)


def _hist_sorted(s: np.ndarray, edges: np.ndarray) -> list[int]:
    """Counts of sorted values per bin [e_i, e_i+1), the last bin closed (numpy semantics)."""
    inner_edges = edges[1:-1]
    if s.dtype.kind in "iu":
        # for integers, "value < e" is the same as "value < ceil(e)"; avoids casting s to float
        inner_edges = np.ceil(inner_edges).astype(s.dtype)
    inner = np.searchsorted(s, inner_edges, "left")
    bounds = np.concatenate([[0], inner, [s.size]])
    return [int(c) for c in np.diff(bounds)]


# ---------------------------------------------------------------- datetime
def datetime_column(col: dict[str, Any], ticks: np.ndarray, unit: str, tz: str | None, pii: bool) -> dict[str, Any]:
    """Fill a datetime ColumnProfile from non-null int64 ticks of ``unit`` since the epoch (UTC).

    Min, max, quantiles and histogram edges are ISO-8601 strings in the column's time zone.
    Mean/std are left None (the format defines them as floats).
    """
    s = _sorted(ticks.astype(np.int64, copy=False))
    n = s.size
    n_unique, uniques = _distinct_sorted(s)
    col["distinct"] = n_unique
    ns_per = _ns_per_unit(unit)
    reg = sk.hll_of_int64(uniques, ns_per)
    if pii:
        col["sketch"] = _hll_sketch(reg, registers=True)
        return col
    if not n:
        col["sketch"] = _hll_sketch(reg, {"summary": sk.encode_floats(np.zeros(0)), "summary_n": 0}, registers=True)
        return col

    def fmt(v: float) -> str | None:
        return ticks_to_iso(int(round(v)), unit, tz)

    col["min"], col["max"] = fmt(s[0]), fmt(s[-1])
    qs = sk.interpolate_sorted(s, np.asarray(QUANTILES) * (n - 1))
    col["quantiles"] = {k: fmt(v) for k, v in zip(QUANTILE_KEYS, qs, strict=True)}
    lo, hi = int(s[0]), int(s[-1])
    if lo == hi:
        edges_t = np.array([lo, hi], dtype=np.int64)
    else:
        edges_t = np.round(np.linspace(lo, hi, n_bins(n) + 1)).astype(np.int64)
        edges_t[0], edges_t[-1] = lo, hi  # float64 rounding of large tick counts
        edges_t = np.unique(edges_t)
    col["histogram"] = {"edges": [fmt(e) for e in edges_t], "counts": _hist_sorted(s, edges_t)}
    summary = sk.summary_from_sorted(s) * float(ns_per)
    col["sketch"] = _hll_sketch(
        reg, {"summary": sk.encode_floats(summary), "summary_n": n, "unit": "ns"}, registers=True
    )
    if tz:
        col["sketch"]["tz"] = tz
    return col


_UNIT_NS = {"D": 86_400 * 10**9, "h": 3_600 * 10**9, "m": 60 * 10**9, "s": 10**9, "ms": 10**6, "us": 10**3, "ns": 1}


def _ns_per_unit(unit: str) -> int:
    """Nanoseconds per tick of a numpy/pandas/arrow time unit."""
    return _UNIT_NS.get(unit, 1)


def ticks_to_iso(ticks: int, unit: str, tz: str | None) -> str | None:
    """ISO-8601 text of an epoch tick count in ``unit``, shown in time zone ``tz``."""
    import pandas as pd

    try:
        ts = pd.Timestamp(np.datetime64(int(ticks), unit))
        if tz:
            ts = ts.tz_localize("UTC").tz_convert(tz)
        return ts.isoformat()
    except Exception:  # noqa: BLE001 - out-of-range values still must not break profiling
        return safe_str(np.datetime64(int(ticks), unit))


# ---------------------------------------------------------------- boolean
def bool_column(col: dict[str, Any], values: np.ndarray | None, pii: bool, counts: tuple[int, int] | None = None
                ) -> dict[str, Any]:
    """Fill a boolean ColumnProfile from non-null bools, or from (n non-null, n True)
    ``counts`` (Arrow: no need to unpack bits).  Mean is the share of True, like pandas."""
    if counts is not None:
        n, t = counts
    else:
        n, t = values.size, int(np.count_nonzero(values))
    f = n - t
    col["distinct"] = int(t > 0) + int(f > 0)
    present = [v for v, c in ((0.0, f), (1.0, t)) if c]
    hashes = sk.hash_numbers(np.array(present, dtype=np.float64))
    col["sketch"] = _hll_sketch(hashes)
    if pii or not n:
        if not pii:
            col["top_values"] = []
        return col
    col["min"] = bool(f == 0)
    col["max"] = bool(t > 0)
    mean = t / n
    col["mean"] = float(mean)
    if n > 1:
        var = (t * (1 - mean) ** 2 + f * mean**2) / (n - 1)
        col["std"] = float(np.sqrt(var))
    col["top_values"] = _top_from_counts(["False", "True"], np.array([f, t]), Cut())
    return col


# ---------------------------------------------------------------- strings
GROUP_BY_MIN_ROWS = 4096


def arrow_value_counts(arr: Any) -> tuple[Any, np.ndarray, int]:
    """(distinct non-null values as an Arrow array, their counts, null count) in one hash pass.

    Strings go through ddtrack's C kernel when it is built (``_native``: 2.8 ms per
    million short strings, read in place).  Otherwise, and for other types, large arrays
    go through Acero's hash group-by (a swiss table), about twice as fast as
    ``pc.value_counts`` on strings (11 vs 19 ms per million short strings, 105 vs 197 ms
    for a million distinct ones); small ones through ``value_counts``, which starts up faster.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    native = _native.string_counts(arr)
    if native is not None:
        return native
    if _native.is_string_view(arr.type):
        arr = arr.cast(pa.large_string())
    if isinstance(arr, pa.ChunkedArray) and arr.num_chunks == 1:
        arr = arr.chunk(0)
    values = counts_arr = None
    if len(arr) >= GROUP_BY_MIN_ROWS:
        if pa.types.is_large_string(arr.type) and arr.nbytes < 2**31 - 1:
            arr = arr.cast(pa.string())  # Acero groups 32-bit-offset strings ~5x faster
        try:
            values, counts_arr = _group_counts(arr)
        except (pa.ArrowException, TypeError, ValueError):  # a type Acero cannot group by
            values = None
    if values is None:
        vc = pc.value_counts(arr)
        values, counts_arr = vc.field("values"), vc.field("counts")
    counts = np.asarray(counts_arr.to_numpy(zero_copy_only=False), dtype=np.int64)
    nulls = 0
    if values.null_count:
        valid = values.is_valid().to_numpy(zero_copy_only=False)
        nulls = int(counts[~valid].sum())
        values = values.filter(pa.array(valid))
        counts = counts[valid]
    return values, counts, nulls


GROUP_BY_SPLIT_ROWS = 1 << 19


def _group_counts(arr: Any) -> tuple[Any, Any]:
    """(distinct values, counts) of an Arrow array by Acero's hash group-by.

    Strings that all have the same byte length (codes, ids, ISO dates, UUIDs) are grouped
    as fixed-size binary, a view of the same bytes (~25 % faster: fixed-width keys); large
    arrays are cut into four zero-copy slices, which Acero hashes on its own threads and
    merges (it then uses cores the other columns leave idle).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    keys = _fixed_width_view(arr) if pa.types.is_string(arr.type) else None
    source = keys if keys is not None else arr
    if len(source) >= GROUP_BY_SPLIT_ROWS:
        step = -(-len(source) // 4)
        source = pa.chunked_array([source.slice(i, step) for i in range(0, len(source), step)])
    grouped = pa.table({"v": source}).group_by("v").aggregate([([], "count_all")])
    values = grouped.column("v").combine_chunks()
    if keys is not None:
        values = pc.cast(pc.cast(values, pa.binary()), arr.type)
    return values, grouped.column("count_all")


def _fixed_width_view(arr: Any) -> Any | None:
    """The strings of a null-free Arrow string array as fixed_size_binary (no copy) when
    they all have the same byte length, else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if arr.null_count or not len(arr):
        return None
    lengths = pc.min_max(pc.binary_length(arr))
    width = lengths["min"].as_py()
    if not width or width != lengths["max"].as_py():
        return None
    first = int(np.frombuffer(arr.buffers()[1], dtype=np.int32, count=1, offset=4 * arr.offset)[0])
    data = arr.buffers()[2].slice(first, len(arr) * width)
    return pa.Array.from_buffers(pa.binary(width), len(arr), [None, data])


def string_column(col: dict[str, Any], uniques: Any, counts: np.ndarray, pii: bool, cut: Cut) -> dict[str, Any]:
    """Fill a string ColumnProfile from the distinct values and their counts (all exact).

    ``uniques`` is an Arrow string array or a sequence of ``str``.  Working on distinct
    values only makes low-cardinality columns cheap: min/max are lexicographic by code
    point, lengths are in characters, weighted by the counts.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    col["distinct"] = len(uniques)
    if isinstance(uniques, pa.Array | pa.ChunkedArray):
        texts = uniques.to_numpy(zero_copy_only=False)
        lengths = pc.utf8_length(uniques).to_numpy(zero_copy_only=False).astype(np.int64) if len(uniques) else None
        mm = pc.min_max(uniques) if len(uniques) else None
        lo = mm["min"].as_py() if mm else None
        hi = mm["max"].as_py() if mm else None
    else:
        texts = np.asarray(uniques, dtype=object)
        lengths = np.fromiter((len(x) for x in texts), dtype=np.int64, count=len(texts)) if len(texts) else None
        lo = min(texts) if len(texts) else None
        hi = max(texts) if len(texts) else None
    col["sketch"] = _hll_sketch(sk.hash_strings(texts))
    if col["name"] in cut.keep:  # in memory only, for checks judged in the task (never in the dict)
        cut.kept[col["name"]] = texts
    if pii:
        return col
    col["top_values"] = _top_from_counts(texts, counts, cut)
    if lengths is None or not counts.sum():
        return col
    col["min"] = json_value(lo, cut)
    col["max"] = json_value(hi, cut)
    col["str_len"] = {
        "min": int(lengths.min()),
        "mean": float(np.dot(lengths, counts) / counts.sum()),
        "max": int(lengths.max()),
    }
    return col


# ---------------------------------------------------------------- categorical
def categorical_column(
    col: dict[str, Any], codes: np.ndarray, categories: Sequence[Any], ordered: bool, pii: bool, cut: Cut
) -> dict[str, Any]:
    """Fill a categorical ColumnProfile from non-null codes (exact: counts per category).

    min/max follow the category order and are only given for ordered categoricals (pandas
    refuses min/max on unordered ones).
    """
    counts = np.bincount(codes.astype(np.intp), minlength=len(categories)) if codes.size else np.zeros(
        len(categories), dtype=np.int64
    )
    present = np.flatnonzero(counts)
    col["distinct"] = int(present.size)
    labels = [categories[i] for i in present]
    if labels and all(isinstance(v, str) for v in labels):
        hashes = sk.hash_strings(labels)
    else:
        try:
            hashes = sk.hash_numbers(np.asarray(labels, dtype=np.float64))
        except (TypeError, ValueError):
            hashes = sk.hash_strings([safe_repr(v) for v in labels])
    col["sketch"] = _hll_sketch(hashes)
    if pii:
        return col
    if ordered and present.size:
        col["min"] = json_value(categories[present[0]], cut)
        col["max"] = json_value(categories[present[-1]], cut)
    col["top_values"] = _top_from_counts(categories, counts, cut)
    return col


# ---------------------------------------------------------------- object
def object_column(col: dict[str, Any], values: Sequence[Any], pii: bool, cut: Cut) -> dict[str, Any]:
    """Fill an object ColumnProfile from non-null Python objects (mixed types, nested values).

    Distinct values compare like Python (and pandas): hashable values by equality,
    unhashable ones (lists, dicts) by their repr.
    """
    counter: Counter[Any] = Counter()
    for v in values:
        try:
            hash(v)
            counter[v] += 1
        except TypeError:
            counter[_Unhashable(safe_repr(v))] += 1
    keys = list(counter)
    return object_from_counts(col, keys, np.array([counter[k] for k in keys], dtype=np.int64), pii, cut)


def object_from_counts(
    col: dict[str, Any], keys: Sequence[Any], counts: np.ndarray, pii: bool, cut: Cut
) -> dict[str, Any]:
    """Object statistics from distinct values and counts; min/max only when all values are
    of one mutually comparable type."""
    keys = list(keys)
    col["distinct"] = len(keys)
    col["sketch"] = _hll_sketch(sk.hash_strings([_key_text(k) for k in keys]))
    if pii:
        return col
    types = {type(v) for v in keys}
    if len(types) == 1 and keys and not isinstance(keys[0], _Unhashable):
        try:
            col["min"] = json_value(min(keys), cut)
            col["max"] = json_value(max(keys), cut)
        except Exception:  # noqa: BLE001 - incomparable values simply get no min/max
            col["min"] = col["max"] = None
    labels = [k.text if isinstance(k, _Unhashable) else safe_str(k) for k in keys]
    col["top_values"] = _top_from_counts(labels, counts, cut)
    return col


class _Unhashable:
    """Counter key standing for an unhashable value (compared by repr)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __hash__(self) -> int:
        return hash(("_Unhashable", self.text))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Unhashable) and other.text == self.text


def _key_text(k: Any) -> str:
    """Text hashed into the HLL for an object value."""
    return k.text if isinstance(k, _Unhashable) else safe_repr(k)


def strip_pii(col: dict[str, Any]) -> dict[str, Any]:
    """Blank every value-bearing field of a PII column (keeps counts, distinct and the HLL)."""
    for f in VALUE_FIELDS:
        col[f] = None
    sketch = col.get("sketch")
    if isinstance(sketch, dict):
        col["sketch"] = {"hll": sketch["hll"]} if "hll" in sketch else None
    return col
