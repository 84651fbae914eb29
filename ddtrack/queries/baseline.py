"""Pinning a run as the drift baseline of a task: reading pins needs read rights on the DAG,
changing them needs edit rights (the auth manager's ``PUT`` on the DAG).

The check is here, in the query layer, so every caller (a page's callback, whatever a
browser may forge into it) goes through it; the store (:mod:`ddtrack.store.baseline`)
trusts its caller.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ddtrack.queries.access import Allowed, may_read
from ddtrack.queries.sources import Sources
from ddtrack.store import baseline


def _require_edit(editable: Iterable[str] | None, dag_id: str) -> None:
    """``editable=None`` is a trusted caller (the CLI); otherwise the DAG must be in it."""
    if editable is not None and dag_id not in set(editable):
        raise PermissionError(f"you may not change the baseline of DAG {dag_id!r}: editing it needs edit rights")


def pin_baseline(
    sources: Sources, editable: Iterable[str] | None, dag_id: str, task_id: str, run_id: str,
    output: str = "", by: str = "",
) -> None:
    """Pin ``run_id`` as the baseline of the task's ``output`` ('' = all its outputs).
    PermissionError without edit rights on the DAG; ``baseline.UnknownRun`` (a LookupError)
    if the store has no such try."""
    _require_edit(editable, dag_id)
    baseline.pin(sources.store_url, dag_id, task_id, run_id, output, by)


def unpin_baseline(
    sources: Sources, editable: Iterable[str] | None, dag_id: str, task_id: str, output: str = ""
) -> bool:
    """Remove the pin (False if there was none); PermissionError without edit rights."""
    _require_edit(editable, dag_id)
    return baseline.unpin(sources.store_url, dag_id, task_id, output)


def pins_of(sources: Sources, allowed: Allowed, dag_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
    """The task's (or DAG's) pinned baselines; none for a DAG the caller may not read."""
    if not may_read(dag_id, allowed):
        return []
    return baseline.pinned(sources.store_url, dag_id, task_id)
