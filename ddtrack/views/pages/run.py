"""Run page: every task instance of one DAG run, as a waterfall, with its tracked outputs."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from ddtrack import queries
from ddtrack.views import figures
from ddtrack.views.common import (
    airflow_href,
    breadcrumbs,
    card,
    empty_state,
    fmt_duration,
    fmt_number,
    fmt_time,
    href,
    link,
    not_found,
    page_header,
    state_badge,
    top_link,
)
from ddtrack.views.context import PageContext
from ddtrack.views.pages.compare import compare_with


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, run_id = params.get("dag_id", ""), params.get("run_id", "")
    if not ctx.can_read(dag_id):
        return not_found("DAG", dag_id)
    detail = queries.run_detail(ctx.sources, dag_id, run_id, allowed=ctx.allowed)
    if detail is None:
        return not_found("run", run_id)
    from urllib.parse import quote

    header = page_header(
        run_id,
        [
            "Run of ",
            link(dag_id, href("dag", dag_id=dag_id)),
            " · ",
            state_badge(detail.state),
            f" · started {fmt_time(detail.start)}",
        ],
        breadcrumbs(("Data", href("")), (dag_id, href("dag", dag_id=dag_id)), (run_id, None)),
        href("run", dag_id=dag_id, run_id=run_id),
        extra=[
            top_link(
                "Open in Airflow",
                airflow_href(f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"),
            )
        ],
    )
    tracked = [t for t in detail.tasks if t.tracked]
    body: list[Any] = [
        compare_with(ctx, dag_id, run_id),
        card(
            "Waterfall",
            dcc.Graph(
                figure=figures.waterfall(detail.tasks), config=figures.graph_config(), id="run-waterfall"
            ),
        )
    ]
    if not tracked:
        body.append(
            empty_state(
                "This run has no tracked outputs.",
                "Add @track to the DAG's task functions; the next run records their outputs.",
            )
        )
    body.append(card("Task instances", _table(dag_id, run_id, detail.tasks)))
    return html.Div([header, *body])


def _table(dag_id: str, run_id: str, tasks: list[queries.RunTask]) -> html.Table:
    rows = []
    for t in tasks:
        name = t.task_id + (f" [{t.map_index}]" if t.map_index >= 0 else "")
        url = href("ti", dag_id=dag_id, run_id=run_id, task_id=t.task_id, map_index=t.map_index)
        duration = (t.end - t.start).total_seconds() if t.start and t.end else None
        outputs = ", ".join(
            f"{name} ({fmt_number(rows)} rows)" if rows is not None else name for name, rows in t.outputs
        )
        rows.append(
            html.Tr(
                [
                    html.Td(
                        link(name, url)
                        if t.tracked
                        else html.Span(name, className="dd-muted", title="not tracked")
                    ),
                    html.Td(state_badge(t.state)),
                    html.Td(str(t.try_number), className="dd-num"),
                    html.Td(fmt_time(t.start)),
                    html.Td(fmt_duration(duration), className="dd-num"),
                    html.Td(outputs or ("–" if t.tracked else "not tracked")),
                ]
            )
        )
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [html.Th(h) for h in ("Task", "State", "Try", "Started", "Duration", "Tracked outputs")]
                )
            ),
            html.Tbody(rows),
        ],
        className="dd-table",
    )
