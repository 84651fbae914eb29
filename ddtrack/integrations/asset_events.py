"""A compact ddtrack summary on the asset events Airflow emits for a tracked task's outlets.

Airflow's asset pages and event lists show an event's ``extra``; asset-triggered DAGs read
it from ``triggering_asset_events``. So a tracked task with Asset outlets puts, under the
one key :data:`EXTRA_KEY`, what a reader wants at a glance: rows, columns, the schema
fingerprint, the worst column's null % and a link path to ddtrack's page of the try.

Runs in the worker, inside the task, before Airflow sends the task's outlet events. The
summary holds counts and names only, never a data value (no min/max, top values or
sample), so PII columns contribute counts like any other; it is capped at
:data:`MAX_BYTES`. The user's own ``extra`` entries are left as they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from ddtrack.record import cut
from ddtrack.urls import page_path

EXTRA_KEY = "ddtrack"
# The summary's JSON never exceeds this (asset_event.extra is shown whole by Airflow's UI).
MAX_BYTES = 1024
NAME_LIMIT = 120


def annotate(context: Mapping[str, Any], record: Mapping[str, Any]) -> int:
    """Put the summary of the matching output on each Asset outlet's event of a successful
    try; returns how many events got one."""
    if record.get("state") != "success" or not record.get("outputs"):
        return 0
    outlets = [a for a in (getattr(context.get("task"), "outlets", None) or []) if _is_asset(a)]
    if not outlets:
        return 0
    events = context["outlet_events"]
    link = link_path(record)
    for asset in outlets:
        output = matching_output(record["outputs"], asset)
        events[asset].extra[EXTRA_KEY] = summary(output, link, n_outputs=len(record["outputs"]))
    return len(outlets)


def _is_asset(obj: Any) -> bool:
    """A concrete Asset (aliases and references name no single event to annotate)."""
    from airflow.sdk import Asset

    return isinstance(obj, Asset)


def matching_output(outputs: list[Mapping[str, Any]], asset: Any) -> Mapping[str, Any]:
    """The output an asset stands for: same URI, else same name, else the return value,
    else the first output."""
    uri, name = getattr(asset, "uri", None), getattr(asset, "name", None)
    for matches in (
        lambda o: uri and o.get("uri") == uri,
        lambda o: name and o.get("name") == name,
        lambda o: o.get("name") == "return_value",
    ):
        found = next((o for o in outputs if matches(o)), None)
        if found is not None:
            return found
    return outputs[0]


def link_path(record: Mapping[str, Any]) -> str:
    """The path of ddtrack's page of this try (the task-instance page), under Airflow's base path."""
    query = urlencode(
        {
            "dag_id": record["dag_id"],
            "run_id": record["run_id"],
            "task_id": record["task_id"],
            "map_index": record["map_index"],
            "try_number": record["try_number"],
        }
    )
    return page_path("ti", query)


def summary(output: Mapping[str, Any], link: str | None, *, n_outputs: int = 1) -> dict[str, Any]:
    """The output's summary: counts and names only, at most :data:`MAX_BYTES` of JSON."""
    profile = output.get("profile") or {}
    worst = _worst_null_column(profile.get("columns") or [])
    data: dict[str, Any] = {
        "output": cut(output.get("name") or "", NAME_LIMIT),
        "rows": profile.get("rows"),
        "columns": profile.get("n_columns"),
        "schema": profile.get("schema_fingerprint"),
        "null_pct_max": round(float(worst["null_pct"]), 2) if worst else None,
        "null_pct_max_column": cut(worst["name"], NAME_LIMIT) if worst else None,
        "pii_columns": len(profile.get("pii") or []),
        "outputs": n_outputs,
        "link": link,
    }
    if profile.get("truncated"):
        data["profile_truncated"] = True
    return _bounded(data)


def _worst_null_column(columns: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    measured = [c for c in columns if isinstance(c.get("null_pct"), (int, float))]
    return max(measured, key=lambda c: c["null_pct"], default=None)


def _bounded(data: dict[str, Any]) -> dict[str, Any]:
    """Drop the link, then shorten names, until the JSON fits in :data:`MAX_BYTES`."""
    if _size(data) <= MAX_BYTES:
        return data
    data["link"] = None
    for limit in (60, 20):
        if _size(data) <= MAX_BYTES:
            break
        for key in ("output", "null_pct_max_column"):
            if data.get(key):
                data[key] = cut(data[key], limit)
    return data


def _size(data: Mapping[str, Any]) -> int:
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
