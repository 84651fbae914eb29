"""The record one task try sends to the server: what ran, what it produced, what it read.

A task cannot reach the metastore in Airflow 3, so the decorator pushes this record as an
XCom under the reserved key :data:`XCOM_KEY`; the server side (``ddtrack.store.ingest``)
moves it into the side tables. The record is plain JSON and bounded in size
(``[ddtrack] max_record_bytes``): wide outputs lose detail, in a documented order, before
they could break an XCom row (MariaDB's packet limit) or slow the api-server.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import math
from collections.abc import Mapping
from typing import Any

XCOM_KEY = "ddtrack"
FORMAT_VERSION = 1
TEXT_LIMIT = 200
ERROR_LIMIT = 4000
SOURCE_LIMIT = 100_000


def new_record(
    *,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int,
    try_number: int,
    tracked: bool,
) -> dict[str, Any]:
    """An empty record for one task try."""
    return {
        "ddtrack": FORMAT_VERSION,
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "tracked": tracked,
        "function": None,
        "code_hash": None,
        "source": None,
        "state": "running",
        "started_at": None,
        "ended_at": None,
        "duration_s": None,
        "error": None,
        "tags": {},
        "outputs": [],
        "inputs": [],
        "upstream_task_ids": [],
        "truncated": False,
        "warnings": [],
    }


def is_record(value: Any) -> bool:
    return isinstance(value, Mapping) and value.get("ddtrack") == FORMAT_VERSION and "task_id" in value


def cut(text: Any, limit: int = TEXT_LIMIT) -> str:
    """``str(text)`` no longer than ``limit`` characters (an ellipsis marks the cut)."""
    s = text if isinstance(text, str) else str(text)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def to_json_safe(value: Any) -> Any:
    """A copy of ``value`` that ``json.dumps(allow_nan=False)`` accepts.

    NaN becomes None and infinities the strings "inf"/"-inf" (Airflow refuses NaN in
    XComs); numpy scalars become Python numbers; anything unknown becomes its cut repr.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return value
    if isinstance(value, Mapping):
        return {str(k): to_json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [to_json_safe(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return to_json_safe(item())
        except Exception:
            pass
    return cut(repr(value))


def dumps(record: Mapping[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), allow_nan=False, default=str)


def record_hash(record: Mapping[str, Any]) -> str:
    """Content hash: ingest rewrites a try's rows only when its record changed."""
    return hashlib.sha256(dumps(record).encode()).hexdigest()


def code_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()


# Shrinking steps, least valuable detail first: the column fields each step clears.
_DETAIL_STEPS: tuple[tuple[str, ...], ...] = (
    ("sketch",),
    ("top_values", "str_len"),
    ("histogram",),
    ("quantiles",),
)


def _strip(record: dict[str, Any], keys: tuple[str, ...], keep_first: int) -> bool:
    """Set ``keys`` to None on every column past position ``keep_first`` of each output."""
    changed = False
    for output in record.get("outputs", []):
        profile = output.get("profile") or {}
        for col in profile.get("columns") or []:
            if col.get("position", 0) < keep_first:
                continue
            for key in keys:
                if col.get(key) is not None:
                    col[key] = None
                    profile["truncated"] = changed = True
    return changed


def _drop_columns(record: dict[str, Any], keep_first: int) -> bool:
    changed = False
    for output in record.get("outputs", []):
        profile = output.get("profile") or {}
        cols = profile.get("columns") or []
        if len(cols) > keep_first:
            profile["columns"] = cols[:keep_first]
            profile["truncated"] = True
            changed = True
    return changed


def _copy_to_shrink(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``record`` deep enough that shrinking it leaves the original alone."""
    return {
        **record,
        "outputs": [{**o, "profile": copy.deepcopy(o.get("profile"))} for o in record.get("outputs", [])],
        "inputs": [dict(i) for i in record.get("inputs", [])],
    }


def bound_size(record: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """``record`` if its JSON fits in ``max_bytes``, else a shrunk copy that fits.

    The caller's record is never changed: its profiles may be shared with batches still being
    merged, and a later push of the same try must start from the whole profile again.

    Order: samples; then sketches, top values and string lengths, histograms, quantiles
    of the columns past the first 1,000, then past the first 100, then of all columns;
    then column profiles past the first 1,000, 100, 10; then the source code (cut to
    2,000 characters). Counts, nulls and min/max/mean survive longest. As a last resort
    each output keeps only its frame-level fields (kind, type, rows, column count), with
    no columns, schema, repr, sample or column lineage.
    """
    if len(dumps(record)) <= max_bytes:
        return record
    record = _copy_to_shrink(record)
    record["truncated"] = True
    for output in record.get("outputs", []):
        profile = output.get("profile") or {}
        if profile.get("sample"):
            profile["sample"] = None
            profile["truncated"] = True
    for keep_first in (1000, 100, 0):
        for keys in _DETAIL_STEPS:
            if _strip(record, keys, keep_first) and len(dumps(record)) <= max_bytes:
                return record
    for keep_first in (1000, 100, 10):
        if _drop_columns(record, keep_first) and len(dumps(record)) <= max_bytes:
            return record
    if record.get("source"):
        record["source"] = cut(record["source"], 2000)
        if len(dumps(record)) <= max_bytes:
            return record
    # Last resort (absurd schemas, e.g. megabyte-long column names): keep only the counts.
    for output in record.get("outputs", []):
        if output.get("column_lineage"):
            output["column_lineage"] = []  # names columns the output no longer lists
    for item in record.get("inputs", []):
        item.pop("columns", None)
    for output in record.get("outputs", []):
        profile = output.get("profile") or {}
        for key in ("columns", "schema"):
            profile[key] = []
        for key in ("repr", "sample"):
            profile[key] = None
        profile["truncated"] = True
    return record
