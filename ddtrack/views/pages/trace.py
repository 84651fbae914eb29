"""Trace, impact and path (``trace?output_id=&direction=upstream|downstream&depth=``; impact
also from ``uri=``, ``tag=`` or ``dag_id=&task_id=``; a path with ``from=&to=``): the exact
versions, task tries, code hashes and external inputs, across DAGs, as a graph and a list.
Column mode (``&column=``): the columns one column of the version comes from, or what derives
from it; a click on a column (in the graph, or in the list of the output's columns) follows it.

Nodes of DAGs the user may not read come from the query as "hidden": the page labels
them "a DAG you cannot read" and names nothing of them."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

import dash_cytoscape as cyto
from dash import Input, Output, State, dcc, html, no_update

from ddtrack import queries
from ddtrack.views import across, common
from ddtrack.views.common import (
    breadcrumbs,
    card,
    empty_state,
    fmt_time,
    href,
    link,
    page_header,
)
from ddtrack.views.context import PageContext

X_STEP, Y_STEP = 210, 78
HIDDEN_LABEL = "a DAG you cannot read"
DIRECTIONS = {"upstream": "Trace (upstream)", "downstream": "Impact (downstream)"}


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    depth = _depth(params.get("depth"))
    direction = params.get("direction") if params.get("direction") in DIRECTIONS else "upstream"
    if params.get("from") or params.get("to"):
        return _path_page(ctx, params.get("from", ""), params.get("to", ""), depth)
    if params.get("column") and params.get("output_id"):
        return _column_page(ctx, params, direction, depth)
    result, title = _walk(ctx, params, direction, depth)
    if result is None:
        return html.Div([_header(title or "Trace", params, direction, depth), _not_found()])
    return html.Div(
        [
            _header(title, params, direction, depth),
            card("Graph", graph_section(result), id="trace-graph-card"),
            card("Versions", _node_list(result), id="trace-list"),
            *_columns_to_follow(ctx, params, direction, depth),
        ]
    )


# -- column mode ------------------------------------------------------------------------------


def _column_href(output_id: int, column: str, direction: str, depth: int) -> str:
    return href("trace", output_id=output_id, column=column, direction=direction, depth=depth)


def _columns_to_follow(ctx: PageContext, params: dict[str, str], direction: str, depth: int) -> list[Any]:
    """The traced output's columns, each a link to its column mode."""
    try:
        output_id = int(params.get("output_id") or "")
    except ValueError:
        return []
    names = queries.columns_of_version(ctx.sources, output_id, allowed=ctx.allowed)
    if not names:
        return []
    links = [html.Li(link(name, _column_href(output_id, name, direction, depth)), **{"data-column": name})
             for name in names]
    note = html.Div("Follow one column across tasks and DAGs:", className="dd-muted")
    return [card("Columns", [note, html.Ul(links, className="dd-column-links")], id="trace-columns")]


def _column_page(ctx: PageContext, params: dict[str, str], direction: str, depth: int) -> Any:
    column = params["column"]
    title = f"{'Trace' if direction == 'upstream' else 'Impact'} of column {column}"
    header = _header(title, params, direction, depth)
    try:
        result = queries.trace_column(ctx.sources, int(params["output_id"]), column, allowed=ctx.allowed,
                                      upstream=direction == "upstream", depth=depth)
    except (ValueError, LookupError):
        return html.Div([header, empty_state(
            "No such column of an output version that you can read.",
            "The version does not exist, your Airflow role does not let you read its DAG, or it has no such column.",
        )])
    return html.Div([
        header,
        card("Graph", column_graph_section(result, direction, depth), id="trace-graph-card"),
        card("Columns", _column_list(result), id="trace-column-list"),
    ])


def walk_notes(result: Any, what: str) -> list[str]:
    """What a walk left out or could not name, in words (``what``: "nodes", "columns")."""
    notes = []
    if result.truncated:
        notes.append(f"Cut at {result.depth} hops or at the node limit: raise the depth to see further.")
    if result.hidden:
        notes.append(f"{result.hidden:,} {what} are in DAGs you cannot read; they are shown as \"{HIDDEN_LABEL}\".")
    return notes


def _column_label(c: Any) -> str:
    if c.kind == "hidden":
        return HIDDEN_LABEL
    if c.kind == "external":
        uri = c.uri or ""
        return f"{c.column}\n{uri if len(uri) <= 40 else '…' + uri[-39:]}"
    return f"{c.column}\n{c.task_id}.{c.output}\n{(c.run_id or '')[:24]}"


def _column_url(c: Any, direction: str, depth: int) -> str | None:
    if c.kind == "column" and c.output_id is not None:
        return _column_href(c.output_id, c.column, direction, depth)
    if c.kind == "external" and c.uri:
        return across.uri_href(c.uri)
    return None


def column_graph_section(result: Any, direction: str, depth: int) -> Any:
    """The column trace as a graph (the trace page's look); a click on a column follows it."""
    ids = {c.id for c in result.columns}
    edges = [(s, t, how) for s, t, how in result.edges if s in ids and t in ids]
    layer = queries.layers(ids, [(s, t) for s, t, _ in edges])
    by_layer: dict[int, list[Any]] = defaultdict(list)
    for c in sorted(result.columns, key=lambda c: (layer.get(c.id, 0), c.kind, c.dag_id or "", c.column or "")):
        by_layer[layer.get(c.id, 0)].append(c)
    elements: list[dict[str, Any]] = []
    for lx, members in by_layer.items():
        for i, c in enumerate(members):
            kind = "version" if c.kind == "column" else c.kind
            classes = [kind, *(["root"] if c.id == result.root else [])]
            elements.append({
                "data": {"id": c.id, "label": _column_label(c), "kind": c.kind, "url": _column_url(c, direction, depth)},
                "position": {"x": lx * X_STEP, "y": (i - (len(members) - 1) / 2) * Y_STEP},
                "classes": " ".join(classes),
            })
    for s, t, how in edges:
        elements.append({"data": {"id": f"{s}->{t}", "source": s, "target": t, "label": how}, "classes": "produced"})
    notes = walk_notes(result, "columns")
    graph = cyto.Cytoscape(
        id="trace-graph", elements=elements, layout={"name": "preset", "fit": True, "padding": 24},
        stylesheet=STYLESHEET + [{"selector": "edge", "style": {"label": "data(label)", "font-size": 9}}],
        style={"width": "100%", "height": f"{max(320, min(680, Y_STEP * max(len(by_layer), 1) + 80))}px"},
        minZoom=0.2, maxZoom=1.5, boxSelectionEnabled=False, autoRefreshLayout=False, responsive=True,
    )
    hint = html.Div("Click a column to follow it; edges say how it derives (inferred, declared, sql).",
                    className="dd-muted")
    return html.Div([hint, html.Div(graph, className="dd-graph"),
                     *[html.Div(n, className="dd-muted dd-trace-note") for n in notes]])


def _column_list(result: Any) -> Any:
    shown = [c for c in result.columns if c.kind != "hidden" and c.id != result.root]
    if not shown:
        return [html.Div("No column lineage recorded on the way.", className="dd-muted"),
                *across.hidden_note(result.hidden, "more columns")]
    header = ("Hops", "Column", "Output", "Run", "How")
    rows = [
        html.Tr([
            html.Td(str(c.hops), className="dd-num"),
            html.Td(c.column),
            html.Td(link(f"{c.dag_id} / {c.task_id} / {c.output}", across.catalog_href(c.dag_id, c.task_id, c.output))
                    if c.kind == "column" else link(c.uri or "", across.uri_href(c.uri or ""))),
            html.Td(c.run_id or ""),
            html.Td(c.how or ""),
        ], **{"data-column": f"{c.dag_id}/{c.task_id}/{c.output}/{c.column}" if c.kind == "column" else c.uri})
        for c in sorted(shown, key=lambda c: (c.hops, c.dag_id or "", c.task_id or "", c.column or ""))
    ]
    return [html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table"),
            *across.hidden_note(result.hidden, "more columns")]


def _depth(value: str | None) -> int:
    try:
        return max(1, min(int(value or across.DEFAULT_DEPTH), 50))
    except ValueError:
        return across.DEFAULT_DEPTH


def _walk(ctx: PageContext, params: dict[str, str], direction: str, depth: int) -> tuple[Any, str]:
    """The trace or impact the URL asks for; None when its start is unknown or unreadable."""
    try:
        if params.get("output_id"):
            output_id = int(params["output_id"])
            if direction == "upstream":
                return queries.trace(ctx.sources, output_id, allowed=ctx.allowed, depth=depth), "Trace"
            return queries.impact(ctx.sources, allowed=ctx.allowed, output_id=output_id, depth=depth), "Impact"
        if params.get("uri"):
            uri = params["uri"]
            return queries.impact(ctx.sources, allowed=ctx.allowed, uri=uri, depth=depth), f"Impact of {uri}"
        if params.get("tag"):
            tag = params["tag"]
            return queries.impact(ctx.sources, allowed=ctx.allowed, tag=tag, depth=depth), f"Impact of tag {tag}"
        if params.get("dag_id") and params.get("task_id"):
            dag_id, task_id = params["dag_id"], params["task_id"]
            if not ctx.can_read(dag_id):
                return None, "Impact"
            result = queries.impact(ctx.sources, allowed=ctx.allowed, dag_id=dag_id, task_id=task_id, depth=depth)
            return result, f"Impact of {dag_id} / {task_id}"
    except (ValueError, LookupError):
        return None, DIRECTIONS[direction]
    return None, DIRECTIONS[direction]


def _not_found() -> Any:
    return empty_state(
        "No output version that you can read here.",
        "It does not exist, or your Airflow role does not let you read its DAG. Open a trace from an output's catalog page.",
    )


def _header(title: str, params: dict[str, str], direction: str, depth: int) -> Any:
    keep = {k: params.get(k) for k in ("output_id", "column", "uri", "tag", "dag_id", "task_id", "from", "to")}
    controls = [
        html.Label(
            [
                "Direction ",
                dcc.Dropdown(
                    id="trace-direction",
                    options=[{"label": v, "value": k} for k, v in DIRECTIONS.items()],
                    value=direction, clearable=False, searchable=False, className="dd-select",
                    disabled=not params.get("output_id"),
                ),
            ],
            className="dd-inline",
        ),
        html.Label(
            [
                "Depth ",
                dcc.Dropdown(
                    id="trace-depth",
                    options=[{"label": f"{n} hops", "value": n} for n in sorted({*across.DEPTH_CHOICES, depth})],
                    value=depth, clearable=False, searchable=False, className="dd-select",
                ),
            ],
            className="dd-inline",
        ),
        dcc.Store(id="trace-params", data={k: v for k, v in keep.items() if v}),
        dcc.Location(id="trace-open", refresh=True),
    ]
    share = href("trace", **keep, direction=direction if params.get("output_id") else None, depth=depth)
    return page_header(
        title,
        "Every exact version, task try and external input on the way, across DAGs (newest versions an input "
        "had when the try started).",
        breadcrumbs(("Data", href("")), (title, None)),
        share,
        extra=controls,
    )


def _node_label(n: Any) -> str:
    if n.kind == "hidden":
        return HIDDEN_LABEL
    if n.kind == "version" and n.version is not None:
        v = n.version
        return f"{v.task_id}.{v.name}\n{v.run_id[:24]}" + (f"\n{v.rows:,} rows" if v.rows is not None else "")
    if n.kind == "try":
        return f"{n.task_id}\n{(n.code_hash or '')[:8]}"
    if n.kind == "external":
        uri = n.uri or n.label
        return uri if len(uri) <= 40 else "…" + uri[-39:]
    return n.label


def _node_url(n: Any) -> str | None:
    if n.kind == "version" and n.version is not None:
        v = n.version
        return across.catalog_href(v.dag_id, v.task_id, v.name)
    if n.kind == "dataset" and n.dag_id and n.task_id and n.id.count("/") >= 2:
        # "dataset:<dag>/<task>/<name>": the name may hold dots and slashes, ids hold neither
        return across.catalog_href(n.dag_id, n.task_id, n.id.split("/", 2)[2])
    if n.kind in ("try", "task") and n.dag_id and n.task_id:
        return href("task", dag_id=n.dag_id, task_id=n.task_id)
    if n.kind == "external" and n.uri:
        return across.uri_href(n.uri)
    return None


def graph_elements(result: Any) -> list[dict[str, Any]]:
    """Cytoscape elements laid out left to right in data-flow order (longest path from a source)."""
    ids = [n.id for n in result.nodes]
    known = set(ids)
    edges = [e for e in result.edges if e.source in known and e.target in known]
    layer = _sources_next_to_readers(queries.layers(known, [(e.source, e.target) for e in edges]), edges)
    by_layer: dict[int, list[Any]] = defaultdict(list)
    for n in sorted(result.nodes, key=lambda n: (layer.get(n.id, 0), n.kind, n.label)):
        by_layer[layer.get(n.id, 0)].append(n)
    elements: list[dict[str, Any]] = []
    for lx, members in by_layer.items():
        for i, n in enumerate(members):
            classes = [n.kind]
            if n.id == result.root:
                classes.append("root")
            if n.pii:
                classes.append("pii")
            if n.suspect:
                classes.append("suspect")
            elements.append(
                {
                    "data": {"id": n.id, "label": _node_label(n), "kind": n.kind, "url": _node_url(n)},
                    "position": {"x": lx * X_STEP, "y": (i - (len(members) - 1) / 2) * Y_STEP},
                    "classes": " ".join(classes),
                }
            )
    for e in edges:
        elements.append(
            {"data": {"id": f"{e.source}->{e.target}", "source": e.source, "target": e.target}, "classes": e.kind}
        )
    return elements


def _sources_next_to_readers(layer: dict[str, int], edges: list[Any]) -> dict[str, int]:
    """An input nothing feeds (an external URI, a first try) drawn one step left of its
    first reader instead of at the far left, so that its edge does not cross the graph."""
    fed = {e.target for e in edges}
    readers: dict[str, list[int]] = defaultdict(list)
    for e in edges:
        readers[e.source].append(layer.get(e.target, 0))
    return {
        node: (max(0, min(readers[node]) - 1) if node not in fed and readers.get(node) else at)
        for node, at in layer.items()
    }


def graph_section(result: Any, ident: str = "trace-graph") -> Any:
    elements = graph_elements(result)
    columns = {el["position"]["y"] for el in elements if "position" in el}
    height = max(320, min(680, Y_STEP * max(len(columns), 1) + 80))
    notes = walk_notes(result, "nodes")
    legend = html.Div(
        [
            html.Span([html.Span(className="dd-legend-box dd-legend-output"), "output version"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-task"), "task try (code hash)"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-external"), "external input"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-hidden"), HIDDEN_LABEL]),
            html.Span([html.Span(className="dd-legend-box dd-legend-pii"), "PII"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-suspect"), "suspect"]),
            html.Span("Click a node to open its page.", className="dd-muted"),
        ],
        className="dd-legend",
    )
    graph = cyto.Cytoscape(
        id=ident,
        elements=elements,
        layout={"name": "preset", "fit": True, "padding": 24},
        stylesheet=STYLESHEET,
        style={"width": "100%", "height": f"{height}px"},
        minZoom=0.2,
        maxZoom=1.5,
        boxSelectionEnabled=False,
        autoRefreshLayout=False,
        responsive=True,
    )
    return html.Div(
        [legend, html.Div(graph, className="dd-graph"), *[html.Div(n, className="dd-muted dd-trace-note") for n in notes]]
    )


def _node_list(result: Any) -> Any:
    versions = sorted(
        (n for n in result.nodes if n.kind == "version" and n.version is not None),
        key=lambda n: (n.depth, n.version.dag_id, n.version.task_id, n.version.run_id),
    )
    tries = [n for n in result.nodes if n.kind == "try"]
    external = [n for n in result.nodes if n.kind == "external"]
    parts: list[Any] = []
    if versions:
        parts.append(across.versions_table([n.version for n in versions]))
    else:
        parts.append(html.Div("No output version on the way.", className="dd-muted"))
    if tries:
        parts.append(
            html.Details(
                [
                    html.Summary(f"Task tries ({len(tries)})"),
                    html.Ul(
                        [
                            html.Li(
                                [
                                    link(f"{n.dag_id} / {n.task_id}", href("task", dag_id=n.dag_id, task_id=n.task_id)),
                                    f" run {n.run_id} · {fmt_time(n.started_at)} · code ",
                                    html.Span(across.short(n.code_hash, 12), className="dd-mono"),
                                ]
                            )
                            for n in tries
                        ]
                    ),
                ],
                className="dd-trace-tries",
            )
        )
    if external:
        parts.append(html.H4("External inputs", className="dd-subtitle"))
        parts.append(html.Ul([html.Li(link(n.uri or n.label, across.uri_href(n.uri or n.label))) for n in external]))
    parts += across.hidden_note(result.hidden, "more nodes")
    return parts


def _path_page(ctx: PageContext, source: str, target: str, depth: int) -> Any:
    title = f"Path from {source} to {target}"
    header = _header(title, {"from": source, "to": target}, "upstream", depth)
    try:
        result = queries.path(ctx.sources, source, target, allowed=ctx.allowed, max_depth=max(depth, 20))
    except LookupError as exc:
        return html.Div([header, empty_state(str(exc), "Name a task as dag.task, an output as dag.task.output, "
                                             "a column as output.column, or a URI.")])
    if result is None or not result.nodes:
        return html.Div([header, empty_state("Nothing links them.", "No chain of tracked reads leads from one to the other.")])
    return html.Div([header, card("Path", graph_section(result), id="trace-graph-card")])


def register(app) -> None:
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("trace-depth", "value"),
        Input("trace-direction", "value"),
        State("trace-params", "data"),
        prevent_initial_call=True,
    )
    def choose(depth: Any, direction: Any, params: Any) -> str:
        params = {k: str(v) for k, v in (params if isinstance(params, dict) else {}).items() if isinstance(v, (str, int))}
        if params.get("output_id") and direction in DIRECTIONS:
            params["direction"] = direction
        params["depth"] = str(_depth(str(depth)))
        return "?" + urlencode(params)

    @app.callback(Output("trace-open", "href"), Input("trace-graph", "tapNodeData"), prevent_initial_call=True)
    def open_node(node: Any) -> Any:
        url = common.own_page(node.get("url")) if isinstance(node, dict) else None
        return url or no_update


BLUE, PURPLE, RED = "#017cee", "#9333ea", "#dc2626"
STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "label": "data(label)", "text-wrap": "wrap", "text-valign": "center", "text-halign": "center",
            "font-size": 11, "font-family": "Inter, -apple-system, Segoe UI, Roboto, sans-serif", "color": "#27272a",
            "width": 170, "height": 54, "text-max-width": 162,
        },
    },
    {"selector": ".version, .dataset", "style": {"shape": "barrel", "background-color": "#e0edff", "border-width": 1,
                                                  "border-color": BLUE}},
    {"selector": ".try, .task", "style": {"shape": "round-rectangle", "background-color": "#ffffff", "border-width": 2,
                                          "border-color": "#52525b", "height": 42}},
    {"selector": ".external", "style": {"shape": "tag", "background-color": "#fef3c7", "border-width": 1,
                                        "border-color": "#d97706", "height": 40}},
    {"selector": ".hidden", "style": {"shape": "round-rectangle", "background-color": "#f4f4f5", "border-width": 1,
                                      "border-style": "dotted", "border-color": "#71717a", "color": "#52525b",
                                      "height": 40}},
    {"selector": ".pii", "style": {"border-color": PURPLE, "border-width": 3}},
    {"selector": ".suspect", "style": {"border-color": RED, "border-width": 3, "border-style": "dashed"}},
    {"selector": ".root", "style": {"border-width": 5, "border-color": "#111827"}},
    {
        "selector": "edge",
        "style": {"curve-style": "bezier", "target-arrow-shape": "triangle", "width": 1.6, "line-color": "#a1a1aa",
                  "target-arrow-color": "#a1a1aa", "arrow-scale": 0.9},
    },
    {"selector": ".produced", "style": {"line-color": BLUE, "target-arrow-color": BLUE, "width": 2.2}},
]
