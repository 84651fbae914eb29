"""Home: every tracked DAG the user may read, with its last run and a sparkline of rows."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from ddtrack.queries.access import dag_filter
from ddtrack.queries.sources import Sources, meta_conn, store_conn, utc
from ddtrack.queries.types import DagSummary
from ddtrack.store.airflow_tables import DAG_RUN
from ddtrack.store.models import CatalogEntry, Output, TaskRun

SPARK_RUNS = 20


def tracked_dags(sources: Sources, allowed: Iterable[str] | None) -> list[DagSummary]:
    """Every DAG with tracked outputs the caller may read, with its last run and sparkline.

    Output and task counts come from the catalog (one row per distinct output), not from
    a scan of every recorded output.
    """
    cat = CatalogEntry.__table__
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(cat.c.dag_id, func.count(), func.count(func.distinct(cat.c.task_id)))
            .where(cat.c.kind == "output", dag_filter(cat.c.dag_id, allowed))
            .group_by(cat.c.dag_id)
            .order_by(cat.c.dag_id)
        ).all()
        summaries = {r[0]: DagSummary(dag_id=r[0], n_outputs=int(r[1]), n_tasks=int(r[2])) for r in rows}
        for summary in summaries.values():
            summary.rows_by_run = _rows_by_recent_run(conn, summary.dag_id)
    if summaries:
        _add_last_runs(sources, summaries)
    return list(summaries.values())


def _rows_by_recent_run(
    conn: Connection, dag_id: str, runs: int = SPARK_RUNS
) -> list[tuple[dt.datetime | None, int]]:
    """Total tracked rows of the DAG's newest runs, oldest first.

    Newest tries come from the ``started_at`` index, their outputs by ``task_run_id``: the
    cost depends on the number of runs shown, not on the DAG's whole history.
    """
    run, out = TaskRun.__table__, Output.__table__
    recent = conn.execute(
        select(run.c.id, run.c.run_id, run.c.started_at)
        .where(run.c.dag_id == dag_id)
        .order_by(run.c.started_at.desc())
        .limit(runs * 50)
    ).all()
    run_ids: list[str] = []
    started: dict[str, dt.datetime | None] = {}
    try_run: dict[int, str] = {}
    for r in recent:
        if r.run_id not in started:
            if len(run_ids) == runs:
                continue
            run_ids.append(r.run_id)
        started[r.run_id] = utc(r.started_at)  # ends at the run's earliest try seen
        try_run[r.id] = r.run_id
    if not try_run:
        return []
    totals: dict[str, int] = defaultdict(int)
    for o in conn.execute(select(out.c.task_run_id, out.c.rows).where(out.c.task_run_id.in_(list(try_run)))):
        totals[try_run[o.task_run_id]] += int(o.rows or 0)
    return [(started[r], totals.get(r, 0)) for r in reversed(run_ids)]


def _add_last_runs(sources: Sources, summaries: dict[str, DagSummary]) -> None:
    """Last DAG run of each DAG from Airflow's metastore (falls back to the side tables)."""
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
    try:
        with meta_conn(sources) as conn:
            for r in conn.execute(query):
                s = summaries[r.dag_id]
                s.last_run_id, s.last_state = r.run_id, r.state
                s.last_time = utc(r.start_date) or utc(r.run_after)
    except Exception:
        # No metastore reachable (a store on its own): show what the side tables know.
        pass

