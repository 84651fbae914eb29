"""The documented error bounds of the sketches (HLL distinct counts, quantile summary ranks)."""

from __future__ import annotations

import numpy as np
import pytest

from ddtrack.profile import _sketch as sk


@pytest.mark.parametrize("n", [1, 10, 100, 1_000, 5_000, 20_000, 100_000, 1_000_000])
def test_hll_relative_error_within_documented_bound(n):
    """Documented: relative standard error 1.6 %, 99.7 % of estimates within +-5 %."""
    rng = np.random.default_rng(n)
    values = rng.permutation(np.arange(n, dtype=np.float64) * 1.5 + rng.random())
    est = sk.hll_estimate(sk.hll_registers(sk.hash_numbers(values)))
    assert abs(est - n) <= max(0.05 * n, 0.5), (n, est)


def test_hll_error_spread_matches_rse():
    """Over many independent sets, the observed relative error's spread is about 1.04/sqrt(m)."""
    errs = []
    for seed in range(40):
        rng = np.random.default_rng(1000 + seed)
        vals = rng.random(30_000)
        errs.append(sk.hll_estimate(sk.hll_registers(sk.hash_numbers(vals))) / 30_000 - 1)
    errs = np.asarray(errs)
    assert abs(errs.mean()) < 0.01  # no visible bias
    assert errs.std() < 1.5 * sk.HLL_RSE


def test_hll_union_is_register_max_and_serialisation_round_trips():
    rng = np.random.default_rng(7)
    a, b = rng.random(50_000), rng.random(30_000)
    ra, rb = (sk.hll_registers(sk.hash_numbers(x)) for x in (a, b))
    union = sk.union_hll([sk.encode_hll(ra), sk.encode_hll(rb)])
    direct = sk.hll_registers(sk.hash_numbers(np.concatenate([a, b])))
    assert np.array_equal(union, direct)
    assert abs(sk.hll_estimate(union) / 80_000 - 1) < 0.05
    assert sk.decode_hll("not base64!") is None


def test_hll_hashes_are_consistent_across_types():
    ints = np.arange(100, dtype=np.int64)
    assert np.array_equal(sk.hash_numbers(ints), sk.hash_numbers(ints.astype(float)))
    assert sk.hash_numbers(np.array([-0.0]))[0] == sk.hash_numbers(np.array([0.0]))[0]
    assert sk.hash_strings(["a", "b"])[0] != sk.hash_strings(["a", "b"])[1]


@pytest.mark.parametrize("parts", [1, 2, 7])
def test_summary_merged_rank_error_within_one_over_128(parts):
    """Documented: quantiles read from merged summaries have normalised rank error <= 1/128."""
    rng = np.random.default_rng(parts)
    chunks = [rng.lognormal(size=int(rng.integers(1_000, 50_000))) * (i + 1) for i in range(parts)]
    summaries = [sk.summary_from_sorted(np.sort(c)) for c in chunks]
    sources = [(s, np.linspace(0.0, 1.0, s.size), c.size) for s, c in zip(summaries, chunks, strict=True)]
    xs, cdf, cdf_left = sk.mixed_cdf_at_knots(sources)  # what merge_profiles inverts
    probs = np.linspace(0.01, 0.99, 99)
    qs = sk.quantiles_from_cdf(xs, cdf, probs, cdf_left)
    data = np.sort(np.concatenate(chunks))
    n = data.size
    for p, q in zip(probs, qs, strict=True):
        lo, hi = np.searchsorted(data, q, "left") / n, np.searchsorted(data, q, "right") / n
        assert max(0.0, lo - p, p - hi) <= sk.SUMMARY_RANK_ERROR + 1 / n, (p, q, lo, hi)


def test_mixed_cdf_between_and_on_points_equals_the_weighted_parts():
    """mixed_cdf at arbitrary points (what histogram merging evaluates) is the count-weighted
    sum of each part's own piecewise-linear CDF, with tied points (jumps) and single-point
    parts; the fraction below a point leaves its jump out."""
    rng = np.random.default_rng(5)
    parts = [np.sort(rng.normal(i, 1 + i, 129)) for i in range(3)]
    parts[1][40:50] = parts[1][40]  # a run of ties: a jump
    sources = [(p, np.linspace(0.0, 1.0, p.size), int(n)) for p, n in zip(parts, (100, 3000, 700), strict=True)]
    sources.append((np.array([0.25]), np.array([1.0]), 200))
    at = np.concatenate([rng.normal(1, 3, 500), [parts[1][40], 0.25, -100.0, 100.0]])
    total = sum(n for _, _, n in sources)

    def part_cdf(xs, fr, x, strict):
        if xs.size == 1:
            return float(x > xs[0] if strict else x >= xs[0])
        if x < xs[0] or (strict and x == xs[0]):
            return 0.0
        if x > xs[-1]:
            return 1.0
        right = np.searchsorted(xs, x, "left" if strict else "right")
        if right < xs.size and xs[right - 1] < x:  # inside a segment: interpolate
            return float(np.interp(x, xs[right - 1 : right + 1], fr[right - 1 : right + 1]))
        return float(fr[right - 1])

    below, strictly = sk.mixed_cdf(sources, at)
    for k, x in enumerate(at):
        want = sum(n * part_cdf(xs, fr, x, False) for xs, fr, n in sources) / total
        want_strict = sum(n * part_cdf(xs, fr, x, True) for xs, fr, n in sources) / total
        assert below[k] == pytest.approx(want, abs=1e-9), x
        assert strictly[k] == pytest.approx(want_strict, abs=1e-9), x
    knots, at_knots, left_of_knots = sk.mixed_cdf_at_knots(sources)
    b, s = sk.mixed_cdf(sources, knots)
    assert np.allclose(b, at_knots) and np.allclose(s, left_of_knots)


def test_summary_exact_for_small_inputs():
    v = np.sort(np.array([3.0, 1.0, 2.0]))
    assert sk.summary_from_sorted(v).tolist() == [1.0, 2.0, 3.0]
    assert np.allclose(sk.interpolate_sorted(np.arange(11.0), np.array([0.0, 2.5, 10.0])), [0.0, 2.5, 10.0])


def _reference_registers(hashes: np.ndarray) -> np.ndarray:
    """Plain-Python HLL registers: low 12 bits pick the register, rank = clz(high 52 bits) + 1."""
    reg = [0] * sk.HLL_M
    for h in hashes.tolist():
        w = h >> sk.HLL_P
        rank = (64 - sk.HLL_P) - w.bit_length() + 1
        reg[h & (sk.HLL_M - 1)] = max(reg[h & (sk.HLL_M - 1)], rank)
    return np.array(reg, dtype=np.uint8)


@pytest.mark.parametrize("n", [0, 3, 5_000, 200_000])
def test_hll_registers_equal_reference_including_high_rank_filter(n):
    rng = np.random.default_rng(n + 11)
    h = sk.hash_numbers(rng.random(n))
    h[:1] = 0 if n else h[:1]  # rank 53 (all high bits zero) is handled
    assert np.array_equal(sk.hll_registers(h), _reference_registers(h))


@pytest.mark.parametrize("n", [10, 70_000, 300_001])
def test_chunked_hll_equals_full_hash_registers(n):
    rng = np.random.default_rng(n)
    f = rng.normal(size=n)
    assert np.array_equal(sk.hll_of_numbers(f), sk.hll_registers(sk.hash_numbers(f)))
    t = rng.integers(0, 10**12, n)
    assert np.array_equal(sk.hll_of_int64(t, 1000), sk.hll_registers(sk.hash_int64(t, 1000)))


@pytest.mark.parametrize("n", [0, 5, 300, 100_000])
def test_hll_encoding_round_trips_sparse_and_dense(n):
    reg = sk.hll_registers(sk.hash_numbers(np.arange(n, dtype=float)))
    text = sk.encode_hll(reg)
    assert text.startswith("s:") == (n < 600)
    assert np.array_equal(sk.decode_hll(text), reg)
