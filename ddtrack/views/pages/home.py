"""Home (Airflow's "Data" menu entry): every DAG with tracked outputs the user may read."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, dcc, html

from ddtrack import queries
from ddtrack.views import figures
from ddtrack.views.common import (
    breadcrumbs,
    empty_state,
    fmt_time,
    href,
    link,
    page_header,
    safe,
    state_badge,
)
from ddtrack.views.context import PageContext, request_context


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dags = queries.tracked_dags(ctx.sources, ctx.allowed)
    header = page_header(
        "Data",
        "Tracked outputs of your DAGs: profiles, lineage and run history recorded by ddtrack.",
        breadcrumbs(("Data", None)),
        href(""),
    )
    search = html.Div(
        [
            dcc.Input(
                id="home-search",
                type="search",
                placeholder="Search DAGs, tasks, outputs, columns and tags…",
                debounce=0.3,
                value=params.get("q", ""),
                className="dd-search",
                autoComplete="off",
            ),
            html.Div(id="home-search-results", className="dd-search-results"),
        ]
    )
    if not dags:
        body: Any = empty_state(
            "No tracked outputs yet.",
            "Decorate a task function with @track (from ddtrack import track), run its DAG, and its outputs appear here.",
        )
    else:
        body = _dag_table(dags)
    return html.Div([header, search, body])


def _dag_table(dags: list[queries.DagSummary]) -> html.Table:
    rows = []
    for d in dags:
        latest = html.Span(f"{d.rows_by_run[-1][1]:,} rows" if d.rows_by_run else "–", className="dd-muted")
        spark = (
            html.Div(
                [
                    dcc.Graph(
                        figure=figures.sparkline(d.rows_by_run),
                        config={"staticPlot": True},
                        className="dd-spark",
                    ),
                    latest,
                ],
                className="dd-spark-cell",
                title=f"rows of the last {len(d.rows_by_run)} runs",
            )
            if len(d.rows_by_run) > 1
            else latest
        )
        last = (
            [
                state_badge(d.last_state),
                " ",
                link(fmt_time(d.last_time), href("run", dag_id=d.dag_id, run_id=d.last_run_id)),
            ]
            if d.last_run_id
            else "–"
        )
        rows.append(
            html.Tr(
                [
                    html.Td(link(d.dag_id, href("dag", dag_id=d.dag_id), className="dd-link dd-strong")),
                    html.Td(last),
                    html.Td(f"{d.n_outputs}", className="dd-num"),
                    html.Td(f"{d.n_tasks}", className="dd-num"),
                    html.Td(spark),
                ],
                **{"data-dag-id": d.dag_id},
            )
        )
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("DAG"),
                        html.Th("Last run"),
                        html.Th("Tracked outputs"),
                        html.Th("Tracked tasks"),
                        html.Th("Rows, recent runs"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="dd-table dd-dag-list",
    )


def register(app) -> None:
    @app.callback(Output("home-search-results", "children"), Input("home-search", "value"))
    @safe("search")
    def run_search(text: str | None) -> Any:
        if not text or len(text.strip()) < 2:
            return None
        ctx = request_context()
        hits = queries.search(ctx.sources, text, ctx.allowed)
        if not hits:
            return html.Div(f"Nothing tracked matches {text.strip()!r}.", className="dd-muted")
        items = []
        for h in hits:
            url = (
                href("task", dag_id=h.dag_id, task_id=h.task_id)
                if h.task_id
                else href("dag", dag_id=h.dag_id)
            )
            items.append(
                html.Li(
                    [
                        html.Span(h.kind, className=f"dd-kind dd-kind-{h.kind}"),
                        link(h.label, url),
                        html.Span(h.detail, className="dd-muted"),
                    ]
                )
            )
        return html.Ul(items, className="dd-hits")
