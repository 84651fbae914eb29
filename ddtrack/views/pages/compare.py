"""Compare page (``compare?dag_id=&a=&b=``): any two runs of a DAG side by side.

Run ``a`` is "before", ``b`` "after": both waterfalls on one time axis with each task's
duration change; per tracked output the rows, the schema diff, statistics side by side
with their change, overlaid histograms on common bins or top-value shifts, and the diff of
the function's source where its code hash changed.  Bounded like the task-instance page
(:mod:`ddtrack.views.output`): the first columns in detail, the others through a picker,
every column's statistics in an AG Grid served a block at a time.  Column names and values
are text children, grid cells or :func:`~ddtrack.views.figures.plot_text`-escaped labels.
"""

from __future__ import annotations

from typing import Any

import dash_ag_grid as dag
from dash import Input, Output, State, dcc, html

from ddtrack import queries
from ddtrack.views import figures
from ddtrack.views.column_browser import (
    GRID_BLOCK,
    BrowserIds,
    GridRequest,
    block_of,
    grid_request,
    register_column_browser,
    status_line,
)
from ddtrack.views.common import (
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
)
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.output import MAX_TABLE_ROWS

RUNS_IN_PICKER = 50
BROWSER = BrowserIds(grid="dd-cmp-grid", pick="dd-cmp-pick", picked="dd-cmp-picked", key="dd-cmp-key",
                     status="dd-cmp-status")
SEARCHABLE = ("column", "change")
_SIDE_BY_SIDE = (("null_pct", "null %"), ("distinct", "distinct"), ("mean", "mean"), ("std", "std"),
                 ("min", "min"), ("max", "max"), ("p50", "median"))


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, a, b = params.get("dag_id", ""), params.get("a", ""), params.get("b", "")
    if not ctx.can_read(dag_id):
        return not_found("DAG", dag_id)
    runs = queries.dag_runs(ctx.sources, dag_id, limit=RUNS_IN_PICKER, allowed=ctx.allowed)
    title = f"{a} → {b}" if a and b else "Compare runs"
    header = page_header(
        title,
        "Two runs of the DAG side by side: timing, data and code.",
        breadcrumbs(("Data", href("")), (dag_id, href("dag", dag_id=dag_id)), ("compare", None)),
        href("compare", dag_id=dag_id, a=a, b=b),
    )
    picker = run_picker(dag_id, runs, a, b)
    if not a or not b:
        return html.Div([header, picker, empty_state("Pick two runs to compare.", "Choose a run as “before” and one as “after”.")])
    cmp = queries.compare_runs(ctx.sources, ctx.allowed, dag_id, a, b)
    if cmp is None:
        return html.Div(
            [header, picker, empty_state(f"No runs {a!r} and {b!r} of {dag_id!r} that you can read.",
                                         "One of them does not exist, or has no tracked data yet.")]
        )
    return html.Div([header, picker, *_body(cmp)])


# -- the run picker (also on the DAG, run and task-instance pages) -------------------------


def run_picker(dag_id: str, runs: list[queries.DagRunRow], a: str | None = None, b: str | None = None) -> html.Div:
    """Two dropdowns of the DAG's recent runs and a "Compare" link to their compare page."""
    options = [{"label": f"{r.run_id} · {fmt_time(r.start)}", "value": r.run_id} for r in runs]
    known = {r.run_id for r in runs}
    options += [{"label": v, "value": v} for v in dict.fromkeys((a, b)) if v and v not in known]
    return html.Div(
        [
            dcc.Store(id="dd-compare-dag", data=dag_id),
            html.Span("Compare ", className="dd-muted"),
            dcc.Dropdown(id="dd-compare-a", options=options, value=a or None, placeholder="before…",
                         clearable=False, className="dd-compare-run"),
            html.Span(" with ", className="dd-muted"),
            dcc.Dropdown(id="dd-compare-b", options=options, value=b or None, placeholder="after…",
                         clearable=False, className="dd-compare-run"),
            link("Compare →", compare_href(dag_id, a, b), id="dd-compare-go", className="dd-link dd-compare-go"),
        ],
        className="dd-pickers dd-compare-picker",
    )


def compare_with(ctx: PageContext, dag_id: str, run_id: str) -> html.Div:
    """"Compare with…" on a run's pages: this run as "after", the run before it as "before"."""
    runs = queries.dag_runs(ctx.sources, dag_id, limit=RUNS_IN_PICKER, allowed=ctx.allowed)
    ids = [r.run_id for r in runs]
    before = ids[ids.index(run_id) + 1] if run_id in ids[:-1] else next((r for r in ids if r != run_id), None)
    return run_picker(dag_id, runs, before, run_id)


def newest_pair_picker(dag_id: str, runs: list[queries.DagRunRow]) -> list[html.Div]:
    """The DAG page's picker, set to its two newest runs (nothing with fewer than two)."""
    return [run_picker(dag_id, runs, runs[1].run_id, runs[0].run_id)] if len(runs) > 1 else []


def compare_href(dag_id: str, a: Any, b: Any) -> str:
    a, b = (v if isinstance(v, str) else "" for v in (a, b))
    return href("compare", dag_id=dag_id, a=a[:1000], b=b[:1000])


# -- the page's body -------------------------------------------------------------------------


def _body(cmp: queries.RunComparison) -> list[Any]:
    la, lb = f"a: {cmp.run_a}", f"b: {cmp.run_b}"
    runs = html.Div(
        [
            html.Div([html.Strong("before (a) "), link(cmp.run_a, href("run", dag_id=cmp.dag_id, run_id=cmp.run_a)),
                      " ", state_badge(cmp.state_a), f" started {fmt_time(cmp.start_a)}"]),
            html.Div([html.Strong("after (b) "), link(cmp.run_b, href("run", dag_id=cmp.dag_id, run_id=cmp.run_b)),
                      " ", state_badge(cmp.state_b), f" started {fmt_time(cmp.start_b)}"]),
        ],
        className="dd-compare-runs",
    )
    parts: list[Any] = [
        runs,
        card("Tasks", [dcc.Graph(id="compare-waterfall", figure=figures.compare_waterfall(cmp.tasks, la, lb),
                                 config=figures.graph_config()), _task_table(cmp.tasks)]),
    ]
    if not cmp.outputs:
        parts.append(empty_state("Neither run has tracked outputs.", "Outputs of tasks under @track are compared here."))
    for i, o in enumerate(cmp.outputs):
        parts.append(_output_card(cmp, o, i, la, lb))
    changed = [t for t in cmp.tasks if t.code_diff]
    if changed:
        parts.append(card("Code changes", [_code_diff(t) for t in changed]))
    return parts


def _task_table(tasks: list[queries.TaskComparison]) -> html.Table:
    rows = [
        html.Tr(
            [
                html.Td(t.task_id),
                html.Td([state_badge(t.state_a) if t.state_a else "–", " → ", state_badge(t.state_b) if t.state_b else "–"]),
                html.Td(fmt_duration(t.duration_a), className="dd-num"),
                html.Td(fmt_duration(t.duration_b), className="dd-num"),
                html.Td(_signed_duration(t.change_s), className="dd-num " + _tone(t.change_s, higher_is_bad=True)),
                html.Td("changed" if t.code_diff else "", className="dd-bad" if t.code_diff else ""),
            ]
        )
        for t in tasks
    ]
    head = html.Thead(html.Tr([html.Th(h) for h in ("Task", "State", "Duration a", "Duration b", "Change", "Code")]))
    return html.Table([head, html.Tbody(rows)], className="dd-table dd-compare-tasks")


def _signed_duration(change: float | None) -> str:
    if change is None:
        return "–"
    return ("+" if change >= 0 else "−") + fmt_duration(abs(change))


def _tone(change: float | None, higher_is_bad: bool = False) -> str:
    if not change:
        return "dd-muted"
    return "dd-bad" if (change > 0) == higher_is_bad else "dd-good"


def _output_card(cmp: queries.RunComparison, o: queries.OutputComparison, index: int, la: str, lb: str) -> html.Section:
    title = [o.task_id, " · ", o.name] + ([html.Span(" (merged map indexes)", className="dd-muted")] if o.mapped else [])
    if not (o.in_a and o.in_b):
        only = "a" if o.in_a else "b"
        return card(title, html.Div(f"Only run {only} has this output ({fmt_number(o.rows_b if only == 'b' else o.rows_a)} rows)."))
    delta = o.rows_b - o.rows_a if o.rows_a is not None and o.rows_b is not None else None
    parts: list[Any] = [
        html.Div([html.Strong("Rows: "), f"{fmt_number(o.rows_a)} → {fmt_number(o.rows_b)} ",
                  html.Span(f"({delta:+,})" if delta is not None else "", className=_tone(delta))],
                 className="dd-compare-rows"),
        _schema_diff(o),
        dcc.Store(id={"type": BROWSER.key, "index": index},
                  data={"dag_id": cmp.dag_id, "a": cmp.run_a, "b": cmp.run_b, "task_id": o.task_id, "output": o.name}),
    ]
    shown = o.columns[: o.detailed]
    if shown:
        parts.append(_stats_table(shown))
        parts.append(html.Div([c for c in (_chart(c, la, lb) for c in shown) if c is not None], className="dd-chart-grid"))
    if len(o.columns) > o.detailed:
        parts += [
            status_line(BROWSER, index),
            dcc.Dropdown(id={"type": BROWSER.pick, "index": index}, options=[], value=[], multi=True,
                         placeholder=f"Compare other columns ({len(o.columns):,} in all): type part of a name…",
                         className="dd-chart-pick"),
            html.Div(id={"type": BROWSER.picked, "index": index}, className="dd-chart-grid"),
            html.H4(f"Every column ({len(o.columns):,})"),
            _grid(index, len(o.columns)),
        ]
    if o.code_diff:
        parts.append(html.Div("The task's code changed between the runs (see Code changes).", className="dd-warning"))
    return card(title, parts, **{"data-output": f"{o.task_id}.{o.name}"})


def _schema_diff(o: queries.OutputComparison) -> html.Div:
    if not (o.added or o.removed or o.retyped):
        return html.Div([html.Strong("Schema: "), "unchanged"])
    items: list[Any] = []
    for label, names, cls in (("added", o.added, "dd-change-added"), ("removed", o.removed, "dd-change-removed")):
        if names:
            items.append(html.Li([html.Span(f"{label} ({len(names):,}): ", className=cls), ", ".join(names[:MAX_TABLE_ROWS]),
                                  "…" if len(names) > MAX_TABLE_ROWS else ""]))
    if o.retyped:
        items.append(html.Li([html.Span(f"retyped ({len(o.retyped):,}): ", className="dd-change-type"),
                              ", ".join(f"{n} ({ta} → {tb})" for n, ta, tb in o.retyped[:MAX_TABLE_ROWS])]))
    return html.Div([html.Strong("Schema: "), "changed", html.Ul(items, className="dd-schema-diff")])


def _stats_table(columns: list[queries.ColumnComparison]) -> html.Div:
    head = html.Thead(html.Tr([html.Th("column"), html.Th("kind"), *[html.Th(label + " a → b") for _, label in _SIDE_BY_SIDE],
                               html.Th("drift")]))
    rows = []
    for c in columns:
        cells = [html.Td([c.name, *([html.Span(f" {c.change}", className=f"dd-change-{_css_change(c.change)}")]
                                    if c.change != "same" else [])]),
                 html.Td(c.kind)]
        for key, _ in _SIDE_BY_SIDE:
            cells.append(html.Td(_pair(c.stats_a.get(key), c.stats_b.get(key), c.changes.get(key)), className="dd-num"))
        cells.append(_drift_cell(c.drift))
        rows.append(html.Tr(cells))
    return html.Div(html.Table([head, html.Tbody(rows)], className="dd-table dd-compare-stats"), className="dd-scroll")


def _css_change(change: str) -> str:
    return "type" if change == "retyped" else change


def _pair(a: Any, b: Any, change: float | None) -> str:
    if a is None and b is None:
        return "–"
    text = f"{fmt_number(a)} → {fmt_number(b)}"
    return text + (f" ({change:+.4g})" if change else "")


def _drift_cell(drift: dict | None) -> html.Td:
    if not drift:
        return html.Td("–", className="dd-muted")
    measures = [f"{k.upper()} {drift[k]:.3f}" for k in ("psi", "ks") if drift.get(k) is not None]
    text = ("drifted · " if drift["drifted"] else "") + (" · ".join(measures) or "compared")
    return html.Td(text, className="dd-bad" if drift["drifted"] else "dd-muted", title="; ".join(drift.get("reasons") or []))


def _chart(c: queries.ColumnComparison, la: str, lb: str) -> html.Div | None:
    if c.bins:
        fig = figures.overlaid_histogram(c.name, c.bins[0], c.bins[1], c.bins[2], la, lb, is_time=c.kind == "datetime")
    elif c.top_values:
        fig = figures.top_value_shift(c.name, c.top_values, la, lb)
    else:
        return None
    return html.Div(dcc.Graph(figure=fig, config=figures.graph_config()), className="dd-chart", **{"data-column": c.name})


def _code_diff(t: queries.TaskComparison) -> html.Div:
    """The unified diff as text, one span per line (coloured by CSS, never markup)."""
    lines = [
        html.Span(line, className="dd-diff-add" if line.startswith("+") and not line.startswith("+++")
                  else "dd-diff-del" if line.startswith("-") and not line.startswith("---") else "")
        for line in (t.code_diff or "").splitlines(keepends=True)
    ]
    return html.Div([html.H4(t.task_id), html.Pre(html.Code(lines), className="dd-code dd-code-diff")])


# -- every column's statistics: the grid ----------------------------------------------------

_GRID_FIELDS = (("null_pct", "null %"), ("distinct", "distinct"), ("mean", "mean"), ("min", "min"), ("max", "max"))


def _grid(index: int, n_columns: int) -> dag.AgGrid:
    number = {"type": "rightAligned", "width": 105}
    text_filter = {"filter": "agTextColumnFilter", "floatingFilter": True, "suppressFloatingFilterButton": True,
                   "filterParams": {"filterOptions": ["contains"], "maxNumConditions": 1, "debounceMs": 250}}
    defs: list[dict[str, Any]] = [
        {"field": "column", "pinned": "left", "width": 200, **text_filter},
        {"field": "change", "width": 95, **text_filter},
        {"field": "kind", "width": 90},
    ]
    for _, label in _GRID_FIELDS:
        defs += [{"field": f"{label} a", **number}, {"field": f"{label} b", **number}, {"field": f"Δ {label}", **number}]
    return dag.AgGrid(
        id={"type": BROWSER.grid, "index": index},
        rowModelType="infinite",
        columnDefs=defs,
        defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
        dashGridOptions={"cacheBlockSize": GRID_BLOCK, "maxBlocksInCache": 20, "suppressFieldDotNotation": True,
                         "infiniteInitialRowCount": min(GRID_BLOCK, n_columns), "suppressMultiSort": True},
        style={"height": "400px", "width": "100%"},
        className="dd-grid",
    )


def _grid_row(c: queries.ColumnComparison) -> dict[str, Any]:
    row: dict[str, Any] = {"column": c.name, "change": c.change, "kind": c.kind}
    for key, label in _GRID_FIELDS:
        row[f"{label} a"] = fmt_number(c.stats_a.get(key))
        row[f"{label} b"] = fmt_number(c.stats_b.get(key))
        row[f"Δ {label}"] = fmt_number(c.changes.get(key))
    return row


def _sort_key(field: Any):  # noqa: ANN202
    if field in ("column", "change", "kind"):
        return lambda c: getattr(c, "name" if field == "column" else field)
    for key, label in _GRID_FIELDS:
        for suffix, get in ((" a", lambda c, k=key: c.stats_a.get(k)), (" b", lambda c, k=key: c.stats_b.get(k))):
            if field == label + suffix:
                return get
        if field == f"Δ {label}":
            return lambda c, k=key: c.changes.get(k)
    return None


def grid_rows(columns: list[queries.ColumnComparison], request: Any) -> dict[str, Any]:
    """The block of rows an AG Grid ``getRowsRequest`` asks for: searched, sorted, bounded."""
    return _rows(columns, grid_request(request, SEARCHABLE))


def _rows(columns: list[queries.ColumnComparison], request: GridRequest) -> dict[str, Any]:
    searches = {"column": lambda c: c.name, "change": lambda c: c.change}
    return block_of(columns, request, searches, _sort_key, _grid_row)


# -- callbacks ------------------------------------------------------------------------------


def _comparison_of(key: Any, columns: list[str] | tuple = ()) -> queries.OutputComparison | None:
    """The output a grid or picker shows, compared again as the current user (None: not theirs)."""
    if not isinstance(key, dict):
        return None
    values = [key.get(k) for k in ("dag_id", "a", "b", "task_id", "output")]
    if not all(isinstance(v, str) for v in values):
        return None
    ctx = request_context()
    if not ctx.can_read(values[0]):
        return None
    return queries.output_comparison(ctx.sources, ctx.allowed, *values, columns)


def register(app) -> None:
    @app.callback(
        Output("dd-compare-go", "href"),
        Input("dd-compare-a", "value"),
        Input("dd-compare-b", "value"),
        State("dd-compare-dag", "data"),
        prevent_initial_call=True,
    )
    def compare_link(a: Any, b: Any, dag_id: Any) -> Any:
        return compare_href(dag_id if isinstance(dag_id, str) else "", a, b)

    register_column_browser(
        app,
        BROWSER,
        rows=lambda key, request: _with(key, (), lambda o: _rows(o.columns, request)),
        names=lambda key, text: _with(key, (), lambda o: [c.name for c in o.columns]),
        charts=lambda key, names: _with(key, names, lambda o: _charts(o, names, key)),
        searchable=SEARCHABLE,
    )


def _with(key: Any, columns: Any, answer: Any) -> Any:
    """``answer`` of the output a browser shows, compared again as the current user (None: not theirs)."""
    output = _comparison_of(key, list(columns))
    return None if output is None else answer(output)


def _charts(output: queries.OutputComparison, names: list[str], key: dict) -> list[Any]:
    by_name = {c.name: c for c in output.columns}
    charts = []
    for name in names:
        column = by_name.get(name)
        chart = _chart(column, f"a: {key['a']}", f"b: {key['b']}") if column is not None else None
        charts.append(chart or html.Div(f"No distribution of {name} to compare.", className="dd-muted dd-chart"))
    return charts
