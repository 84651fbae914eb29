"""Task page: the task's last N tries at a glance (duration, state, rows, null rate, schema)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from dash import Input, Output, State, dcc, html

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

HISTORY_CHOICES = (20, 50, 100, 200, 500, 1000)


def _limit(params: dict[str, str]) -> int:
    try:
        n = int(params.get("n", queries.DEFAULT_HISTORY))
    except ValueError:
        n = queries.DEFAULT_HISTORY
    return max(1, min(n, queries.MAX_HISTORY))


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, task_id = params.get("dag_id", ""), params.get("task_id", "")
    if not ctx.can_read(dag_id):
        return not_found("DAG", dag_id)
    limit = _limit(params)
    history = queries.task_history(ctx.sources, dag_id, task_id, limit, allowed=ctx.allowed)
    header = page_header(
        task_id,
        f"Task of DAG {dag_id}: its last {limit} tracked tries.",
        breadcrumbs(("Data", href("")), (dag_id, href("dag", dag_id=dag_id)), (task_id, None)),
        href("task", dag_id=dag_id, task_id=task_id, n=limit),
        extra=[
            top_link(
                "Open in Airflow",
                airflow_href(f"/dags/{quote(dag_id, safe='')}/tasks/{quote(task_id, safe='')}"),
            ),
            html.Label(
                [
                    "Last ",
                    dcc.Dropdown(
                        id="task-history-n",
                        options=[{"label": str(n), "value": n} for n in sorted({*HISTORY_CHOICES, limit})],
                        value=limit,
                        clearable=False,
                        searchable=False,
                        className="dd-select",
                    ),
                    " runs",
                ],
                className="dd-inline",
            ),
            dcc.Store(id="task-page-ids", data={"dag_id": dag_id, "task_id": task_id}),
        ],
    )
    if not history:
        return html.Div(
            [
                header,
                empty_state(
                    "This task has no tracked outputs.",
                    "Add @track under @task on its function (from ddtrack import track), or call ddtrack.log_output(...) in it, then run the DAG.",
                ),
            ]
        )
    return html.Div(
        [
            header,
            _summary(history),
            card(
                "History",
                dcc.Graph(
                    figure=figures.task_history(history),
                    config=figures.graph_config(),
                    id="task-history-graph",
                ),
            ),
            card("Tries", _table(dag_id, task_id, history)),
        ]
    )


def _summary(history: list[queries.TaskHistoryRow]) -> html.Div:
    failed = sum(1 for r in history if r.state == "failed")
    durations = sorted(r.duration_s for r in history if r.duration_s is not None)
    median = durations[len(durations) // 2] if durations else None
    last = history[0]
    changes = sum(1 for r in history if r.schema_changed)
    stats = [
        ("Last state", state_badge(last.state)),
        ("Failed tries", html.Span(str(failed), className="dd-bad" if failed else "")),
        ("Median duration", fmt_duration(median)),
        ("Rows (last)", fmt_number(last.rows)),
        ("Schema changes", str(changes)),
    ]
    return html.Div(
        [
            html.Div(
                [html.Div(k, className="dd-stat-label"), html.Div(v, className="dd-stat-value")],
                className="dd-stat",
            )
            for k, v in stats
        ],
        className="dd-stats",
    )


TABLE_ROWS = 200


def _table(dag_id: str, task_id: str, history: list[queries.TaskHistoryRow]) -> html.Div:
    """The newest tries as a table (the chart above shows every one of them)."""
    rows = []
    for r in history[:TABLE_ROWS]:
        url = href(
            "ti",
            dag_id=dag_id,
            run_id=r.run_id,
            task_id=task_id,
            map_index=r.map_index,
            try_number=r.try_number,
        )
        rows.append(
            html.Tr(
                [
                    html.Td(link(r.run_id + (f" [{r.map_index}]" if r.map_index >= 0 else ""), url)),
                    html.Td(state_badge(r.state)),
                    html.Td(f"{r.try_number} of {r.tries}", className="dd-num"),
                    html.Td(fmt_time(r.started_at)),
                    html.Td(fmt_duration(r.duration_s), className="dd-num"),
                    html.Td(fmt_number(r.rows), className="dd-num"),
                    html.Td(f"{r.null_pct:.2f}%" if r.null_pct is not None else "–", className="dd-num"),
                    html.Td("changed" if r.schema_changed else "", className="dd-schema-change"),
                    html.Td(r.error or "", className="dd-error-cell", title=r.error or ""),
                ],
                className=f"dd-row-{r.state}",
            )
        )
    header = ("Run", "State", "Try", "Started", "Duration", "Rows", "Null rate", "Schema", "Error")
    table = html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table dd-history"
    )
    more = len(history) - TABLE_ROWS
    note = [
        html.Div(
            f"The newest {TABLE_ROWS} of {len(history)} tries; the chart shows all.", className="dd-muted"
        )
    ]
    return html.Div([table, *(note if more > 0 else [])])


def register(app) -> None:
    @app.callback(
        Output("url", "search"),
        Input("task-history-n", "value"),
        State("task-page-ids", "data"),
        prevent_initial_call=True,
    )
    def choose_history_length(n: int, ids: dict) -> str:
        ids = ids if isinstance(ids, dict) else {}
        try:
            n = int(n or queries.DEFAULT_HISTORY)
        except (TypeError, ValueError):
            n = queries.DEFAULT_HISTORY
        return "?" + urlencode(
            {
                "dag_id": str(ids.get("dag_id", "")),
                "task_id": str(ids.get("task_id", "")),
                "n": max(1, min(n, queries.MAX_HISTORY)),
            }
        )
