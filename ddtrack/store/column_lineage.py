"""The column lineage of a record, as ``ddtrack_column_lineage`` rows (written at ingest).

The task worked the edges out (:mod:`ddtrack.column_lineage`); each names its input by
position in the record's inputs, and here takes that input's identity as its
``ddtrack_lineage`` row has it, so walks resolve it to the version read the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ddtrack.column_lineage import known_inputs, well_formed
from ddtrack.record import cut
from ddtrack.store.models import ColumnLineage, TaskRun


def _text(value: Any, limit: int) -> str | None:
    return None if value is None else cut(value, limit)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def columns_known(record: Mapping[str, Any]) -> set[int]:
    """Positions of the record's inputs whose column lineage is complete."""
    lineage = {o.get("name"): _list(o.get("column_lineage")) for o in record.get("outputs") or [] if isinstance(o, Mapping)}
    return known_inputs(record.get("inputs") or [], lineage)


def _input_identity(item: Mapping[str, Any]) -> dict[str, Any]:
    if (item.get("kind") or "uri") == "task":
        return {"input_kind": "task", "input_uri": None, "upstream_task_id": _text(item.get("task_id"), 250),
                "upstream_output": _text(item.get("name") or "return_value", 250)}
    kind = "asset" if item.get("kind") == "asset" else "uri"
    return {"input_kind": kind, "input_uri": _text(item.get("uri"), 700), "upstream_task_id": None,
            "upstream_output": None}


def write_column_lineage(session: Session, run: TaskRun, record: Mapping[str, Any]) -> int:
    """Insert the record's column lineage rows (one statement); returns how many."""
    inputs = record.get("inputs") or []
    identities = [_input_identity(item) if isinstance(item, Mapping) else None for item in inputs]
    base = {"task_run_id": run.id, "dag_id": run.dag_id, "run_id": run.run_id, "task_id": run.task_id}
    rows = []
    for output in record.get("outputs") or []:
        name = _text(output.get("name") or "return_value", 250)
        for edge in output.get("column_lineage") or []:
            if not well_formed(edge):
                continue
            identity = identities[edge[1]] if 0 <= edge[1] < len(identities) else None
            if identity is None or (identity["input_kind"] != "task" and not identity["input_uri"]):
                continue  # an input named by nothing a walk can follow
            rows.append(base | identity | {
                "output_name": name, "column_name": _text(edge[0], 250) or "",
                "input_column": _text(edge[2], 250) or "", "how": _text(edge[3], 10) or "inferred",
            })
    if rows:
        session.execute(insert(ColumnLineage), rows)
    return len(rows)
