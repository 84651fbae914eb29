"""Stored drift, anomaly and check rows as alert dicts: one shape for the pages, the CLI and
the alert outbox.

An alert: ``{"kind": "drift"|"anomaly"|"check", "dag_id", "run_id", "task_id", "map_index",
"try_number", "output", "column", "started_at", "status", "anomaly", "metric", "value",
"detail"}``. ``status`` is ``"fail"`` for a failed check of severity error and ``"warn"`` for
everything else (drift, a warning check, a check that could not be evaluated:
``check_status`` says which). Rows are read with the try's ``map_index`` and ``try_number``;
``started_at`` is as the driver returned it (the query layer normalises it).
"""

from __future__ import annotations

from typing import Any

METRIC_LABELS = {"rows": "rows", "null_pct": "null %", "distinct": "distinct count", "mean": "mean",
                 "duration_s": "duration (s)"}


def _common(r: Any, kind: str, output: str | None, column: str | None) -> dict[str, Any]:
    return {
        "kind": kind, "dag_id": r.dag_id, "run_id": r.run_id, "task_id": r.task_id, "map_index": r.map_index,
        "try_number": r.try_number, "output": output, "column": column, "started_at": r.started_at,
    }


def drift_alert(r: Any) -> dict[str, Any]:
    reasons = list(r.reasons or [])
    return _common(r, "drift", r.output_name, r.column_name) | {
        "status": "warn", "anomaly": False, "metric": "psi", "value": r.psi,
        "detail": "; ".join(reasons) or "drifted", "baseline_run_id": r.baseline_run_id,
    }


def anomaly_alert(r: Any) -> dict[str, Any]:
    label = METRIC_LABELS.get(r.metric, r.metric)
    return _common(r, "anomaly", r.output_name, r.column_name) | {
        "status": "warn", "anomaly": True, "metric": r.metric, "value": r.value,
        "low": r.low, "high": r.high, "median": r.median,
        "detail": f"{label} {r.value:.6g} outside {r.low:.6g} … {r.high:.6g} (median {r.median:.6g})",
    }


def check_alert(r: Any) -> dict[str, Any]:
    return _common(r, "check", r.output_name, r.column_name) | {
        "status": "fail" if r.status == "fail" else "warn", "check_status": r.status, "anomaly": False,
        "metric": r.check_name, "value": r.value, "bound": r.bound, "detail": r.message or r.check_name,
    }
