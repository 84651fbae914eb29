"""Stored outputs read back: as the pages show them, and as the profiles they were written from."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ddtrack.queries.types import ColumnDetail, OutputDetail
from ddtrack.store.models import ColumnProfile, Output
from ddtrack.store.profiles import COLUMN_STATS, column_profile


def outputs_of(conn: Connection, task_run_ids: Sequence[int]) -> dict[int, list[OutputDetail]]:
    out, col = Output.__table__, ColumnProfile.__table__
    result: dict[int, list[OutputDetail]] = {i: [] for i in task_run_ids}
    outputs = conn.execute(
        select(out).where(out.c.task_run_id.in_(list(task_run_ids))).order_by(out.c.id)
    ).all()
    if not outputs:
        return result
    columns: dict[int, list[ColumnDetail]] = defaultdict(list)
    for c in conn.execute(
        select(col)
        .where(col.c.output_id.in_([o.id for o in outputs]))
        .order_by(col.c.output_id, col.c.position)
    ):
        columns[c.output_id].append(column_detail(c))
    for o in outputs:
        result[o.task_run_id].append(
            OutputDetail(
                o.name,
                o.uri,
                o.kind,
                o.type_name,
                o.rows,
                o.n_columns,
                o.memory_bytes,
                o.schema_fingerprint,
                o.schema,
                bool(o.truncated),
                dict(o.detail or {}),
                columns.get(o.id, []),
            )
        )
    return result


def column_detail(c: Any) -> ColumnDetail:
    """A row of ``ddtrack_column`` as the pages show it."""
    return ColumnDetail(
        c.position, c.name, c.dtype, c.kind, c.count, c.nulls, c.null_pct, c.n_distinct, bool(c.distinct_estimated),
        c.mean, c.std, c.zeros, c.negatives, c.infinities, dict(c.stats or {}),
    )


def as_profile(o: OutputDetail) -> dict[str, Any]:
    """A stored output turned back into the profile dict it was written from."""
    return {
        "format": 1, "kind": o.kind, "type": o.type_name, "rows": o.rows, "n_columns": o.n_columns,
        "memory_bytes": o.memory_bytes, "schema": o.schema or [], "schema_fingerprint": o.schema_fingerprint,
        "truncated": o.truncated, "repr": o.detail.get("repr"), "sample": o.detail.get("sample"),
        "pii": o.detail.get("pii") or [],
        "columns": [column_profile(c) for c in o.columns],
    }


def merge_outputs(name: str, group: list[OutputDetail]) -> OutputDetail:
    """One OutputDetail for the union of several (the same output of several map indexes)."""
    from ddtrack.profile import merge_profiles

    merged = merge_profiles([as_profile(o) for o in group])
    uris = {o.uri for o in group if o.uri}
    columns = [
        ColumnDetail(
            c["position"], c["name"], c["dtype"], c["kind"], c.get("count"), c.get("nulls"), c.get("null_pct"),
            c.get("distinct"), bool(c.get("distinct_estimated")), c.get("mean"), c.get("std"), c.get("zeros"),
            c.get("negatives"), c.get("infinities"),
            {k: c.get(k) for k in COLUMN_STATS if c.get(k) is not None},
        )
        for c in merged.get("columns") or []
    ]
    detail = {k: merged[k] for k in ("sample", "pii", "repr") if merged.get(k)}
    return OutputDetail(
        name, uris.pop() if len(uris) == 1 else None, merged.get("kind") or "other", merged.get("type"),
        merged.get("rows"), merged.get("n_columns"), merged.get("memory_bytes"), merged.get("schema_fingerprint"),
        merged.get("schema"), bool(merged.get("truncated")), detail, columns,
    )

