"""Task page: the task's last N tries at a glance (duration, state, checks, schema), one
column of one output over those runs (trend with its anomaly band), drift of its columns
across recent runs, and, for users who may edit the DAG, pinning a run as drift baseline."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from dash import Input, Output, State, dcc, html

from ddtrack import auth, queries
from ddtrack.queries import alerts, baseline, trends
from ddtrack.views import figures
from ddtrack.views.alerts import check_summary
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
    safe,
    state_badge,
    top_link,
)
from ddtrack.views.context import PageContext, request_context

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
            dcc.Store(id="task-trend-ids", data={"dag_id": dag_id, "task_id": task_id, "n": limit}),
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
            _trend_card(ctx, dag_id, task_id, params, limit),
            _drift_card(ctx, dag_id, task_id),
            card(
                "Tries",
                [
                    dcc.Graph(
                        figure=figures.task_history(history),
                        config=figures.graph_config(),
                        id="task-history-graph",
                    ),
                    _table(dag_id, task_id, history, _checks_by_try(ctx, dag_id, task_id, history)),
                ],
            ),
            _baseline_card(ctx, dag_id, task_id, history),
        ]
    )


def _trend_card(ctx: PageContext, dag_id: str, task_id: str, params: dict[str, str], limit: int) -> Any:
    """One output and one column over the last N runs (chosen in the URL: shareable)."""
    choices = trends.trend_choices(ctx.sources, ctx.allowed, dag_id, task_id)
    if not choices:
        return card("Trend of one column", html.Div("No output of this task has a stored profile.", className="dd-muted"))
    output = params.get("output") if params.get("output") in choices else next(iter(choices))
    columns = choices[output]
    column = params.get("column") or (columns[0] if columns else "")
    picker = html.Div(
        [
            html.Label(["Output ", _select("task-trend-output", list(choices), output)], className="dd-inline"),
            html.Label(["Column ", _select("task-trend-column", _with(columns, column), column)], className="dd-inline"),
        ],
        className="dd-trend-picker",
    )
    trend = trends.column_trend(ctx.sources, ctx.allowed, dag_id, task_id, output, column, limit) if column else None
    if trend is None or not column:
        body: Any = html.Div("No stored value of this column.", className="dd-muted")
    else:
        body = dcc.Graph(figure=figures.column_trend(trend), config=figures.graph_config(), id="task-trend-graph")
    note = html.Div(
        "Shaded: the band a next run is judged against (median ± k·MAD of the last successful runs); "
        "red diamonds: anomalies; orange: drift against the baseline; dotted lines: code and schema changes.",
        className="dd-muted",
    )
    return card("Trend of one column", [picker, body, note], id="task-trend")


def _select(ident: str, options: list[str], value: str) -> dcc.Dropdown:
    return dcc.Dropdown(
        id=ident, options=[{"label": o, "value": o} for o in options], value=value,
        clearable=False, className="dd-select",
    )


def _with(options: list[str], value: str) -> list[str]:
    """The choices, plus a column chosen by URL beyond the listed ones."""
    return options if not value or value in options else [*options, value]


def _drift_card(ctx: PageContext, dag_id: str, task_id: str) -> Any:
    heatmap = trends.drift_heatmap(ctx.sources, ctx.allowed, dag_id, task_id)
    hidden = heatmap.total_cells - len(heatmap.cells)
    return card(
        "Drift across recent runs",
        [
            dcc.Graph(figure=figures.drift_heatmap(heatmap), config=figures.graph_config(), id="task-drift-heatmap"),
            html.Div(
                "Each run against its baseline (the pinned run, else the previous successful try); ● drifted."
                + (f" The {len(heatmap.cells)} columns that drifted most of {heatmap.total_cells}." if hidden > 0 else ""),
                className="dd-muted",
            ),
        ],
        id="task-drift",
    )


def _checks_by_try(
    ctx: PageContext, dag_id: str, task_id: str, history: list[queries.TaskHistoryRow]
) -> dict[tuple[str, int, int], list[dict]]:
    """Check results of the tries shown in the table, by (run, map index, try)."""
    found: dict[tuple[str, int, int], list[dict]] = {}
    for r in alerts.checks_of(ctx.sources, ctx.allowed, dag_id, task_id=task_id, limit=alerts.MAX_CHECKS):
        found.setdefault((r["run_id"], r["map_index"], r["try_number"]), []).append(r)
    return found


def _baseline_card(ctx: PageContext, dag_id: str, task_id: str, history: list[queries.TaskHistoryRow]) -> Any:
    """The pinned baseline, and the control to change it for users who may edit the DAG."""
    pins = baseline.pins_of(ctx.sources, ctx.allowed, dag_id, task_id)
    current = (
        html.Ul(
            [html.Li(f"{p['output_name'] or 'every output'}: run {p['run_id']} (pinned by {p['pinned_by'] or '–'}, "
                     f"{fmt_time(p['pinned_at'])})") for p in pins]
        )
        if pins
        else html.Div("No run is pinned: each run is compared with the previous successful try.", className="dd-muted")
    )
    if dag_id not in auth.current_editable_dag_ids():
        control: Any = html.Div("Only users who may edit this DAG can pin a baseline.", className="dd-muted")
    else:
        runs = list(dict.fromkeys(r.run_id for r in history if r.state == "success"))
        control = html.Div(
            [
                _select("task-pin-run", runs, runs[0] if runs else ""),
                html.Button("Pin as baseline", id="task-pin-button", className="dd-button", n_clicks=0),
                html.Button("Unpin", id="task-unpin-button", className="dd-button", n_clicks=0),
            ],
            className="dd-pin",
        )
    return card("Drift baseline", [current, control, html.Div(id="task-pin-result", role="status")], id="task-baseline")


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


def _table(
    dag_id: str, task_id: str, history: list[queries.TaskHistoryRow], checks: dict[tuple[str, int, int], list[dict]]
) -> html.Div:
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
                    html.Td(check_summary(checks.get((r.run_id, r.map_index, r.try_number), []))),
                    html.Td(r.error or "", className="dd-error-cell", title=r.error or ""),
                ],
                className=f"dd-row-{r.state}",
            )
        )
    header = ("Run", "State", "Try", "Started", "Duration", "Rows", "Null rate", "Schema", "Checks", "Error")
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

    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("task-trend-output", "value"),
        Input("task-trend-column", "value"),
        State("task-trend-ids", "data"),
        prevent_initial_call=True,
    )
    def choose_trend(output: Any, column: Any, ids: Any) -> str:
        """The chosen output and column go in the URL (a new output starts at its first column)."""
        from dash import ctx as dash_ctx

        ids = ids if isinstance(ids, dict) else {}
        params = {k: str(ids.get(k, "")) for k in ("dag_id", "task_id", "n")}
        params["output"] = str(output or "")
        if dash_ctx.triggered_id != "task-trend-output":
            params["column"] = str(column or "")
        return "?" + urlencode({k: v for k, v in params.items() if v})

    @app.callback(
        Output("task-pin-result", "children"),
        Input("task-pin-button", "n_clicks"),
        Input("task-unpin-button", "n_clicks"),
        State("task-pin-run", "value"),
        State("task-trend-ids", "data"),
        prevent_initial_call=True,
    )
    @safe("change the drift baseline")
    def change_baseline(pin_clicks: Any, unpin_clicks: Any, run_id: Any, ids: Any) -> Any:
        """Pin or unpin, after checking edit rights here too: the callback can be called
        directly by anyone who may log in."""
        from dash import ctx as dash_ctx

        ids = ids if isinstance(ids, dict) else {}
        dag_id, task_id = str(ids.get("dag_id", "")), str(ids.get("task_id", ""))
        page = request_context()
        if not page.can_read(dag_id):
            return html.Div(f"No DAG {dag_id!r} that you can read.", className="dd-warning dd-refused", role="alert")
        editable = auth.current_editable_dag_ids()
        try:
            if dash_ctx.triggered_id == "task-unpin-button":
                removed = baseline.unpin_baseline(page.sources, editable, dag_id, task_id)
                return html.Div("Unpinned." if removed else "No run was pinned.", className="dd-good")
            if not isinstance(run_id, str) or not run_id:
                return html.Div("Choose a run to pin.", className="dd-muted")
            baseline.pin_baseline(page.sources, editable, dag_id, task_id, run_id, by=_user_name())
        except PermissionError as exc:
            return html.Div(f"Refused: {exc}.", className="dd-warning dd-refused", role="alert")
        except LookupError as exc:
            return html.Div(str(exc), className="dd-warning", role="alert")
        return html.Div(f"Run {run_id} is now the baseline of {task_id}: runs ingested from now on compare with it.",
                        className="dd-good")


def _user_name() -> str:
    try:
        return str(auth.current_user().get_name())
    except Exception:  # noqa: BLE001 - a name is only a note on the pin
        return ""
