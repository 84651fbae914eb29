"""Exact evidence for the data checks a profile cannot decide, read from the data itself.

A profile is a summary: past 16,384 distinct values a large numeric column's distinct count
is a HyperLogLog estimate, and top values list only the 20 most frequent.  ``unique`` and
``values_in`` then need the values, so the task that holds them judges them here, in
vectorised numpy/Arrow code, and hands :class:`ddtrack.checks.Evidence` to
:func:`ddtrack.checks.evaluate`.

The interface, for anything that holds data (frames here; SQL tables or Spark in
``ddtrack.engines``, which can count the same facts with an aggregation):

* :class:`OutputEvidence` collects one output's facts batch by batch
  (``add(obj, profile_dict, checks)``) and gives ``evidence()``: a
  ``{check: Evidence}`` mapping for :func:`ddtrack.checks.evaluate`.
* An engine that judges a check itself builds ``Evidence`` directly: ``count`` and
  ``duplicates`` for ``unique`` (``count(x) - count(distinct x)``), ``outside`` and
  ``n_outside`` for ``values_in``, or ``problem`` saying why it could not.

Exactness and memory:

* ``unique`` over one batch whose profile counted distinct values exactly costs nothing more
  (the profile decides; :func:`wanted_exact` asks the profiler to count them exactly).
  Otherwise the column's distinct keys are sorted: numbers exactly
  (integers, and floats holding integers, as int64; other floats as float64; datetimes and
  durations as int64 nanoseconds), text and other objects as a 104-bit hash of their text
  (two keyed SipHash values; a false duplicate among N distinct values has probability below
  N**2 / 2**105, about 3e-18 at ten million).
* Batches (several ``log_output`` calls with one name) keep the union of the keys seen, so a
  value repeated across batches is a duplicate too.  The kept keys are bounded by
  ``[ddtrack] check_memory_mb`` per output (default 256 MB: 32 million numeric keys, or 16
  million text keys).  Past it the union is dropped and the check reports that it cannot be
  evaluated (a check of severity "error" then fails the task: it fails closed).  Only the
  newest batch's column is held unsorted (a copy of a numpy column; Arrow data is immutable,
  so it is referenced), until the next batch or the end shows whether it is needed.
* ``values_in`` keeps, per output, the distinct values found outside the set (at most
  :data:`OUTSIDE_KEPT`; past that their number is a lower bound).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ddtrack.checks import Check, Evidence, Unique, ValuesIn

from . import _native
from ._adapters import column_name

OUTSIDE_KEPT = 1000  # distinct outside values remembered per values_in check
_SHOWN = 5
_INT64_MAX = 2.0**63
_HASH_KEYS = ("ddtrack-unique-1", "ddtrack-unique-2")  # SipHash keys: exactly 16 characters
_ONE = np.uint64(0x3FF0000000000000)  # float64 bits of 1.0: hashes become floats in [1, 2)


class ColumnUnreadable(Exception):
    """The output's data has no column of that name, or one whose values cannot be keyed."""


# ---------------------------------------------------------------- reading a column
def column_of(obj: Any, name: str) -> Any:
    """The first column called ``name`` of a frame (pandas, polars, pyarrow, numpy), as the
    profile names columns; a Series or an Array is column "value" (or its own name)."""
    mod = (type(obj).__module__ or "").split(".")[0]
    if mod == "pandas":
        import pandas as pd

        if isinstance(obj, pd.Index):
            obj = obj.to_series()
        if isinstance(obj, pd.Series):
            if name in ("value", column_name(obj.name) if obj.name is not None else "value"):
                return obj
        elif isinstance(obj, pd.DataFrame):
            for i, c in enumerate(obj.columns):
                if column_name(c) == name:
                    return obj.iloc[:, i]
    elif mod == "polars":
        if hasattr(obj, "columns") and hasattr(obj, "get_column") and name in obj.columns:
            return obj.get_column(name)
        if not hasattr(obj, "columns") and hasattr(obj, "to_arrow") and name in ("value", obj.name):
            return obj
    elif mod == "pyarrow":
        import pyarrow as pa

        if isinstance(obj, pa.Array | pa.ChunkedArray) and name == "value":
            return obj
        if isinstance(obj, pa.Table | pa.RecordBatch):
            for i, n in enumerate(obj.schema.names):
                if column_name(n) == name:
                    return obj.column(i)
    elif isinstance(obj, np.ndarray):
        if obj.dtype.names:
            if name in obj.dtype.names:
                return obj[name]
        elif obj.ndim == 1 and name == "value":
            return obj
        elif obj.ndim == 2 and name.isdigit() and int(name) < obj.shape[1]:
            return obj[:, int(name)]
    raise ColumnUnreadable(f"its data ({type(obj).__name__}) has no column {name!r} that can be read")


def snapshot(column: Any) -> Any:
    """The column's values as they are now: an Arrow array (immutable, so referenced) or a
    numpy copy, so that a later change to the user's frame cannot change a verdict."""
    mod = (type(column).__module__ or "").split(".")[0]
    if mod == "polars":
        return column.to_arrow()
    if mod == "pyarrow":
        return column
    if mod == "pandas":
        import pandas as pd

        arrow = getattr(column.array, "_pa_array", None)  # Arrow-backed dtypes
        if arrow is not None:
            return arrow
        if isinstance(column.dtype, pd.CategoricalDtype):
            return np.asarray(column.astype(object))
        if isinstance(column.dtype, np.dtype):
            return column.to_numpy(copy=True)
        import pyarrow as pa

        return pa.array(column)  # masked extension dtypes: nulls stay nulls
    return np.array(column, copy=True)


# ---------------------------------------------------------------- unique: sorted keys
@dataclass
class Keys:
    """The distinct non-null keys of some values, sorted, per key domain; values of
    different domains (numbers, instants, durations, text) are never equal."""

    count: int = 0  # non-null values read
    domains: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def distinct(self) -> int:
        return sum(a.size for a in self.domains.values())

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.domains.values())

    def union(self, other: Keys) -> Keys:
        """The keys of both (counts added); sorted runs are merged, not sorted again."""
        out = Keys(self.count + other.count, dict(self.domains))
        for domain, keys in other.domains.items():
            mine = out.domains.get(domain)
            out.domains[domain] = keys if mine is None else _distinct_sorted(np.concatenate([mine, keys]), stable=True)
        return out


def keys_of(values: Any) -> Keys:
    """Exact distinct keys of a snapshot (see :func:`snapshot`)."""
    mod = (type(values).__module__ or "").split(".")[0]
    if mod == "pyarrow":
        return _arrow_keys(values)
    return _numpy_keys(np.asarray(values))


def _arrow_keys(arr: Any) -> Keys:
    import pyarrow as pa
    import pyarrow.compute as pc

    t = arr.type
    if pa.types.is_dictionary(t):
        return _arrow_keys(arr.cast(t.value_type))
    present = pc.drop_null(arr)
    if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t) or pa.types.is_decimal(t):
        numeric = present.cast(pa.float64()) if pa.types.is_decimal(t) else present
        return _numpy_keys(np.asarray(numeric.to_numpy(zero_copy_only=False)))
    if pa.types.is_timestamp(t) or pa.types.is_date(t) or pa.types.is_duration(t):
        domain = "duration" if pa.types.is_duration(t) else "instant"
        target = pa.duration("ns") if domain == "duration" else pa.timestamp("ns")
        ticks = present.cast(target).cast(pa.int64()).to_numpy(zero_copy_only=False)
        return _one_domain(domain, np.asarray(ticks, dtype=np.int64))
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        texts = np.asarray(present.to_numpy(zero_copy_only=False), dtype=object)
        return _one_domain("text", _text_keys(texts))
    raise ColumnUnreadable(f"its values of Arrow type {t} cannot be compared for uniqueness")


def _numpy_keys(a: np.ndarray) -> Keys:
    kind = a.dtype.kind
    if kind in "iub":
        if kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            return _float_keys(a.astype(np.float64))  # beyond int64: exact only up to 2**53 apart
        return _one_domain("number", a.astype(np.int64, copy=False))
    if kind == "f":
        return _float_keys(a)
    if kind in "Mm":
        ticks = a.astype(f"{kind}8[ns]").view(np.int64)
        ticks = ticks[ticks != np.iinfo(np.int64).min]  # NaT
        return _one_domain("instant" if kind == "M" else "duration", ticks)
    if kind in "OUS":
        import pandas as pd

        values = a[~pd.isna(a)] if kind == "O" else a
        return _one_domain("text", _text_keys(np.asarray(values, dtype=object)))
    raise ColumnUnreadable(f"its values of dtype {a.dtype} cannot be compared for uniqueness")


def _float_keys(a: np.ndarray) -> Keys:
    """Floats holding integers join the integer keys (1.0 equals 1, as in pandas and
    Python); other finite and infinite values stay floats; NaN is null."""
    a = np.asarray(a, dtype=np.float64)
    a = a[~np.isnan(a)]
    whole = (np.floor(a) == a) & (np.abs(a) < _INT64_MAX)
    if whole.all():
        return _one_domain("number", a.astype(np.int64), count=a.size)
    out = Keys(int(a.size))
    ints, floats = a[whole].astype(np.int64), a[~whole]
    if ints.size:
        out.domains["number"] = _distinct_sorted(ints)
    out.domains["float"] = _distinct_sorted(floats)
    return out


def _one_domain(domain: str, keys: np.ndarray, count: int | None = None) -> Keys:
    return Keys(int(keys.size if count is None else count), {domain: _distinct_sorted(keys)})


def _distinct_sorted(keys: np.ndarray, stable: bool = False) -> np.ndarray:
    """Sorted distinct keys (``stable``: the input is two sorted runs, merged in linear time)."""
    s = np.sort(keys, kind="stable") if stable else _native.sorted_numbers(keys)
    if s.size < 2:
        return s
    keep = np.empty(s.size, dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s if keep.all() else s[keep]


def _text_keys(values: np.ndarray) -> np.ndarray:
    """104-bit keys of the values' text: two keyed 64-bit SipHash values, each cut to 52
    bits as the mantissa of a float in [1, 2), as one complex number (sorts by both)."""
    import pandas as pd

    texts = np.fromiter((v if isinstance(v, str) else f"\x00{type(v).__name__}\x00{v!r}" for v in values),
                        dtype=object, count=values.size)
    halves = [pd.util.hash_array(texts, hash_key=k, categorize=False) for k in _HASH_KEYS]
    re, im = (((h >> np.uint64(12)) | _ONE).view(np.float64) for h in halves)
    out = np.empty(values.size, dtype=np.complex128)
    out.real, out.imag = re, im
    return out


# ---------------------------------------------------------------- values_in: values outside a set
def outside_of(column: Any, allowed: Sequence[str]) -> tuple[list[str], int]:
    """Distinct non-null values of the column outside ``allowed`` (compared as text, as the
    profile lists values): the first :data:`OUTSIDE_KEPT` of them and how many there are."""
    values = snapshot(column)
    mod = (type(values).__module__ or "").split(".")[0]
    if mod == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        from ._columns import arrow_value_counts

        t = values.type
        if pa.types.is_dictionary(t):
            values = values.cast(t.value_type)
            t = t.value_type
        if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
            distinct = arrow_value_counts(values)[0]  # the profile's own hash counting kernel
            out = pc.filter(distinct, pc.invert(pc.is_in(distinct, value_set=pa.array(list(allowed), t))))
            return [str(v) for v in out.slice(0, OUTSIDE_KEPT).to_pylist()], len(out)
        distinct = pc.unique(pc.drop_null(values)).to_pylist()
    else:
        import pandas as pd

        a = np.asarray(values)
        if a.dtype.kind in "fO":
            a = a[~pd.isna(a)]
        distinct = pd.unique(a).tolist() if a.dtype.kind != "b" else sorted(set(a.tolist()))
    allowed_set = set(allowed)
    outside = sorted({t for t in map(_as_text, distinct) if t not in allowed_set})
    return outside[:OUTSIDE_KEPT], len(outside)


def _as_text(v: Any) -> str:
    return v if isinstance(v, str) else str(v)


# ---------------------------------------------------------------- one output, batch by batch
class _UniqueState:
    """Keys of a unique check's column over the batches seen, bounded in bytes."""

    def __init__(self) -> None:
        self.batches = 0
        self.keys: Keys | None = Keys()
        self.pending: Any = None  # the newest batch's snapshot, keyed only when needed
        self.profile_col: Mapping[str, Any] | None = None  # the newest batch's column profile
        self.problem: str | None = None


class _ValuesInState:
    def __init__(self) -> None:
        self.count = 0
        self.outside: set[str] = set()
        self.n_outside = 0  # a lower bound once more than OUTSIDE_KEPT were found
        self.problem: str | None = None


class OutputEvidence:
    """Exact evidence for one output's ``unique`` and ``values_in`` checks, batch by batch.

    ``add`` is called with each batch's data and its fresh profile dict; ``evidence`` gives
    what to hand :func:`ddtrack.checks.evaluate` for the whole output.  Checks declared
    after a batch was added have no evidence of that batch: they report that they cannot be
    evaluated on the data (and fail closed with severity "error").
    """

    def __init__(self, limit_bytes: int) -> None:
        self.limit = int(limit_bytes)
        self._unique: dict[str, _UniqueState] = {}  # by column
        self._values: dict[Check, _ValuesInState] = {}
        self._batches = 0
        self._seen_from: dict[Check, int] = {}  # batch number a check was first declared at

    def add(
        self, obj: Any, profile: Mapping[str, Any], checks: Iterable[Check], distinct: Mapping[str, Any] | None = None
    ) -> None:
        """Read this batch's facts for the checks that need values: the profile of this
        batch alone, when it decides; the distinct values the profiler kept
        (``Profile.distinct``, asked for with :func:`wanted_distinct`); the data otherwise."""
        self._batches += 1
        names = [str(c.get("name")) for c in profile.get("columns") or []]
        cols = {str(c.get("name")): c for c in reversed(profile.get("columns") or [])}
        for check in checks:
            self._seen_from.setdefault(check, self._batches)
            if isinstance(check, Unique):
                self._add_unique(obj, cols.get(check.column), check.column)
            elif isinstance(check, ValuesIn):
                kept = (distinct or {}).get(check.column) if names.count(check.column) == 1 else None
                self._add_values_in(obj, cols.get(check.column), check, kept)

    def _add_unique(self, obj: Any, col: Mapping[str, Any] | None, name: str) -> None:
        state = self._unique.setdefault(name, _UniqueState())
        if state.batches == self._batches:
            return  # another unique check on this column already read this batch
        state.batches = self._batches
        state.profile_col = col
        if state.problem:
            return
        try:
            self._key_pending(state)
            state.pending = snapshot(column_of(obj, name))
        except ColumnUnreadable as exc:
            state.problem, state.pending = str(exc), None
        except MemoryError:
            state.problem, state.pending, state.keys = "there was not enough memory to keep its values", None, None

    def _key_pending(self, state: _UniqueState) -> None:
        """Turn the held batch into keys and add them to the union, within the bound."""
        if state.pending is None or state.keys is None:
            return
        union = state.keys.union(keys_of(state.pending))
        state.pending = None
        if union.nbytes > self.limit:
            state.keys = None
            state.problem = (
                f"its {union.distinct:,} distinct values across {state.batches} batches need {_mb(union.nbytes)} to "
                f"compare exactly, more than [ddtrack] check_memory_mb ({_mb(self.limit)})"
            )
            return
        state.keys = union

    def _add_values_in(self, obj: Any, col: Mapping[str, Any] | None, check: ValuesIn, kept: Any) -> None:
        state = self._values.setdefault(check, _ValuesInState())
        if state.problem:
            return
        if self._seen_from[check] != 1:
            state.problem = "it was declared after earlier batches were recorded"
            return
        listed = _listed_values(col)
        try:
            if listed is not None or kept is not None:
                allowed = set(check.values)
                outside = sorted({v for v in (listed if listed is not None else kept) if v not in allowed})
                n = len(outside)
                outside = outside[:OUTSIDE_KEPT]
            else:
                outside, n = outside_of(column_of(obj, check.column), check.values)
        except ColumnUnreadable as exc:
            state.problem = str(exc)
            return
        new = [v for v in outside if v not in state.outside]
        state.n_outside += len(new) + (n - len(outside))
        state.outside.update(new[: max(0, OUTSIDE_KEPT - len(state.outside))])

    def evidence(self) -> dict[Check, Evidence]:
        """The evidence of every check added so far (held batches are keyed now if needed)."""
        out: dict[Check, Evidence] = {}
        for check, first in self._seen_from.items():
            if isinstance(check, Unique):
                out[check] = self._unique_evidence(self._unique[check.column], first)
            elif isinstance(check, ValuesIn):
                state = self._values[check]
                if state.problem:
                    out[check] = Evidence(problem=state.problem)
                else:
                    shown = sorted(state.outside)[:OUTSIDE_KEPT]
                    out[check] = Evidence(outside=tuple(shown), n_outside=state.n_outside)
        return out

    def _unique_evidence(self, state: _UniqueState, first: int) -> Evidence:
        if first != 1:
            return Evidence(problem="it was declared after earlier batches were recorded")
        col = state.profile_col  # one batch counted exactly (by the profiler or an engine) decides
        if state.batches == 1 and col is not None and exact_distinct(col):
            return Evidence(count=int(col["count"]), duplicates=int(col["count"]) - int(col["distinct"]))
        if state.problem:
            return Evidence(problem=state.problem)
        try:
            self._key_pending(state)
        except ColumnUnreadable as exc:
            state.problem = str(exc)
        except MemoryError:
            state.problem, state.keys = "there was not enough memory to compare its values", None
        if state.problem or state.keys is None:
            return Evidence(problem=state.problem)
        return Evidence(count=state.keys.count, duplicates=state.keys.count - state.keys.distinct)


def wanted_distinct(checks: Iterable[Check]) -> set[str]:
    """Columns whose distinct values the profiler should keep for these checks."""
    return {c.column for c in checks if isinstance(c, ValuesIn)}


def wanted_exact(checks: Iterable[Check]) -> set[str]:
    """Columns whose distinct count the profiler should make exact for these checks."""
    return {c.column for c in checks if isinstance(c, Unique)}


def exact_distinct(col: Mapping[str, Any]) -> bool:
    """Whether one batch's column profile counted its distinct values exactly."""
    return (col.get("kind") not in ("error", None) and not col.get("distinct_estimated")
            and isinstance(col.get("count"), int) and isinstance(col.get("distinct"), int))


def _listed_values(col: Mapping[str, Any] | None) -> list[str] | None:
    """Every distinct value of one batch's column, when its top values list them all."""
    if col is None or col.get("kind") == "error" or col.get("distinct_estimated"):
        return None
    top, distinct = col.get("top_values"), col.get("distinct")
    if top is None or not isinstance(distinct, int) or len(top) != distinct:
        return None
    from ddtrack.checks import TEXT_LIMIT

    if any(len(t["value"]) >= TEXT_LIMIT for t in top):
        return None
    return [t["value"] for t in top]


def _mb(n: int) -> str:
    return f"{n / 2**20:,.0f} MB"
