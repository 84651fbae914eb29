"""The "Status" section of the Data home page, for admins: ``ddtrack status`` as a card.

Built from :class:`ddtrack.queries.status.DeploymentStatus` alone, with no data access: the
page asks the query layer (:func:`ddtrack.queries.status.deployment_status`) and decides who
may see it. Every value goes in as text.
"""

from __future__ import annotations

from dash import html

from ddtrack.queries.status import DeploymentStatus, summary_lines
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
