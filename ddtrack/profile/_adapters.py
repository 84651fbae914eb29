"""Per-backend column access: pandas, pyarrow, polars (via Arrow, never via pandas) and numpy.

Each function turns one column into the non-null values the statistics in ``_columns``
work on, counting nulls on the way.  NaN counts as null in float columns of every backend
(pandas semantics), so the same data gives the same profile whatever the container.
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import numpy as np

from . import _columns as C
from ._jsonsafe import Cut, safe_str
from ._native import is_string_view


class ColumnError(Exception):
    """A column failed to profile in strict mode (the column's own exception is its cause)."""


def column_name(name: Any) -> str:
    """Column names as text: tuples (MultiIndex) joined with " / ", others via ``str``."""
    if isinstance(name, tuple):
        return " / ".join(safe_str(p) for p in name)
    return name if isinstance(name, str) else safe_str(name)


def profile_column(
    profile_fn: Any, name: str, position: int, dtype: str, pii: bool, cut: Cut, *args: Any
) -> dict[str, Any]:
    """Run one column's profiler; if it fails, record the failure as an error column.

    A column that cannot be profiled must not cost the user the whole profile, nor pass
    for a column of another kind: it gets kind "error" with the exception's type and
    message (and its counts, if they can still be had).  In strict mode it raises.
    """
    try:
        col = profile_fn(name, position, dtype, pii, cut, *args)
    except Exception as exc:
        if cut.strict:
            raise ColumnError(f"column {name!r} could not be profiled: {type(exc).__name__}: {exc}") from exc
        col = C.error_column(name, position, dtype, exc, _fallback_counts(args[0] if args else None), pii, cut)
    if pii:
        C.strip_pii(col)
    return col


def _fallback_counts(column: Any) -> tuple[int, int] | None:
    """(non-null, null) counts of a column whose profiling failed, if they can be had."""
    try:
        n = len(column)
        nc = getattr(column, "null_count", None)
        if nc is not None:  # Arrow: property; polars: method
            nulls = int(nc() if callable(nc) else nc)
        elif hasattr(column, "isna"):
            nulls = int(column.isna().sum())
        else:
            import pandas as pd

            nulls = int(np.count_nonzero(pd.isna(np.asarray(column, dtype=object))))
        return n - nulls, nulls
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------- pandas
def pandas_column(name: str, position: int, dtype: str, pii: bool, cut: Cut, s: Any) -> dict[str, Any]:
    """Profile one pandas Series (numpy, extension and Arrow-backed dtypes)."""
    import pandas as pd
    from pandas.api import types as pt

    dt = s.dtype
    n = len(s)
    if isinstance(dt, pd.CategoricalDtype):
        codes = np.asarray(s.cat.codes.to_numpy())
        valid = codes[codes >= 0]
        col = C.base_column(name, position, dtype, "categorical", valid.size, n - valid.size)
        return C.categorical_column(col, valid, list(dt.categories), bool(dt.ordered), pii, cut)
    if isinstance(dt, pd.ArrowDtype):
        return arrow_column(name, position, dtype, pii, cut, _arrow_of(s))
    if isinstance(dt, pd.StringDtype):
        return arrow_column(name, position, dtype, pii, cut, _arrow_of(s), "string")
    if pt.is_bool_dtype(dt):
        if isinstance(dt, np.dtype):
            vals = s.to_numpy()
        else:
            mask = s.isna().to_numpy()
            vals = s.to_numpy(dtype=bool, na_value=False)[~mask]
        col = C.base_column(name, position, dtype, "boolean", vals.size, n - vals.size)
        return C.bool_column(col, vals, pii)
    if isinstance(dt, pd.DatetimeTZDtype) or (isinstance(dt, np.dtype) and dt.kind == "M"):
        tz = None
        if isinstance(dt, pd.DatetimeTZDtype):
            tz = safe_str(dt.tz)
            s = s.dt.tz_convert(None)
        arr = s.to_numpy()
        unit = np.datetime_data(arr.dtype)[0]
        ticks = _drop_nat(arr.view(np.int64))
        col = C.base_column(name, position, dtype, "datetime", ticks.size, n - ticks.size)
        return C.datetime_column(col, ticks, unit, tz, pii)
    if isinstance(dt, np.dtype) and dt.kind == "m":
        arr = s.to_numpy()
        unit = np.datetime_data(arr.dtype)[0]
        ticks = _drop_nat(arr.view(np.int64))
        col = C.base_column(name, position, dtype, "timedelta", ticks.size, n - ticks.size)
        return C.numeric_column(col, ticks, is_int=False, pii=pii, scale=C._ns_per_unit(unit) / 1e9)
    if pt.is_numeric_dtype(dt) and not pt.is_complex_dtype(dt):
        is_int = pt.is_integer_dtype(dt)
        if isinstance(dt, np.dtype):
            vals = s.to_numpy()  # float NaN stays in: numeric_column counts it as null
        elif is_int:  # nullable Int64 / UInt8 / ...: mask from pandas
            mask = s.isna().to_numpy()
            vals = s.to_numpy(dtype=np.int64 if dt.kind == "i" else np.uint64, na_value=0)[~mask]
        else:  # nullable Float64: NA and NaN both null
            vals = s.to_numpy(dtype=np.float64, na_value=np.nan)
        col = C.base_column(name, position, dtype, "integer" if is_int else "float", vals.size, n - vals.size)
        # the Int64 path made a private copy (boolean indexing); Float64's to_numpy may be a view
        return C.numeric_column(
            col, vals, is_int=is_int, pii=pii, owned=is_int and not isinstance(dt, np.dtype), exact=name in cut.exact
        )
    if isinstance(dt, np.dtype) and dt.kind == "O":
        return object_values_column(name, position, dtype, pii, cut, s.to_numpy(), n)
    # interval, period, sparse, complex, ...: counts only
    nulls = int(s.isna().sum())
    return C.base_column(name, position, dtype, "other", n - nulls, nulls)


def _drop_nat(ticks: np.ndarray) -> np.ndarray:
    """int64 ticks without NaT; no copy when there is none (the common case)."""
    nat = ticks == np.iinfo(np.int64).min
    return ticks[~nat] if nat.any() else ticks


def _arrow_of(s: Any) -> Any:
    """The pyarrow array behind an Arrow-backed / string pandas Series (converted if needed)."""
    import pyarrow as pa

    arr = s.array
    if hasattr(arr, "__arrow_array__"):
        return arr.__arrow_array__()
    return pa.array(s.to_numpy(dtype=object), from_pandas=True)


def object_values_column(
    name: str, position: int, dtype: str, pii: bool, cut: Cut, values: np.ndarray, n: int
) -> dict[str, Any]:
    """Profile an object array: all strings -> string stats, all real numbers -> numeric,
    all bools -> boolean, else object.

    Distinct values and their counts come first (see :func:`_object_counts`); the type
    checks then only look at the distinct values.
    """
    import pandas as pd

    counted = _object_counts(values)
    if counted is None:  # unhashable cells (lists, dicts): count by repr
        mask = pd.isna(values)
        vals = values[~mask] if mask.any() else values
        col = C.base_column(name, position, dtype, "object", vals.size, n - vals.size)
        return C.object_column(col, vals, pii, cut)
    uniq, counts, nulls = counted
    inferred = pd.api.types.infer_dtype(uniq, skipna=False) if len(uniq) else "empty"
    if inferred == "string":
        col = C.base_column(name, position, dtype, "string", n - nulls, nulls)
        return C.string_column(col, np.asarray(uniq, dtype=object), counts, pii, cut)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal", "boolean"):
        vals = values[~pd.isna(values)] if nulls else values
        if inferred == "boolean":
            col = C.base_column(name, position, dtype, "boolean", vals.size, nulls)
            return C.bool_column(col, vals.astype(bool), pii)
        is_int = inferred == "integer"
        try:
            num = vals.astype(np.int64 if is_int else np.float64)
        except (TypeError, ValueError, OverflowError):
            num = None
        if num is not None:
            col = C.base_column(name, position, dtype, "integer" if is_int else "float", num.size, nulls)
            return C.numeric_column(col, num, is_int=is_int, pii=pii, exact=name in cut.exact)
    col = C.base_column(name, position, dtype, "object", n - nulls, nulls)
    return C.object_from_counts(col, list(uniq), counts, pii, cut)


def _object_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(distinct non-null values, their counts, null count) of an object array; None if unhashable.

    Values compare like pandas (Python equality: 1 == 1.0 == True; None/NaN/NaT/NA are null).
    Large arrays whose cells repeat the same few objects (strings from parquet, categories
    built from a list of labels) are first grouped by object identity, which hashes
    machine words instead of calling Python's hash and ``==`` per cell (~7x faster);
    only the distinct objects are then compared by value.
    """
    import pandas as pd

    by_identity = _identity_counts(values)
    if by_identity is not None:
        objs, obj_counts = by_identity
        try:
            vcodes, uniq = pd.factorize(objs)
        except (TypeError, ValueError):
            return None
        keep = vcodes >= 0
        counts = np.bincount(vcodes[keep], weights=obj_counts[keep], minlength=len(uniq)).astype(np.int64)
        return np.asarray(uniq, dtype=object), counts, int(obj_counts[~keep].sum())
    try:
        codes, uniq = pd.factorize(values)
    except (TypeError, ValueError):
        return None
    counts_all = np.bincount(codes + 1, minlength=len(uniq) + 1)
    return np.asarray(uniq, dtype=object), counts_all[1:], int(counts_all[0])


IDENTITY_MIN_ROWS = 8192
IDENTITY_MAX_DISTINCT = 20_000


def _identity_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(distinct objects by identity, counts) of a big object array, or None when not worth it.

    CPython object arrays store PyObject pointers; they are read as integers and counted
    (machine words hash fast), and each distinct pointer is turned back into its object by
    indexing the array at its first occurrence (``id`` checked, so a concurrently modified
    array falls back instead of misreading).  Falls back (None) for other interpreters, non-contiguous arrays and
    arrays with more than 20,000 distinct objects (checked first on the first 4,096 cells,
    so columns of per-cell objects lose almost nothing).
    """
    n = values.size
    if (
        n < IDENTITY_MIN_ROWS or values.ndim != 1 or values.dtype != object
        or not values.flags.c_contiguous or sys.implementation.name != "cpython"
        or ctypes.sizeof(ctypes.c_void_p) != 8
    ):
        return None
    import pandas as pd

    try:
        ptrs = np.ctypeslib.as_array((ctypes.c_uint64 * n).from_address(values.ctypes.data))
        if np.unique(ptrs[:4096]).size > 1024:  # cells are mostly distinct objects: not worth it
            return None
        vc = pd.Series(ptrs, copy=False).value_counts(sort=False)  # one hash pass, no codes array
        if len(vc) > IDENTITY_MAX_DISTINCT:
            return None
        counts = vc.to_numpy(dtype=np.int64)
        keys = vc.index.to_numpy(dtype=np.uint64).tolist()
        first = _first_positions(ptrs, set(keys))
        objs = np.empty(len(keys), dtype=object)
        for i, p in enumerate(keys):
            obj = values[first[p]]  # an owned reference: raw pointers are never dereferenced
            if id(obj) != p:  # the array changed while we read it
                return None
            objs[i] = obj
    except Exception:  # noqa: BLE001 - any surprise: use the plain path
        return None
    return objs, counts


def _first_positions(ptrs: np.ndarray, wanted: set[int]) -> dict[int, int]:
    """Position of the first occurrence of each wanted pointer, scanning in chunks and
    stopping once all are found (usually within the first chunk)."""
    found: dict[int, int] = {}
    step = 8192
    for start in range(0, ptrs.size, step):
        uniq, idx = np.unique(ptrs[start : start + step], return_index=True)
        for p, i in zip(uniq.tolist(), idx.tolist(), strict=True):
            if p not in found and p in wanted:
                found[p] = start + i
        if len(found) == len(wanted):
            break
    return found


# ---------------------------------------------------------------- pyarrow
def arrow_column(
    name: str, position: int, dtype: str, pii: bool, cut: Cut, arr: Any, force_kind: str | None = None
) -> dict[str, Any]:
    """Profile one pyarrow Array / ChunkedArray natively (Arrow compute + zero-copy numpy)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    n = len(arr)
    if pa.types.is_dictionary(t) and cut.encoded_strings and _is_text(t.value_type):
        values, counts, nulls = _dictionary_counts(arr)
        col = C.base_column(name, position, str(t.value_type), force_kind or "string", n - nulls, nulls)
        return C.string_column(col, values, counts, pii, cut)
    if pa.types.is_dictionary(t):
        if isinstance(arr, pa.ChunkedArray):
            arr = arr.unify_dictionaries() if arr.num_chunks > 1 else arr
            arr = arr.combine_chunks() if arr.num_chunks != 1 else arr.chunk(0)
        nonnull = arr.drop_null()
        codes = nonnull.indices.to_numpy(zero_copy_only=False)
        col = C.base_column(name, position, dtype, "categorical", len(nonnull), n - len(nonnull))
        cats = arr.dictionary.to_pylist()
        return C.categorical_column(col, codes, cats, bool(t.ordered), pii, cut)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or is_string_view(t):
        values, counts, nulls = C.arrow_value_counts(arr)
        col = C.base_column(name, position, dtype, force_kind or "string", n - nulls, nulls)
        return C.string_column(col, values, counts, pii, cut)
    if pa.types.is_boolean(t):
        nonnull = n - arr.null_count
        trues = int(pc.sum(arr).as_py() or 0)  # counts True, skipping nulls; no bit unpacking
        col = C.base_column(name, position, dtype, "boolean", nonnull, n - nonnull)
        return C.bool_column(col, None, pii, counts=(nonnull, trues))
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t):
        is_int = pa.types.is_integer(t)
        if pa.types.is_decimal(t) or pa.types.is_float16(t):
            arr = arr.cast(pa.float64())
        in_place = None if is_int or not arr.null_count else _float_data_in_place(arr)
        if in_place is not None:  # big float column with nulls: read it where it is, skip the null slots
            col = C.base_column(name, position, dtype, "float", n - arr.null_count, arr.null_count)
            return C.numeric_column(col, in_place[0], is_int=False, pii=pii, valid=in_place[1], exact=name in cut.exact)
        # floats: nulls become NaN (a cheaper copy than drop_null), which numeric_column counts as nulls
        vals = _np(pc.drop_null(arr)) if is_int and arr.null_count else _np(arr)
        col = C.base_column(name, position, dtype, "integer" if is_int else "float", vals.size, n - vals.size)
        return C.numeric_column(col, vals, is_int=is_int, pii=pii, owned=bool(arr.null_count), exact=name in cut.exact)
    if pa.types.is_timestamp(t) or pa.types.is_date(t):
        nonnull = pc.drop_null(arr) if arr.null_count else arr
        if pa.types.is_timestamp(t):
            unit, tz = t.unit, t.tz
            ticks = _np(nonnull.cast(pa.int64()))
        elif pa.types.is_date32(t):
            unit, tz = "D", None
            ticks = _np(nonnull.cast(pa.int32())).astype(np.int64)
        else:
            unit, tz = "ms", None
            ticks = _np(nonnull.cast(pa.int64()))
        col = C.base_column(name, position, dtype, "datetime", ticks.size, n - ticks.size)
        return C.datetime_column(col, ticks, unit, tz, pii)
    if pa.types.is_duration(t):
        ticks = _np(pc.drop_null(arr).cast(pa.int64()))
        col = C.base_column(name, position, dtype, "timedelta", ticks.size, n - ticks.size)
        return C.numeric_column(col, ticks, is_int=False, pii=pii, scale=C._ns_per_unit(t.unit) / 1e9)
    if pa.types.is_null(t):
        return C.base_column(name, position, dtype, "other", 0, n)
    # nested, binary, time, ...: Python objects
    nulls = arr.null_count
    values = pc.drop_null(arr).to_pylist()
    col = C.base_column(name, position, dtype, "object", len(values), nulls)
    return C.object_column(col, values, pii, cut)


def _is_text(t: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(t) or pa.types.is_large_string(t) or is_string_view(t)


def _dictionary_counts(arr: Any) -> tuple[Any, np.ndarray, int]:
    """(distinct non-null values, their counts, null count) of a dictionary-encoded string
    Array or ChunkedArray, counted on the codes: one ``bincount`` per chunk, added up while
    chunks share one dictionary (batches of one Parquet row group do), and the different
    small dictionaries then merged by value.  Dictionary entries no row uses are left out."""
    import pyarrow as pa

    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    nulls = 0
    raw: list[Any] = []  # each distinct run of dictionaries, as stored
    counts: list[np.ndarray] = []
    for chunk in chunks:
        codes = chunk.indices.drop_null() if chunk.indices.null_count else chunk.indices
        n = np.bincount(np.asarray(codes.to_numpy(zero_copy_only=False)), minlength=len(chunk.dictionary))
        nulls += chunk.indices.null_count
        dictionary = chunk.dictionary
        if dictionary.null_count:  # a null entry in the dictionary: its rows are nulls too
            valid = np.asarray(dictionary.is_valid().to_numpy(zero_copy_only=False))
            nulls += int(n[~valid].sum())
            n = np.where(valid, n, 0)
        if raw and dictionary.equals(raw[-1]):
            counts[-1] += n
            continue
        raw.append(dictionary)
        counts.append(n.astype(np.int64, copy=True))
    dictionaries = [d.cast(pa.large_string()) for d in raw]
    if not dictionaries:  # a chunked array of no chunks
        return pa.array([], pa.large_string()), np.zeros(0, np.int64), nulls
    if len(dictionaries) == 1:
        values, n = dictionaries[0], counts[0]
    else:
        merged = pa.table({"v": pa.concat_arrays(dictionaries), "n": np.concatenate(counts)}).group_by("v").aggregate(
            [("n", "sum")])
        values, n = merged.column("v").combine_chunks(), np.asarray(merged.column("n_sum").to_numpy())
    used = n > 0
    if not used.all():
        values, n = values.filter(pa.array(used)), n[used]
    return values, n, nulls


def _float_data_in_place(arr: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """(values, non-null mask) of a large one-chunk float64/float32 Arrow array, the values
    viewed in Arrow's own buffer (null slots hold whatever was there), or None."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks != 1:
            return None
        arr = arr.chunk(0)
    if len(arr) < C.SELECT_MIN_ROWS or not (pa.types.is_float64(arr.type) or pa.types.is_float32(arr.type)):
        return None
    validity, data = arr.buffers()[:2]
    if validity is None or data is None:
        return None
    dtype = np.float64 if pa.types.is_float64(arr.type) else np.float32
    values = np.frombuffer(data, dtype=dtype)[arr.offset : arr.offset + len(arr)]
    bits = np.unpackbits(np.frombuffer(validity, dtype=np.uint8), bitorder="little")
    return values, bits[arr.offset : arr.offset + len(arr)].view(bool)


def _np(arr: Any) -> np.ndarray:
    """numpy view/copy of a null-free Arrow array or chunked array."""
    import pyarrow as pa

    if isinstance(arr, pa.ChunkedArray):
        if arr.num_chunks == 1:
            return arr.chunk(0).to_numpy(zero_copy_only=False)
        return arr.to_numpy()
    return arr.to_numpy(zero_copy_only=False)


# ---------------------------------------------------------------- numpy
def numpy_column(name: str, position: int, dtype: str, pii: bool, cut: Cut, a: np.ndarray) -> dict[str, Any]:
    """Profile a 1-D numpy array."""
    n = a.size
    k = a.dtype.kind
    if k == "b":
        col = C.base_column(name, position, dtype, "boolean", n, 0)
        return C.bool_column(col, a, pii)
    if k in "iu":
        col = C.base_column(name, position, dtype, "integer", n, 0)
        return C.numeric_column(col, a, is_int=True, pii=pii, exact=name in cut.exact)
    if k == "f":
        col = C.base_column(name, position, dtype, "float", n, 0)
        return C.numeric_column(col, a, is_int=False, pii=pii, exact=name in cut.exact)
    if k in "Mm":
        unit = np.datetime_data(a.dtype)[0]
        ticks = _drop_nat(a.view(np.int64))
        if k == "M":
            col = C.base_column(name, position, dtype, "datetime", ticks.size, n - ticks.size)
            return C.datetime_column(col, ticks, unit, None, pii)
        col = C.base_column(name, position, dtype, "timedelta", ticks.size, n - ticks.size)
        return C.numeric_column(col, ticks, is_int=False, pii=pii, scale=C._ns_per_unit(unit) / 1e9)
    if k == "U":
        import pyarrow as pa

        values, counts, _ = C.arrow_value_counts(pa.array(a.tolist(), type=pa.large_string()))
        col = C.base_column(name, position, dtype, "string", n, 0)
        return C.string_column(col, values, counts, pii, cut)
    if k == "O":
        return object_values_column(name, position, dtype, pii, cut, a, n)
    col = C.base_column(name, position, dtype, "object", n, 0)
    return C.object_column(col, a.tolist(), pii, cut)
