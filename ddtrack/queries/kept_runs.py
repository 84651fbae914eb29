"""DAG runs as ddtrack's own records tell them: for runs Airflow no longer has.

``airflow db clean`` deletes old DAG runs with their task instances; ddtrack keeps its
records of their tries (until its own ``retention_days``). Where a page or a command needs
such a run's state, times and tries, they come from ``ddtrack_task_run``: the run's state
from its task instances' latest tries (:func:`run_state`), its span from the tries' starts
and ends. Callers mark these runs "kept by ddtrack" so nobody mistakes them for Airflow's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy import and_, case, false, func, or_, select, union_all
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, one_dag, one_dag_range
from ddtrack.queries.sources import utc
from ddtrack.store.models import TaskRun

FAILED = ("failed", "upstream_failed")
FINISHED = ("success", "skipped", "removed", *FAILED)


def run_state(failed: int, unfinished: int) -> str:
    """A run's state from its task instances' latest tries: failed if any failed, running
    while any has not finished, success otherwise (the one rule for SQL and Python callers)."""
    if failed:
        return "failed"
    return "running" if unfinished else "success"


def instance_counts(states: Iterable[str | None]) -> tuple[int, int]:
    """(failed, unfinished) among the latest tries' states, as :func:`run_state` takes them."""
    failed = unfinished = 0
    for state in states:
        failed += state in FAILED
        unfinished += state not in FINISHED
    return failed, unfinished


@dataclass(frozen=True)
class KeptRun:
    """A run's summary from ddtrack's records of its tries."""

    dag_id: str
    run_id: str
    state: str
    start: dt.datetime | None  # the first try's start
    end: dt.datetime | None  # the last try's end

    @property
    def duration_s(self) -> float | None:
        return (self.end - self.start).total_seconds() if self.start and self.end else None


def kept_runs(
    conn: Connection, runs: Mapping[str, Iterable[str]], *, allowed: Allowed
) -> dict[tuple[str, str], KeptRun]:
    """Summaries of the runs ``{dag_id: run_ids}`` from ddtrack's tables, by (dag, run), in
    one statement over the runs' tries (the unique key's index: DAG, run, task, map index).

    Each task instance's latest try gives its state; its tries give the span.
    """
    wanted = {dag_id: sorted(set(ids)) for dag_id, ids in runs.items() if ids}
    if not wanted:
        return {}
    t = TaskRun.__table__
    # Each DAG filtered on its own (access.one_dag), not by every readable id at once.
    these = or_(false(), *(and_(one_dag(t.c.dag_id, d, allowed), t.c.run_id.in_(ids)) for d, ids in wanted.items()))
    per_instance = (
        select(
            t.c.dag_id,
            t.c.run_id,
            t.c.task_id,
            t.c.map_index,
            func.max(t.c.try_number).label("last"),
            func.min(t.c.started_at).label("start"),
            func.max(t.c.ended_at).label("end"),
        )
        .where(these)
        .group_by(t.c.dag_id, t.c.run_id, t.c.task_id, t.c.map_index)
        .subquery()
    )
    latest = t.alias("latest")
    rows = conn.execute(
        select(
            per_instance.c.dag_id,
            per_instance.c.run_id,
            func.sum(case((latest.c.state.in_(FAILED), 1), else_=0)).label("failed"),
            func.sum(case((latest.c.state.in_(FINISHED), 0), else_=1)).label("unfinished"),
            func.min(per_instance.c.start).label("start"),
            func.max(per_instance.c.end).label("end"),
        )
        .select_from(
            per_instance.join(
                latest,
                and_(
                    latest.c.dag_id == per_instance.c.dag_id,
                    latest.c.run_id == per_instance.c.run_id,
                    latest.c.task_id == per_instance.c.task_id,
                    latest.c.map_index == per_instance.c.map_index,
                    latest.c.try_number == per_instance.c.last,
                ),
            )
        )
        .group_by(per_instance.c.dag_id, per_instance.c.run_id)
    ).all()
    return {
        (r.dag_id, r.run_id): KeptRun(
            r.dag_id,
            r.run_id,
            run_state(int(r.failed or 0), int(r.unfinished or 0)),
            utc(r.start),
            utc(r.end),
        )
        for r in rows
    }


def newest_run_ids(conn: Connection, dag_id: str, limit: int, *, allowed: Allowed) -> list[str]:
    """The DAG's newest runs in ddtrack's tables, newest first: the distinct runs of its
    newest ``100 × limit`` tries (a range of the ``(dag_id, started_at)`` index, bounded
    whatever the DAG's history), grouped in the database so only the run ids come back."""
    t = TaskRun.__table__
    window = (
        select(t.c.run_id, t.c.started_at)
        .where(one_dag_range(t.c.dag_id, dag_id, allowed))
        .order_by(t.c.dag_id.desc(), t.c.started_at.desc())
        .limit(limit * 100)
        .subquery()
    )
    newest = func.max(window.c.started_at)
    query = select(window.c.run_id).group_by(window.c.run_id).order_by(newest.desc()).limit(limit)
    return list(conn.execute(query).scalars())


@dataclass(frozen=True)
class NewestTry:
    """A DAG's newest try in ddtrack's tables: which one (id and content hash) and its run."""

    id: int
    record_hash: str
    run_id: str


def newest_try_of_each(conn: Connection, dag_ids: Iterable[str], *, allowed: Allowed) -> dict[str, NewestTry]:
    """dag_id -> its newest try in ddtrack's tables, one index probe per DAG (each branch
    filtered by :func:`~ddtrack.queries.access.one_dag_range`: a page of 50 DAGs for a user
    reading 1,000 sends 50 ids, not 50,000)."""
    t = TaskRun.__table__
    branches = [
        select(t.c.dag_id, t.c.id, t.c.record_hash, t.c.run_id)
        .where(one_dag_range(t.c.dag_id, d, allowed))
        .order_by(t.c.dag_id.desc(), t.c.started_at.desc())
        .limit(1)
        .subquery()
        for d in sorted(set(dag_ids))
    ]
    if not branches:
        return {}
    rows = conn.execute(union_all(*(select(b) for b in branches)))
    return {r.dag_id: NewestTry(int(r.id), r.record_hash, r.run_id) for r in rows}
