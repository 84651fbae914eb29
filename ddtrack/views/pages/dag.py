"""DAG page: the lineage graph (tasks, outputs, external inputs, linked DAGs) and run history."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import dash_cytoscape as cyto
from dash import Input, Output, State, callback_context, dcc, html, no_update
from dash.exceptions import PreventUpdate

from ddtrack import queries
from ddtrack.views import across, common, figures, lineage_graph
from ddtrack.views.alerts import dag_sections
from ddtrack.views.common import (
    airflow_href,
    breadcrumbs,
    card,
    empty_state,
    error_state,
    fmt_duration,
    fmt_time,
    href,
    kept_by_ddtrack,
    link,
    not_found,
    page_header,
    state_badge,
    state_color,
    top_link,
)
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.pages.compare import newest_pair_picker


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id = params.get("dag_id", "")
    if not ctx.can_read(dag_id) or not queries.dag_exists(ctx.sources, dag_id, allowed=ctx.allowed):
        return not_found("DAG", dag_id)
    graph = lineage_graph.graph_for(ctx.sources, dag_id, lineage_graph.View(), ctx.allowed, fresh=True)
    runs = queries.dag_runs(ctx.sources, dag_id, limit=50, allowed=ctx.allowed)
    header = page_header(
        dag_id,
        "Lineage of the DAG's tracked outputs and its recent runs.",
        breadcrumbs(("Data", href("")), (dag_id, None)),
        href("dag", dag_id=dag_id),
        extra=[top_link("Open in Airflow", airflow_href(f"/dags/{quote(dag_id, safe='')}"))],
    )
    untracked = (
        []
        if any(n.tracked for n in graph.nodes)
        else [
            empty_state(
                "No task of this DAG is tracked yet.",
                "Add @track under @task on a task's function (from ddtrack import track); its next run records "
                "its outputs and the data edges between tasks.",
            )
        ]
    )
    return html.Div(
        [
            header,
            across.badges_row(ctx, dag_id),  # across DAGs (issue 13): stale, overdue, suspect, PII
            dcc.Store(id="dag-page-dag-id", data=dag_id),
            dcc.Location(id="dag-open", refresh=True),
            *untracked,
            *dag_sections(ctx, dag_id),  # across runs (C2): alert badges and newest alerts
            card("Lineage", _graph_section(ctx, graph)),
            card("Runs", [*newest_pair_picker(dag_id, runs), _runs_section(dag_id, runs)]),  # C1: compare two runs
        ]
    )


def _graph_section(ctx: PageContext, graph: queries.LineageGraph) -> Any:
    if not graph.nodes:
        return empty_state(
            "No tasks to show.", "This DAG has no serialized tasks and no tracked outputs yet."
        )
    view = lineage_graph.View()
    drawn = lineage_graph.draw(graph, view, ctx.allowed)
    cytoscape = cyto.Cytoscape(
        id="dag-graph",
        elements=drawn.elements,
        layout=PRESET,
        stylesheet=lineage_graph.STYLESHEET,
        style={"width": "100%", "height": f"{_height(drawn.elements)}px"},
        minZoom=0.05,
        maxZoom=1.4,
        userZoomingEnabled=True,
        boxSelectionEnabled=False,
        autoRefreshLayout=True,  # a redraw (group opened, focus) is placed and fitted; the layout prop alone did not refit
        responsive=True,
    )
    legend = html.Div(
        [
            html.Span([html.Span(className="dd-legend-box dd-legend-task"), "task"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-output"), "tracked output (rows)"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-external"), "external input / asset"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-dag"), "other DAG"]),
            *(
                [html.Span([html.Span(className="dd-legend-box dd-legend-group"), "task group (click to open)"])]
                if graph.groups
                else []
            ),
            *(
                [html.Span([html.Span(className="dd-legend-box dd-legend-hidden"), "DAGs you cannot read"])]
                if any(n.kind == "hidden" for n in graph.nodes)
                else []
            ),
            html.Span(
                "Click a node: what feeds it turns blue, what it feeds orange. Click it again to open it.",
                className="dd-muted",
            ),
        ],
        className="dd-legend",
    )
    return html.Div(
        [
            _toolbar(view),
            legend,
            html.Div(_note(graph, view, drawn), id="dag-lineage-note", className="dd-lineage-note"),
            dcc.Store(id="dag-lineage-view", data=view.to_data()),
            html.Div(
                [
                    html.Aside(_panel_hint(), id="dag-node-panel", className="dd-panel"),
                    html.Div(cytoscape, className="dd-graph"),
                ],
                className="dd-graph-row",
            ),
            _edge_list(graph),
        ]
    )


PRESET = {"name": "preset", "fit": True, "padding": 24}


def _toolbar(view: lineage_graph.View) -> html.Div:
    """Scope, search-to-focus, the depth limit and the buttons that reset the view."""
    return html.Div(
        [
            dcc.RadioItems(
                id="dag-lineage-scope",
                options=[
                    {"label": "This DAG's tasks", "value": "dag"},
                    {"label": "Across DAGs (shared datasets)", "value": "dags"},
                ],
                value=view.scope,
                inline=True,
                className="dd-lineage-scope",
            ),
            dcc.Input(
                id="dag-lineage-search",
                type="search",
                placeholder="Find a task or output, press Enter",
                debounce=True,
                className="dd-input dd-lineage-search",
            ),
            html.Div(
                [
                    html.Span("Steps around the focus / hops across DAGs:"),
                    dcc.RadioItems(
                        id="dag-lineage-depth",
                        options=[{"label": str(d), "value": d} for d in lineage_graph.DEPTHS],
                        value=view.depth,
                        inline=True,
                        className="dd-lineage-depth",
                    ),
                ],
                className="dd-lineage-depth-label",
            ),
            html.Button("Focus on the selected node", id="dag-lineage-focus", className="dd-button"),
            html.Button("Whole graph", id="dag-lineage-all", className="dd-button dd-button-quiet"),
        ],
        className="dd-lineage-toolbar",
    )


def _note(graph: queries.LineageGraph, view: lineage_graph.View, drawn: lineage_graph.Drawn) -> list[Any]:
    """What the drawing leaves out, in words: the focus and depth, closed groups, the cap."""
    parts: list[Any] = []
    if view.scope == "dags":
        dags = sum(1 for n in graph.nodes if n.kind == "dag")
        parts.append(f"{dags:,} DAG{'s' if dags != 1 else ''} within {view.depth} hop{'s' if view.depth > 1 else ''}.")
        if graph.hidden_dags:
            parts.append(
                f" {graph.hidden_dags:,} link{'s' if graph.hidden_dags != 1 else ''} to DAGs you cannot read"
                " (counted, not shown by name)."
            )
    elif drawn.focus_missing:
        parts.append("The focused node is no longer in this DAG's lineage; showing the whole graph.")
    elif view.focus:
        focus = graph.node(view.focus)
        name = focus.label if focus is not None else view.focus
        parts.append(f"Showing {view.depth} step{'s' if view.depth > 1 else ''} around {name}.")
    if drawn.collapsed_groups:
        parts.append(f" {drawn.collapsed_groups:,} task groups are closed: click one to open it.")
    if drawn.not_shown:
        parts.append(
            html.Strong(
                f" {drawn.not_shown:,} more not shown (at most {lineage_graph.MAX_NODES} nodes are drawn):"
                " find a task or focus on a node to see its neighbourhood."
            )
        )
    return parts


def _height(elements: list[dict[str, Any]]) -> int:
    """Pixels for the graph: its drawing's height, between 300 and 640."""
    ys = [el["position"]["y"] for el in elements if "position" in el]
    return int(min(640, max(300, (max(ys) - min(ys) if ys else 0) + 120)))


def _panel_hint() -> Any:
    return html.Div("Select a node to see what feeds it and what it feeds.", className="dd-muted")


MAX_LISTED_EDGES = 500


def _edge_list(graph: queries.LineageGraph) -> html.Details:
    label = {n.id: n.label if n.kind != "output" else f"{n.task_id}.{n.label}" for n in graph.nodes}
    items = [
        html.Li(
            f"{label.get(e.source, e.source)} → {label.get(e.target, e.target)} ({e.kind.replace('_', '-')})",
            **{"data-edge": f"{e.source}|{e.target}"},
        )
        for e in graph.edges[:MAX_LISTED_EDGES]
    ]
    more = len(graph.edges) - len(items)
    if more > 0:
        items.append(html.Li(f"{more:,} more not shown", className="dd-muted"))
    return html.Details(
        [html.Summary(f"Edges ({len(graph.edges):,})"), html.Ul(items, className="dd-edge-list")],
        className="dd-edges",
    )


def _runs_section(dag_id: str, runs: list[queries.DagRunRow]) -> Any:
    if not runs:
        return empty_state("No runs yet.", "Trigger the DAG in Airflow; its runs appear here.")
    chart_rows = list(reversed(runs))
    fig = {
        "data": [
            {
                "type": "bar",
                "x": [r.run_id for r in chart_rows],
                "y": [r.duration_s or 0 for r in chart_rows],
                "marker": {"color": [state_color(r.state) for r in chart_rows]},
                "hovertext": [
                    f"{figures.plot_text(r.run_id)}<br>{r.state} · {fmt_duration(r.duration_s)}"
                    for r in chart_rows
                ],
                "hoverinfo": "text",
            }
        ],
        "layout": figures.base_layout(
            160,
            xaxis={"type": "category", "showticklabels": False},
            yaxis={"title": {"text": "seconds"}, "gridcolor": figures.GRID},
        ),
    }
    rows = [
        html.Tr(
            [
                html.Td(link(r.run_id, href("run", dag_id=dag_id, run_id=r.run_id))),
                html.Td([state_badge(r.state), " ", kept_by_ddtrack()] if r.kept_by_ddtrack else state_badge(r.state)),
                html.Td(r.run_type or "–"),
                html.Td(fmt_time(r.start)),
                html.Td(fmt_duration(r.duration_s), className="dd-num"),
                html.Td(str(r.tracked_tasks), className="dd-num"),
                html.Td(str(r.failed_tasks) if r.failed_tasks else "", className="dd-num dd-bad"),
            ],
            className=f"dd-row-{r.state or 'unknown'}",
        )
        for r in runs
    ]
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(h)
                        for h in (
                            "Run",
                            "State",
                            "Type",
                            "Started",
                            "Duration",
                            "Tracked tries",
                            "Failed tries",
                        )
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="dd-table dd-runs",
    )
    return html.Div([dcc.Graph(figure=fig, config=figures.graph_config()), table])


def register(app) -> None:
    @app.callback(
        Output("dag-graph", "elements"),
        Output("dag-node-panel", "children"),
        Output("dag-open", "href"),
        Input("dag-graph", "tapNodeData"),
        State("dag-graph", "elements"),
        State("dag-page-dag-id", "data"),
        prevent_initial_call=True,
    )
    def select_node(node: dict | None, elements: list[dict], dag_id: str) -> Any:
        try:
            return _select_node(node, elements, dag_id)
        except Exception as exc:
            return no_update, error_state("highlight the selected node", exc), no_update

    @app.callback(
        Output("dag-graph", "elements", allow_duplicate=True),
        Output("dag-lineage-note", "children"),
        Output("dag-lineage-view", "data"),
        Output("dag-graph", "layout"),
        Input("dag-lineage-search", "value"),
        Input("dag-lineage-focus", "n_clicks"),
        Input("dag-lineage-all", "n_clicks"),
        Input("dag-lineage-depth", "value"),
        Input("dag-lineage-scope", "value"),
        Input("dag-graph", "tapNodeData"),
        State("dag-lineage-view", "data"),
        State("dag-page-dag-id", "data"),
        prevent_initial_call=True,
    )
    def change_view(search, _focus, _all, depth, scope, tapped, view_data, dag_id) -> Any:
        try:
            return _change_view(callback_context.triggered_id, search, depth, scope, tapped, view_data, dag_id)
        except PreventUpdate:
            raise
        except Exception as exc:
            return no_update, error_state("redraw the lineage graph", exc), no_update, no_update


def _change_view(
    trigger: Any, search: Any, depth: Any, scope: Any, tapped: Any, view_data: Any, dag_id: Any
) -> tuple[Any, Any, Any, Any]:
    """The graph redrawn for the view the user asked for: a task group opened, a search or a
    selected node focused, another depth, the other scope, or back to the whole graph."""
    ctx = request_context()
    if not isinstance(dag_id, str) or not ctx.can_read(dag_id):
        return [], not_found("DAG", dag_id if isinstance(dag_id, str) else ""), no_update, no_update
    view = lineage_graph.View.from_data(view_data)
    if type(depth) is int and depth in lineage_graph.DEPTHS:  # the dropdown shows the depth in force
        view.depth = depth
    if trigger == "dag-lineage-search" and not (isinstance(search, str) and search.strip()):
        raise PreventUpdate  # a search box emptied
    if trigger == "dag-graph":
        if not (isinstance(tapped, dict) and tapped.get("kind") == "group" and isinstance(tapped.get("name"), str)):
            raise PreventUpdate  # other nodes: select_node highlights them
        group = tapped["name"]
        view.expanded = [g for g in view.expanded if g != group] + [group]
    elif trigger == "dag-lineage-scope":
        view = lineage_graph.View(scope="dags" if scope == "dags" else "dag", depth=view.depth)
    elif trigger == "dag-lineage-all":
        view = lineage_graph.View(scope=view.scope, depth=view.depth)
    graph = lineage_graph.graph_for(ctx.sources, dag_id, view, ctx.allowed)
    if trigger == "dag-lineage-search":
        found = lineage_graph.search(graph, search)
        if found is None:
            return no_update, f"Nothing in this graph is named like {search[:100]!r}.", no_update, no_update
        view.focus = found.id
    elif trigger == "dag-lineage-focus":
        if not (isinstance(tapped, dict) and isinstance(tapped.get("id"), str) and tapped.get("kind") != "group"):
            return no_update, "Select a node first (click it), then focus on it.", no_update, no_update
        view.focus = tapped["id"]
    drawn = lineage_graph.draw(graph, view, ctx.allowed)
    return drawn.elements, _note(graph, view, drawn), view.to_data(), dict(PRESET)  # a new layout: fit again


def _select_node(node: dict | None, elements: list[dict], dag_id: str) -> tuple[Any, Any, Any]:
    """Highlight what feeds the tapped node and what it feeds; a second tap opens it."""
    ctx = request_context()
    if not ctx.can_read(dag_id):
        return [], not_found("DAG", dag_id or ""), no_update
    elements = _well_formed(elements)
    if not node or not isinstance(node.get("id"), str):
        return elements, _panel_hint(), no_update
    if node.get("kind") == "group":  # change_view opens it
        return no_update, html.Div(f"Opening {node.get('title') or 'the task group'}…", className="dd-muted"), no_update
    picked = next((el for el in elements if el["data"]["id"] == node["id"]), None)
    url = common.own_page(node.get("url"))
    if picked is not None and "picked" in picked.get("classes", "").split() and url:
        return no_update, no_update, url
    highlighted = highlight(elements, node["id"])
    return highlighted, _panel(node, highlighted, url), no_update


def _well_formed(elements: Any) -> list[dict]:
    """The graph elements as this page made them; the browser sends them back, and a
    hand-made request may send anything."""
    kept = []
    for el in elements if isinstance(elements, list) else []:
        data = el.get("data") if isinstance(el, dict) else None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            continue
        if ("source" in data or "target" in data) and not (
            isinstance(data.get("source"), str) and isinstance(data.get("target"), str)
        ):
            continue
        kept.append({**el, "classes": el.get("classes") if isinstance(el.get("classes"), str) else ""})
    return kept


def highlight(elements: list[dict], node_id: str) -> list[dict]:
    """Classes marking what feeds ``node_id`` (upstream) and what it feeds (downstream)."""
    pairs = [(el["data"]["source"], el["data"]["target"]) for el in elements if "source" in el.get("data", {})]
    ups, downs = queries.neighbours(pairs, node_id)
    result = []
    for el in elements:
        data = el["data"]
        base = " ".join(
            c for c in el.get("classes", "").split() if c not in {"upstream", "downstream", "faded", "picked"}
        )
        if "source" in data:
            if data["target"] == node_id or data["target"] in ups and data["source"] in ups:
                extra = "upstream"
            elif data["source"] == node_id or data["source"] in downs and data["target"] in downs:
                extra = "downstream"
            else:
                extra = "faded"
        elif data["id"] == node_id:
            extra = "picked"
        elif data["id"] in ups:
            extra = "upstream"
        elif data["id"] in downs:
            extra = "downstream"
        else:
            extra = "faded"
        result.append({**el, "classes": f"{base} {extra}".strip()})
    return result


def _panel(node: dict, elements: list[dict], url: str | None) -> Any:
    """What feeds the node and what it feeds; ``url`` is the node's own page, checked."""
    ups = [
        el["data"].get("title") or el["data"].get("name")
        for el in elements
        if "upstream" in el.get("classes", "") and "source" not in el["data"]
    ]
    downs = [
        el["data"].get("title") or el["data"].get("name")
        for el in elements
        if "downstream" in el.get("classes", "") and "source" not in el["data"]
    ]
    items: list[Any] = [
        html.Div(node.get("kind", ""), className="dd-kind"),
        html.H4(str(node.get("title") or node.get("name", "")), className="dd-panel-title"),
    ]
    if isinstance(node.get("state"), str):
        items.append(html.Div(["last state ", state_badge(node["state"])]))
    if isinstance(node.get("rows"), int):
        items.append(html.Div(f"{node['rows']:,} rows in the last run"))
    if node.get("uri"):
        items.append(html.Div(str(node["uri"]), className="dd-mono dd-wrap"))
    if url:
        label = "Open task →" if node.get("kind") in ("task", "output") else "Open DAG →"
        items.append(link(label, url, className="dd-button", id="dag-node-open"))
    items.append(
        html.Div(
            [html.Strong(f"Feeds from ({len(ups)}): "), ", ".join(map(str, ups)) or "nothing"],
            className="dd-up",
        )
    )
    items.append(
        html.Div(
            [html.Strong(f"Feeds into ({len(downs)}): "), ", ".join(map(str, downs)) or "nothing"],
            className="dd-down",
        )
    )
    return items
