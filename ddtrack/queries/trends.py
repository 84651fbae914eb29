"""One column of one output over a task's runs, and drift of a task's columns across runs.

The task page's trend replaces a blended series (rows summed, null rates averaged over all
outputs) with one output and one column: rows, null %, distinct count, mean, min/max and
the p5–p50–p95 band of its stored quantiles, with schema and code changes, stored drift and
stored anomalies marked, and the robust band a next run would be judged against.

Reads: the output's history from ``ix_ddtrack_output_history`` (dag, task, name,
started_at), its column rows by ``output_id`` (``ix_ddtrack_column_output``), then drift
and anomaly rows from their (dag, task, …, started_at) indexes over the same time range.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select

from ddtrack import conf
from ddtrack.profile.anomaly import Band, robust_band
from ddtrack.profile.drift import output_drift
from ddtrack.queries.access import Allowed, one_dag
from ddtrack.queries.outputs import as_profile, outputs_of
from ddtrack.queries.sources import DEFAULT_HISTORY, MAX_HISTORY, Sources, store_conn, utc
from ddtrack.store.models import Anomaly, ColumnProfile, Drift, Output, TaskRun

MAX_CHOICE_OUTPUTS = 100
MAX_CHOICE_COLUMNS = 2000  # a wider output's further columns are reachable by URL
MAX_HEATMAP_RUNS = 50
MAX_HEATMAP_COLUMNS = 40
MAX_RUN_TRIES = 500  # tries of one DAG run compared by run_drift
TREND_METRICS = ("rows", "null_pct", "distinct", "mean")
SUCCESS = "success"


@dataclass
class TrendPoint:
    run_id: str
    started_at: dt.datetime | None
    rows: int | None
    null_pct: float | None
    distinct: int | None
    mean: float | None
    min: Any
    max: Any
    p5: float | None
    p50: float | None
    p95: float | None
    schema_changed: bool = False
    code_changed: bool = False
    drifted: bool = False
    anomalies: list[str] = field(default_factory=list)
    map_index: int = -1
    try_number: int = 1
    state: str | None = None
    drift_reasons: list[str] = field(default_factory=list)


@dataclass
class ColumnTrend:
    dag_id: str
    task_id: str
    output: str
    column: str
    points: list[TrendPoint]  # oldest first
    bands: dict[str, Band | None]  # metric -> the band of the newest successful runs
    kind: str | None = None


@dataclass
class HeatmapRun:
    run_id: str
    started_at: dt.datetime | None
    map_index: int
    try_number: int


@dataclass
class DriftHeatmap:
    dag_id: str
    task_id: str
    runs: list[HeatmapRun]  # oldest first
    cells: list[tuple[str, str]]  # (output, column), the rows of the map
    psi: list[list[float | None]]  # [cell][run]
    drifted: list[list[bool | None]]  # None: not compared in that run
    reasons: list[list[str]]
    total_cells: int = 0  # before the cap of MAX_HEATMAP_COLUMNS


def trend_choices(sources: Sources, allowed: Allowed, dag_id: str, task_id: str) -> dict[str, list[str]]:
    """Output name -> its column names (as in its newest try, by position); empty for a DAG
    the caller may not read."""
    out, col = Output.__table__, ColumnProfile.__table__
    with store_conn(sources) as conn:
        names = [
            r[0]
            for r in conn.execute(
                select(out.c.name)
                .where(one_dag(out.c.dag_id, dag_id, allowed), out.c.task_id == task_id)
                .group_by(out.c.name)
                .order_by(out.c.name)
                .limit(MAX_CHOICE_OUTPUTS)
            )
        ]
        choices: dict[str, list[str]] = {}
        for name in names:
            newest = conn.execute(
                select(out.c.id)
                .where(out.c.dag_id == dag_id, out.c.task_id == task_id, out.c.name == name)
                .order_by(out.c.started_at.desc())
                .limit(1)
            ).scalar()
            choices[name] = [
                r[0]
                for r in conn.execute(
                    select(col.c.name)
                    .where(col.c.output_id == newest)
                    .order_by(col.c.position)
                    .limit(MAX_CHOICE_COLUMNS)
                )
            ]
    return choices


def column_trend(
    sources: Sources,
    allowed: Allowed,
    dag_id: str,
    task_id: str,
    output: str,
    column: str,
    limit: int = DEFAULT_HISTORY,
) -> ColumnTrend | None:
    """The column ``column`` of ``output`` over the task's last ``limit`` tries (at most
    :data:`MAX_HISTORY`), oldest first; None when the caller may not read the DAG or the
    output has no stored try. A try whose output lacks the column has a point without values."""
    limit = max(1, min(int(limit), MAX_HISTORY))
    out, run, col = Output.__table__, TaskRun.__table__, ColumnProfile.__table__
    with store_conn(sources) as conn:
        outputs = conn.execute(
            select(
                out.c.id, out.c.task_run_id, out.c.run_id, out.c.started_at, out.c.rows,
                out.c.schema_fingerprint, run.c.code_hash, run.c.state, run.c.map_index, run.c.try_number,
            )
            .join(run, run.c.id == out.c.task_run_id)
            .where(
                one_dag(out.c.dag_id, dag_id, allowed), out.c.task_id == task_id, out.c.name == output
            )
            .order_by(out.c.started_at.desc())
            .limit(limit)
        ).all()
        if not outputs:
            return None
        columns = {
            c.output_id: c
            for c in conn.execute(
                select(
                    col.c.output_id, col.c.kind, col.c.null_pct, col.c.n_distinct, col.c.mean,
                    # Only these of the stats JSON: histograms and sketches stay in the database.
                    *(col.c.stats[key].label(key) for key in ("min", "max", "quantiles")),
                ).where(col.c.output_id.in_([o.id for o in outputs]), col.c.name == column)
            )
        }
        oldest = min((o.started_at for o in outputs if o.started_at is not None), default=None)
        drift, anomalies = _marks(conn, dag_id, task_id, output, column, oldest)
    points = [_point(o, columns.get(o.id), drift.get(o.task_run_id), anomalies.get(o.task_run_id, []))
              for o in reversed(outputs)]
    _mark_changes(points, [o for o in reversed(outputs)])
    kind = next((c.kind for c in columns.values()), None)
    return ColumnTrend(dag_id, task_id, output, column, points, _bands(points), kind)


def _point(o: Any, c: Any, drift: Any, anomalies: list[str]) -> TrendPoint:
    stats = c._mapping if c is not None else {}
    quantiles = stats.get("quantiles") or {}
    return TrendPoint(
        run_id=o.run_id,
        started_at=utc(o.started_at),
        rows=o.rows,
        null_pct=c.null_pct if c is not None else None,
        distinct=c.n_distinct if c is not None else None,
        mean=c.mean if c is not None else None,
        min=stats.get("min"),
        max=stats.get("max"),
        p5=_number(quantiles.get("0.05")),
        p50=_number(quantiles.get("0.5")),
        p95=_number(quantiles.get("0.95")),
        drifted=bool(drift.drifted) if drift is not None else False,
        drift_reasons=list(drift.reasons or []) if drift is not None else [],
        anomalies=anomalies,
        map_index=o.map_index,
        try_number=o.try_number,
        state=o.state,
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _mark_changes(points: list[TrendPoint], rows: list[Any]) -> None:
    """Schema and code changes against the previous try that has them (oldest first)."""
    schema = code = None
    for point, row in zip(points, rows, strict=True):
        if row.schema_fingerprint:
            point.schema_changed = schema is not None and row.schema_fingerprint != schema
            schema = row.schema_fingerprint
        if row.code_hash:
            point.code_changed = code is not None and row.code_hash != code
            code = row.code_hash


def _marks(conn, dag_id: str, task_id: str, output: str, column: str, oldest: Any) -> tuple[dict, dict]:
    """Stored drift of the column and anomalies of the output/column per try, from ``oldest`` on."""
    drift_t, anomaly_t = Drift.__table__, Anomaly.__table__
    since = [] if oldest is None else [drift_t.c.started_at >= oldest]
    drift = {
        r.task_run_id: r
        for r in conn.execute(
            select(drift_t.c.task_run_id, drift_t.c.drifted, drift_t.c.reasons).where(
                drift_t.c.dag_id == dag_id, drift_t.c.task_id == task_id, drift_t.c.output_name == output,
                *since, drift_t.c.column_name == column,
            )
        )
    }
    anomalies: dict[int, list[str]] = defaultdict(list)
    for r in conn.execute(
        select(anomaly_t.c.task_run_id, anomaly_t.c.metric).where(
            anomaly_t.c.dag_id == dag_id, anomaly_t.c.task_id == task_id,
            *([] if oldest is None else [anomaly_t.c.started_at >= oldest]),
            anomaly_t.c.output_name == output,
            or_(anomaly_t.c.column_name == column, and_(anomaly_t.c.column_name.is_(None), anomaly_t.c.metric == "rows")),
        )
    ):
        anomalies[r.task_run_id].append(r.metric)
    return drift, anomalies


def _bands(points: list[TrendPoint]) -> dict[str, Band | None]:
    """Per metric, the robust band of the newest successful tries' values: what the next run
    is judged against at ingest (same options, same function)."""
    history = [p for p in points if p.state == SUCCESS][-conf.anomaly_history():]
    return {
        metric: robust_band(
            [getattr(p, metric) for p in history],
            sensitivity=conf.anomaly_sensitivity(),
            min_history=conf.anomaly_min_history(),
        )
        for metric in TREND_METRICS
    }


def drift_heatmap(
    sources: Sources, allowed: Allowed, dag_id: str, task_id: str, runs: int = 20
) -> DriftHeatmap:
    """PSI and drifted flags of the task's columns over its newest tries that have stored
    drift (at most :data:`MAX_HEATMAP_RUNS`); columns that drifted most come first, at most
    :data:`MAX_HEATMAP_COLUMNS` of them."""
    runs = max(1, min(int(runs), MAX_HEATMAP_RUNS))
    run, drift_t = TaskRun.__table__, Drift.__table__
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.run_id, run.c.started_at, run.c.map_index, run.c.try_number)
            .where(one_dag(run.c.dag_id, dag_id, allowed), run.c.task_id == task_id)
            .order_by(run.c.started_at.desc())
            .limit(runs * 4)
        ).all()
        rows = conn.execute(
            select(
                drift_t.c.task_run_id, drift_t.c.output_name, drift_t.c.column_name, drift_t.c.psi,
                drift_t.c.drifted, drift_t.c.reasons,
            ).where(drift_t.c.task_run_id.in_([t.id for t in tries]))
        ).all() if tries else []
    with_drift = {r.task_run_id for r in rows}
    kept = [t for t in tries if t.id in with_drift][:runs][::-1]
    index = {t.id: i for i, t in enumerate(kept)}
    by_cell: dict[tuple[str, str], list] = defaultdict(list)
    for r in rows:
        if r.task_run_id in index:
            by_cell[(r.output_name, r.column_name)].append(r)
    order = sorted(
        by_cell,
        key=lambda k: (-sum(bool(r.drifted) for r in by_cell[k]), -max((r.psi or 0) for r in by_cell[k]), k),
    )
    cells = order[:MAX_HEATMAP_COLUMNS]
    psi = [[None] * len(kept) for _ in cells]
    drifted: list[list[bool | None]] = [[None] * len(kept) for _ in cells]
    reasons = [[""] * len(kept) for _ in cells]
    for i, cell in enumerate(cells):
        for r in by_cell[cell]:
            j = index[r.task_run_id]
            psi[i][j], drifted[i][j], reasons[i][j] = r.psi, bool(r.drifted), "; ".join(r.reasons or [])
    return DriftHeatmap(
        dag_id, task_id,
        [HeatmapRun(t.run_id, utc(t.started_at), t.map_index, t.try_number) for t in kept],
        cells, psi, drifted, reasons, len(order),
    )


DRIFT_KEYS = ("psi", "ks", "null_rate_change", "distinct_change", "new_categories", "vanished_categories")


def run_drift(
    sources: Sources, allowed: Allowed, dag_id: str, run_id: str, baseline_run: str | None = None
) -> list[dict] | None:
    """One dict per output column of the run's newest try of each task (and map index):
    the drift stored at ingest, or, with ``baseline_run``, computed now against that run's
    newest successful try of the same task, map index and output. None when the run (or
    the baseline run) has no try the caller may read."""
    with store_conn(sources) as conn:
        tries = _newest_tries(conn, allowed, dag_id, run_id)
        if not tries:
            return None
        if baseline_run is None:
            return _stored_drift(conn, tries)
        base = _newest_tries(conn, allowed, dag_id, baseline_run, state=SUCCESS)
        if not base:
            return None
        profiles = outputs_of(conn, [t.id for t in (*tries.values(), *base.values())])
    result = []
    for key, t in tries.items():
        before_try = base.get(key)
        before = {o.name: o for o in profiles[before_try.id]} if before_try else {}
        for o in profiles[t.id]:
            if o.name not in before:
                continue
            for d in output_drift(as_profile(before[o.name]), as_profile(o), conf.drift_thresholds()):
                result.append(_drift_row(t, o.name, d, before_try.run_id))
    return result


def _newest_tries(conn, allowed: Allowed, dag_id: str, run_id: str, state: str | None = None) -> dict:
    """(task_id, map_index) -> the newest try of the run (the newest successful one with ``state``)."""
    run = TaskRun.__table__
    query = select(run.c.id, run.c.task_id, run.c.map_index, run.c.try_number, run.c.run_id).where(
        one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id == run_id
    )
    if state is not None:
        query = query.where(run.c.state == state)
    newest: dict[tuple[str, int], Any] = {}
    for t in conn.execute(query.order_by(run.c.task_id, run.c.map_index, run.c.try_number).limit(MAX_RUN_TRIES)):
        newest[(t.task_id, t.map_index)] = t
    return newest


def _stored_drift(conn, tries: dict) -> list[dict]:
    drift_t = Drift.__table__
    by_id = {t.id: t for t in tries.values()}
    rows = conn.execute(
        select(drift_t).where(drift_t.c.task_run_id.in_(list(by_id))).order_by(drift_t.c.task_run_id, drift_t.c.id)
    ).all()
    return [
        _drift_row(
            by_id[r.task_run_id], r.output_name,
            {"column": r.column_name, "drifted": bool(r.drifted), "reasons": list(r.reasons or []),
             **{k: getattr(r, k) for k in DRIFT_KEYS}},
            r.baseline_run_id,
        )
        for r in rows
    ]


def _drift_row(t: Any, output: str, d: dict, baseline_run_id: str | None) -> dict:
    return {
        "task_id": t.task_id, "map_index": t.map_index, "output": output, "column": d["column"],
        **{k: d.get(k) for k in DRIFT_KEYS},
        "drifted": bool(d.get("drifted")), "reasons": list(d.get("reasons") or []),
        "baseline_run_id": baseline_run_id,
    }
