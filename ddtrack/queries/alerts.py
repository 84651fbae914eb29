"""What needs attention: drifted columns, anomalies and checks that did not pass.

All three are written at ingest (``ddtrack.store.across_runs``); these questions only read
them, newest first, filtered by the DAGs the caller may read in SQL. Each kind is one
bounded statement on its ``(dag_id, …, started_at)`` index.

An alert row: ``{"kind": "drift"|"anomaly"|"check", "dag_id", "run_id", "task_id",
"map_index", "try_number", "output", "column", "started_at", "status", "anomaly", "metric",
"value", "detail"}``. ``status`` is ``"fail"`` for a failed check of severity error and
``"warn"`` for everything else (drift, a warning check, a check that could not be
evaluated: ``check_status`` says which); anomalies carry ``anomaly: True``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from types import SimpleNamespace
from typing import Any

from sqlalchemy import func, select, true

from ddtrack.queries.access import Allowed, dag_filter, one_dag
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.store import alert_rows
from ddtrack.store.models import Anomaly, CheckResult, Drift, TaskRun

MAX_ALERTS = 1000
MAX_CHECKS = 2000
RECENT = dt.timedelta(days=7)  # badges and "needs attention" look this far back by default
NOT_PASSED = ("warn", "fail", "error")


def _since(since: Any) -> dt.datetime | None:
    """A naive-UTC datetime from a datetime or an ISO string (the CLI's ``--since``)."""
    if since is None or since == "":
        return None
    value = utc(since)
    if value is None:
        raise ValueError(f"not a time: {since!r} (use ISO 8601, e.g. 2026-11-27T09:00)")
    return value


def alerts(
    sources: Sources, allowed: Allowed, dag_id: str | None = None, since: Any = None, limit: int = 200
) -> list[dict[str, Any]]:
    """Drifted columns, anomalies and checks that did not pass, newest first (at most
    ``limit``, capped at :data:`MAX_ALERTS`), of every readable DAG or of ``dag_id``."""
    limit = max(1, min(int(limit), MAX_ALERTS))
    start = _since(since)
    drift_t, anomaly_t, check_t, run = Drift.__table__, Anomaly.__table__, CheckResult.__table__, TaskRun.__table__

    def scope(table):
        where = [one_dag(table.c.dag_id, dag_id, allowed) if dag_id else dag_filter(table.c.dag_id, allowed)]
        if start is not None:
            where.append(table.c.started_at >= start)
        return where

    def newest(table, *where):
        return (
            select(table, run.c.map_index, run.c.try_number)
            .join(run, run.c.id == table.c.task_run_id)
            .where(*scope(table), *where)
            .order_by(table.c.started_at.desc(), table.c.id.desc())
            .limit(limit)
        )

    with store_conn(sources) as conn:
        found = [_drift_alert(r) for r in conn.execute(newest(drift_t, drift_t.c.drifted == true()))]
        found += [_anomaly_alert(r) for r in conn.execute(newest(anomaly_t))]
        found += [_check_alert(r) for r in conn.execute(newest(check_t, check_t.c.status.in_(NOT_PASSED)))]
    found.sort(key=lambda a: (a["started_at"] or dt.datetime.min, a["kind"]), reverse=True)
    return found[:limit]


def _normalised(alert: dict[str, Any]) -> dict[str, Any]:
    alert["started_at"] = utc(alert["started_at"])
    return alert


def _drift_alert(r: Any) -> dict[str, Any]:
    return _normalised(alert_rows.drift_alert(r))


def _anomaly_alert(r: Any) -> dict[str, Any]:
    return _normalised(alert_rows.anomaly_alert(r))


def _check_alert(r: Any) -> dict[str, Any]:
    return _normalised(alert_rows.check_alert(r))


def check_as_alert(result: dict[str, Any]) -> dict[str, Any]:
    """A row of :func:`checks_of` as an alert (its identity included), built as the outbox builds it."""
    row = SimpleNamespace(
        dag_id=result["dag_id"], run_id=result["run_id"], task_id=result["task_id"], map_index=result["map_index"],
        try_number=result["try_number"], started_at=result["started_at"], output_name=result["output"],
        column_name=result["column"], check_name=result["check"], status=result["status"], value=result["value"],
        bound=result["bound"], message=result["message"],
    )
    return alert_rows.check_alert(row)


def checks_of(
    sources: Sources,
    allowed: Allowed,
    dag_id: str,
    run_id: str | None = None,
    task_id: str | None = None,
    limit: int = 500,
    *,
    map_index: int | None = None,
    try_number: int | None = None,
) -> list[dict[str, Any]]:
    """Stored check results of a DAG (of one run, task, map index or try), newest try first,
    at most ``limit`` (capped at :data:`MAX_CHECKS`)."""
    limit = max(1, min(int(limit), MAX_CHECKS))
    check_t, run = CheckResult.__table__, TaskRun.__table__
    where = [one_dag(check_t.c.dag_id, dag_id, allowed)]
    for column, value in ((run.c.run_id, run_id), (check_t.c.task_id, task_id), (run.c.map_index, map_index),
                          (run.c.try_number, try_number)):
        if value is not None:
            where.append(column == value)
    query = (
        select(check_t, run.c.map_index, run.c.try_number)
        .join(run, run.c.id == check_t.c.task_run_id)
        .where(*where)
        .order_by(check_t.c.started_at.desc(), check_t.c.id)
        .limit(limit)
    )
    with store_conn(sources) as conn:
        return [
            {
                "dag_id": r.dag_id, "run_id": r.run_id, "task_id": r.task_id, "map_index": r.map_index,
                "try_number": r.try_number, "started_at": utc(r.started_at), "output": r.output_name,
                "column": r.column_name, "check": r.check_name, "severity": r.severity, "status": r.status,
                "value": r.value, "bound": r.bound, "message": r.message,
            }
            for r in conn.execute(query)
        ]


def instance_alerts(
    sources: Sources, allowed: Allowed, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> dict[str, list[dict[str, Any]]]:
    """One try's drifted columns and anomalies (badges of the task-instance page)."""
    drift_t, anomaly_t, run = Drift.__table__, Anomaly.__table__, TaskRun.__table__
    try_id = (
        select(run.c.id)
        .where(one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id == run_id, run.c.task_id == task_id,
               run.c.map_index == map_index, run.c.try_number == try_number)
        .scalar_subquery()
    )
    with store_conn(sources) as conn:
        drift = conn.execute(
            select(drift_t, run.c.map_index, run.c.try_number)
            .join(run, run.c.id == drift_t.c.task_run_id)
            .where(drift_t.c.task_run_id == try_id, drift_t.c.drifted == true())
            .order_by(drift_t.c.id)
            .limit(MAX_ALERTS)
        ).all()
        anomalies = conn.execute(
            select(anomaly_t, run.c.map_index, run.c.try_number)
            .join(run, run.c.id == anomaly_t.c.task_run_id)
            .where(anomaly_t.c.task_run_id == try_id)
            .order_by(anomaly_t.c.id)
            .limit(MAX_ALERTS)
        ).all()
    return {"drift": [_drift_alert(r) for r in drift], "anomaly": [_anomaly_alert(r) for r in anomalies]}


def alert_counts(
    sources: Sources, allowed: Allowed, dag_ids: Iterable[str] | None = None, since: Any = None
) -> dict[str, dict[str, int]]:
    """dag_id -> {"drift", "anomaly", "fail", "warn"}: drifted columns, anomalies, failed
    checks and other checks that did not pass since ``since`` (default: the last 7 days), for
    the readable DAGs among ``dag_ids`` (all readable ones when None). DAGs with none are absent."""
    start = _since(since) or recent_start()
    drift_t, anomaly_t, check_t = Drift.__table__, Anomaly.__table__, CheckResult.__table__
    wanted = None if dag_ids is None else list(dag_ids)

    def where(table):
        clauses = [dag_filter(table.c.dag_id, allowed), table.c.started_at >= start]
        if wanted is not None:
            clauses.append(dag_filter(table.c.dag_id, wanted))
        return clauses

    counts: dict[str, dict[str, int]] = defaultdict(lambda: {"drift": 0, "anomaly": 0, "fail": 0, "warn": 0})
    with store_conn(sources) as conn:
        for dag, n in conn.execute(
            select(drift_t.c.dag_id, func.count()).where(*where(drift_t), drift_t.c.drifted == true())
            .group_by(drift_t.c.dag_id)
        ):
            counts[dag]["drift"] = int(n)
        for dag, n in conn.execute(
            select(anomaly_t.c.dag_id, func.count()).where(*where(anomaly_t)).group_by(anomaly_t.c.dag_id)
        ):
            counts[dag]["anomaly"] = int(n)
        for dag, status, n in conn.execute(
            select(check_t.c.dag_id, check_t.c.status, func.count())
            .where(*where(check_t), check_t.c.status.in_(NOT_PASSED))
            .group_by(check_t.c.dag_id, check_t.c.status)
        ):
            counts[dag]["fail" if status == "fail" else "warn"] += int(n)
    return dict(counts)


def attention(sources: Sources, allowed: Allowed, limit: int = 20, since: Any = None) -> list[dict[str, Any]]:
    """Home's "needs attention": the alerts of the last 7 days (or since ``since``) grouped
    per DAG and task, the group with the newest alert first; each group counts its kinds
    and keeps its newest alerts (at most 5) for display."""
    start = _since(since) or recent_start()
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for a in alerts(sources, allowed, since=start, limit=MAX_ALERTS):
        key = (a["dag_id"], a["task_id"])
        group = groups.get(key)
        if group is None:
            if len(groups) >= limit:
                continue
            group = groups[key] = {
                "dag_id": a["dag_id"], "task_id": a["task_id"], "run_id": a["run_id"],
                "started_at": a["started_at"], "drift": 0, "anomaly": 0, "fail": 0, "warn": 0, "alerts": [],
            }
        if a["kind"] == "check":
            group[a["status"]] += 1
        else:
            group[a["kind"]] += 1
        if len(group["alerts"]) < 5:
            group["alerts"].append(a)
    return list(groups.values())


def recent_start() -> dt.datetime:
    """Where "recent" starts for badges and needs attention: :data:`RECENT` ago (naive UTC)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - RECENT
