"""The "Status" section of the Data home page, for admins: ``ddtrack status`` as a card.

Built from :class:`ddtrack.queries.status.DeploymentStatus`; the only data it asks for comes from
the query layer (:func:`ddtrack.queries.status.deployment_status`, cached), and the home page decides who
may see it. Every value goes in as text.
"""

from __future__ import annotations

import threading
import time

from dash import html

from ddtrack.queries import Sources
from ddtrack.queries.status import DeploymentStatus, deployment_status, summary_lines
from ddtrack.views.common import card


def status_panel(report: DeploymentStatus) -> html.Section:
    """The same lines as ``ddtrack status``, then each problem with what to do about it."""
    rows = [html.Tr([html.Th(label), html.Td(value)]) for label, value in summary_lines(report)]
    if report.healthy:
        verdict = html.Div("Healthy: tracking works.", className="dd-status-ok")
    else:
        verdict = html.Div(
            [html.Div("Needs action:", className="dd-error-title"), html.Ul([html.Li(p) for p in report.problems])],
            className="dd-error",
            role="alert",
        )
    return card("Status", [verdict, html.Table(html.Tbody(rows), className="dd-table dd-status")], id="dd-status")


CACHE_S = 30.0
_cache: dict[Sources, tuple[float, DeploymentStatus]] = {}
_cache_lock = threading.Lock()


def cached_status(sources: Sources) -> DeploymentStatus:
    """The deployment's status, asked at most every 30 s per process: several admins' home
    pages must not each repeat the checks."""
    now = time.monotonic()
    with _cache_lock:
        hit = _cache.get(sources)
        if hit is not None and now - hit[0] < CACHE_S:
            return hit[1]
    report = deployment_status(sources)
    with _cache_lock:
        _cache[sources] = (time.monotonic(), report)
    return report
