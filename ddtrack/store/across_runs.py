"""What changed across runs, stored at ingest with each try.

For a try being written, in its ingest transaction:

* **check results** carried by the record (``output["checks"]``, judged in the task);
* **drift** of each column of each output against its baseline: the run pinned in
  ``ddtrack_baseline`` (its newest successful try of the task), else the same task's
  previous successful try of the same output and map index (``profile.drift``);
* **anomalies**: rows, and per column null %, distinct count and mean, outside the robust
  band of the last ``[ddtrack] anomaly_history`` successful tries; the task's duration too
  (``profile.anomaly``).  Only flagged values are stored.

Drift and anomalies are judged for successful tries and for tries failed by a data check
(their outputs are whole: the check ran after profiling); baselines and histories are
successful tries only, so bad data does not become the norm.

Bounded: per output one query for the history's outputs (row counts), one for their
columns' null %/distinct/mean, one for the baseline's full column profiles; per try one
for pinned baselines and one for the duration history.  Each part runs in a savepoint:
if it fails, it is logged and the try is stored without it.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from sqlalchemy import case, insert, select
from sqlalchemy.orm import Session

from ddtrack import conf
from ddtrack.profile.anomaly import outside, robust_band
from ddtrack.profile.drift import DriftThresholds, output_drift
from ddtrack.record import cut, to_json_safe
from ddtrack.store.models import Anomaly, Baseline, CheckResult, ColumnProfile, Drift, Output, TaskRun
from ddtrack.store.profiles import WrittenOutput, column_profile

log = logging.getLogger("ddtrack.ingest")

SUCCESS = "success"
CHECK_FAILED = "CheckFailed"  # ddtrack.checks.CheckFailed: the task failed on a data check
MESSAGE_LIMIT = 2000
# Column metrics judged against their history: metric name -> key of the stored column row.
COLUMN_METRICS = {"null_pct": "null_pct", "distinct": "n_distinct", "mean": "mean"}


@dataclass(frozen=True)
class Settings:
    """The ``[ddtrack]`` drift and anomaly options, read once per try."""

    thresholds: DriftThresholds
    sensitivity: float
    min_history: int
    history: int

    @classmethod
    def from_conf(cls) -> Settings:
        return cls(conf.drift_thresholds(), conf.anomaly_sensitivity(), conf.anomaly_min_history(), conf.anomaly_history())


def write_across_runs(
    session: Session, run: TaskRun, outputs: Sequence[WrittenOutput], unrecorded: Any = None
) -> None:
    """Store the try's check results, drift and anomalies; a failure of either part is
    logged and leaves the rest of the try as written.  ``unrecorded``: the record's results
    of checks whose output was never recorded (``record["checks"]``)."""
    with _guarded(session, run, "store the check results"):
        _write_checks(session, run, outputs, unrecorded if isinstance(unrecorded, list) else [])
    if not judged(run) or run.started_at is None:
        return
    with _guarded(session, run, "compute drift and anomalies"):
        settings = Settings.from_conf()
        pinned = _pinned(session, run, [o.row.name for o in outputs])
        rows: dict[type, list[dict[str, Any]]] = defaultdict(list)
        for output in outputs:
            _judge_output(session, run, output, pinned, settings, rows)
        rows[Anomaly].extend(_duration_anomaly(session, run, settings))
        for model, values in rows.items():
            if values:
                session.execute(insert(model), values)


def judged(run: TaskRun) -> bool:
    """Whether a try's outputs are compared with their history: complete outputs only."""
    return run.state == SUCCESS or (run.state == "failed" and run.error_type == CHECK_FAILED)


@contextmanager
def _guarded(session: Session, run: TaskRun, what: str) -> Iterator[None]:
    try:
        with session.begin_nested():
            yield
    except Exception as exc:  # noqa: BLE001 - the try itself must still be stored
        log.warning(
            "ddtrack could not %s of %s/%s/%s (the try is stored without them): %s: %s",
            what, run.dag_id, run.run_id, run.task_id, type(exc).__name__, exc,
        )


# ---------------------------------------------------------------- checks
def _write_checks(session: Session, run: TaskRun, outputs: Sequence[WrittenOutput], unrecorded: list) -> None:
    results = [(output.row.name, result) for output in outputs for result in output.checks or ()]
    results += [(cut(r.get("output") or "", 250), r) for r in unrecorded if isinstance(r, Mapping)]
    values = [_base(run) | _check_row(name, result) for name, result in results if isinstance(result, Mapping)]
    if values:
        session.execute(insert(CheckResult), values)


def _check_row(output_name: str, result: Mapping[str, Any]) -> dict[str, Any]:
    column = result.get("column")
    return {
        "output_name": output_name,
        "column_name": cut(column, 250) if column is not None else None,
        "check_name": cut(result.get("check") or "check", 50),
        "severity": cut(result.get("severity") or "error", 10),
        "status": cut(result.get("status") or "error", 10),
        "value": to_json_safe(result.get("value")),
        "bound": to_json_safe(result.get("bound")),
        "message": cut(result.get("message") or "", MESSAGE_LIMIT),
    }


def _base(run: TaskRun) -> dict[str, Any]:
    return {
        "task_run_id": run.id, "dag_id": run.dag_id, "task_id": run.task_id, "run_id": run.run_id,
        "started_at": run.started_at,
    }


# ---------------------------------------------------------------- history reads
def _successful_outputs(run: TaskRun, name: str):
    """Outputs named ``name`` of the task's successful tries (other than ``run``)."""
    return (
        select(Output.id, Output.task_run_id, Output.run_id, Output.rows)
        .join(TaskRun, TaskRun.id == Output.task_run_id)
        .where(
            Output.dag_id == run.dag_id, Output.task_id == run.task_id, Output.name == name,
            TaskRun.state == SUCCESS, Output.task_run_id != run.id,
        )
    )


def _pinned(session: Session, run: TaskRun, names: list[str]) -> dict[str, str]:
    """Pinned baseline run per output name ('' = every output of the task)."""
    query = select(Baseline.output_name, Baseline.run_id).where(
        Baseline.dag_id == run.dag_id, Baseline.task_id == run.task_id, Baseline.output_name.in_([*names, ""])
    )
    return {name: run_id for name, run_id in session.execute(query)}


def _history(session: Session, run: TaskRun, name: str, limit: int) -> list[Any]:
    """The last ``limit`` successful outputs before this try, newest first (same map index)."""
    query = (
        _successful_outputs(run, name)
        .where(Output.started_at < run.started_at, TaskRun.map_index == run.map_index)
        .order_by(Output.started_at.desc())
        .limit(limit)
    )
    return list(session.execute(query))


def _pinned_output(session: Session, run: TaskRun, name: str, run_id: str) -> Any | None:
    """The pinned run's newest successful try of this output, the same map index first."""
    query = (
        _successful_outputs(run, name)
        .where(Output.run_id == run_id)
        .order_by(case((TaskRun.map_index == run.map_index, 0), else_=1), Output.started_at.desc())
        .limit(1)
    )
    return session.execute(query).first()


# ---------------------------------------------------------------- drift and anomalies
def _judge_output(
    session: Session, run: TaskRun, output: WrittenOutput, pinned: Mapping[str, str], settings: Settings,
    rows: dict[type, list[dict[str, Any]]],
) -> None:
    name = output.row.name
    history = _history(session, run, name, max(settings.history, 1))
    pinned_run = pinned.get(name) or pinned.get("")
    baseline = _pinned_output(session, run, name, pinned_run) if pinned_run else None
    baseline = baseline or (history[0] if history else None)
    if baseline is not None and output.columns:
        rows[Drift].extend(_drift_rows(session, run, output, baseline, settings.thresholds))
    if history:
        rows[Anomaly].extend(_output_anomalies(session, run, output, history, settings))


def _drift_rows(
    session: Session, run: TaskRun, output: WrittenOutput, baseline: Any, thresholds: DriftThresholds
) -> list[dict[str, Any]]:
    stored = session.execute(
        select(ColumnProfile).where(ColumnProfile.output_id == baseline.id).order_by(ColumnProfile.position)
    ).scalars()
    before = {"columns": [column_profile(c) for c in stored]}
    after = {"columns": [column_profile(SimpleNamespace(**c)) for c in output.columns]}
    base = _base(run) | {
        "output_id": output.row.id, "output_name": output.row.name,
        "baseline_task_run_id": baseline.task_run_id, "baseline_run_id": baseline.run_id,
    }
    return [
        base | {
            "column_name": cut(d["column"], 250),
            "psi": _finite(d.get("psi")), "ks": _finite(d.get("ks")),
            "null_rate_change": _finite(d.get("null_rate_change")),
            "distinct_change": _finite(d.get("distinct_change")),
            "new_categories": to_json_safe(d.get("new_categories") or []),
            "vanished_categories": to_json_safe(d.get("vanished_categories") or []),
            "drifted": bool(d.get("drifted")),
            "reasons": to_json_safe(d.get("reasons") or []),
        }
        for d in output_drift(before, after, thresholds)
    ]


def _output_anomalies(
    session: Session, run: TaskRun, output: WrittenOutput, history: list[Any], settings: Settings
) -> list[dict[str, Any]]:
    base = _base(run) | {"output_name": output.row.name}
    found = _flag(base | {"column_name": None}, "rows", output.row.rows, [h.rows for h in history], settings)
    names = {c["name"] for c in output.columns}
    past: dict[str, dict[str, list[Any]]] = defaultdict(lambda: defaultdict(list))
    query = select(ColumnProfile.name, *(getattr(ColumnProfile, key) for key in COLUMN_METRICS.values())).where(
        ColumnProfile.output_id.in_([h.id for h in history])
    )
    for row in session.execute(query):
        if row.name in names:
            for metric, key in COLUMN_METRICS.items():
                past[row.name][metric].append(getattr(row, key))
    for col in output.columns:
        for metric, key in COLUMN_METRICS.items():
            found += _flag(base | {"column_name": col["name"]}, metric, col.get(key), past[col["name"]][metric], settings)
    return found


def _duration_anomaly(session: Session, run: TaskRun, settings: Settings) -> list[dict[str, Any]]:
    query = (
        select(TaskRun.duration_s)
        .where(
            TaskRun.dag_id == run.dag_id, TaskRun.task_id == run.task_id, TaskRun.map_index == run.map_index,
            TaskRun.state == SUCCESS, TaskRun.started_at < run.started_at, TaskRun.id != run.id,
        )
        .order_by(TaskRun.started_at.desc())
        .limit(max(settings.history, 1))
    )
    history = list(session.scalars(query))
    base = _base(run) | {"output_name": None, "column_name": None}
    return _flag(base, "duration_s", run.duration_s, history, settings)


def _flag(base: dict[str, Any], metric: str, value: Any, history: list[Any], settings: Settings) -> list[dict[str, Any]]:
    """One anomaly row if ``value`` is outside its history's band, else none."""
    value = _finite(value)
    band = robust_band(
        [_finite(v) for v in history], sensitivity=settings.sensitivity, min_history=settings.min_history
    )
    if band is None or not outside(value, band):
        return []
    return [base | {"metric": metric, "value": value, "low": band.low, "high": band.high, "median": band.median}]


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None
