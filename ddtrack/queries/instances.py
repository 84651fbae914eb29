"""One task instance's try: outputs, profiles, code, lineage, and the diff against the previous success.

Filtered by ``allowed`` (:mod:`ddtrack.queries.access`): nothing of a DAG the caller may not
read, and consumers in such DAGs only as a count.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, one_dag
from ddtrack.queries.outputs import column_detail, outputs_of
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.types import (
    ColumnChange,
    ColumnDetail,
    InstanceDetail,
    OutputDetail,
    OutputDiff,
    PreviousRun,
    TryRef,
)
from ddtrack.store.models import ColumnProfile, Lineage, Output, Source, Tag, TaskRun


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



# -- one output's columns, a block at a time (the describe grid and chart picker) ---------------


@dataclass(frozen=True)
class OutputRef:
    """One output of one try (the newest try when ``try_number`` is None)."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int | None
    output: str


@dataclass(frozen=True)
class ColumnBlock:
    total: int  # columns that match the searches
    columns: list[ColumnDetail]  # the block asked for, in the order asked for


# Grid fields stored in columns of their own: sorted by the database.
SORT_COLUMNS = {
    "column": "name", "dtype": "dtype", "kind": "kind", "count": "count", "nulls": "nulls", "null %": "null_pct",
    "distinct": "n_distinct", "mean": "mean", "std": "std", "zeros": "zeros", "negatives": "negatives",
    "infinities": "infinities",
}
# Grid fields inside the stats JSON: only that value of each column is read to sort.
SORT_STATS = {"min": ("min",), "max": ("max",), "error": ("error",)}
SEARCHABLE = {"column": "name", "kind": "kind"}


def _output_id(conn: Connection, ref: OutputRef, allowed: Allowed) -> int | None:
    run, out = TaskRun.__table__, Output.__table__
    query = (
        select(out.c.id)
        .select_from(out.join(run, out.c.task_run_id == run.c.id))
        .where(one_dag(run.c.dag_id, ref.dag_id, allowed), run.c.run_id == ref.run_id, run.c.task_id == ref.task_id,
               run.c.map_index == ref.map_index, out.c.name == ref.output)
    )
    if ref.try_number is not None:
        query = query.where(run.c.try_number == ref.try_number)
    return conn.execute(query.order_by(run.c.try_number.desc()).limit(1)).scalar()


def _stats_path(field: str) -> tuple[str, ...] | None:
    """Where a grid field lives in the stats JSON (``q50%`` is ``quantiles."0.5"``)."""
    if field in SORT_STATS:
        return SORT_STATS[field]
    if field.startswith("q") and field.endswith("%"):
        try:
            return ("quantiles", str(float(field[1:-1]) / 100))
        except ValueError:
            return None
    return None


def column_block(
    sources: Sources,
    ref: OutputRef,
    *,
    allowed: Allowed,
    contains: dict[str, str] | None = None,
    sort: str | None = None,
    descending: bool = False,
    start: int = 0,
    size: int = 100,
) -> ColumnBlock | None:
    """The columns ``start`` to ``start + size`` of one output, searched (``contains``: grid
    field -> text, case-insensitive) and sorted (missing values last); None when the caller
    may not read the output or it does not exist.

    Only the block's rows are read whole: a sort on a stored column runs in the database, a
    sort on a value of the stats JSON (min, max, a quantile) reads that one value of every
    matching column. A 10,000-column output's grid never reads its 10,000 profiles per scroll.
    """
    col = ColumnProfile.__table__
    with store_conn(sources) as conn:
        output_id = _output_id(conn, ref, allowed)
        if output_id is None:
            return None
        where = [col.c.output_id == output_id]
        for field, text in (contains or {}).items():
            if field in SEARCHABLE and text:
                where.append(func.lower(col.c[SEARCHABLE[field]]).contains(text.lower(), autoescape=True))
        total = int(conn.execute(select(func.count()).select_from(col).where(*where)).scalar() or 0)
        path = _stats_path(sort) if sort and sort not in SORT_COLUMNS else None
        if path is not None:
            ids = _ids_sorted_by_stat(conn, where, path, descending)[start:start + size]
            rows = {r.id: r for r in conn.execute(select(col).where(col.c.id.in_(ids)))} if ids else {}
            return ColumnBlock(total, [column_detail(rows[i]) for i in ids])
        order: list[Any] = []
        if sort in SORT_COLUMNS:
            key = col.c[SORT_COLUMNS[sort]]
            order = [key.is_(None), key.desc() if descending else key]
        query = select(col).where(*where).order_by(*order, col.c.position).offset(start).limit(size)
        return ColumnBlock(total, [column_detail(r) for r in conn.execute(query)])


def _ids_sorted_by_stat(conn: Connection, where: list[Any], path: tuple[str, ...], descending: bool) -> list[int]:
    """The matching columns' ids ordered by one value of their stats (missing last; values of
    mixed types compare as text), reading only that value."""
    col = ColumnProfile.__table__
    value = col.c.stats[path if len(path) > 1 else path[0]]
    pairs = [(r[1], r[0]) for r in conn.execute(select(col.c.id, value).where(*where).order_by(col.c.position))]
    present = [(v, i) for v, i in pairs if v is not None]
    try:
        present.sort(key=lambda vi: vi[0], reverse=descending)
    except TypeError:
        present.sort(key=lambda vi: str(vi[0]), reverse=descending)
    return [i for _, i in present] + [i for v, i in pairs if v is None]


def columns_named(sources: Sources, ref: OutputRef, names: list[str], *, allowed: Allowed) -> list[ColumnDetail] | None:
    """The named columns of one output (the chart picker's choice); None when not readable."""
    col = ColumnProfile.__table__
    with store_conn(sources) as conn:
        output_id = _output_id(conn, ref, allowed)
        if output_id is None:
            return None
        query = select(col).where(col.c.output_id == output_id, col.c.name.in_(names)).order_by(col.c.position)
        return [column_detail(r) for r in conn.execute(query)] if names else []


def column_names(sources: Sources, ref: OutputRef, text: str, *, allowed: Allowed, limit: int = 50) -> list[str] | None:
    """Up to ``limit`` names of the output's columns that contain ``text`` (case-insensitive)."""
    col = ColumnProfile.__table__
    with store_conn(sources) as conn:
        output_id = _output_id(conn, ref, allowed)
        if output_id is None:
            return None
        query = (
            select(col.c.name)
            .where(col.c.output_id == output_id, func.lower(col.c.name).contains(text.lower(), autoescape=True))
            .order_by(col.c.position)
            .limit(limit)
        )
        return [r[0] for r in conn.execute(query)]
