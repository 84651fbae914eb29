"""The C kernel that builds HyperLogLog registers of numeric columns (ddtrack/profile/_hll.c).

Its registers must be those of the numpy path bit for bit (profiles built with and without
it merge, and stored sketches stay comparable): for floats (with -0.0, infinities and
subnormals), integers of every width (beyond 2**53 too, where they round as float64 does),
booleans, datetime ticks times a scale that overflows, sliced and strided arrays.  That it
is built, and its switch, are tested with the string kernel's (test_string_kernel.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from ddtrack.profile import _native, _sketch, profile

kernel = pytest.mark.skipif(not _native.hll_available(), reason="C kernel not built (no C compiler at install)")


def numpy_registers(values: np.ndarray, scale: int | None = None) -> np.ndarray:
    hashes = _sketch.hash_numbers(values) if scale is None else _sketch.hash_int64(values, scale)
    return _sketch._scatter_max(hashes)


def kernel_registers(values: np.ndarray, scale: int | None = None) -> np.ndarray:
    reg = np.zeros(_sketch.HLL_M, dtype=np.uint8)
    assert _native.hll_update(reg, values, scale=scale)
    return reg


def edge_floats() -> np.ndarray:
    rng = np.random.default_rng(3)
    special = [0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, 5e-324, -5e-324, 2.0**53 + 2, 1e308, -1e308]
    return np.concatenate([np.array(special), rng.normal(0, 1e6, 300_000), rng.integers(0, 50, 10_000) * 1.0])


@kernel
@pytest.mark.parametrize(
    "values",
    [
        edge_floats(),
        np.random.default_rng(1).normal(size=100_000).astype(np.float32),
        np.arange(-70_000, 70_000, dtype=np.int64) * 1_000_003,
        np.array([2**63 - 1, -(2**63), 2**53 + 1, 2**53, 0, -1], dtype=np.int64),
        np.arange(0, 2**64 - 1, 2**50, dtype=np.uint64),
        np.random.default_rng(2).integers(0, 200, 50_000).astype(np.int8),
        np.random.default_rng(2).integers(0, 60_000, 50_000).astype(np.uint16),
        np.array([True, False, True]),
        edge_floats()[1::3],  # strided
        np.zeros(0),
    ],
    ids=["float64", "float32", "int64", "int64-extremes", "uint64", "int8", "uint16", "bool", "strided", "empty"],
)
def test_registers_equal_numpy_for_numbers(values):
    assert np.array_equal(kernel_registers(values), numpy_registers(values))


@kernel
@pytest.mark.parametrize("scale", [1, 1000, 10**9, 2**40 + 7])
def test_registers_equal_numpy_for_scaled_ticks(scale):
    rng = np.random.default_rng(scale % 97)
    ticks = np.concatenate([rng.integers(-(2**62), 2**62, 100_000), [0, 2**63 - 1, -(2**63)]]).astype(np.int64)
    assert np.array_equal(kernel_registers(ticks, scale), numpy_registers(ticks, scale))
    stamps = ticks[:1000].astype("datetime64[us]")
    assert np.array_equal(kernel_registers(stamps, scale), numpy_registers(ticks[:1000], scale))


@kernel
@settings(max_examples=60, deadline=None)
@given(hnp.arrays(np.float64, st.integers(0, 2000), elements=st.floats(allow_nan=False)))
def test_registers_equal_numpy_for_any_floats(values):
    assert np.array_equal(kernel_registers(values), numpy_registers(values))


@kernel
def test_updates_add_up_to_the_registers_of_the_whole():
    values = np.random.default_rng(9).lognormal(3, 2, 200_000)
    reg = np.zeros(_sketch.HLL_M, dtype=np.uint8)
    for part in np.array_split(values, 7):
        _native.hll_update(reg, part)
    assert np.array_equal(reg, numpy_registers(values))


@kernel
def test_bad_buffers_are_refused_not_read():
    from ddtrack.profile import _hll

    reg = np.zeros(_sketch.HLL_M, dtype=np.uint8)
    with pytest.raises(ValueError, match="8-byte words"):
        _hll.update(b"1234567", 0, 1, reg)
    with pytest.raises(ValueError, match="4096 bytes"):
        _hll.update(np.zeros(4), 0, 1, np.zeros(100, dtype=np.uint8))
    with pytest.raises(ValueError, match="kind"):
        _hll.update(np.zeros(4), 3, 1, reg)
    with pytest.raises(TypeError):
        _hll.update(np.zeros(4), 0, 1, bytes(4096))  # registers must be writable


@kernel
def test_profiles_with_and_without_the_kernel_are_identical(monkeypatch):
    rng = np.random.default_rng(11)
    n = 400_000  # past the profiler's unsorted path, and past the numpy path's chunking
    frame = pd.DataFrame({
        "ids": rng.integers(0, 2**40, n),
        "amount": rng.lognormal(3, 1, n),
        "small": rng.integers(0, 30, n),
        "at": pd.to_datetime(rng.integers(1_600_000_000, 1_700_000_000, n), unit="s"),
    })
    tables = [frame, pa.Table.from_pandas(frame), frame.head(5000)]
    with_kernel = [profile(t).to_dict() for t in tables]
    monkeypatch.setattr(_native, "_hll", None)
    without = [profile(t).to_dict() for t in tables]
    assert with_kernel == without
