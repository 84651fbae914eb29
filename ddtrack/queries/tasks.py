"""A task's history over its last N tries."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import func, select

from ddtrack.queries.access import Allowed, one_dag
from ddtrack.queries.sources import DEFAULT_HISTORY, MAX_HISTORY, Sources, store_conn, utc
from ddtrack.queries.types import TaskHistoryRow
from ddtrack.store.models import ColumnProfile, Output, TaskRun


def task_history(
    sources: Sources, dag_id: str, task_id: str, limit: int = DEFAULT_HISTORY, *, allowed: Allowed
) -> list[TaskHistoryRow]:
    """The task's last ``limit`` tries (newest first): duration, state, rows, null rate, schema;
    none for a DAG the caller may not read.

    Reads ``ix_ddtrack_task_run_history`` (dag_id, task_id, started_at) for the tries and the
    outputs by ``task_run_id``; the column table only for these tries' null rates.
    """
    limit = max(1, min(int(limit), MAX_HISTORY))
    run, out, col = TaskRun.__table__, Output.__table__, ColumnProfile.__table__
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(
                run.c.id,
                run.c.run_id,
                run.c.map_index,
                run.c.try_number,
                run.c.state,
                run.c.started_at,
                run.c.duration_s,
                run.c.error_type,
                run.c.error_message,
            )
            .where(one_dag(run.c.dag_id, dag_id, allowed), run.c.task_id == task_id)
            .order_by(run.c.started_at.desc())
            .limit(limit)
        ).all()
        if not tries:
            return []
        ids = [t.id for t in tries]
        outputs = conn.execute(
            select(out.c.id, out.c.task_run_id, out.c.rows, out.c.schema_fingerprint)
            .where(out.c.task_run_id.in_(ids))
            .order_by(out.c.id)
        ).all()
        out_ids = [o.id for o in outputs]
        nulls = (
            dict(
                conn.execute(
                    select(col.c.output_id, func.avg(col.c.null_pct))
                    .where(col.c.output_id.in_(out_ids))
                    .group_by(col.c.output_id)
                ).all()
            )
            if out_ids
            else {}
        )
    rows_of: dict[int, int] = defaultdict(int)
    null_of: dict[int, list[float]] = defaultdict(list)
    fingerprint_of: dict[int, str] = {}
    for o in outputs:
        rows_of[o.task_run_id] += int(o.rows or 0)
        if nulls.get(o.id) is not None:
            null_of[o.task_run_id].append(float(nulls[o.id]))
        fingerprint_of.setdefault(o.task_run_id, o.schema_fingerprint)
    tries_per_instance: dict[tuple[str, int], int] = defaultdict(int)
    for t in tries:
        tries_per_instance[(t.run_id, t.map_index)] = max(
            tries_per_instance[(t.run_id, t.map_index)], t.try_number
        )
    history = [
        TaskHistoryRow(
            run_id=t.run_id,
            map_index=t.map_index,
            try_number=t.try_number,
            tries=tries_per_instance[(t.run_id, t.map_index)],
            state=t.state,
            started_at=utc(t.started_at),
            duration_s=t.duration_s,
            rows=rows_of.get(t.id) if t.id in rows_of else None,
            null_pct=(sum(null_of[t.id]) / len(null_of[t.id])) if null_of.get(t.id) else None,
            schema_fingerprint=fingerprint_of.get(t.id),
            error=f"{t.error_type}: {t.error_message}" if t.error_type else None,
        )
        for t in tries
    ]
    previous: str | None = None
    for row in reversed(history):  # oldest first: mark where the schema changed
        if row.schema_fingerprint:
            row.schema_changed = previous is not None and row.schema_fingerprint != previous
            previous = row.schema_fingerprint
    return history

