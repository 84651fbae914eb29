"""The catalog: a page per output, per column name and per URI, and mltrace's recent,
history and inspect.

Reads ``ddtrack_dataset`` (one row per output identity, kept at ingest) for what an output
is, and ``ddtrack_output`` only through its indexes for its versions: a page of an output
with 10,000 versions reads one page of runs, never the whole history's profiles. A version
is one run (mapped parts summed; of each part its newest try). Everything is filtered by the
caller's readable DAGs in SQL; producers and consumers in other DAGs are only counted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, desc, func, or_, select
from sqlalchemy.engine import Connection

from ddtrack import conf
from ddtrack.duration import utcnow
from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, one_dag
from ddtrack.queries.freshness import newest_version_of, stale_of, summary_of
from ddtrack.queries.outputs import merge_outputs, outputs_of
from ddtrack.queries.sources import MAX_HISTORY, Sources, store_conn, utc
from ddtrack.queries.types import (
    ColumnAcross,
    ColumnDetail,
    ColumnUse,
    ConsumerTask,
    DatasetSummary,
    FlagInfo,
    OutputCatalogPage,
    OutputDetail,
    UriPage,
    VersionRef,
)
from ddtrack.queries.versions import version_select
from ddtrack.store.models import CatalogEntry, ColumnProfile, Dataset, Flag, Lineage, Output, Tag, TaskRun

MAX_PAGE_SIZE = 500
CONSUMER_RUNS = 20  # same-DAG consumers: those of the newest runs
MAX_LISTED = 200  # producers, consumers, flags of one page
URI_VERSIONS = 50
_KEY_COLUMNS = tuple(Output.__table__.c[name] for name in ("dag_id", "task_id", "run_id", "name"))


def catalog_output(
    sources: Sources, dag_id: str, task_id: str, name: str, *, allowed: Allowed, page: int = 0, page_size: int = 50
) -> OutputCatalogPage | None:
    """An output's page: a page of its versions (newest first), the columns of its newest
    version, the outputs written to the same URI, the tasks that read it, its tags, flags,
    staleness and freshness. None when the caller may not read it or it was never recorded."""
    page, page_size = max(0, int(page)), max(1, min(int(page_size), MAX_PAGE_SIZE))
    ds, out = Dataset.__table__, Output.__table__
    now, default = utcnow(), conf.default_fresh_within()
    with store_conn(sources) as conn:
        row = conn.execute(
            select(ds, out.c.task_run_id.label("latest_try"))
            .outerjoin(out, out.c.id == ds.c.latest_output_id)
            .where(one_dag(ds.c.dag_id, dag_id, allowed), ds.c.task_id == task_id, ds.c.name == name)
        ).first()
        if row is None:
            return None
        dataset = summary_of(row, now=now, default_window=default)
        run_ids = _version_runs(conn, dag_id, task_id, name, page * page_size, page_size)
        versions = _versions(conn, dag_id, task_id, name, run_ids)
        newest_runs = run_ids if page == 0 else _version_runs(conn, dag_id, task_id, name, 0, CONSUMER_RUNS)
        columns = _columns(conn, row.latest_try, name)
        dataset.tags = _tags(conn, row.latest_try, name)
        stale = stale_of(conn, newest_version_of(dag_id, task_id, name, allowed))
        dataset.stale_reason = stale[0].reason if stale else None
        flags = _flags(conn, dag_id, task_id, name)
        dataset.open_flags = sum(1 for f in flags if f.reviewed_at is None)
        producers, hidden_producers = _producers(conn, row, allowed)
        tasks, hidden_consumers = _consumer_tasks(conn, dag_id, task_id, name, row.uri, newest_runs[:CONSUMER_RUNS], allowed)
        consumers = _datasets_of_tasks(conn, tasks, now, default)
    return OutputCatalogPage(
        dataset=dataset,
        versions=versions,
        n_versions=dataset.n_versions,
        columns=columns,
        producers=producers,
        consumers=consumers,
        hidden_consumers=hidden_consumers,
        flags=flags,
        consumer_tasks=tasks,
        hidden_producers=hidden_producers,
        page=page,
        page_size=page_size,
    )


def catalog_column(sources: Sources, column: str, *, allowed: Allowed, limit: int = 200) -> ColumnAcross:
    """Every readable output with a column named ``column`` (exact name), with that column's
    statistics in the output's newest version; outputs of unreadable DAGs only counted.

    The outputs come from the search catalog (one entry per output and column name), the
    statistics by ``(output_id, name)`` of each output's newest version."""
    limit = max(1, min(int(limit), 1000))
    cat, ds, col = CatalogEntry.__table__, Dataset.__table__, ColumnProfile.__table__
    is_column = and_(cat.c.kind == "column", cat.c.text == column)
    now, default = utcnow(), conf.default_fresh_within()
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(ds)
            .join(cat, and_(cat.c.dag_id == ds.c.dag_id, cat.c.task_id == ds.c.task_id, cat.c.output_name == ds.c.name))
            .where(is_column, dag_filter(cat.c.dag_id, allowed))
            .order_by(ds.c.dag_id, ds.c.task_id, ds.c.name)
            .limit(limit + 1)
        ).all()
        hidden = int(
            conn.execute(
                select(func.count()).select_from(cat).where(is_column, dag_hidden(cat.c.dag_id, allowed))
            ).scalar()
            or 0
        )
        latest = [r.latest_output_id for r in rows[:limit] if r.latest_output_id is not None]
        stats = {
            c.output_id: _column_detail(c)
            for c in conn.execute(select(col).where(col.c.output_id.in_(latest), col.c.name == column))
        } if latest else {}
    uses = [
        ColumnUse(
            summary_of(r, now=now, default_window=default),
            stats.get(r.latest_output_id),
            pii=column in (r.pii_columns or []),
        )
        for r in rows[:limit]
    ]
    return ColumnAcross(column, uses, hidden=hidden, truncated=len(rows) > limit)


def catalog_uri(sources: Sources, uri: str, *, allowed: Allowed) -> UriPage | None:
    """A URI or Asset: the readable outputs written to it, the tasks with it as an Asset
    outlet, the tasks that read it and its newest versions (any readable DAG); writers and
    readers in unreadable DAGs only counted. None when nothing recorded names the URI."""
    ds, lin = Dataset.__table__, Lineage.__table__
    now, default = utcnow(), conf.default_fresh_within()
    with store_conn(sources) as conn:
        producers = [
            summary_of(r, now=now, default_window=default)
            for r in conn.execute(
                select(ds)
                .where(ds.c.uri == uri, dag_filter(ds.c.dag_id, allowed))
                .order_by(ds.c.dag_id, ds.c.task_id, ds.c.name)
                .limit(MAX_LISTED)
            )
        ]
        hidden_producers = _count_tasks(conn, ds, and_(ds.c.uri == uri, dag_hidden(ds.c.dag_id, allowed)))
        # Readers, and Asset outlets (outputs written to the URI are the producers above).
        read_or_outlet = or_(lin.c.direction == "input", lin.c.kind == "asset")
        tasks = _lineage_tasks(conn, and_(lin.c.uri == uri, read_or_outlet, dag_filter(lin.c.dag_id, allowed)))
        consumers = [t for d, t in tasks if d == "input"]
        outlets = [t for d, t in tasks if d == "output"]
        hidden_readers = _count_tasks(
            conn, lin, and_(lin.c.uri == uri, lin.c.direction == "input", dag_hidden(lin.c.dag_id, allowed))
        )
        hidden_writers = _count_tasks(
            conn,
            lin,
            and_(lin.c.uri == uri, lin.c.direction == "output", lin.c.kind == "asset", dag_hidden(lin.c.dag_id, allowed)),
        )
        versions = _uri_versions(conn, uri, allowed)
        is_asset = conn.execute(select(lin.c.id).where(lin.c.uri == uri, lin.c.kind == "asset").limit(1)).first()
    if not (producers or tasks or versions or hidden_producers or hidden_readers or hidden_writers):
        return None
    return UriPage(
        uri=uri,
        is_asset=is_asset is not None,
        producers=producers,
        asset_producers=outlets,
        consumers=consumers,
        versions=versions,
        hidden_producers=hidden_producers + hidden_writers,
        hidden_consumers=hidden_readers,
    )


def recent(sources: Sources, n: int, *, allowed: Allowed) -> list[VersionRef]:
    """The ``n`` newest output versions of the readable DAGs, newest first (mltrace's
    ``recent``). Walks the tries' start-time index backwards, their outputs by try."""
    n = max(1, min(int(n), MAX_HISTORY))
    out, run = Output.__table__, TaskRun.__table__
    with store_conn(sources) as conn:
        newest = conn.execute(
            select(out.c.dag_id, out.c.task_id, out.c.run_id, out.c.name)
            .join(run, run.c.id == out.c.task_run_id)
            .where(dag_filter(run.c.dag_id, allowed))
            .order_by(run.c.started_at.desc(), run.c.id.desc())
            .limit(n * 5)
        ).all()
        keys = list(dict.fromkeys((r.dag_id, r.task_id, r.run_id, r.name) for r in newest))[:n]
        if not keys:
            return []
        rows = conn.execute(
            version_select().where(*(col.in_(sorted({k[i] for k in keys})) for i, col in enumerate(_KEY_COLUMNS)))
        ).all()
    wanted = set(keys)
    return versions_of_rows([r for r in rows if (r.dag_id, r.task_id, r.run_id, r.name) in wanted])[:n]


def history(sources: Sources, dag_id: str, task_id: str, n: int, *, allowed: Allowed) -> list[VersionRef]:
    """The ``n`` newest versions of a task's outputs (one per run and output), newest first
    (mltrace's ``history``); none for a DAG the caller may not read."""
    n = max(1, min(int(n), MAX_HISTORY))
    out = Output.__table__
    with store_conn(sources) as conn:
        run_ids = [
            r.run_id
            for r in conn.execute(
                select(out.c.run_id, func.max(out.c.started_at).label("started"))
                .where(one_dag(out.c.dag_id, dag_id, allowed), out.c.task_id == task_id)
                .group_by(out.c.run_id)
                .order_by(desc("started"), out.c.run_id.desc())
                .limit(n)
            )
        ]
        versions = _versions(conn, dag_id, task_id, None, run_ids)
    return versions[:n]


def inspect(
    sources: Sources, dag_id: str, run_id: str, task_id: str, *, allowed: Allowed, output: str | None = None
) -> list[OutputDetail]:
    """A task's outputs in one run with every column's statistics (mltrace's ``inspect``):
    of each map index its newest try, a mapped task's parts merged into one whole per output.
    Empty when there is none the caller may read."""
    run = TaskRun.__table__
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.map_index, run.c.try_number).where(
                one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id == run_id, run.c.task_id == task_id
            )
        ).all()
        newest: dict[int, Any] = {}
        for t in tries:
            if t.map_index not in newest or t.try_number > newest[t.map_index].try_number:
                newest[t.map_index] = t
        ids = [newest[m].id for m in sorted(newest)]
        by_try = outputs_of(conn, ids) if ids else {}
    details = [o for i in ids for o in by_try[i] if output is None or o.name == output]
    if len(ids) <= 1:
        return details
    groups: dict[str, list[OutputDetail]] = defaultdict(list)
    for o in details:
        groups[o.name].append(o)
    return [merge_outputs(name, group) for name, group in groups.items()]


# -- versions -----------------------------------------------------------------------------


def versions_of_rows(rows: Iterable[Any]) -> list[VersionRef]:
    """Output rows (of :func:`~ddtrack.queries.versions.version_select`) as versions, newest first: one per output and
    run, of each map index its newest try, the parts' rows summed. A version is named by the
    output of its first part."""
    newest: dict[tuple, Any] = {}
    for r in rows:
        key = (r.dag_id, r.task_id, r.run_id, r.name, r.map_index)
        if key not in newest or r.try_number > newest[key].try_number:
            newest[key] = r
    parts: dict[tuple, list[Any]] = defaultdict(list)
    for key in sorted(newest, key=lambda k: k[4]):
        parts[key[:4]].append(newest[key])
    versions = []
    for (dag_id, task_id, run_id, name), group in parts.items():
        first = group[0]
        known_rows = [p.rows for p in group if p.rows is not None]
        failed = next((p.state for p in group if p.state != "success"), None)
        versions.append(
            VersionRef(
                output_id=first.id,
                dag_id=dag_id,
                task_id=task_id,
                run_id=run_id,
                name=name,
                started_at=min((utc(p.started_at) for p in group if p.started_at is not None), default=None),
                uri=first.uri,
                rows=sum(known_rows) if known_rows else None,
                schema_fingerprint=first.schema_fingerprint,
                code_hash=first.code_hash,
                try_number=max(p.try_number for p in group),
                state=failed or first.state,
            )
        )
    versions.sort(key=lambda v: (v.started_at is not None, v.started_at, v.run_id), reverse=True)
    return versions


def _version_runs(conn: Connection, dag_id: str, task_id: str, name: str, offset: int, limit: int) -> list[str]:
    """One page of the runs with a version of the output, newest first: read from the
    ``(dag_id, task_id, name, started_at)`` index, aggregated per run."""
    out = Output.__table__
    return [
        r.run_id
        for r in conn.execute(
            select(out.c.run_id, func.max(out.c.started_at).label("started"))
            .where(out.c.dag_id == dag_id, out.c.task_id == task_id, out.c.name == name)
            .group_by(out.c.run_id)
            .order_by(desc("started"), out.c.run_id.desc())
            .limit(limit)
            .offset(offset)
        )
    ]


def _versions(conn: Connection, dag_id: str, task_id: str, name: str | None, run_ids: Sequence[str]) -> list[VersionRef]:
    """The versions of one output (``name``) or of every output of the task, in ``run_ids``."""
    if not run_ids:
        return []
    out = Output.__table__
    query = version_select().where(out.c.dag_id == dag_id, out.c.task_id == task_id, out.c.run_id.in_(list(run_ids)))
    if name is not None:
        query = query.where(out.c.name == name)
    return versions_of_rows(conn.execute(query))


def _uri_versions(conn: Connection, uri: str, allowed: Allowed) -> list[VersionRef]:
    out = Output.__table__
    rows = conn.execute(
        version_select()
        .where(out.c.uri == uri, dag_filter(out.c.dag_id, allowed))
        .order_by(out.c.started_at.desc())
        .limit(URI_VERSIONS * 4)
    ).all()
    return versions_of_rows(rows)[:URI_VERSIONS]


# -- one output's surroundings ------------------------------------------------------------


def _columns(conn: Connection, task_run_id: int | None, name: str) -> list[ColumnDetail]:
    if task_run_id is None:
        return []
    return next((o.columns for o in outputs_of(conn, [task_run_id])[task_run_id] if o.name == name), [])


def _column_detail(c: Any) -> ColumnDetail:
    return ColumnDetail(
        c.position, c.name, c.dtype, c.kind, c.count, c.nulls, c.null_pct, c.n_distinct,
        bool(c.distinct_estimated), c.mean, c.std, c.zeros, c.negatives, c.infinities, dict(c.stats or {}),
    )


def _tags(conn: Connection, task_run_id: int | None, name: str) -> dict[str, str]:
    """The newest version's tags: its task's, then the output's own (which win)."""
    if task_run_id is None:
        return {}
    tag = Tag.__table__
    rows = conn.execute(
        select(tag.c.output_name, tag.c.key, tag.c.value).where(
            tag.c.task_run_id == task_run_id, or_(tag.c.output_name.is_(None), tag.c.output_name == name)
        )
    ).all()
    ordered = sorted(rows, key=lambda t: t.output_name is not None)
    return {t.key: t.value for t in ordered}


def _flags(conn: Connection, dag_id: str, task_id: str, name: str) -> list[FlagInfo]:
    flag = Flag.__table__
    return [
        FlagInfo(
            f.id, f.output_id, f.dag_id, f.task_id, f.run_id, f.output_name, f.note, f.flagged_by,
            utc(f.flagged_at), f.reviewed_by, utc(f.reviewed_at), f.review_note,
        )
        for f in conn.execute(
            select(flag)
            .where(flag.c.dag_id == dag_id, flag.c.task_id == task_id, flag.c.output_name == name)
            .order_by(flag.c.flagged_at.desc(), flag.c.id.desc())
            .limit(MAX_LISTED)
        )
    ]


def _producers(conn: Connection, row: Any, allowed: Allowed) -> tuple[list[VersionRef], int]:
    """The newest version of each readable output written to the same URI (this one
    included); others are counted. Without a URI, the output is its only producer."""
    ds, out = Dataset.__table__, Output.__table__
    same = ds.c.uri == row.uri if row.uri else ds.c.id == row.id
    versions = versions_of_rows(
        conn.execute(
            version_select()
            .join(ds, ds.c.latest_output_id == out.c.id)
            .where(same, dag_filter(ds.c.dag_id, allowed))
            .order_by(ds.c.last_seen_at.desc())
            .limit(MAX_LISTED)
        )
    )
    hidden = _count_tasks(conn, ds, and_(same, dag_hidden(ds.c.dag_id, allowed))) if row.uri else 0
    return versions, hidden


def _consumer_tasks(
    conn: Connection,
    dag_id: str,
    task_id: str,
    name: str,
    uri: str | None,
    run_ids: Sequence[str],
    allowed: Allowed,
) -> tuple[list[ConsumerTask], int]:
    """Tasks that read the output: in the same runs (of the newest versions, by the
    ``(dag_id, run_id, upstream_task_id)`` index) and through its URI or Asset in any DAG;
    and how many tasks of unreadable DAGs read its URI."""
    lin = Lineage.__table__
    consumers: list[ConsumerTask] = []
    if run_ids:
        consumers += [
            ConsumerTask(r.dag_id, r.task_id, "xcom", last_run_id=r.run_id)
            for r in conn.execute(
                select(lin.c.dag_id, lin.c.task_id, func.max(lin.c.run_id).label("run_id"))
                .where(
                    one_dag(lin.c.dag_id, dag_id, allowed),
                    lin.c.run_id.in_(list(run_ids)),
                    lin.c.upstream_task_id == task_id,
                    lin.c.kind == "task",
                    lin.c.upstream_output == name,
                )
                .group_by(lin.c.dag_id, lin.c.task_id)
                .order_by(lin.c.task_id)
                .limit(MAX_LISTED)
            )
        ]
    if not uri:
        return consumers, 0
    readers = and_(lin.c.uri == uri, lin.c.direction == "input")
    consumers += [t for _, t in _lineage_tasks(conn, and_(readers, dag_filter(lin.c.dag_id, allowed)))]
    return consumers, _count_tasks(conn, lin, and_(readers, dag_hidden(lin.c.dag_id, allowed)))


def _lineage_tasks(conn: Connection, where: Any) -> list[tuple[str, ConsumerTask]]:
    """(direction, task) of the lineage rows ``where`` selects, one per DAG, task and kind.

    Sorted here, not in SQL: ordered by DAG and task with a limit, PostgreSQL walks the
    (dag_id, task_id) index of the whole lineage table to find a hot URI's few readers."""
    lin = Lineage.__table__
    rows = conn.execute(
        select(lin.c.direction, lin.c.dag_id, lin.c.task_id, lin.c.kind, lin.c.uri, func.max(lin.c.run_id).label("run_id"))
        .where(where, lin.c.kind.in_(("uri", "asset")))
        .group_by(lin.c.direction, lin.c.dag_id, lin.c.task_id, lin.c.kind, lin.c.uri)
        .limit(MAX_LISTED)
    ).all()
    return [
        (r.direction, ConsumerTask(r.dag_id, r.task_id, "asset" if r.kind == "asset" else "uri", r.uri, r.run_id))
        for r in sorted(rows, key=lambda r: (r.dag_id, r.task_id, r.direction, r.kind))
    ]


def _count_tasks(conn: Connection, table: Any, where: Any) -> int:
    """Distinct (DAG, task) pairs ``where`` selects in ``table``: what a page may say of
    unreadable DAGs."""
    pairs = select(table.c.dag_id, table.c.task_id).where(where).group_by(table.c.dag_id, table.c.task_id).subquery()
    return int(conn.execute(select(func.count()).select_from(pairs)).scalar() or 0)


def _datasets_of_tasks(
    conn: Connection, tasks: Sequence[ConsumerTask], now: Any, default: int | None
) -> list[DatasetSummary]:
    """The outputs of the consuming tasks (already filtered to readable DAGs)."""
    pairs = sorted({(t.dag_id, t.task_id) for t in tasks})
    if not pairs:
        return []
    ds = Dataset.__table__
    rows = conn.execute(
        select(ds)
        .where(or_(*(and_(ds.c.dag_id == d, ds.c.task_id == t) for d, t in pairs)))
        .order_by(ds.c.dag_id, ds.c.task_id, ds.c.name)
        .limit(MAX_LISTED)
    ).all()
    return [summary_of(r, now=now, default_window=default) for r in rows]
