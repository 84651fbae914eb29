"""Staleness and freshness of outputs across DAGs.

A version is **stale** when an input it was built from has a newer version that it did not
use; an output is **overdue** when no successful version landed within its window
(``@track(fresh_within=...)``, else ``[ddtrack] default_fresh_within``).

"Which version of an input did this version use" follows the contract's one rule (the
trace of :mod:`ddtrack.queries.trace` walks the same edges over many hops): an upstream
task's output in the same run, or for a URI or Asset the newest version written before the
consumer's try started. So the versions it did *not* use are exactly those that started
after the consumer's try (for an upstream task: in another run). Only the newest version
of each output is judged: an older one is superseded anyway. One set-based statement per
kind of input answers for every output at once.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, union
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from ddtrack import conf
from ddtrack.duration import utcnow
from ddtrack.queries.access import Allowed, dag_filter, may_read, one_dag
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.types import DatasetSummary, StaleInput, StaleOutput
from ddtrack.queries.versions import batches
from ddtrack.store.models import Dataset, Lineage, Output, StaleCount, TaskRun
from ddtrack.store.stale_counts import valid_counts

MAX_OVERDUE = 500
STALE_GROUP = 200  # DAGs per stale statement of a count across DAGs


def stale_outputs(
    sources: Sources, *, allowed: Allowed, dag_id: str | None = None, limit: int = 200
) -> list[StaleOutput]:
    """The newest version of each readable output (of ``dag_id`` only, if given) whose inputs
    have newer versions it did not use, newest first, with the reason in words."""
    with store_conn(sources) as conn:
        stale = stale_of(conn, _newest_versions(allowed, dag_id))
    stale.sort(key=lambda s: (s.started_at or dt.datetime.min, s.dag_id, s.task_id, s.name), reverse=True)
    return stale[: max(1, int(limit))]


def overdue_outputs(
    sources: Sources,
    *,
    allowed: Allowed,
    now: dt.datetime | None = None,
    dag_id: str | None = None,
    limit: int = MAX_OVERDUE,
) -> list[DatasetSummary]:
    """Readable outputs (of ``dag_id`` only, if given) with a freshness window and no
    successful version within it, the longest overdue first. An output that never succeeded
    is overdue once it was first seen longer ago than its window."""
    now = utc(now) or utcnow()
    ds = Dataset.__table__
    default = conf.default_fresh_within()
    with store_conn(sources) as conn:
        where = _overdue_where(conn, allowed, dag_id, now, default)
        if where is None:
            return []
        rows = conn.execute(
            select(ds)
            .where(where)
            .order_by(ds.c.last_success_at, ds.c.dag_id, ds.c.task_id, ds.c.name)
            .limit(max(1, int(limit)))
        ).all()
    return [summary_of(r, now=now, default_window=default) for r in rows]


def _overdue_where(
    conn: Connection, allowed: Allowed, dag_id: str | None, now: dt.datetime, default: int | None
) -> Any | None:
    """The readable (``dag_id``'s only, if given) overdue outputs' predicate; None if no
    output has a window."""
    ds = Dataset.__table__
    readable = dag_filter(ds.c.dag_id, allowed) if dag_id is None else one_dag(ds.c.dag_id, dag_id, allowed)
    # One predicate per distinct window (a handful: "1d", "12h"): portable SQL, no
    # date arithmetic of each database's own.
    windows = [
        int(w)
        for (w,) in conn.execute(
            select(ds.c.fresh_within_s).where(ds.c.fresh_within_s.is_not(None), readable).group_by(ds.c.fresh_within_s)
        )
    ]
    late = [and_(ds.c.fresh_within_s == w, _late_since(now - dt.timedelta(seconds=w))) for w in windows]
    if default:
        late.append(and_(ds.c.fresh_within_s.is_(None), _late_since(now - dt.timedelta(seconds=default))))
    return and_(readable, or_(*late)) if late else None


def freshness_counts(
    sources: Sources, *, allowed: Allowed, now: dt.datetime | None = None, dag_id: str | None = None
) -> dict[str, tuple[int, int]]:
    """dag_id -> (stale outputs, overdue outputs) of the readable DAGs (``dag_id`` only, if
    given) that have any: the badges of home and the DAG page. Overdue outputs are counted
    in SQL, never read. Across DAGs, the stale outputs of a DAG the background refresh has
    counted since its last change are read from its count
    (:mod:`ddtrack.store.stale_counts`); the others are worked out here."""
    now = utc(now) or utcnow()
    ds = Dataset.__table__
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    with store_conn(sources) as conn:
        if dag_id is not None:
            live = stale_counts_of(conn, [dag_id], allowed)
        else:
            kept = valid_counts(conn, dag_filter(StaleCount.__table__.c.dag_id, allowed))
            live = stale_counts_of(conn, [d for d in _readable_dags(conn, allowed) if d not in kept])
            live.update(kept)
        for dag, n in live.items():
            if n:
                counts[dag][0] += n
        where = _overdue_where(conn, allowed, dag_id, now, conf.default_fresh_within())
        if where is not None:
            for dag, n in conn.execute(select(ds.c.dag_id, func.count()).where(where).group_by(ds.c.dag_id)):
                counts[dag][1] += int(n)
    return {dag: (c[0], c[1]) for dag, c in sorted(counts.items())}


def stale_counts_of(conn: Connection, dag_ids: Sequence[str], allowed: Allowed = None) -> dict[str, int]:
    """dag_id -> stale outputs of ``dag_ids`` (those ``allowed`` reads) that have any, worked
    out from the stored versions ``STALE_GROUP`` DAGs at a time: measured at 1,000 DAGs on
    PostgreSQL, groups of 200 took half the time of one statement over all of them (the
    planner reads the newest versions by the dataset index instead of hashing the outputs)."""
    found: dict[str, int] = defaultdict(int)
    dags = sorted(set(dag_ids))
    for i in range(0, len(dags), STALE_GROUP):
        group = dags[i : i + STALE_GROUP]
        readable = [d for d in group if may_read(d, allowed)]
        for s in stale_of(conn, _newest_versions(readable, None)) if readable else ():
            found[s.dag_id] += 1
    return dict(found)


def _readable_dags(conn: Connection, allowed: Allowed) -> list[str]:
    """The readable DAGs with outputs."""
    ds = Dataset.__table__
    return sorted(conn.execute(select(ds.c.dag_id).where(dag_filter(ds.c.dag_id, allowed)).distinct()).scalars())


# -- shared with the catalog --------------------------------------------------------------


def window_of(fresh_within_s: int | None, default_window: int | None) -> int | None:
    """The freshness window of an output: its own, else the deployment's default."""
    return fresh_within_s or default_window or None


def is_overdue(row: Any, window: int | None, now: dt.datetime) -> bool:
    if not window:
        return False
    cutoff = now - dt.timedelta(seconds=window)
    last = utc(row.last_success_at)
    if last is not None:
        return last < cutoff
    first = utc(row.first_seen_at)
    return first is not None and first < cutoff


def summary_of(row: Any, *, now: dt.datetime | None = None, default_window: int | None = None) -> DatasetSummary:
    """A ``ddtrack_dataset`` row as a :class:`DatasetSummary` (with its effective window and
    whether it is overdue at ``now``)."""
    window = window_of(row.fresh_within_s, default_window)
    return DatasetSummary(
        dag_id=row.dag_id,
        task_id=row.task_id,
        name=row.name,
        uri=row.uri,
        n_versions=int(row.n_versions or 0),
        last_seen_at=utc(row.last_seen_at),
        last_success_at=utc(row.last_success_at),
        latest_rows=row.latest_rows,
        latest_fingerprint=row.latest_fingerprint,
        pii_columns=[str(c) for c in row.pii_columns or []],
        fresh_within_s=window,
        overdue=is_overdue(row, window, now or utcnow()),
    )


def newest_version_of(dag_id: str, task_id: str, name: str, allowed: Allowed) -> Select:
    """The newest-version statement (see :func:`stale_of`) for one output."""
    ds = Dataset.__table__
    return _newest_versions(allowed, dag_id).where(ds.c.task_id == task_id, ds.c.name == name)


def stale_of(conn: Connection, newest: Select) -> list[StaleOutput]:
    """The stale ones among the versions ``newest`` selects (output id, its try, run, start).

    The two set-based statements find the tries with newer inputs first; only those tries'
    versions are then read (by id, in batches), never every newest version."""
    tries = newest.subquery()
    by_try: dict[int, list[StaleInput]] = defaultdict(list)
    for r in conn.execute(_newer_upstream_versions(tries)):
        if not r.newer:  # the newer versions were of the try's own run
            continue
        by_try[r.task_run_id].append(
            StaleInput(
                f"{r.dag_id}.{r.upstream_task_id}.{r.upstream_output}",
                "task",
                int(r.newer),
                upstream_task_id=r.upstream_task_id,
                upstream_output=r.upstream_output,
            )
        )
    for r in conn.execute(_newer_uri_versions(tries)):
        by_try[r.task_run_id].append(StaleInput(uri_label(r.uri), r.kind, int(r.newer), uri=r.uri))
    versions = [
        v for batch in batches(sorted(by_try), 500) for v in conn.execute(newest.where(Output.task_run_id.in_(batch)))
    ]
    stale = []
    for v in versions:
        inputs = sorted(by_try[v.task_run_id], key=lambda i: (-i.newer_versions, i.label))
        stale.append(
            StaleOutput(v.dag_id, v.task_id, v.name, v.run_id, v.output_id, utc(v.started_at), reason(inputs), inputs)
        )
    return stale


def reason(inputs: Sequence[StaleInput]) -> str:
    """"fares.parquet changed 3 runs ago": the input, and how many of its versions the
    output has not seen (so the first change came that many of the input's runs ago)."""
    return "; ".join(
        f"{i.label} changed {i.newer_versions} run{'s' if i.newer_versions != 1 else ''} ago" for i in inputs
    )


def uri_label(uri: str) -> str:
    """A URI's last path segment ("fares.parquet"), or the URI when it has none."""
    return uri.rstrip("/").rsplit("/", 1)[-1] or uri


# -- statements ---------------------------------------------------------------------------


def _newest_versions(allowed: Allowed, dag_id: str | None) -> Select:
    """The newest version of each readable output, with its try's id, run and start."""
    ds, out = Dataset.__table__, Output.__table__
    return (
        select(
            ds.c.dag_id,
            ds.c.task_id,
            ds.c.name,
            out.c.id.label("output_id"),
            out.c.task_run_id,
            out.c.run_id,
            out.c.started_at,
        )
        .join(out, out.c.id == ds.c.latest_output_id)
        .where(dag_filter(ds.c.dag_id, allowed) if dag_id is None else one_dag(ds.c.dag_id, dag_id, allowed))
    )


def _newer_upstream_versions(tries: Any) -> Select:
    """Per try and upstream task input: the runs of that upstream output that started after
    the try did, in another run (versions it could not have used).

    Only inputs whose upstream output has a newer version at all (its dataset row says so)
    are counted, each by a range of the ``(dag_id, task_id, name, started_at)`` index: a join
    of every try to the output table instead makes PostgreSQL hash the whole table."""
    lin, up, newer = Lineage.__table__, Dataset.__table__, Output.__table__
    reads = (
        select(
            tries.c.task_run_id,
            tries.c.dag_id,
            tries.c.run_id,
            tries.c.started_at,
            lin.c.upstream_task_id,
            lin.c.upstream_output,
        )
        .select_from(tries)
        .join(lin, and_(lin.c.task_run_id == tries.c.task_run_id, lin.c.direction == "input", lin.c.kind == "task"))
        .join(
            up,
            and_(
                up.c.dag_id == tries.c.dag_id,
                up.c.task_id == lin.c.upstream_task_id,
                up.c.name == lin.c.upstream_output,
                up.c.last_seen_at > tries.c.started_at,
            ),
        )
        .subquery()
    )
    runs_since = (
        select(func.count(func.distinct(newer.c.run_id)))
        .where(
            newer.c.dag_id == reads.c.dag_id,
            newer.c.task_id == reads.c.upstream_task_id,
            newer.c.name == reads.c.upstream_output,
            newer.c.started_at > reads.c.started_at,
            newer.c.run_id != reads.c.run_id,
        )
        .scalar_subquery()
    )
    return select(
        reads.c.task_run_id, reads.c.dag_id, reads.c.upstream_task_id, reads.c.upstream_output, runs_since.label("newer")
    )


def _newer_uri_versions(tries: Any) -> Select:
    """Per try and URI/Asset input: the runs of any DAG that wrote it (an output with that
    URI, by the ``(uri, started_at)`` index, or the Asset as an outlet) in a try that started
    after the reading try did."""
    lin, out, outlet, writer = (
        Lineage.__table__,
        Output.__table__,
        Lineage.__table__.alias("outlet"),
        TaskRun.__table__,
    )
    reads = (
        select(tries.c.task_run_id, tries.c.started_at, lin.c.kind, lin.c.uri)
        .join(
            lin,
            and_(
                lin.c.task_run_id == tries.c.task_run_id,
                lin.c.direction == "input",
                lin.c.kind.in_(("uri", "asset")),
                lin.c.uri.is_not(None),
            ),
        )
        .subquery()
    )
    newer = union(
        select(reads.c.task_run_id, reads.c.kind, reads.c.uri, out.c.dag_id, out.c.run_id).join(
            out, and_(out.c.uri == reads.c.uri, out.c.started_at > reads.c.started_at)
        ),
        select(reads.c.task_run_id, reads.c.kind, reads.c.uri, outlet.c.dag_id, outlet.c.run_id)
        .join(outlet, and_(outlet.c.uri == reads.c.uri, outlet.c.direction == "output", outlet.c.kind == "asset"))
        .join(writer, and_(writer.c.id == outlet.c.task_run_id, writer.c.started_at > reads.c.started_at)),
    ).subquery()
    return select(
        newer.c.task_run_id, newer.c.kind, newer.c.uri, func.count().label("newer")
    ).group_by(newer.c.task_run_id, newer.c.kind, newer.c.uri)


def _late_since(cutoff: dt.datetime) -> Any:
    ds = Dataset.__table__
    return or_(
        ds.c.last_success_at < cutoff,
        and_(ds.c.last_success_at.is_(None), ds.c.first_seen_at.is_not(None), ds.c.first_seen_at < cutoff),
    )

