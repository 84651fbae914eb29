"""PII (``pii``): every output with a column declared ``pii=``, the outputs derived from them
downstream, and every PII column, declared or derived (derivation follows column lineage;
a task on the way that declared ``pii_free`` ends it), in one query; the same answer as
JSON for an audit. Only DAGs the user may read are named; the rest is a count."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from dash import Input, Output, dcc, html

from ddtrack import queries
from ddtrack.views import across
from ddtrack.views.common import breadcrumbs, card, href, link, page_header, safe
from ddtrack.views.context import PageContext, request_context


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    report = queries.pii_report(ctx.sources, allowed=ctx.allowed)
    header = page_header(
        "PII",
        "Outputs with columns declared as PII (pii=[...]) and everything downstream of them, across DAGs.",
        breadcrumbs(("Data", href("")), ("PII", None)),
        href("pii"),
        extra=[
            html.Button("Download JSON for audit", id="pii-download-button", className="dd-button", n_clicks=0),
            dcc.Download(id="pii-download"),
        ],
    )
    summary = html.Div(
        [
            _stat("PII outputs", len(report.pii_outputs)),
            _stat("PII-derived outputs", len(report.derived)),
            _stat("PII columns", len(report.columns)),
            _stat("In DAGs you cannot read", report.hidden),
        ],
        className="dd-stats",
    )
    pii_body = (
        [_pii_table(report.pii_outputs)]
        if report.pii_outputs
        else [html.Div("No output declares a PII column (pii=[...] in @track or log_output).", className="dd-muted")]
    )
    derived_body = (
        [_derived_table(report.derived)]
        if report.derived
        else [html.Div("Nothing tracked reads a PII output.", className="dd-muted")]
    )
    return html.Div(
        [
            header,
            summary,
            card("PII outputs", pii_body, id="pii-outputs"),
            card("PII-derived: their consumers", [*derived_body, *across.hidden_note(report.hidden, "more outputs")],
                 id="pii-derived"),
            card("PII columns, declared and derived", _columns_table(report.columns), id="pii-columns"),
        ]
    )


def _columns_table(columns: list[Any]) -> Any:
    if not columns:
        return html.Div("No PII column that you can read.", className="dd-muted")
    rows = [
        html.Tr(
            [
                html.Td(link(f"{c.dag_id} / {c.task_id} / {c.output}", across.catalog_href(c.dag_id, c.task_id, c.output))),
                html.Td(link(c.column, href("catalog/column", name=c.column, dag_id=c.dag_id, task_id=c.task_id,
                                            output=c.output)) if c.column is not None else "every column"),
                html.Td(html.Span(c.pii, className="dd-tag dd-tag-pii")),
                html.Td(", ".join(c.via)),
            ],
            **{"data-column": f"{c.dag_id}/{c.task_id}/{c.output}/{c.column or ''}", "data-pii": c.pii},
        )
        for c in columns
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Output", "Column", "PII", "Derived from")])), html.Tbody(rows)],
        className="dd-table dd-pii-columns",
    )


def _stat(label: str, value: int) -> html.Div:
    return html.Div([html.Div(label, className="dd-stat-label"), html.Div(f"{value:,}", className="dd-stat-value")],
                    className="dd-stat")


def _pii_table(items: list[Any]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Td(across.dataset_link(d)),
                html.Td(html.Span([html.Span(c, className="dd-tag dd-tag-pii") for c in d.pii_columns],
                                  className="dd-tags")),
                html.Td(link("impact", href("trace", dag_id=d.dag_id, task_id=d.task_id, direction="downstream"))),
            ],
            **{"data-dataset": f"{d.dag_id}/{d.task_id}/{d.name}"},
        )
        for d in items
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Output", "PII columns", "")])), html.Tbody(rows)],
        className="dd-table dd-pii",
    )


def _derived_table(items: list[tuple[Any, list[str]]]) -> html.Table:
    rows = [
        html.Tr(
            [html.Td(across.dataset_link(d)), html.Td(", ".join(via)), html.Td(across.dataset_badges(d) or "")],
            **{"data-dataset": f"{d.dag_id}/{d.task_id}/{d.name}"},
        )
        for d, via in items
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Output", "Via", "")])), html.Tbody(rows)],
        className="dd-table dd-pii-derived",
    )


def report_json(report: Any) -> str:
    """The report as JSON: PII outputs, derived outputs with the PII outputs they come from,
    and the count of outputs in unreadable DAGs."""

    def plain(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            return value.isoformat()
        return str(value)

    body = {
        "generated_at": dt.datetime.now(dt.timezone.utc).isoformat(),
        "pii_outputs": [dataclasses.asdict(d) for d in report.pii_outputs],
        "derived": [{"output": dataclasses.asdict(d), "via": list(via)} for d, via in report.derived],
        "hidden": report.hidden,
        "columns": [dataclasses.asdict(c) for c in report.columns],
    }
    return json.dumps(body, indent=2, default=plain)


def register(app) -> None:
    @app.callback(Output("pii-download", "data"), Input("pii-download-button", "n_clicks"), prevent_initial_call=True)
    @safe("prepare the PII report")
    def download(clicks: Any) -> Any:
        ctx = request_context()  # the user's readable DAGs again: the callback can be called directly
        report = queries.pii_report(ctx.sources, allowed=ctx.allowed)
        return {"content": report_json(report), "filename": "ddtrack-pii.json", "type": "application/json"}
