"""Exact answers for the ``unique`` and ``values_in`` checks of data an engine holds.

A profile cannot always decide these two checks (an estimated distinct count, top values
that do not list every value), so the engine is asked (``InPlaceResult.evidence``):

* Spark answers with aggregations (:mod:`ddtrack.engines.spark`);
* files, polars lazy frames and DuckDB relations stream the one column again, batch by
  batch, into the exact structures of the in-task checks (:mod:`ddtrack.profile.exact`):
  sorted distinct keys, bounded by ``[ddtrack] check_memory_mb`` (past it the question is
  refused, the check cannot be evaluated and, with severity "error", fails closed).

:func:`answers` turns an engine's two questions into ``{check: Evidence}``; a question that
fails (a time-out, a column that cannot be read) becomes that check's ``problem``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from ddtrack import conf
from ddtrack.engines.batches import Deadline
from ddtrack.profile.exact import OUTSIDE_KEPT, exact_distinct

Unique = Callable[[str], tuple[int, int]]  # column -> (non-null values, duplicates)
Outside = Callable[[str, Sequence[str]], tuple[list[str], int]]  # -> (first values outside, how many)


def answers(profile: Mapping[str, Any], unique: Unique, outside: Outside) -> Callable[[Sequence[Any]], dict[Any, Any]]:
    """The ``InPlaceResult.evidence`` callable of an engine's two questions.

    ``unique`` is asked only where the profile's distinct count is not exact.
    """

    def evidence(checks: Sequence[Any]) -> dict[Any, Any]:
        from ddtrack.checks import Evidence, Unique, ValuesIn

        cols = {str(c.get("name")): c for c in reversed(profile.get("columns") or [])}
        out: dict[Any, Any] = {}
        counted: dict[str, Any] = {}
        for check in checks:
            if not isinstance(check, Unique | ValuesIn):
                continue
            col = cols.get(check.column)
            if col is None:
                out[check] = Evidence(problem=f"the data has no column {check.column!r}")
                continue
            try:
                if isinstance(check, ValuesIn):
                    values, n = outside(check.column, check.values)
                    out[check] = Evidence(outside=tuple(values[:OUTSIDE_KEPT]), n_outside=n)
                    continue
                if exact_distinct(col):
                    count = int(col["count"])
                    out[check] = Evidence(count=count, duplicates=count - int(col["distinct"]))
                    continue
                if check.column not in counted:
                    counted[check.column] = unique(check.column)
                count, duplicates = counted[check.column]
                out[check] = Evidence(count=count, duplicates=duplicates)
            except Exception as exc:  # noqa: BLE001 - the check reports it (and fails closed)
                out[check] = Evidence(problem=f"{type(exc).__name__}: {exc}")
        return out

    return evidence


def from_batches(profile: Mapping[str, Any], column_batches: Callable[[str], Iterable[Any]],
                 timeout: float) -> Callable[[Sequence[Any]], dict[Any, Any]]:
    """Answers read from the data again: ``column_batches(name)`` yields the column's
    values (Arrow arrays), batch by batch, within ``timeout`` seconds per question."""

    def values(column: str) -> Iterator[Any]:
        deadline = Deadline(timeout, f"column {column!r}")
        for batch in column_batches(column):
            deadline.check()
            yield batch

    def unique(column: str) -> tuple[int, int]:
        keys = distinct_keys(values(column), column)
        return keys.count, keys.count - keys.distinct

    def outside(column: str, allowed: Sequence[str]) -> tuple[list[str], int]:
        from ddtrack.profile.exact import outside_of

        found: set[str] = set()
        for batch in values(column):
            found.update(outside_of(batch, allowed)[0])
        return sorted(found)[:OUTSIDE_KEPT], len(found)

    return answers(profile, unique, outside)


def distinct_keys(batches: Iterable[Any], column: str) -> Any:
    """The exact distinct keys of a column's batches (``ddtrack.profile.exact.Keys``),
    kept within ``[ddtrack] check_memory_mb``; ``MemoryError`` past it."""
    from ddtrack.profile.exact import keys_of

    limit = conf.check_memory_mb() * 2**20
    parts: list[Any] = []
    held = 0
    for batch in batches:
        parts.append(keys_of(batch))
        held += parts[-1].nbytes
        if held > limit:
            parts = [_union_all(parts)]  # values repeated across batches are kept once
            held = parts[0].nbytes
            if held > limit:
                raise MemoryError(
                    f"the {parts[0].distinct:,} distinct values of {column!r} need more than "
                    f"[ddtrack] check_memory_mb ({conf.check_memory_mb()} MB) to compare exactly"
                )
    return _union_all(parts)


def _union_all(parts: list[Any]) -> Any:
    """The union of sorted key sets, merged pairwise (n log k work, not n k)."""
    from ddtrack.profile.exact import Keys

    while len(parts) > 1:
        parts = [parts[i].union(parts[i + 1]) if i + 1 < len(parts) else parts[i] for i in range(0, len(parts), 2)]
    return parts[0] if parts else Keys()
