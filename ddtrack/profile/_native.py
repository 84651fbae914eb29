"""The profiler's optional C kernels: exact string counts (``_strcount.c``), the
HyperLogLog registers of numeric columns (``_hll.c``) and a radix sort of numeric columns
(``_sort.c``).

Each is built at install where a C compiler is, and can be switched off by an environment
variable; without it the profiler computes the same results with Arrow or numpy.

The string kernel reads an Arrow string column in its own buffers (no copy, the GIL released)
and counts each distinct string, about twice as fast as Arrow's hash kernels on short
strings.  Every function here returns None when the kernel is not built (no C compiler at
install) or the array is not a string layout it knows; callers then use Arrow's kernels.
"""

from __future__ import annotations

import importlib
import threading
import time
from typing import Any

import numpy as np

from ddtrack import conf


def _kernel(name: str, switched_on: bool) -> Any:
    """The C kernel module ``name``, or None when its switch is off (DDTRACK_STRING_KERNEL=0,
    DDTRACK_HLL_KERNEL=0, DDTRACK_SORT_KERNEL=0: escape hatches for native code, read by
    conf.py from the environment, never from Airflow) or it was not built (no C compiler)."""
    if not switched_on:
        return None
    try:
        return importlib.import_module(f"{__package__}.{name}")
    except ImportError:
        return None


_strcount = _kernel("_strcount", conf.string_kernel())
_hll = _kernel("_hll", conf.hll_kernel())
_sort = _kernel("_sort", conf.sort_kernel())

HLL_FLOAT64, HLL_INT64_AS_NUMBER, HLL_INT64_SCALED = 0, 1, 2
SORT_FLOAT64, SORT_INT64 = 0, 1
SORT_KINDS = {"f": SORT_FLOAT64, "i": SORT_INT64}  # the kernel's kind of each 8-byte dtype kind
RADIX_MIN = 2048  # below, numpy's sort is as fast (the kernel's fixed cost: 7 passes' counters)
CHOICE_SAMPLE = 1 << 15  # values per timed sort when choosing the sort: a quarter of a streamed profile's chunk
_radix_faster: bool | None = None  # which sort is faster here: measured on first use
_choice_lock = threading.Lock()


def available() -> bool:
    """Whether the C kernel is built and switched on."""
    return _strcount is not None


def hll_available() -> bool:
    """Whether the HyperLogLog kernel is built and switched on."""
    return _hll is not None


def hll_update(registers: np.ndarray, values: np.ndarray, scale: int | None = None) -> bool:
    """Add the hashes of ``values`` to ``registers`` (uint8[4096]) in place, as
    ``_sketch.hash_numbers`` (``scale`` None) or ``_sketch.hash_int64(values, scale)``
    would hash them; False (nothing done) when the kernel is not built or switched off."""
    if _hll is None:
        return False
    if scale is not None:
        words, kind = np.ascontiguousarray(values, dtype=np.int64), HLL_INT64_SCALED
    elif values.dtype.kind in "iub" and values.dtype != np.uint64:
        words, kind = np.ascontiguousarray(values, dtype=np.int64), HLL_INT64_AS_NUMBER
    else:
        words, kind = np.ascontiguousarray(values, dtype=np.float64), HLL_FLOAT64
    if words.size:
        _hll.update(words, kind, int(scale or 1), registers)
    return True


def sort_available() -> bool:
    """Whether the radix sort kernel is built and switched on."""
    return _sort is not None


def sorted_numbers(values: np.ndarray, owned: bool = False) -> np.ndarray:
    """``values`` (1-D) sorted in numpy's order (NaN last), by the radix kernel for int64 and
    float64 where it sorts faster than numpy on this CPU, by numpy otherwise.  ``owned``:
    ``values`` is a private array that may be sorted in place; otherwise the sorted values
    are a new array and ``values`` is never reordered."""
    kind = SORT_KINDS.get(values.dtype.kind) if values.dtype.itemsize == 8 and values.ndim == 1 else None
    if _sort is None or kind is None or values.size < RADIX_MIN or not radix_sorts_faster():
        if owned and values.flags.writeable:
            values.sort()
            return values
        return np.sort(values)
    if owned and values.flags.writeable and values.flags.c_contiguous and values.dtype.isnative:
        out = values
    else:  # read strided or byte-swapped data through a contiguous copy; sort into a new array
        values = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))
        out = np.empty_like(values)
    _sort.sort(values, out, kind)
    return out


def radix_sorts_faster() -> bool:
    """Whether the radix kernel sorts faster than numpy here, measured once per process.

    numpy's sort is fast only where its SIMD sort is dispatched: on an AMD Zen 4 numpy 2.4
    sorts a million random int64 in 52 ms, the kernel in 8-17 ms; where numpy's SIMD sort
    runs it may well be the faster.  So the first large sort times both on 32,768 int64 and
    float64 values, best of two (about 7 ms in all, once), and every later sort of the
    process uses the faster one.  The order is the same either way.
    """
    global _radix_faster
    if _radix_faster is None:
        with _choice_lock:
            if _radix_faster is None:
                _radix_faster = _sort is not None and _radix_beats_numpy()
    return _radix_faster


def _radix_beats_numpy() -> bool:
    samples = _choice_samples()
    return _radix_time(samples) < _numpy_time(samples)


def _choice_samples() -> list[np.ndarray]:
    """Shuffled-looking int64 over the whole range, and floats from their bits (cheap to make:
    a random generator's first call costs more than the sorts)."""
    words = np.arange(1, CHOICE_SAMPLE + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)  # wraps
    floats = ((words >> np.uint64(12)) | np.uint64(0x4130000000000000)).view(np.float64)  # [2**20, 2**21)
    return [words.view(np.int64), floats]


def _best_of_two(sort_once: Any) -> float:
    times = []
    for _ in range(2):
        start = time.perf_counter()
        sort_once()
        times.append(time.perf_counter() - start)
    return min(times)


def _numpy_time(samples: list[np.ndarray]) -> float:
    return sum(_best_of_two(lambda s=s: np.sort(s)) for s in samples)


def _radix_time(samples: list[np.ndarray]) -> float:
    total = 0.0
    for s in samples:
        out, kind = np.empty_like(s), SORT_KINDS[s.dtype.kind]
        total += _best_of_two(lambda s=s, out=out, kind=kind: _sort.sort(s, out, kind))
    return total


def string_counts(arr: Any) -> tuple[Any, np.ndarray, int] | None:
    """(distinct non-null strings as an Arrow large_string array, their counts, null count)
    of an Arrow string / large_string / string_view Array or ChunkedArray, in order of
    first occurrence; None when the kernel cannot count it."""
    import pyarrow as pa

    if _strcount is None:
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    try:
        parts = [_count_chunk(c) for c in chunks if len(c)]
    except ValueError:  # buffers the kernel finds inconsistent: let Arrow deal with them
        return None
    if any(p is None for p in parts):
        return None
    nulls = sum(p[2] for p in parts)
    if not parts:
        return pa.array([], type=pa.large_string()), np.zeros(0, dtype=np.int64), 0
    if len(parts) == 1:
        return parts[0][0], parts[0][1], nulls
    return (*_merge_parts(parts), nulls)


def _count_chunk(chunk: Any) -> tuple[Any, np.ndarray, int] | None:
    """Counts of one Arrow string array by the kernel, or None for other layouts."""
    import pyarrow as pa

    t = chunk.type
    buffers = chunk.buffers()
    data = [b if b is not None else b"" for b in buffers[2:]]
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        counted = _strcount.count_offsets(
            buffers[1], data[0], buffers[0], chunk.offset, len(chunk), pa.types.is_large_string(t)
        )
    elif is_string_view(t):
        counted = _strcount.count_views(buffers[1], data, buffers[0], chunk.offset, len(chunk))
    else:
        return None
    offsets, text, counts, nulls = counted
    counts = np.frombuffer(counts, dtype=np.int64)
    values = pa.Array.from_buffers(pa.large_string(), len(counts), [None, pa.py_buffer(offsets), pa.py_buffer(text)])
    return values, counts, nulls


def is_string_view(t: Any) -> bool:
    """Whether an Arrow type is string_view (pyarrow >= 16)."""
    import pyarrow as pa

    return bool(getattr(pa.types, "is_string_view", lambda _: False)(t))


def _merge_parts(parts: list[tuple[Any, np.ndarray, int]]) -> tuple[Any, np.ndarray]:
    """Add up the per-chunk counts of the same strings (the distinct values are few
    compared with the rows, so Arrow's dictionary encoding of them is cheap)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    values = pa.chunked_array([p[0] for p in parts]).combine_chunks()
    codes = pc.dictionary_encode(values)
    weights = np.concatenate([p[1] for p in parts])
    indices = codes.indices.to_numpy(zero_copy_only=False)
    counts = np.bincount(indices, weights=weights, minlength=len(codes.dictionary)).astype(np.int64)
    return codes.dictionary, counts
