"""A column name across outputs (``catalog/column?name=``): every output with a column of that
name, its type, null rate and distinct count in the output's latest version, as a chart
(null rate per output) and a table. With ``&dag_id=&task_id=&output=``, one output's column:
the columns it comes from and the columns derived from it, across DAGs (column lineage of the
output's latest version)."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from ddtrack import queries
from ddtrack.views import across, figures
from ddtrack.views.common import breadcrumbs, card, empty_state, fmt_number, href, link, page_header
from ddtrack.views.context import PageContext

MAX_BARS = 40


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    name = params.get("name", "")
    header = page_header(
        name or "Column",
        "Every output with a column of this name, in DAGs you can read (latest version of each).",
        breadcrumbs(("Data", href("")), ("Column", None), (name, None)),
        across.column_href(name),
    )
    found = queries.catalog_column(ctx.sources, name, allowed=ctx.allowed) if name else None
    outputs = list(found.outputs) if found is not None else []
    hidden = found.hidden if found is not None else 0
    if not outputs:
        return html.Div(
            [header, empty_state(f"No output that you can read has a column {name!r}.",
                                 "Column names are matched exactly; search finds partial names."),
             *across.hidden_note(hidden, "outputs")]
        )
    return html.Div(
        [
            header,
            *_lineage(ctx, name, params),
            card("Null rate per output", dcc.Graph(figure=nulls_figure(outputs), config=figures.graph_config(),
                                                   id="column-nulls-graph")),
            card("Outputs", [_table(outputs), *across.hidden_note(hidden, "more outputs"),
                             *([html.Div("The first outputs only.", className="dd-muted")] if found.truncated else [])],
                 id="column-outputs"),
        ]
    )


def _lineage_href(name: str, dag_id: str, task_id: str, output: str) -> str:
    return href("catalog/column", name=name, dag_id=dag_id, task_id=task_id, output=output)


def _lineage(ctx: PageContext, name: str, params: dict[str, str]) -> list[Any]:
    """Upstream and downstream columns of one output's column, when the URL names the output."""
    dag_id, task_id, output = params.get("dag_id"), params.get("task_id"), params.get("output")
    if not (dag_id and task_id and output):
        return []
    found = queries.column_neighbours(ctx.sources, dag_id, task_id, output, name, allowed=ctx.allowed)
    title = f"Lineage of {dag_id} / {task_id} / {output} / {name}"
    if found is None:
        return [card(title, html.Div("No version of it that you can read.", className="dd-muted"), id="column-lineage")]
    up, down = found
    return [card(title, [
        html.Div([html.H4("Comes from", className="dd-subtitle"), _neighbours(up)], id="column-upstream"),
        html.Div([html.H4("Derived into", className="dd-subtitle"), _neighbours(down)], id="column-downstream"),
    ], id="column-lineage")]


def _neighbours(result: Any) -> Any:
    shown = [c for c in result.columns if c.id != result.root and c.kind != "hidden"]
    items = [
        html.Li(
            [link(f"{c.dag_id} / {c.task_id} / {c.output} / {c.column}", _lineage_href(c.column, c.dag_id, c.task_id, c.output))
             if c.kind == "column" else link(f"{c.uri} / {c.column}", across.uri_href(c.uri or "")),
             html.Span(f" {c.hops} hop{'s' if c.hops != 1 else ''} · {c.how or ''}", className="dd-muted")],
            **{"data-column": f"{c.dag_id}/{c.task_id}/{c.output}/{c.column}" if c.kind == "column" else c.uri},
        )
        for c in sorted(shown, key=lambda c: (c.hops, c.dag_id or "", c.task_id or "", c.column or ""))
    ]
    parts: list[Any] = [html.Ul(items)] if items else [html.Div("None recorded.", className="dd-muted")]
    if result.truncated:
        parts.append(html.Div("Only the nearest columns.", className="dd-muted"))
    return [*parts, *across.hidden_note(result.hidden, "more columns")]


def _label(use: Any) -> str:
    d = use.dataset
    return f"{d.dag_id} / {d.task_id} / {d.name}"


def _null_pct(use: Any) -> float | None:
    return use.column.null_pct if use.column is not None else None


def nulls_figure(outputs: list[Any]) -> dict[str, Any]:
    shown = outputs[:MAX_BARS]
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "y": [figures.plot_text(_label(o)) for o in shown],
            "x": [_null_pct(o) or 0 for o in shown],
            "marker": {"color": ["#9333ea" if o.pii else figures.ACCENT for o in shown]},
            "hovertemplate": "%{y}<br>%{x:.2f}% null<extra></extra>",
        }
    ]
    layout = figures.base_layout(max(160, 28 * len(shown) + 60))
    layout["xaxis"] = {"gridcolor": figures.GRID, "ticksuffix": " %", "rangemode": "tozero", "automargin": True}
    layout["yaxis"] = {"automargin": True, "autorange": "reversed"}
    return {"data": data, "layout": layout}


def _table(outputs: list[Any]) -> html.Table:
    rows = []
    for use in outputs:
        d, c = use.dataset, use.column
        null_pct = _null_pct(use)
        rows.append(
            html.Tr(
                [
                    html.Td([across.dataset_link(d), " ", across.dataset_badges(d), " ",
                             link("lineage", _lineage_href(c.name if c is not None else "", d.dag_id, d.task_id, d.name))
                             if c is not None else ""]),
                    html.Td(c.dtype if c is not None else "–"),
                    html.Td(across.badge("PII", "pii") if use.pii else ""),
                    html.Td(f"{null_pct:.2f}%" if null_pct is not None else "–", className="dd-num"),
                    html.Td(fmt_number(c.n_distinct if c is not None else None), className="dd-num"),
                    html.Td(fmt_number(d.latest_rows), className="dd-num"),
                ],
                **{"data-dataset": f"{d.dag_id}/{d.task_id}/{d.name}"},
            )
        )
    header = ("Output", "Type", "", "Nulls", "Distinct", "Rows")
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table")
