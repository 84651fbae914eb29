"""Home: the tracked DAGs the user may read, a page at a time, with last run and a sparkline of rows.

A bounded number of statements per page whatever the number of DAGs: the page of DAGs with
their counts and the total (catalog, from its ``(kind, dag_id, task_id)`` index), each page
DAG's newest try (one index probe per DAG), the rows of the newest runs of the DAGs whose
sparkline is not kept (one statement, a range scan of ``(dag_id, started_at)`` per DAG), and
their last DAG runs (metastore); and three for the page DAGs' alert badges
(``queries.alerts.alert_counts``).

A DAG's sparkline is kept (:data:`SPARK_SECONDS` at most) for as long as its newest try is the
same: a new run shows at once, and a warm home reads no output rows.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from cachetools import TTLCache
from sqlalchemy import func, select, tuple_, union_all
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, one_dag_range
from ddtrack.queries.alerts import alert_counts
from ddtrack.queries.kept_runs import NewestTry, kept_runs, newest_try_of_each
from ddtrack.queries.sources import (
    MetastoreUnavailable,
    Sources,
    has_metastore,
    meta_conn,
    reading_metastore,
    store_conn,
    utc,
)
from ddtrack.queries.types import DagSummary
from ddtrack.store.airflow_tables import DAG_RUN
from ddtrack.store.models import CatalogEntry, Output, TaskRun

SPARK_RUNS = 20
TRIES_PER_DAG = SPARK_RUNS * 20  # at most, per DAG, for its sparkline
PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
SPARK_SECONDS = 30  # a sparkline is reused at most this long while its DAG has no newer try
SPARK_ENTRIES = 4096

Points = list[tuple[dt.datetime | None, int]]
# (sources, dag_id, its newest try's id and hash, its tracked tasks, bound) -> the sparkline's points.
_sparklines: TTLCache = TTLCache(maxsize=SPARK_ENTRIES, ttl=SPARK_SECONDS)
_spark_lock = threading.Lock()


@dataclass
class DagPage:
    """One page of home's DAG list."""

    dags: list[DagSummary]
    total: int  # tracked DAGs the caller may read, on every page
    page: int  # 1-based
    page_size: int
    # Set when Airflow's metastore is configured but did not answer: last runs are missing.
    metastore_error: str | None = field(default=None)
    # dag_id -> alert counts of the last 7 days (queries.alerts.alert_counts), for badges.
    alerts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


def home_page(
    sources: Sources, allowed: Iterable[str] | None, page: int = 1, page_size: int = PAGE_SIZE
) -> DagPage:
    """A page of the DAGs with tracked outputs the caller may read (by DAG id), each with its
    last DAG run and the rows of its newest runs.

    Output and task counts come from the catalog (one row per distinct output), not from a
    scan of every recorded output. A metastore that fails is reported in
    ``metastore_error`` (logged, rate-limited), never hidden as "no runs".
    """
    page_size = max(1, min(int(page_size), MAX_PAGE_SIZE))
    page = max(1, int(page))
    cat = CatalogEntry.__table__
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(
                cat.c.dag_id,
                func.count(),
                func.count(func.distinct(cat.c.task_id)),
                func.count().over().label("total"),
            )
            .where(cat.c.kind == "output", dag_filter(cat.c.dag_id, allowed))
            .group_by(cat.c.dag_id)
            .order_by(cat.c.dag_id)
            .limit(page_size)
            .offset((page - 1) * page_size)
        ).all()
        total = int(rows[0].total) if rows else _count(conn, allowed) if page > 1 else 0
        summaries = {r[0]: DagSummary(dag_id=r[0], n_outputs=int(r[1]), n_tasks=int(r[2])) for r in rows}
        newest = newest_try_of_each(conn, list(summaries), allowed=allowed) if summaries else {}
        for dag_id, points in _sparklines_of(conn, sources, summaries, newest, allowed).items():
            summaries[dag_id].rows_by_run = points
    result = DagPage(list(summaries.values()), total, page, page_size)
    if summaries:
        result.alerts = alert_counts(sources, allowed, list(summaries))
    if summaries:
        try:
            _add_last_runs(sources, summaries, {d: n.run_id for d, n in newest.items()}, allowed)
        except MetastoreUnavailable as exc:
            result.metastore_error = str(exc)
    return result


def forget_sparklines() -> None:
    """Empty the kept sparklines (a benchmark's cold call)."""
    with _spark_lock:
        _sparklines.clear()


def _sparklines_of(
    conn: Connection,
    sources: Sources,
    summaries: dict[str, DagSummary],
    newest: dict[str, NewestTry],
    allowed: Allowed,
) -> dict[str, Points]:
    """The page DAGs' sparklines: kept ones while the DAG's newest try is the same, the others
    read in one statement (:func:`_rows_by_recent_run`). A DAG without tries has none."""
    # Everything the points depend on: the DAG's newest try, its tracked tasks, the read bound.
    keys = {
        d: (sources, d, newest[d].id, newest[d].record_hash, summaries[d].n_tasks, TRIES_PER_DAG)
        for d in summaries
        if d in newest
    }
    with _spark_lock:
        found = {d: _sparklines[k] for d, k in keys.items() if k in _sparklines}
    missing = {d: summaries[d].n_tasks for d in keys if d not in found}
    if missing:
        read = _rows_by_recent_run(conn, missing, allowed)
        with _spark_lock:
            for dag_id in missing:
                found[dag_id] = _sparklines[keys[dag_id]] = read.get(dag_id, [])
    return found


def tracked_dags(sources: Sources, allowed: Iterable[str] | None, page: int = 1) -> list[DagSummary]:
    """The DAGs of one page of home (:func:`home_page`), for callers that need only the list."""
    return home_page(sources, allowed, page).dags


def _count(conn: Connection, allowed: Iterable[str] | None) -> int:
    """Tracked DAGs the caller may read (asked only for a page past the last one)."""
    cat = CatalogEntry.__table__
    return int(
        conn.execute(
            select(func.count(func.distinct(cat.c.dag_id))).where(
                cat.c.kind == "output", dag_filter(cat.c.dag_id, allowed)
            )
        ).scalar()
        or 0
    )


def _rows_by_recent_run(
    conn: Connection, tasks: dict[str, int], allowed: Allowed, runs: int = SPARK_RUNS
) -> dict[str, Points]:
    """Total tracked rows of each DAG's newest runs, oldest first, in one statement.

    Each DAG's newest tries come from the ``(dag_id, started_at)`` index (a union of one
    bounded range scan per DAG of the page), their outputs by ``task_run_id``: the cost
    depends on the page, not on the DAGs' whole history. A DAG's ``tasks`` (tracked tasks)
    sizes its scan: one run more than the sparkline's, at most TRIES_PER_DAG tries.
    """
    run, out = TaskRun.__table__, Output.__table__
    branches = []
    limits: dict[str, int] = {}
    for dag_id, n_tasks in tasks.items():
        limits[dag_id] = min(TRIES_PER_DAG, (runs + 1) * max(1, n_tasks))
        newest = (
            select(run.c.id, run.c.dag_id, run.c.run_id, run.c.started_at)
            # A range, not "= dag_id", and ordered by both columns: only the (dag_id,
            # started_at) index gives this order, so each DAG costs its newest entries. With
            # "=", PostgreSQL drops dag_id from the order and, for few DAGs of many tries,
            # walks the whole table's started_at index back filtering (20,000 entries a DAG).
            .where(one_dag_range(run.c.dag_id, dag_id, allowed))
            .order_by(run.c.dag_id.desc(), run.c.started_at.desc())
            .limit(limits[dag_id])
            .subquery()
        )
        # Aggregated per DAG: each branch joins its few tries to their outputs by index.
        branches.append(
            select(
                newest.c.dag_id,
                newest.c.run_id,
                func.min(newest.c.started_at).label("started"),
                func.count().label("tries"),
                func.coalesce(func.sum(out.c.rows), 0).label("rows"),
            )
            .select_from(newest.outerjoin(out, out.c.task_run_id == newest.c.id))
            .group_by(newest.c.dag_id, newest.c.run_id)
        )
    totals = conn.execute(union_all(*branches)).all()
    by_dag: dict[str, list] = defaultdict(list)
    for r in totals:
        by_dag[r.dag_id].append(r)
    result: dict[str, Points] = {}
    for dag_id, dag_runs in by_dag.items():
        dag_runs.sort(key=lambda r: utc(r.started) or dt.datetime.min, reverse=True)
        if sum(r.tries for r in dag_runs) >= limits[dag_id]:
            dag_runs = dag_runs[:-1]  # the oldest run read may be missing tries: not drawn
        result[dag_id] = [(utc(r.started), int(r.rows or 0)) for r in reversed(dag_runs[:runs])]
    return result


def _add_last_runs(
    sources: Sources, summaries: dict[str, DagSummary], ours: dict[str, str], allowed: Iterable[str] | None
) -> None:
    """Last DAG run of each DAG of the page from Airflow's metastore, or from ddtrack's
    records where Airflow no longer has it (:func:`_add_kept_last_runs`).

    Without a configured metastore (a store on its own, e.g. ``ddtrack sync`` elsewhere) the
    page shows what the side tables know; a configured one that fails raises
    :class:`MetastoreUnavailable`.
    """
    if has_metastore(sources):
        _add_airflow_last_runs(sources, summaries)
    _add_kept_last_runs(sources, summaries, ours, allowed)


def _add_airflow_last_runs(sources: Sources, summaries: dict[str, DagSummary]) -> None:
    dr = DAG_RUN
    latest = (
        select(dr.c.dag_id, func.max(dr.c.id).label("id"))
        .where(dr.c.dag_id.in_(list(summaries)))
        .group_by(dr.c.dag_id)
        .subquery()
    )
    query = select(dr.c.dag_id, dr.c.run_id, dr.c.state, dr.c.start_date, dr.c.run_after).join(
        latest, dr.c.id == latest.c.id
    )
    with reading_metastore("read the last DAG runs"), meta_conn(sources) as conn:
        for r in conn.execute(query):
            s = summaries[r.dag_id]
            s.last_run_id, s.last_state = r.run_id, r.state
            s.last_time = utc(r.start_date) or utc(r.run_after)


def _add_kept_last_runs(
    sources: Sources, summaries: dict[str, DagSummary], ours: dict[str, str], allowed: Iterable[str] | None
) -> None:
    """Where ddtrack's newest run of a page DAG (``ours``: dag_id -> run of its newest try) is
    one Airflow no longer has (``airflow db clean`` took every run, or kept only an older
    scheduled one), show it as the last run, from ddtrack's records. The DAGs whose newest
    runs agree (the usual case) cost nothing more."""
    differ = {d: r for d, r in ours.items() if summaries[d].last_run_id != r}
    if not differ:
        return
    airflow_has: set[tuple[str, str]] = set()
    if has_metastore(sources):
        pairs = tuple_(DAG_RUN.c.dag_id, DAG_RUN.c.run_id)
        with reading_metastore("read the last DAG runs"), meta_conn(sources) as conn:
            airflow_has = {
                (r.dag_id, r.run_id)
                for r in conn.execute(select(DAG_RUN.c.dag_id, DAG_RUN.c.run_id).where(pairs.in_(list(differ.items()))))
            }
    forgotten = {d: [r] for d, r in differ.items() if (d, r) not in airflow_has}
    with store_conn(sources) as conn:
        kept = kept_runs(conn, forgotten, allowed=allowed)
    for (dag_id, run_id), k in kept.items():
        s = summaries[dag_id]
        if s.last_run_id is None or (k.start and s.last_time and k.start > s.last_time):
            s.last_run_id, s.last_state, s.last_time = run_id, k.state, k.start
            s.last_kept_by_ddtrack = has_metastore(sources)

