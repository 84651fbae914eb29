"""DAG runs: the DAG page's run history, and one run's task instances and outputs.

Both take ``allowed`` (:mod:`ddtrack.queries.access`) and read Airflow's metastore where one
is configured: a metastore that does not answer raises
:class:`~ddtrack.queries.sources.MetastoreUnavailable`; without one (a store on its own)
the side tables answer alone. Runs Airflow no longer has (``airflow db clean``) are told
from ddtrack's own records (:mod:`ddtrack.queries.kept_runs`) and marked ``kept_by_ddtrack``.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from dataclasses import dataclass

from sqlalchemy import Integer, func, select

from ddtrack.queries.access import Allowed, one_dag
from ddtrack.queries.kept_runs import instance_counts, kept_runs, newest_run_ids, run_state
from ddtrack.queries.sources import (
    DEFAULT_HISTORY,
    Sources,
    has_metastore,
    meta_conn,
    reading_metastore,
    store_conn,
    utc,
)
from ddtrack.queries.types import DagRunRow, RunDetail, RunTask
from ddtrack.store.airflow_tables import DAG_RUN, TASK_INSTANCE
from ddtrack.store.models import Output, TaskRun


def dag_runs(
    sources: Sources, dag_id: str, limit: int = DEFAULT_HISTORY, *, allowed: Allowed
) -> list[DagRunRow]:
    """The DAG's newest runs, newest first, with counts of tracked and failed tries:
    Airflow's, and those of ddtrack's newest runs that Airflow no longer has (from
    ddtrack's records, ``kept_by_ddtrack``). Without a metastore, ddtrack's runs alone."""
    run = TaskRun.__table__
    this_dag = one_dag(run.c.dag_id, dag_id, allowed)
    runs = _airflow_runs(sources, dag_id, allowed, limit=limit)
    with store_conn(sources) as conn:
        ours = newest_run_ids(conn, dag_id, limit, allowed=allowed)
    known = {r.run_id for r in runs}
    older = [run_id for run_id in ours if run_id not in known]
    if older:  # Airflow may still have them, below its newest page
        runs += _airflow_runs(sources, dag_id, allowed, run_ids=older)
        known = {r.run_id for r in runs}
    with store_conn(sources) as conn:
        forgotten = kept_runs(conn, {dag_id: [r for r in older if r not in known]}, allowed=allowed)
        runs += [
            DagRunRow(k.run_id, k.state, None, k.start, k.end, k.duration_s, kept_by_ddtrack=has_metastore(sources))
            for k in forgotten.values()
        ]
        # Newest first; a run not started yet (queued) is the newest.
        runs.sort(key=lambda r: r.start or dt.datetime.max, reverse=True)
        del runs[limit:]
        if runs:
            counts = conn.execute(
                select(run.c.run_id, func.count(), func.sum(func.cast(run.c.state == "failed", Integer)))
                .where(this_dag, run.c.run_id.in_([r.run_id for r in runs]))
                .group_by(run.c.run_id)
            ).all()
            by_run = {c[0]: c for c in counts}
            for r in runs:
                if r.run_id in by_run:
                    r.tracked_tasks = int(by_run[r.run_id][1])
                    r.failed_tasks = int(by_run[r.run_id][2] or 0)
    return runs


def _airflow_runs(
    sources: Sources, dag_id: str, allowed: Allowed, *, limit: int | None = None, run_ids: list[str] | None = None
) -> list[DagRunRow]:
    """The DAG's runs in Airflow's metastore: the newest ``limit``, or those of ``run_ids``
    (none without a metastore)."""
    if not has_metastore(sources):
        return []
    dr = DAG_RUN
    query = select(dr.c.run_id, dr.c.state, dr.c.run_type, dr.c.start_date, dr.c.end_date).where(
        one_dag(dr.c.dag_id, dag_id, allowed)
    )
    if run_ids is not None:
        query = query.where(dr.c.run_id.in_(run_ids))
    else:
        query = query.order_by(dr.c.id.desc()).limit(limit)
    runs = []
    with reading_metastore("read Airflow's DAG runs"), meta_conn(sources) as conn:
        for r in conn.execute(query):
            start, end = utc(r.start_date), utc(r.end_date)
            duration = (end - start).total_seconds() if start and end else None
            runs.append(DagRunRow(r.run_id, r.state, r.run_type, start, end, duration))
    return runs


def run_detail(sources: Sources, dag_id: str, run_id: str, *, allowed: Allowed) -> RunDetail | None:
    """The run's task instances (Airflow's view, with ddtrack's outputs where tracked);
    None when neither knows the run, or the caller may not read its DAG."""
    run, out = TaskRun.__table__, Output.__table__
    tasks: dict[tuple[str, int], RunTask] = {}
    state = start = end = None
    found = False
    if has_metastore(sources):
        with reading_metastore("read Airflow's DAG run"), meta_conn(sources) as conn:
            r = conn.execute(
                select(DAG_RUN.c.state, DAG_RUN.c.start_date, DAG_RUN.c.end_date).where(
                    one_dag(DAG_RUN.c.dag_id, dag_id, allowed), DAG_RUN.c.run_id == run_id
                )
            ).first()
            if r is not None:
                found, state, start, end = True, r.state, utc(r.start_date), utc(r.end_date)
            ti = TASK_INSTANCE
            for t in conn.execute(
                select(
                    ti.c.task_id, ti.c.map_index, ti.c.try_number, ti.c.state, ti.c.start_date, ti.c.end_date
                ).where(one_dag(ti.c.dag_id, dag_id, allowed), ti.c.run_id == run_id)
            ):
                tasks[(t.task_id, t.map_index)] = RunTask(
                    t.task_id,
                    t.map_index,
                    t.try_number,
                    t.state,
                    utc(t.start_date),
                    utc(t.end_date),
                    False,
                    [],
                )
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(
                run.c.id,
                run.c.task_id,
                run.c.map_index,
                run.c.try_number,
                run.c.state,
                run.c.started_at,
                run.c.ended_at,
            )
            .where(one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id == run_id)
            .order_by(run.c.try_number)
        ).all()
        newest = {(t.task_id, t.map_index): t for t in tries}
        outputs: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
        if newest:
            for o in conn.execute(
                select(out.c.task_run_id, out.c.name, out.c.rows).where(
                    out.c.task_run_id.in_([t.id for t in newest.values()])
                )
            ):
                outputs[o.task_run_id].append((o.name, o.rows))
    if not found and not newest:
        return None
    kept = not found and has_metastore(sources)
    if not found:  # Airflow forgot the run, or there is no metastore: ddtrack's records tell it
        state = run_state(*instance_counts(t.state for t in newest.values()))
        starts = [t.started_at for t in tries if t.started_at]
        ends = [t.ended_at for t in tries if t.ended_at]
        start, end = utc(min(starts)) if starts else None, utc(max(ends)) if ends else None
    for key, t in newest.items():
        task = tasks.get(key)
        if task is None:
            task = tasks[key] = RunTask(
                t.task_id, t.map_index, t.try_number, t.state, utc(t.started_at), utc(t.ended_at), True, []
            )
        task.tracked = True
        task.outputs = outputs.get(t.id, [])
        task.start = task.start or utc(t.started_at)
        task.end = task.end or utc(t.ended_at)
    ordered = sorted(tasks.values(), key=lambda t: (t.start or dt.datetime.max, t.task_id, t.map_index))
    return RunDetail(dag_id, run_id, state, start, end, ordered, kept_by_ddtrack=kept)



# A state that needs the reader's attention wins when a task's instances disagree.
_STATE_ORDER = ("failed", "upstream_failed", "up_for_retry", "running", "restarting", "deferred", "queued",
                "scheduled", "up_for_reschedule", "skipped", "removed", "success")


@dataclass(frozen=True)
class TaskSummary:
    """One task of a run with all its instances (map indexes) together: what the run page
    draws, so a 1,000-instance fan-out is one bar and one row."""

    task_id: str
    instances: int
    mapped: bool
    states: dict[str, int]  # state -> instances, most frequent first
    start: dt.datetime | None  # the first instance's start
    end: dt.datetime | None  # the last instance's end
    min_duration_s: float | None
    max_duration_s: float | None
    tracked: int  # instances with tracked outputs
    outputs: dict[str, int | None]  # output name -> rows over the instances (None: unknown)
    tries: int = 1  # the highest try number of its instances

    @property
    def state(self) -> str | None:
        """The instances' state, or the one needing the most attention when they differ."""
        if not self.states:
            return None
        if len(self.states) == 1:
            return next(iter(self.states))
        rank = {s: i for i, s in enumerate(_STATE_ORDER)}
        return min(self.states, key=lambda s: rank.get(s, len(rank)))


def summarize_tasks(tasks: list[RunTask]) -> list[TaskSummary]:
    """The run's tasks, each with its instances summed up, in the order of their first start."""
    groups: dict[str, list[RunTask]] = defaultdict(list)
    for t in tasks:
        groups[t.task_id].append(t)
    summaries = []
    for task_id, group in groups.items():
        states = Counter(t.state or "unknown" for t in group)
        durations = [(t.end - t.start).total_seconds() for t in group if t.start and t.end]
        outputs: dict[str, int | None] = {}
        for t in group:
            for name, rows in t.outputs:
                known = outputs.get(name, 0)
                outputs[name] = None if rows is None or (name in outputs and known is None) else (known or 0) + rows
        starts = [t.start for t in group if t.start]
        ends = [t.end for t in group if t.end]
        summaries.append(
            TaskSummary(
                task_id,
                len(group),
                any(t.map_index >= 0 for t in group),
                dict(states.most_common()),
                min(starts) if starts else None,
                max(ends) if ends else None,
                min(durations) if durations else None,
                max(durations) if durations else None,
                sum(t.tracked for t in group),
                outputs,
                max(t.try_number or 1 for t in group),
            )
        )
    return sorted(summaries, key=lambda s: (s.start or dt.datetime.max, s.task_id))


def task_instances(tasks: list[RunTask], task_id: str, page: int, size: int) -> tuple[list[RunTask], int]:
    """One page (1-based; past the end: the last) of one task's instances by map index, and
    how many it has."""
    mine = sorted((t for t in tasks if t.task_id == task_id), key=lambda t: t.map_index)
    page = min(max(page, 1), max(1, -(-len(mine) // size)))
    first = (page - 1) * size
    return mine[first : first + size], len(mine)
