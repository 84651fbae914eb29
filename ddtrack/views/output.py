"""One output's profile as the task-instance page and a mapped task's whole show it.

Bounded whatever the output's width: a 10,000-column feature matrix once sent 4.5 MB of
components and froze Chromium. Here a page sends the charts of the first columns, a
summary of the columns that stand out (most nulls, most distinct, failed profiles) and a
Dash AG Grid whose rows the server hands out a block at a time (infinite row model:
sorting and the column search run on the server). Other columns' charts come from a
picker that searches on the server too. Column names and values reach the grid as cell
values (AG Grid shows them as text: no HTML renderer is ever configured) and the charts
through :func:`ddtrack.views.figures.plot_text`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import dash_ag_grid as dag
from dash import dcc, html

from ddtrack import queries
from ddtrack.queries.instances import OutputRef, column_block, column_names, columns_named
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
from ddtrack.views.common import card, empty_state, fmt_bytes, fmt_number, href, link
from ddtrack.views.context import request_context

MAX_CHARTS = 12  # charts drawn with the page; the picker adds more on demand
SUMMARY_TOP = 8
MAX_BARS = 50  # columns in the nulls/distinct chart
MAX_TABLE_ROWS = 50  # schema, diff and sample tables
MAX_SAMPLE_COLUMNS = 30
ALL_INDEXES = "all"  # the map_index of a mapped task's merged whole
BROWSER = BrowserIds(grid="dd-columns-grid", pick="dd-chart-pick", picked="dd-chart-picked", key="dd-output-key",
                     status="dd-columns-status")
SEARCHABLE = ("column", "kind")

_NUMBERS = ("count", "nulls", "null %", "distinct", "mean", "std", "min", "max", "zeros", "negatives", "infinities")


def output_key(dag_id: str, run_id: str, task_id: str, map_index: int | str, try_number: int | None, name: str) -> dict:
    """What a grid or picker callback needs to read the output again (and to check access again)."""
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
        "output": name,
    }


def output_section(
    o: queries.OutputDetail,
    index: int,
    key: dict,
    tags: dict[str, str],
    comparison: Any | None,
    merged_note: str | None = None,
) -> html.Div:
    """An output's facts, column summary, distributions, describe grid, schema and sample;
    ``comparison`` is the diff against the previous run (None: no such card), ``index``
    tells apart the outputs of one page."""
    parts: list[Any] = [_facts(o), _catalog_link(key)]
    if tags:
        parts.append(tag_chips(tags))
    parts += _notes(o, merged_note)
    if o.columns:
        parts.append(dcc.Store(id={"type": BROWSER.key, "index": index}, data=key))
        if len(o.columns) > MAX_CHARTS or _errors(o.columns):
            parts.append(card("Columns at a glance", _summary(o)))
        parts.append(card("Distributions", _distributions(o, index)))
        parts.append(card(_bars_title(o), _nulls_and_distinct(o)))
        parts.append(card("Describe", _grid(o, index)))
    elif o.detail.get("repr"):
        parts.append(card("Value", html.Pre(str(o.detail["repr"]), className="dd-code")))
    if comparison is not None:
        parts.append(card("Compared with the previous successful run", comparison))
    if o.columns or o.schema:
        parts.append(card("Schema", _schema(o)))
    if o.detail.get("sample"):
        parts.append(card("Sample rows", _sample(o.detail["sample"])))
    return html.Div(parts, className="dd-output", **{"data-output": o.name})


def _catalog_link(key: dict) -> Any:
    """To the output's catalog page: its versions, consumers across DAGs, flags."""
    url = href("catalog/output", dag_id=key["dag_id"], task_id=key["task_id"], name=key["output"])
    return html.Div(link("Catalog page: versions, lineage across DAGs, flags →", url), className="dd-catalog-link")


def output_tabs(sections: list[Any], names: list[str]) -> Any:
    """One output as is; several as tabs named after them."""
    if len(sections) == 1:
        return sections[0]
    return dcc.Tabs(
        [dcc.Tab(s, label=n, value=f"out-{i}") for i, (s, n) in enumerate(zip(sections, names, strict=True))],
        value="out-0",
        className="dd-tabs",
    )


def tag_chips(tags: dict[str, str]) -> html.Div:
    return html.Div(
        [html.Span(f"{k}={v}", className="dd-tag") for k, v in sorted(tags.items())], className="dd-tags"
    )


def more_note(shown: int, total: int, what: str) -> list[Any]:
    """'N more …' under a table cut to its first rows (nothing when all are shown)."""
    more = total - shown
    return [html.Div(f"{more:,} more {what}.", className="dd-muted")] if more > 0 else []


def _facts(o: queries.OutputDetail) -> html.Div:
    facts = [
        ("Output", o.name),
        ("Type", o.type_name or o.kind),
        ("Rows", fmt_number(o.rows)),
        ("Columns", fmt_number(o.n_columns)),
        ("Memory", fmt_bytes(o.memory_bytes)),
        ("URI", o.uri or "–"),
        ("Schema fingerprint", (o.schema_fingerprint or "–")[:16]),
    ]
    return html.Div(
        [
            html.Div(
                [html.Div(k, className="dd-stat-label"), html.Div(v, className="dd-stat-value dd-wrap")],
                className="dd-stat",
            )
            for k, v in facts
        ],
        className="dd-stats",
    )


def _notes(o: queries.OutputDetail, merged_note: str | None) -> list[Any]:
    notes: list[Any] = []
    batches = o.detail.get("batches")
    if merged_note or (isinstance(batches, int) and batches > 1):
        notes.append(
            html.Div(
                merged_note or f"Logged in {batches:,} batches, merged into one profile for the whole.",
                className="dd-muted dd-merged",
                title="Counts, nulls, min, max, mean and std are exact; quantiles, histograms and distinct "
                "counts of merged parts are estimates from the parts' sketches (rank error ≤ 0.8 %, "
                "distinct ±1.6 %).",
            )
        )
    if o.truncated:
        kept = f" ({len(o.columns):,} of {o.n_columns:,} columns profiled)" if (o.n_columns or 0) > len(o.columns) else ""
        notes.append(
            html.Div(
                f"The profile was truncated to keep the record small: some columns lack detail{kept}.",
                className="dd-warning",
            )
        )
    if o.detail.get("pii"):
        notes.append(
            html.Div(
                f"PII columns (values never stored): {', '.join(map(str, o.detail['pii']))}",
                className="dd-muted",
            )
        )
    return notes


# -- the columns that stand out ------------------------------------------------------------


def _errors(columns: list[queries.ColumnDetail]) -> list[queries.ColumnDetail]:
    return [c for c in columns if c.kind == "error"]


def _summary(o: queries.OutputDetail) -> html.Div:
    """Kinds of the columns, and the few with the most nulls, the most distinct values, or a failed profile."""
    cols = o.columns
    kinds = Counter(c.kind for c in cols)
    line = html.Div(
        f"{len(cols):,} column profiles: "
        + ", ".join(f"{n:,} {kind}" for kind, n in kinds.most_common()),
        className="dd-muted",
    )
    by_nulls = sorted((c for c in cols if c.null_pct), key=lambda c: -(c.null_pct or 0))[:SUMMARY_TOP]
    by_distinct = sorted((c for c in cols if c.n_distinct), key=lambda c: -(c.n_distinct or 0))[:SUMMARY_TOP]
    lists = [
        _top_list("Most nulls", by_nulls, lambda c: f"{c.null_pct:.2f}%"),
        _top_list("Most distinct values", by_distinct, lambda c: fmt_number(c.n_distinct)),
    ]
    errors = _errors(cols)
    parts: list[Any] = [line, html.Div(lists, className="dd-glance")]
    if errors:
        parts.append(
            html.Div(
                [
                    html.H4(f"Columns whose profile failed ({len(errors):,})"),
                    html.Ul(
                        [
                            html.Li(
                                [html.Span(c.name, className="dd-strong"), ": ", str(c.stats.get("error") or "no message")]
                            )
                            for c in errors[:SUMMARY_TOP]
                        ],
                        className="dd-column-errors",
                    ),
                    *more_note(min(len(errors), SUMMARY_TOP), len(errors), "failed columns: filter the grid by kind \"error\""),
                ],
                className="dd-error",
                role="alert",
            )
        )
    return html.Div(parts)


def _top_list(title: str, columns: list[queries.ColumnDetail], value: Callable[[Any], str]) -> html.Div:
    items = [html.Li([html.Span(c.name, className="dd-wrap"), html.Span(value(c), className="dd-num")]) for c in columns]
    return html.Div([html.H4(title), html.Ol(items, className="dd-top") if items else html.Div("none", className="dd-muted")])


# -- distributions: the first columns, others on demand -------------------------------------


def _chart(c: queries.ColumnDetail) -> html.Div | None:
    hist = c.stats.get("histogram") or {}
    top = c.stats.get("top_values")
    if hist.get("edges") and hist.get("counts"):
        fig = figures.histogram(c.name, hist["edges"], hist["counts"], is_time=c.kind == "datetime")
    elif top:
        fig = figures.top_values(c.name, top, c.count)
    else:
        return None
    return html.Div(
        dcc.Graph(figure=fig, config=figures.graph_config()), className="dd-chart", **{"data-column": c.name}
    )


def _charts(columns: list[queries.ColumnDetail], limit: int) -> list[html.Div]:
    charts: list[html.Div] = []
    for c in columns:
        chart = _chart(c)
        if chart is not None:
            charts.append(chart)
            if len(charts) == limit:
                break
    return charts


def _distributions(o: queries.OutputDetail, index: int) -> html.Div:
    charts = _charts(o.columns, MAX_CHARTS)
    if not charts:
        return empty_state(
            "No distributions recorded.",
            "Histograms and top values are recorded for numeric, datetime and categorical columns (never for PII columns).",
        )
    parts: list[Any] = [html.Div(charts, className="dd-chart-grid")]
    if len(o.columns) > len(charts):
        parts += [
            dcc.Dropdown(
                id={"type": BROWSER.pick, "index": index},
                options=[],
                value=[],
                multi=True,
                placeholder=f"Chart other columns ({len(o.columns):,} in all): type part of a name…",
                className="dd-chart-pick",
            ),
            html.Div(id={"type": BROWSER.picked, "index": index}, className="dd-chart-grid"),
        ]
    return html.Div(parts)


def _bars_title(o: queries.OutputDetail) -> str:
    if len(o.columns) <= MAX_BARS:
        return "Nulls and distinct values per column"
    return f"Nulls and distinct values of the first {MAX_BARS} columns (the Describe grid sorts all {len(o.columns):,})"


def _nulls_and_distinct(o: queries.OutputDetail) -> dcc.Graph:
    return dcc.Graph(figure=figures.nulls_and_distinct(o.columns[:MAX_BARS]), config=figures.graph_config())


# -- the describe grid ------------------------------------------------------------------------


def _quantile_keys(columns: list[queries.ColumnDetail]) -> list[str]:
    return sorted({k for c in columns for k in (c.stats.get("quantiles") or {})}, key=float)


def _grid(o: queries.OutputDetail, index: int) -> Any:
    number = {"type": "rightAligned", "width": 110}
    defs: list[dict[str, Any]] = [
        {
            "field": "column",
            "pinned": "left",
            "width": 220,
            "filter": "agTextColumnFilter",
            "floatingFilter": True,
            "filterParams": {"filterOptions": ["contains"], "maxNumConditions": 1, "debounceMs": 250},
            "suppressFloatingFilterButton": True,
        },
        {"field": "dtype", "width": 120},
        {
            "field": "kind",
            "width": 100,
            "filter": "agTextColumnFilter",
            "floatingFilter": True,
            "filterParams": {"filterOptions": ["contains"], "maxNumConditions": 1, "debounceMs": 250},
            "suppressFloatingFilterButton": True,
        },
        *[{"field": f, **number} for f in _NUMBERS],
        *[{"field": _q_field(k), **number} for k in _quantile_keys(o.columns)],
        {"field": "error", "width": 320, "cellClass": "dd-bad", "tooltipField": "error"},
    ]
    return html.Div([
        status_line(BROWSER, index),
        dag.AgGrid(
            id={"type": BROWSER.grid, "index": index},
            rowModelType="infinite",
            columnDefs=defs,
            defaultColDef={"sortable": True, "resizable": True, "suppressHeaderMenuButton": True},
            dashGridOptions={
                "cacheBlockSize": GRID_BLOCK,
                "maxBlocksInCache": 20,
                "infiniteInitialRowCount": min(GRID_BLOCK, len(o.columns)),
                "suppressFieldDotNotation": True,
                "suppressMultiSort": True,
                "tooltipShowDelay": 300,
            },
            style={"height": "440px", "width": "100%"},
            className="dd-grid",
        )],
        className="dd-describe",
        title="Every column profile: search by name or kind, sort by any statistic.",
    )


def _q_field(key: str) -> str:
    return f"q{float(key) * 100:g}%"


def _row(c: queries.ColumnDetail, quantiles: list[str]) -> dict[str, Any]:
    q = c.stats.get("quantiles") or {}
    row: dict[str, Any] = {
        "column": c.name,
        "dtype": c.dtype,
        "kind": c.kind,
        "count": fmt_number(c.count),
        "nulls": fmt_number(c.nulls),
        "null %": f"{c.null_pct:.2f}%" if c.null_pct is not None else "–",
        "distinct": f"~{c.n_distinct:,}" if c.distinct_estimated and c.n_distinct is not None else fmt_number(c.n_distinct),
        "mean": fmt_number(c.mean),
        "std": fmt_number(c.std),
        "min": fmt_number(c.stats.get("min")),
        "max": fmt_number(c.stats.get("max")),
        "zeros": fmt_number(c.zeros),
        "negatives": fmt_number(c.negatives),
        "infinities": fmt_number(c.infinities),
        "error": str(c.stats.get("error") or ""),
    }
    for k in quantiles:
        row[_q_field(k)] = fmt_number(q.get(k))
    return row


_SORT_KEYS: dict[str, Callable[[queries.ColumnDetail], Any]] = {
    "column": lambda c: c.name,
    "dtype": lambda c: c.dtype,
    "kind": lambda c: c.kind,
    "count": lambda c: c.count,
    "nulls": lambda c: c.nulls,
    "null %": lambda c: c.null_pct,
    "distinct": lambda c: c.n_distinct,
    "mean": lambda c: c.mean,
    "std": lambda c: c.std,
    "min": lambda c: c.stats.get("min"),
    "max": lambda c: c.stats.get("max"),
    "zeros": lambda c: c.zeros,
    "negatives": lambda c: c.negatives,
    "infinities": lambda c: c.infinities,
    "error": lambda c: c.stats.get("error"),
}


def grid_rows(columns: list[queries.ColumnDetail], request: Any) -> dict[str, Any]:
    """The block of describe rows an AG Grid ``getRowsRequest`` asks for, from columns in
    memory: searched by column name and kind, sorted, cut to at most :data:`GRID_BLOCK` rows."""
    return _rows_in_memory(columns, grid_request(request, SEARCHABLE))


def _rows_in_memory(columns: list[queries.ColumnDetail], request: GridRequest) -> dict[str, Any]:
    quantiles = _quantile_keys(columns)
    searches = {field: _SORT_KEYS[field] for field in SEARCHABLE}
    return block_of(columns, request, searches, _describe_sort_key, lambda c: _row(c, quantiles))


def _describe_sort_key(col_id: str) -> Callable[[queries.ColumnDetail], Any] | None:
    sort_key = _SORT_KEYS.get(col_id)
    if sort_key is None and col_id.startswith("q"):
        sort_key = _quantile_sort_key(col_id)
    return sort_key


def _quantile_sort_key(field: str) -> Callable[[queries.ColumnDetail], Any] | None:
    def key(c: queries.ColumnDetail) -> Any:
        q = c.stats.get("quantiles") or {}
        return next((v for k, v in q.items() if _q_field(k) == field), None)

    return key


# -- schema and sample: the first rows ----------------------------------------------------------


def _schema(o: queries.OutputDetail) -> html.Div:
    schema = [s for s in (o.schema or [{"name": c.name, "dtype": c.dtype} for c in o.columns]) if isinstance(s, dict)]
    rows = [
        html.Tr([html.Td(str(i)), html.Td(str(s.get("name"))), html.Td(str(s.get("dtype")), className="dd-mono")])
        for i, s in enumerate(schema[:MAX_TABLE_ROWS])
    ]
    table = html.Table(
        [html.Thead(html.Tr([html.Th("#"), html.Th("column"), html.Th("type")])), html.Tbody(rows)],
        className="dd-table dd-schema",
    )
    return html.Div([table, *more_note(len(rows), len(schema), "columns: every column's type is in the Describe grid")])


def _sample(sample: Any) -> Any:
    if isinstance(sample, list) and sample and isinstance(sample[0], dict):
        all_cols = list(sample[0].keys())
        cols = all_cols[:MAX_SAMPLE_COLUMNS]
        rows = [html.Tr([html.Td(str(r.get(c))) for c in cols]) for r in sample[:MAX_TABLE_ROWS] if isinstance(r, dict)]
        return html.Div(
            [
                html.Div(
                    html.Table(
                        [html.Thead(html.Tr([html.Th(str(c)) for c in cols])), html.Tbody(rows)],
                        className="dd-table",
                    ),
                    className="dd-scroll",
                ),
                *more_note(len(cols), len(all_cols), "columns not shown"),
            ]
        )
    return html.Pre(str(sample)[:5000], className="dd-code")


# -- callbacks: the column browser of each output -----------------------------------------------


def _ref(key: Any) -> OutputRef | str | None:
    """The output a grid or picker shows: one try's (an :class:`OutputRef`), or ``"all"`` of
    a mapped task's merged whole; None when the key is malformed or not the user's to read."""
    if not isinstance(key, dict):
        return None
    dag_id, run_id, task_id, name = (key.get(k) for k in ("dag_id", "run_id", "task_id", "output"))
    map_index, try_number = key.get("map_index"), key.get("try_number")
    if not all(isinstance(v, str) for v in (dag_id, run_id, task_id, name)):
        return None
    if not request_context().can_read(dag_id):
        return None
    if map_index == ALL_INDEXES:
        return ALL_INDEXES
    if isinstance(map_index, int) and (try_number is None or isinstance(try_number, int)):
        return OutputRef(dag_id, run_id, task_id, map_index, try_number, name)
    return None


def _whole_output(key: dict) -> queries.OutputDetail | None:
    """The output of a mapped task's merged whole (merged once, then cached by the query)."""
    ctx = request_context()
    whole = queries.mapped_whole(ctx.sources, key["dag_id"], key["run_id"], key["task_id"], allowed=ctx.allowed)
    return next((o for o in (whole.outputs if whole else []) if o.name == key["output"]), None)


def _block(key: Any, request: GridRequest) -> dict[str, Any] | None:
    """A block of describe rows: read from the database (only the block's column profiles),
    or cut from a mapped task's merged whole."""
    ref = _ref(key)
    if ref == ALL_INDEXES:
        whole = _whole_output(key)
        return None if whole is None else _rows_in_memory(whole.columns, request)
    if ref is None:
        return None
    ctx = request_context()
    block = column_block(ctx.sources, ref, allowed=ctx.allowed, contains=request.contains, sort=request.sort,
                         descending=request.descending, start=request.start, size=request.end - request.start)
    if block is None:
        return None
    quantiles = _quantile_keys(block.columns)
    return {"rowData": [_row(c, quantiles) for c in block.columns], "rowCount": block.total}


def _names(key: Any, text: str) -> list[str] | None:
    ref = _ref(key)
    if ref == ALL_INDEXES:
        whole = _whole_output(key)
        return None if whole is None else [c.name for c in whole.columns]
    if ref is None:
        return None
    ctx = request_context()
    return column_names(ctx.sources, ref, text, allowed=ctx.allowed)


def _picked(key: Any, names: list[str]) -> list[Any] | None:
    ref = _ref(key)
    if ref == ALL_INDEXES:
        whole = _whole_output(key)
        columns = None if whole is None else [c for c in whole.columns if c.name in names]
    elif ref is None:
        columns = None
    else:
        ctx = request_context()
        columns = columns_named(ctx.sources, ref, names, allowed=ctx.allowed)
    if columns is None:
        return None
    by_name = {c.name: c for c in columns}
    charts = []
    for name in names:
        column = by_name.get(name)
        chart = _chart(column) if column is not None else None
        charts.append(chart or html.Div(f"No distribution recorded for {name}.", className="dd-muted dd-chart"))
    return charts


def register(app) -> None:
    register_column_browser(app, BROWSER, rows=_block, names=_names, charts=_picked, searchable=SEARCHABLE)
