"""The C kernel that counts Arrow strings in place (ddtrack/profile/_strcount.c); that both
C kernels are built and can be switched off.

Its counts must equal Python's for every layout Arrow has (offsets of 32 and 64 bits,
string views inline and in data buffers), for sliced and chunked arrays, with nulls, and
for every key shape the kernel distinguishes (0-3, 4-7, 8-16 and longer byte strings).
Inconsistent buffers raise ValueError (and the profiler falls back to Arrow's kernels)
instead of reading outside them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections import Counter

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ddtrack.profile import _native, profile

kernel = pytest.mark.skipif(not _native.available(), reason="C kernel not built (no C compiler at install)")


def expected(values: list) -> tuple[dict, int]:
    """Counts of the non-null values in order of first occurrence, and the null count."""
    counts = Counter(v for v in values if v is not None)
    order = list(dict.fromkeys(v for v in values if v is not None))
    return {v: counts[v] for v in order}, sum(v is None for v in values)


def native(arr) -> tuple[dict, int]:
    counted = _native.string_counts(arr)
    assert counted is not None
    values, counts, nulls = counted
    assert len(values) == len(counts)
    return dict(zip(values.to_pylist(), counts.tolist(), strict=True)), nulls


def tricky_words() -> list[str]:
    """Strings of every length class the kernel keys differently, with shared prefixes and
    suffixes so that only the middle bytes tell them apart."""
    words = ["", "a", "ab", "aba", "abb", "bab", "abcd", "abce", "xbcd", "abcdefg", "abcdefh"]
    for n in range(8, 41):
        base = "p" * n
        words += [base, base[: n // 2] + "q" + base[n // 2 + 1 :], "q" + base[1:], base[:-1] + "q"]
    words += ["é", "é✓", "✓" * 6, "\x00", "\x00\x00", "a\x00b", "💡" * 5]
    return words


def sample(rows: int, seed: int, null_share: float = 0.05) -> list:
    rng = np.random.default_rng(seed)
    words = np.array(tricky_words(), dtype=object)
    values = words[rng.integers(0, words.size, rows)]
    values[rng.random(rows) < null_share] = None
    return values.tolist()


KERNELS = {
    "_strcount": ("available", "DDTRACK_STRING_KERNEL"),
    "_hll": ("hll_available", "DDTRACK_HLL_KERNEL"),
    "_sort": ("sort_available", "DDTRACK_SORT_KERNEL"),
}


@pytest.mark.parametrize("module", sorted(KERNELS))
def test_kernel_is_built_where_a_compiler_is(module):
    """Installing with a C compiler builds both C kernels (they are optional only for machines
    without one); a silent build failure would quietly slow every profile down."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not (shutil.which(compiler) or shutil.which("cc")):
        pytest.skip("no C compiler here")
    assert getattr(_native, KERNELS[module][0])()


@pytest.mark.parametrize("module", sorted(KERNELS))
def test_environment_variable_switches_the_kernel_off(module):
    check, variable = KERNELS[module]
    if not getattr(_native, check)():
        pytest.skip("C kernel not built (no C compiler at install)")
    code = f"from ddtrack.profile import _native; print(_native.{check}())"
    for value, expected in (("0", "False"), ("off", "False"), ("1", "True")):
        env = {**os.environ, variable: value}
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == expected, (variable, value)


LAYOUTS = ["string", "large_string", "string_view", "sliced", "chunked", "polars"]


@kernel
@pytest.mark.parametrize("layout", LAYOUTS)
def test_counts_equal_python_in_every_layout(layout):
    values = sample(30_000, seed=len(layout))
    if layout == "sliced":
        arr, values = pa.array(values, type=pa.string()).slice(13, 20_000), values[13:20_013]
    elif layout == "chunked":
        arr = pa.chunked_array([pa.array(values[:7_000]), pa.array(values[7_000:], type=pa.string()).slice(0)])
    elif layout == "polars":
        pl = pytest.importorskip("polars")
        arr = pl.Series(values, dtype=pl.String).to_arrow(compat_level=pl.CompatLevel.newest())
        assert _native.is_string_view(arr.type)
    elif layout == "string_view" and not hasattr(pa, "string_view"):
        pytest.skip("pyarrow without string_view")
    else:
        arr = pa.array(values, type=getattr(pa, layout)())
    assert native(arr) == expected(values)


@kernel
def test_views_spread_over_several_data_buffers():
    """Long strings in string views live in variadic data buffers; concatenating arrays
    keeps one buffer per source array."""
    pl = pytest.importorskip("polars")
    parts = [pl.Series([f"long string number {i % 97} of part {k}" for i in range(5_000)]) for k in range(3)]
    arr = pl.concat(parts, rechunk=False).to_arrow(compat_level=pl.CompatLevel.newest())
    values = [v for p in parts for v in p.to_list()]
    assert native(arr) == expected(values)


@kernel
def test_many_distinct_values_grow_the_table():
    values = [f"id-{i:07d}" if i % 3 else f"a longer identifier, number {i}" for i in range(300_000)]
    values += values[:1000]
    got, nulls = native(pa.array(values))
    assert nulls == 0 and len(got) == 300_000 and got == expected(values)[0]


@kernel
def test_all_null_and_empty_arrays():
    assert native(pa.array([None] * 10, type=pa.string())) == ({}, 10)
    assert native(pa.array([], type=pa.string())) == ({}, 0)
    assert native(pa.chunked_array([], type=pa.large_string())) == ({}, 0)
    assert native(pa.array([""] * 5)) == ({"": 5}, 0)


@kernel
def test_inconsistent_buffers_raise_instead_of_reading_outside():
    from ddtrack.profile import _strcount

    data = pa.py_buffer(b"abcdef")
    offsets = pa.py_buffer(np.array([0, 3, 60], dtype=np.int32).tobytes())  # 60: past the data
    with pytest.raises(ValueError, match="outside"):
        _strcount.count_offsets(offsets, data, None, 0, 2, False)
    with pytest.raises(ValueError, match="too short"):
        _strcount.count_offsets(offsets, data, None, 0, 5, False)
    with pytest.raises(ValueError, match="too short"):
        _strcount.count_offsets(offsets, data, b"", 0, 2, False)
    with pytest.raises(ValueError, match="out of range"):
        _strcount.count_offsets(offsets, data, None, -1, 1, False)
    view = np.zeros(4, dtype=np.int32)
    view[0], view[2], view[3] = 20, 0, 0  # 20 bytes in data buffer 0, which has 6
    with pytest.raises(ValueError, match="outside"):
        _strcount.count_views(view.tobytes(), [data], None, 0, 1)
    view[2] = 3  # no data buffer 3
    with pytest.raises(ValueError, match="outside"):
        _strcount.count_views(view.tobytes(), [data], None, 0, 1)
    # offsets going backwards pass Arrow's cheap validation (only its full one finds them)
    backwards = pa.py_buffer(np.array([0, 5, 3], dtype=np.int32).tobytes())
    broken = pa.Array.from_buffers(pa.string(), 2, [None, backwards, data])
    with pytest.raises(pa.ArrowInvalid):
        broken.validate(full=True)
    assert _native.string_counts(broken) is None  # the profiler then uses Arrow's kernels


@kernel
def test_profiles_with_and_without_the_kernel_are_identical(monkeypatch):
    values = sample(40_000, seed=5)
    tbl = pa.table({
        "s": pa.array(values), "l": pa.array(values, type=pa.large_string()),
        "c": pa.chunked_array([pa.array(values[:100]), pa.array(values[100:])]),
    })
    frame = pd.DataFrame({"o": pd.Series(values, dtype=object), "str": pd.Series(values, dtype="str")})
    with_kernel = [profile(x).to_dict() for x in (tbl, frame)]
    monkeypatch.setattr(_native, "_strcount", None)
    without = [profile(x).to_dict() for x in (tbl, frame)]
    assert with_kernel == without


@kernel
@settings(max_examples=80, deadline=None)
@given(
    st.lists(st.one_of(st.none(), st.text(max_size=24), st.sampled_from(tricky_words())), max_size=300),
    st.integers(0, 20),
    st.booleans(),
)
def test_random_strings_are_counted_exactly(values, start, wide):
    arr = pa.array(values, type=pa.large_string() if wide else pa.string()).slice(min(start, len(values)))
    assert native(arr) == expected(values[start:])
