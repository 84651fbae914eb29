"""One task instance's try: outputs, profiles, code, lineage, and the diff against the previous success.

Filtered by ``allowed`` (:mod:`ddtrack.queries.access`): nothing of a DAG the caller may not
read, and consumers in such DAGs only as a count.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, one_dag
from ddtrack.queries.outputs import outputs_of
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.types import (
    ColumnChange,
    InstanceDetail,
    OutputDetail,
    OutputDiff,
    PreviousRun,
    TryRef,
)
from ddtrack.store.models import Lineage, Source, Tag, TaskRun


def task_instance(
    sources: Sources,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
    try_number: int | None = None,
    *,
    allowed: Allowed,
) -> InstanceDetail | None:
    """Everything recorded about one task instance's try (the newest try unless given);
    None when there is none the caller may read."""
    run = TaskRun.__table__
    this_dag = one_dag(run.c.dag_id, dag_id, allowed)
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.try_number, run.c.state)
            .where(
                this_dag,
                run.c.run_id == run_id,
                run.c.task_id == task_id,
                run.c.map_index == map_index,
            )
            .order_by(run.c.try_number)
        ).all()
        map_indexes = [
            r[0]
            for r in conn.execute(
                select(run.c.map_index)
                .where(this_dag, run.c.run_id == run_id, run.c.task_id == task_id)
                .group_by(run.c.map_index)
                .order_by(run.c.map_index)
            )
        ]
        if not tries:
            return None
        chosen = next((t for t in tries if t.try_number == try_number), tries[-1])
        row = conn.execute(select(run).where(run.c.id == chosen.id)).one()
        outputs = outputs_of(conn, [row.id])[row.id]
        source = None
        if row.code_hash:
            source = conn.execute(
                select(Source.__table__.c.source).where(Source.__table__.c.code_hash == row.code_hash)
            ).scalar()
        tags, output_tags = _tags_of(conn, row.id)
        inputs = _inputs_of(conn, row.id)
        consumers, hidden_consumers = _consumers_of(conn, dag_id, run_id, task_id, outputs, allowed)
        detail = InstanceDetail(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            try_number=row.try_number,
            state=row.state,
            tracked=bool(row.tracked),
            function=row.function,
            code_hash=row.code_hash,
            source=source,
            started_at=utc(row.started_at),
            ended_at=utc(row.ended_at),
            duration_s=row.duration_s,
            error_type=row.error_type,
            error_message=row.error_message,
            warnings=list((row.extra or {}).get("warnings") or []),
            tags=tags,
            output_tags=output_tags,
            outputs=outputs,
            inputs=inputs,
            consumers=consumers,
            hidden_consumers=hidden_consumers,
            tries=[TryRef(t.try_number, t.state) for t in tries],
            map_indexes=map_indexes,
        )
        detail.previous = _previous_success(conn, detail, row.started_at)
    return detail


def _tags_of(conn: Connection, task_run_id: int) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    tag = Tag.__table__
    run_tags: dict[str, str] = {}
    output_tags: dict[str, dict[str, str]] = defaultdict(dict)
    for t in conn.execute(
        select(tag.c.output_name, tag.c.key, tag.c.value).where(tag.c.task_run_id == task_run_id)
    ):
        if t.output_name is None:
            run_tags[t.key] = t.value
        else:
            output_tags[t.output_name][t.key] = t.value
    return run_tags, dict(output_tags)


def _inputs_of(conn: Connection, task_run_id: int) -> list[dict[str, Any]]:
    lin = Lineage.__table__
    rows = conn.execute(
        select(
            lin.c.direction, lin.c.kind, lin.c.name, lin.c.uri, lin.c.upstream_task_id, lin.c.upstream_output
        )
        .where(lin.c.task_run_id == task_run_id, lin.c.direction == "input")
        .order_by(lin.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def _consumers_of(
    conn: Connection, dag_id: str, run_id: str, task_id: str, outputs: list[OutputDetail], allowed: Allowed
) -> tuple[list[dict[str, Any]], int]:
    """Tasks that read this task's outputs: in the same run, and other DAGs through shared
    URIs; plus how many tasks of DAGs the caller may not read do (counted, never named)."""
    lin = Lineage.__table__
    consumers = [
        {
            "dag_id": r.dag_id,
            "run_id": r.run_id,
            "task_id": r.task_id,
            "name": r.upstream_output,
            "via": "xcom",
        }
        for r in conn.execute(
            select(lin.c.dag_id, lin.c.run_id, lin.c.task_id, lin.c.upstream_output)
            .where(
                one_dag(lin.c.dag_id, dag_id, allowed),
                lin.c.run_id == run_id,
                lin.c.kind == "task",
                lin.c.upstream_task_id == task_id,
            )
            .group_by(lin.c.dag_id, lin.c.run_id, lin.c.task_id, lin.c.upstream_output)
        )
    ]
    uris = sorted({o.uri for o in outputs if o.uri})
    if not uris:
        return consumers, 0
    readers = lin.c.uri.in_(uris), lin.c.direction == "input"
    for r in conn.execute(
        select(lin.c.dag_id, lin.c.task_id, lin.c.uri, func.max(lin.c.run_id).label("run_id"))
        .where(*readers, dag_filter(lin.c.dag_id, allowed))
        .group_by(lin.c.dag_id, lin.c.task_id, lin.c.uri)
        .limit(50)
    ):
        consumers.append(
            {"dag_id": r.dag_id, "run_id": r.run_id, "task_id": r.task_id, "name": r.uri, "via": "uri"}
        )
    hidden = (
        select(lin.c.dag_id, lin.c.task_id)
        .where(*readers, dag_hidden(lin.c.dag_id, allowed))
        .group_by(lin.c.dag_id, lin.c.task_id)
        .subquery()
    )
    return consumers, int(conn.execute(select(func.count()).select_from(hidden)).scalar() or 0)


def _previous_success(conn: Connection, detail: InstanceDetail, started_at) -> PreviousRun | None:
    """Diff against the same task's newest successful try that started before this one."""
    if started_at is None:
        return None
    run = TaskRun.__table__
    prev = conn.execute(
        select(run.c.id, run.c.run_id, run.c.try_number, run.c.started_at)
        .where(
            run.c.dag_id == detail.dag_id,
            run.c.task_id == detail.task_id,
            run.c.started_at < started_at,
            run.c.state == "success",
            run.c.map_index == detail.map_index,
            run.c.run_id != detail.run_id,
        )
        .order_by(run.c.started_at.desc())
        .limit(1)
    ).first()
    if prev is None:
        return None
    before = {o.name: o for o in outputs_of(conn, [prev.id])[prev.id]}
    diffs = [diff_outputs(before.get(o.name), o) for o in detail.outputs]
    return PreviousRun(prev.run_id, prev.try_number, utc(prev.started_at), diffs)


def diff_outputs(before: OutputDetail | None, after: OutputDetail) -> OutputDiff:
    """Row count, schema and per-column null rate / mean of ``after`` against ``before``."""
    old = {c.name: c for c in (before.columns if before else [])}
    new = {c.name: c for c in after.columns}
    changes: list[ColumnChange] = []
    for name, c in new.items():
        b = old.get(name)
        if b is None:
            changes.append(
                ColumnChange(
                    name,
                    "added" if before else "same",
                    null_pct_after=c.null_pct,
                    mean_after=c.mean,
                    dtype_after=c.dtype,
                )
            )
            continue
        change = "type" if b.dtype != c.dtype else "same"
        changes.append(ColumnChange(name, change, b.null_pct, c.null_pct, b.mean, c.mean, b.dtype, c.dtype))
    for name, b in old.items():
        if name not in new:
            changes.append(
                ColumnChange(
                    name, "removed", null_pct_before=b.null_pct, mean_before=b.mean, dtype_before=b.dtype
                )
            )
    schema_changed = before is not None and (
        (before.schema_fingerprint or "") != (after.schema_fingerprint or "")
        or any(ch.change != "same" for ch in changes)
    )
    return OutputDiff(after.name, before.rows if before else None, after.rows, schema_changed, changes)

