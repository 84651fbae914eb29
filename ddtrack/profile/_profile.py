"""``profile()``: dispatch on the object's type and assemble the version-1 profile dict."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import numpy as np

from . import _adapters as A
from . import _native
from ._jsonsafe import Cut, json_value, safe_repr

FORMAT = 1
REPR_LIMIT = 200
# Columns are profiled on a few threads once a frame is big enough for it to pay off:
# sorting, hashing and Arrow kernels release the GIL, so two cores nearly halve the time.
PARALLEL_MIN_CELLS = 2_000_000
MAX_THREADS = 4


class Profile:
    """The result of :func:`profile`; ``to_dict()`` gives the JSON-able version-1 dict."""

    __slots__ = ("_data", "_json", "distinct")

    def __init__(self, data: dict[str, Any], text: str | None = None, distinct: dict[str, Any] | None = None) -> None:
        self._data = data
        self._json = text
        # Distinct values of the string columns asked for with ``keep_distinct`` (a numpy
        # array of str each); held in memory, never part of the dict.
        self.distinct: dict[str, Any] = distinct or {}

    def to_dict(self) -> dict[str, Any]:
        """The profile as a plain JSON-able dict (a fresh copy each call)."""
        if self._json is None:
            self._json = json.dumps(self._data, allow_nan=False)
        return json.loads(self._json)

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    @property
    def kind(self) -> str:
        """The input kind ("pandas", "polars", ...)."""
        return self._data["kind"]

    def __repr__(self) -> str:
        d = self._data
        return f"<Profile kind={d['kind']} type={d['type']} rows={d['rows']} n_columns={d['n_columns']}>"


def type_name(obj: Any) -> str:
    """``module.QualName`` of the object's type, with pandas/polars/pyarrow shortened to the top package."""
    t = type(obj)
    mod = getattr(t, "__module__", "") or ""
    top = mod.split(".")[0]
    if top in ("pandas", "polars", "pyarrow", "numpy"):
        mod = top
    if mod == "builtins":
        return t.__qualname__
    return f"{mod}.{t.__qualname__}"


def fingerprint(schema: Sequence[dict[str, str]]) -> str:
    """First 16 hex chars of sha256 over the ordered (name, dtype) list."""
    text = json.dumps([[c["name"], c["dtype"]] for c in schema], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def empty_profile(kind: str, type_: str) -> dict[str, Any]:
    """A profile dict with nothing measured yet."""
    return {
        "format": FORMAT,
        "kind": kind,
        "type": type_,
        "rows": None,
        "n_columns": None,
        "memory_bytes": None,
        "schema": [],
        "schema_fingerprint": None,
        "columns": [],
        "repr": None,
        "sample": None,
        "pii": [],
        "truncated": False,
    }


def profile(
    obj: Any,
    *,
    pii: Iterable[str] = (),
    sample: int = 0,
    strict: bool = False,
    keep_distinct: Iterable[str] = (),
    exact_distinct: Iterable[str] = (),
    encoded_strings: bool = False,
) -> Profile:
    """Profile ``obj``.  Unknown objects give kind "other" (type and repr); a column that
    fails to profile becomes a column of kind "error" carrying the exception's text.

    ``pii``: column names whose values must not appear anywhere in the profile.
    ``sample``: number of leading rows to include (PII columns left out).
    ``strict``: raise instead (a failing column raises ``ColumnError``); otherwise
    this never raises, since profiling runs inside the user's task.
    ``keep_distinct``: string columns whose distinct values the caller needs (a data
    check): the profiler counts them anyway, so ``Profile.distinct[name]`` hands them
    over instead of the caller hashing the column again.
    ``exact_distinct``: numeric columns whose distinct count must be exact, never the
    HyperLogLog estimate of a large column (a ``unique`` check is then decided by the
    profile, without sorting the column a second time).
    ``encoded_strings``: Arrow dictionary arrays of strings are how the data was stored (a
    Parquet column read with its dictionary), so they are profiled as the string columns they
    encode, counted on their codes; otherwise such an array is a categorical.
    """
    try:
        pii_set = {str(p) for p in (pii or ())}
    except Exception:  # noqa: BLE001
        pii_set = set()
    try:
        n_sample = max(0, int(sample or 0))
    except Exception:  # noqa: BLE001
        n_sample = 0
    cut = Cut(
        strict=strict,
        keep=frozenset(str(k) for k in keep_distinct),
        exact=frozenset(str(k) for k in exact_distinct),
        encoded_strings=encoded_strings,
    )
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a wide frame creates ~100 small dicts per column; GC passes would dominate
    try:
        with np.errstate(all="ignore"):  # inf/NaN arithmetic is expected; no warnings in user tasks
            data = _profile(obj, pii_set, n_sample, cut)
    except Exception:  # noqa: BLE001 - profiling must never break the user's task
        if strict:
            raise
        data = _other(obj, Cut())
    finally:
        if gc_was_enabled:
            gc.enable()
    data["pii"] = sorted(pii_set)
    try:
        text = json.dumps(data, allow_nan=False)
    except Exception:  # noqa: BLE001 - last line of defence: never hand out an unserialisable dict
        if strict:
            raise
        data = _other(obj, Cut())
        data["pii"] = sorted(pii_set)
        text = None
    return Profile(data, text, cut.kept if text is not None else None)


def _other(obj: Any, cut: Cut) -> dict[str, Any]:
    """Profile of an object we do not understand: its type and repr."""
    try:
        tname = type_name(obj)
    except Exception:  # noqa: BLE001
        tname = "object"
    d = empty_profile("other", tname)
    d["repr"] = cut.text(safe_repr(obj), REPR_LIMIT)
    d["truncated"] = cut.any
    return d


def _profile(obj: Any, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any]:
    """Dispatch on the object's type (pandas/polars/pyarrow checked without importing them)."""
    if obj is None:
        return empty_profile("none", "NoneType")
    mod = (getattr(type(obj), "__module__", "") or "").split(".")[0]
    if mod == "pandas":
        d = _pandas(obj, pii, n_sample, cut)
    elif mod == "polars":
        d = _polars(obj, pii, n_sample, cut)
    elif mod == "pyarrow":
        d = _pyarrow(obj, pii, n_sample, cut)
    elif isinstance(obj, np.ndarray):
        d = _numpy(obj, pii, n_sample, cut)
    elif isinstance(obj, dict):
        d = _dict(obj, pii, n_sample, cut)
    elif isinstance(obj, list | tuple):
        d = _list(obj, pii, n_sample, cut)
    else:
        d = None
    if d is None and _is_scalar(obj):  # also pandas' Timestamp/Timedelta, numpy scalars
        d = empty_profile("scalar", type_name(obj))
        d["repr"] = cut.text(safe_repr(obj), REPR_LIMIT)
    if d is None:
        return _other(obj, cut)
    d["truncated"] = bool(d.get("truncated")) or cut.any
    return d


def _is_scalar(obj: Any) -> bool:
    """Plain values: numbers, text, bytes, dates, numpy scalars."""
    import datetime
    import decimal

    return isinstance(
        obj,
        bool | int | float | complex | str | bytes | decimal.Decimal | np.generic
        | datetime.date | datetime.time | datetime.timedelta,
    )


def _finish_frame(
    d: dict[str, Any], columns: list[dict[str, Any]], rows: int, memory: int | None
) -> dict[str, Any]:
    """Fill the frame-level fields from the column profiles."""
    d["rows"] = int(rows)
    d["n_columns"] = len(columns)
    d["memory_bytes"] = None if memory is None else int(memory)
    d["schema"] = [{"name": c["name"], "dtype": c["dtype"]} for c in columns]
    d["schema_fingerprint"] = fingerprint(d["schema"])
    d["columns"] = columns
    return d


def thread_budget() -> int:
    """Threads worth using: cores available to us that other work is not already using.

    Profiling runs inside a user's task, often next to other tasks on the same worker;
    extra threads on cores that are already busy only slow everyone down.  Busy cores are
    the 1-minute load average minus this process's own recent CPU use: without that
    correction, a process that has just profiled on two cores would see the load it made
    itself and drop to one thread.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        load = 0.0
    others = max(0.0, load - _own_recent_cores())
    free = int(round(cpus - others))
    return max(1, min(MAX_THREADS, cpus, free))


_cpu_samples: deque[tuple[float, float]] = deque(maxlen=256)
_cpu_lock = threading.Lock()


def _own_recent_cores() -> float:
    """Cores this process used on average over (up to) the last minute, the load
    average's window; 1.0 (this very thread) when there is no earlier sample yet."""
    now, cpu = time.monotonic(), time.process_time()
    with _cpu_lock:
        while _cpu_samples and now - _cpu_samples[0][0] > 60:
            _cpu_samples.popleft()
        oldest = _cpu_samples[0] if _cpu_samples else None
        _cpu_samples.append((now, cpu))
    if oldest is None or now - oldest[0] < 1.0:
        return 1.0
    return max(1.0, (cpu - oldest[1]) / (now - oldest[0]))


def run_columns(tasks: list[Callable[[], dict[str, Any]]], first: list[bool], cells: int) -> list[dict[str, Any]]:
    """Run per-column profiling tasks, in parallel threads for large frames.

    ``first`` marks tasks to start early (object columns: they hold the GIL while hashing
    Python objects, so they should overlap with numeric columns, not queue at the end).
    Results keep the column order.
    """
    workers = min(thread_budget(), len(tasks))
    if cells < PARALLEL_MIN_CELLS or workers < 2:
        return [task() for task in tasks]
    order = sorted(range(len(tasks)), key=lambda i: not first[i])
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ddtrack-profile") as pool:
        futures = {i: pool.submit(tasks[i]) for i in order}
        return [futures[i].result() for i in range(len(tasks))]


def _sample_rows(
    names: list[str], getters: list[Any], n: int, pii: set[str], cut: Cut
) -> list[dict[str, Any]]:
    """Rows as {column: JSON-safe value}; ``getters[i]`` returns the first n values of column i."""
    keep = [(nm, g) for nm, g in zip(names, getters, strict=True) if nm not in pii]
    cols = [(nm, list(g(n))) for nm, g in keep]
    rows = max((len(v) for _, v in cols), default=0)
    return [{nm: json_value(v[i], cut) for nm, v in cols if i < len(v)} for i in range(min(rows, n))]


# ---------------------------------------------------------------- pandas
def _pandas(obj: Any, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any] | None:
    """pandas DataFrame / Series / Index."""
    import pandas as pd

    if isinstance(obj, pd.Index):
        obj = obj.to_series(index=range(len(obj)))
    if isinstance(obj, pd.Series):
        obj = obj.to_frame(name=obj.name if obj.name is not None else "value")
    if not isinstance(obj, pd.DataFrame):
        return None
    d = empty_profile("pandas", type_name(obj))
    names = [A.column_name(c) for c in obj.columns]
    tasks, first = [], []
    for i, name in enumerate(names):
        s = obj.iloc[:, i]
        tasks.append(partial(A.profile_column, A.pandas_column, name, i, str(s.dtype), name in pii, cut, s))
        first.append(s.dtype == object)
    columns = run_columns(tasks, first, obj.shape[0] * obj.shape[1])
    try:
        memory = int(obj.memory_usage(index=True, deep=False).sum())
    except Exception:  # noqa: BLE001
        memory = None
    _finish_frame(d, columns, len(obj), memory)
    if n_sample:
        head = obj.head(n_sample)
        getters = [(lambda n, j=j: head.iloc[:n, j].tolist()) for j in range(len(names))]
        d["sample"] = _sample_rows(names, getters, n_sample, pii, cut)
    return d


# ---------------------------------------------------------------- pyarrow
def _pyarrow(obj: Any, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any] | None:
    """pyarrow Table / RecordBatch / Array / ChunkedArray, profiled with Arrow compute."""
    import pyarrow as pa

    if isinstance(obj, pa.Array | pa.ChunkedArray):
        obj = pa.table({"value": obj})
    if not isinstance(obj, pa.Table | pa.RecordBatch):
        return None
    d = empty_profile("pyarrow", type_name(obj))
    names = [A.column_name(n) for n in obj.schema.names]
    tasks = [
        partial(A.profile_column, A.arrow_column, name, i, str(obj.column(i).type), name in pii, cut, obj.column(i))
        for i, name in enumerate(names)
    ]
    columns = run_columns(tasks, [False] * len(tasks), obj.num_rows * obj.num_columns)
    _finish_frame(d, columns, obj.num_rows, _safe_int(lambda: obj.nbytes))
    if n_sample:
        head = obj.slice(0, n_sample)
        getters = [(lambda n, j=j: head.column(j).to_pylist()[:n]) for j in range(len(names))]
        d["sample"] = _sample_rows(names, getters, n_sample, pii, cut)
    return d


def _safe_int(fn: Any) -> int | None:
    """``int(fn())`` or None if it fails (sizes of exotic buffers)."""
    try:
        return int(fn())
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------- polars
def _polars(obj: Any, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any] | None:
    """polars DataFrame / Series via zero-copy Arrow export (never pandas); LazyFrame -> other."""
    pl = sys.modules.get("polars")
    if pl is None:
        return None
    if isinstance(obj, pl.Series):
        obj = obj.to_frame(obj.name or "value")
    if not isinstance(obj, pl.DataFrame):
        return None
    d = empty_profile("polars", type_name(obj))
    names = list(obj.columns)
    tasks = [
        partial(A.profile_column, _polars_column, name, i, str(obj.to_series(i).dtype), name in pii, cut,
                obj.to_series(i))
        for i, name in enumerate(names)
    ]
    columns = run_columns(tasks, [False] * len(tasks), obj.height * obj.width)
    _finish_frame(d, columns, obj.height, _safe_int(obj.estimated_size))
    if n_sample:
        head = obj.head(n_sample)
        getters = [(lambda n, j=j: head.to_series(j).to_list()[:n]) for j in range(len(names))]
        d["sample"] = _sample_rows(names, getters, n_sample, pii, cut)
    return d


def _polars_column(name: str, position: int, dtype: str, pii: bool, cut: Cut, s: Any) -> dict[str, Any]:
    """One polars Series exported to Arrow without a copy (strings as string views, which
    ddtrack's C kernel counts in place) and profiled there; never through pandas."""
    pl = sys.modules["polars"]
    if s.dtype == pl.String:
        newest = getattr(getattr(pl, "CompatLevel", None), "newest", None)
        if _native.available() and newest is not None:
            return A.arrow_column(name, position, dtype, pii, cut, s.to_arrow(compat_level=newest()))
        return _polars_strings(name, position, dtype, pii, cut, s)
    return A.arrow_column(name, position, dtype, pii, cut, s.to_arrow())


def _polars_strings(name: str, position: int, dtype: str, pii: bool, cut: Cut, s: Any) -> dict[str, Any]:
    """A polars string Series counted by polars itself (without the C kernel: exporting
    polars strings to Arrow's offsets layout would copy them)."""
    from . import _columns as C

    pl = sys.modules["polars"]
    nulls = s.null_count()
    # group_by().len() is polars' fastest exact count (about twice value_counts')
    vc = s.to_frame("value").group_by("value").agg(pl.len().alias("n")).filter(pl.col("value").is_not_null())
    values = vc.get_column("value").to_arrow()
    if _native.is_string_view(values.type):
        import pyarrow as pa

        values = values.cast(pa.large_string())
    counts = vc.get_column("n").to_numpy().astype(np.int64)
    col = C.base_column(name, position, dtype, "string", len(s) - nulls, nulls)
    return C.string_column(col, values, counts, pii, cut)


# ---------------------------------------------------------------- numpy
def _numpy(a: np.ndarray, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any]:
    """numpy arrays: 1-D -> column "value", 2-D -> columns "0".."n-1", higher -> shape/dtype only."""
    d = empty_profile("numpy", type_name(a))
    if a.ndim == 0:
        d["repr"] = cut.text(safe_repr(a), REPR_LIMIT)
        return d
    if a.dtype.names:  # structured array: one column per field
        cols_arrays = [(str(f), a[f]) for f in a.dtype.names] if a.ndim == 1 else None
    elif a.ndim == 1:
        cols_arrays = [("value", a)]
    elif a.ndim == 2:
        cols_arrays = [(str(j), a[:, j]) for j in range(a.shape[1])]
    else:
        cols_arrays = None
    if cols_arrays is None:
        d["rows"] = int(a.shape[0])
        d["memory_bytes"] = int(a.nbytes)
        d["repr"] = cut.text(f"ndarray shape={a.shape} dtype={a.dtype}", REPR_LIMIT)
        return d
    columns = [
        A.profile_column(A.numpy_column, name, i, str(arr.dtype), name in pii, cut, np.ascontiguousarray(arr))
        for i, (name, arr) in enumerate(cols_arrays)
    ]
    _finish_frame(d, columns, a.shape[0], a.nbytes)
    if n_sample:
        names = [nm for nm, _ in cols_arrays]
        getters = [(lambda n, arr=arr: arr[:n].tolist()) for _, arr in cols_arrays]
        d["sample"] = _sample_rows(names, getters, n_sample, pii, cut)
    return d


# ---------------------------------------------------------------- dict / list
def _dict(obj: dict, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any]:
    """dict of equal-length lists/arrays -> frame (kind "dict"); other dicts -> keys and types."""
    if obj and all(isinstance(v, list | tuple) or (isinstance(v, np.ndarray) and v.ndim == 1) for v in obj.values()):
        lengths = {len(v) for v in obj.values()}
        if len(lengths) == 1:
            import pandas as pd

            frame = pd.DataFrame({i: v if isinstance(v, np.ndarray) else list(v) for i, v in enumerate(obj.values())})
            frame.columns = [A.column_name(k) for k in obj]
            d = _pandas(frame, pii, n_sample, cut)
            if d is not None:
                d["kind"] = "dict"
                d["type"] = type_name(obj)
                d["memory_bytes"] = None
                return d
    d = empty_profile("dict", type_name(obj))
    d["n_columns"] = len(obj)
    d["schema"] = [{"name": cut.text(A.column_name(k)), "dtype": type(v).__name__} for k, v in obj.items()]
    d["schema_fingerprint"] = fingerprint(d["schema"])
    d["repr"] = cut.text(safe_repr(_redact(obj, pii)), REPR_LIMIT)
    return d


def _redact(obj: dict, pii: set[str]) -> dict:
    """A copy of a dict with the values of PII keys hidden, for its repr."""
    if not pii:
        return obj
    return {k: ("<pii>" if A.column_name(k) in pii else v) for k, v in obj.items()}


def _list(obj: list | tuple, pii: set[str], n_sample: int, cut: Cut) -> dict[str, Any]:
    """list of dicts -> records frame; list of scalars -> one column "value"; else repr."""
    import pandas as pd

    items = list(obj)
    if items and all(isinstance(x, dict) for x in items):
        frame = pd.DataFrame.from_records(items)
        frame.columns = [A.column_name(c) for c in frame.columns]
    elif all(_is_scalar(x) or x is None for x in items):
        frame = pd.DataFrame({"value": pd.Series(items, dtype=object if not items else None)})
    else:
        frame = pd.DataFrame({"value": pd.Series(items, dtype=object)})
    d = _pandas(frame, pii, n_sample, cut) or empty_profile("list", type_name(obj))
    d["kind"] = "list"
    d["type"] = type_name(obj)
    d["memory_bytes"] = None
    return d
