"""Where ddtrack meets the rest of the ecosystem: Airflow's asset events, OpenLineage,
and the differences between Airflow versions.

:func:`publish` is what the decorator calls once a tracked try's record is complete. It
never raises: each integration's failure comes back as ``(what, exception)`` so that the
decorator's one failure rule (warn, or raise in strict mode) applies to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def publish(context: Mapping[str, Any], record: Mapping[str, Any]) -> list[tuple[str, BaseException]]:
    """Share a finished try's record: a summary on its asset events, its datasets for
    OpenLineage. Returns the failures, each as (what could not be done, the exception)."""
    from ddtrack.integrations import asset_events, openlineage

    failures: list[tuple[str, BaseException]] = []
    for what, step in (
        ("add its summary to the task's asset events", asset_events.annotate),
        ("give its datasets to OpenLineage", openlineage.attach),
    ):
        try:
            step(context, record)
        except Exception as exc:
            failures.append((what, exc))
    return failures
