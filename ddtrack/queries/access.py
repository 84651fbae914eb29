"""The one place that turns "the DAGs this user may read" into SQL.

Every question that can return a DAG's id, or anything of a DAG (task, run, output, tag),
takes ``allowed`` (the readable DAG ids, from Airflow's auth manager) and filters with
:func:`dag_filter` in the query itself, never after the fact.
"""

from __future__ import annotations

from collections.abc import Iterable


def dag_filter(column, allowed: Iterable[str] | None):
    """``column IN allowed``; ``None`` means no restriction (a trusted caller such as a CLI)."""
    if allowed is None:
        return True
    allowed = list(allowed)
    if not allowed:
        return False
    return column.in_(allowed)

