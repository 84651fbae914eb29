"""Stored column profiles read back as the profile dicts they were written from.

One mapping in both directions' shared vocabulary: ingest writes a column's counts to
columns of ``ddtrack_column`` and the fields in :data:`COLUMN_STATS` to its ``stats`` JSON;
:func:`column_profile` turns such a row back into a ColumnProfile dict, the form
``ddtrack.profile`` (merge, drift) works on.  Ingest (drift against the baseline) and the
query layer (``queries.outputs.as_profile``) both read profiles back through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ddtrack.store.models import Output

# Fields of a column profile with no column of their own: shown and compared, not queried.
COLUMN_STATS = ("min", "max", "quantiles", "histogram", "top_values", "str_len", "sketch", "estimates", "error")


def column_profile(c: Any) -> dict[str, Any]:
    """A ColumnProfile dict from anything with ``ddtrack_column``'s attributes (a row of
    the table, or the query layer's ``ColumnDetail``)."""
    return {
        "name": c.name, "position": c.position, "dtype": c.dtype, "kind": c.kind, "count": c.count,
        "nulls": c.nulls, "null_pct": c.null_pct, "distinct": c.n_distinct,
        "distinct_estimated": bool(c.distinct_estimated), "mean": c.mean, "std": c.std, "zeros": c.zeros,
        "negatives": c.negatives, "infinities": c.infinities, **(c.stats or {}),
    }


@dataclass
class WrittenOutput:
    """An output as ingest just wrote it: its row, its column rows (``ddtrack_column``
    dicts) and the check results its record carried; what drift and anomalies compare."""

    row: Output
    columns: list[dict[str, Any]]
    checks: Sequence[Any]
