"""Exact string counts through the optional C kernel ``_strcount`` (see ``_strcount.c``).

The kernel reads an Arrow string column in its own buffers (no copy, the GIL released)
and counts each distinct string, about twice as fast as Arrow's hash kernels on short
strings.  Every function here returns None when the kernel is not built (no C compiler at
install) or the array is not a string layout it knows; callers then use Arrow's kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ddtrack import conf

# DDTRACK_STRING_KERNEL=0 switches the kernel off (Arrow's kernels count instead): an
# escape hatch for native code (conf.py reads it from the environment, never from Airflow).
if not conf.string_kernel():
    _strcount = None
else:
    try:
        from . import _strcount
    except ImportError:  # installed without a C compiler
        _strcount = None


def available() -> bool:
    """Whether the C kernel is built and switched on."""
    return _strcount is not None


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
