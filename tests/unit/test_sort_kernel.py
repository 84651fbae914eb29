"""The C kernel that sorts numeric columns (ddtrack/profile/_sort.c): a radix sort in
numpy's order, so that the profile's sorted path and the exact checks give what numpy's sort
gives: integers over the whole int64 range, floats with -inf first, +inf then every NaN
(whatever its sign or payload) last, subnormals, and -0.0 next to +0.0.  The kernel is
called directly (at every size) and through ``sorted_numbers``, made to prefer it here
whatever this CPU's measurement chose.  That it is built, and its switch, are tested with
the string kernel's (test_string_kernel.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ddtrack import checks
from ddtrack.profile import _native, profile
from ddtrack.profile.exact import OutputEvidence, wanted_exact

kernel = pytest.mark.skipif(not _native.sort_available(), reason="C kernel not built (no C compiler at install)")


@pytest.fixture(autouse=True)
def radix_preferred(monkeypatch):
    monkeypatch.setattr(_native, "_radix_faster", True)


NEGATIVE_NAN = np.array([0xFFF8000000000001], dtype=np.uint64).view(np.float64)[0]
PAYLOAD_NAN = np.array([0x7FF0000000000001], dtype=np.uint64).view(np.float64)[0]  # signalling-style payload


def kernel_sorted(values: np.ndarray, in_place: bool = False) -> np.ndarray:
    from ddtrack.profile import _sort

    kind = _native.SORT_KINDS[values.dtype.kind]
    out = values.copy() if in_place else np.empty_like(values)
    _sort.sort(out if in_place else values, out, kind)
    return out


def same_as_numpy(values: np.ndarray) -> None:
    """The kernel's order is numpy's: equal element by element (NaN equal to NaN, -0.0 to
    +0.0, the only values numpy does not order among equals), and the same values in all;
    sorted into a new array or where they are (the buffers alternate differently)."""
    expected = np.sort(values)
    for got in (kernel_sorted(values), kernel_sorted(values, in_place=True), _native.sorted_numbers(values)):
        assert got.dtype == values.dtype and got.shape == values.shape
        assert np.array_equal(got, expected, equal_nan=values.dtype.kind == "f")
    for got in (kernel_sorted(values), kernel_sorted(values, in_place=True)):
        if values.dtype.kind == "f":  # the kernel keeps every finite value's bits (numpy's SIMD sort may turn -0.0 into 0.0)
            assert np.isnan(got).sum() == np.isnan(values).sum()
            assert sorted(got[np.isfinite(got)].view(np.uint64).tolist()) == sorted(
                values[np.isfinite(values)].view(np.uint64).tolist())


@kernel
@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.int64, st.integers(0, 3000), elements=st.integers(-(2**63), 2**63 - 1)))
def test_integers_sort_as_numpy_sorts_them(values):
    same_as_numpy(values)


@kernel
@settings(max_examples=300, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 3000), elements=st.floats(allow_nan=True, allow_infinity=True, allow_subnormal=True)))
def test_floats_sort_as_numpy_sorts_them(values):
    same_as_numpy(values)


@kernel
def test_edge_values_and_large_columns():
    rng = np.random.default_rng(5)
    big = np.iinfo(np.int64)
    special = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, NEGATIVE_NAN, PAYLOAD_NAN, 5e-324, -5e-324, 1e308, -1e308])
    floats = np.concatenate([special, rng.normal(0, 1e6, 300_000), rng.integers(-50, 50, 20_000) * 1.0])
    rng.shuffle(floats)
    for values in (
        np.array([], dtype=np.int64),
        np.array([7], dtype=np.int64),
        np.array([big.max, big.min, 0, -1, 1, big.max, big.min], dtype=np.int64),
        np.full(70_000, 42, dtype=np.int64),  # one digit everywhere: every pass skipped
        np.arange(300_000, dtype=np.int64)[::-1].copy(),
        rng.permutation(rng.choice(2**62, 500_000, replace=False)).astype(np.int64),  # sparse ids
        rng.integers(big.min, big.max, 400_000, dtype=np.int64),
        floats,
        np.full(10, np.nan),
    ):
        same_as_numpy(values)
    got = kernel_sorted(np.array([np.nan, 1.0, NEGATIVE_NAN, -np.inf, np.inf]))
    assert got[:3].tolist() == [-np.inf, 1.0, np.inf] and np.isnan(got[3:]).all()  # negative NaN last too


@kernel
def test_the_callers_array_is_never_reordered_unless_owned():
    rng = np.random.default_rng(8)
    values = rng.integers(0, 1000, 5000)  # past RADIX_MIN
    before = values.copy()
    out = _native.sorted_numbers(values)
    assert np.array_equal(values, before) and out is not values
    owned = values.copy()
    assert _native.sorted_numbers(owned, owned=True) is owned and np.array_equal(owned, np.sort(before))
    readonly = before.copy()
    readonly.flags.writeable = False
    assert np.array_equal(_native.sorted_numbers(readonly, owned=True), np.sort(before))
    strided = before[::3]
    assert np.array_equal(_native.sorted_numbers(strided, owned=True), np.sort(strided))
    assert np.array_equal(before[::3], strided)  # a view is sorted as a copy, its base untouched
    swapped = before.astype(">i8")
    assert np.array_equal(_native.sorted_numbers(swapped), np.sort(before))
    for other in (before.astype(np.int32), before.astype("datetime64[s]"), before.astype(np.uint64)):
        assert np.array_equal(_native.sorted_numbers(other), np.sort(other))  # numpy sorts these


def test_the_faster_sort_is_measured_once_per_process(monkeypatch):
    monkeypatch.setattr(_native, "_radix_faster", None)
    calls = []
    monkeypatch.setattr(_native, "_radix_time", lambda samples: calls.append("radix") or 1.0)
    monkeypatch.setattr(_native, "_numpy_time", lambda samples: calls.append("numpy") or 2.0)
    assert _native.radix_sorts_faster() is _native.sort_available()
    assert _native.radix_sorts_faster() is _native.sort_available()
    assert calls == (["radix", "numpy"] if _native.sort_available() else [])
    monkeypatch.setattr(_native, "_radix_faster", None)
    monkeypatch.setattr(_native, "_numpy_time", lambda samples: 0.5)  # numpy wins here: numpy sorts
    assert _native.radix_sorts_faster() is False
    values = np.random.default_rng(2).normal(size=10_000)
    assert np.array_equal(_native.sorted_numbers(values), np.sort(values))
    monkeypatch.setattr(_native, "_sort", None)
    monkeypatch.setattr(_native, "_radix_faster", None)
    assert _native.radix_sorts_faster() is False  # no kernel: nothing measured


@kernel
def test_both_timings_run_on_this_machine():
    samples = _native._choice_samples()
    assert [s.dtype for s in samples] == [np.int64, np.float64] and all(s.size == _native.CHOICE_SAMPLE for s in samples)
    assert np.isfinite(samples[1]).all() and len(np.unique(samples[0])) == _native.CHOICE_SAMPLE
    assert _native._radix_time(samples) > 0 and _native._numpy_time(samples) > 0


@kernel
def test_bad_buffers_are_refused_not_read():
    from ddtrack.profile import _sort

    with pytest.raises(ValueError, match="8-byte words"):
        _sort.sort(bytearray(7), bytearray(7), 1)
    with pytest.raises(ValueError, match="kind"):
        _sort.sort(np.zeros(4), np.zeros(4), 2)
    with pytest.raises(ValueError, match="as long"):
        _sort.sort(np.zeros(4), np.zeros(3), 0)
    with pytest.raises(TypeError):
        _sort.sort(np.zeros(2), bytes(16), 0)  # out must be writable


@kernel
def test_profiles_and_checks_with_and_without_the_kernel_are_identical(monkeypatch):
    rng = np.random.default_rng(13)
    n = 300_000
    amount = rng.lognormal(3, 1, n)
    amount[rng.random(n) < 0.05] = np.nan
    amount[:3] = [np.inf, -np.inf, 0.0]
    frame = pd.DataFrame({
        "id": rng.permutation(rng.choice(2**62, n, replace=False)).astype(np.int64),
        "amount": amount,
        "at": pd.to_datetime(rng.integers(1_600_000_000, 1_700_000_000, n), unit="s"),
    })
    duplicated = frame.assign(id=np.concatenate([frame["id"].to_numpy()[:-1], frame["id"].to_numpy()[:1]]))
    gate = [checks.unique("id")]

    def results() -> list:
        out = []
        for data in (frame, duplicated, frame.head(20_000)):
            profiled = profile(data, exact_distinct=wanted_exact(gate))
            prof = profiled.to_dict()
            gathered = OutputEvidence(256 * 2**20)
            gathered.add(data, prof, gate, profiled.distinct)
            out.append((prof, checks.evaluate(prof, gate, "orders", gathered.evidence()), profile(data).to_dict()))
        return out

    with_kernel = results()
    assert [r[1][0]["status"] for r in with_kernel] == ["pass", "fail", "pass"]
    monkeypatch.setattr(_native, "_sort", None)
    assert results() == with_kernel
