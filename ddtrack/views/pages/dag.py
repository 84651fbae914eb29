"""DAG page: the lineage graph (tasks, outputs, external inputs, linked DAGs) and run history."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import quote

import dash_cytoscape as cyto
from dash import Input, Output, State, dcc, html, no_update

from ddtrack import queries
from ddtrack.views import across, common, figures
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
    link,
    not_found,
    page_header,
    state_badge,
    state_color,
    top_link,
)
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.pages.compare import newest_pair_picker

X_STEP, Y_STEP = 175, 70


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id = params.get("dag_id", "")
    if not ctx.can_read(dag_id) or not queries.dag_exists(ctx.sources, dag_id, allowed=ctx.allowed):
        return not_found("DAG", dag_id)
    graph = queries.lineage_graph(ctx.sources, dag_id, allowed=ctx.allowed)
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
    elements = graph_elements(graph, ctx.allowed)
    height = max(300, 75 * max(_layer_sizes(elements) + [1]) + 60)
    cytoscape = cyto.Cytoscape(
        id="dag-graph",
        elements=elements,
        layout={"name": "preset", "fit": True, "padding": 24},
        stylesheet=STYLESHEET,
        style={"width": "100%", "height": f"{min(height, 640)}px"},
        minZoom=0.3,
        maxZoom=1.4,
        userZoomingEnabled=True,
        boxSelectionEnabled=False,
        autoRefreshLayout=False,
        responsive=True,
    )
    legend = html.Div(
        [
            html.Span([html.Span(className="dd-legend-box dd-legend-task"), "task"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-output"), "tracked output (rows)"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-external"), "external input / asset"]),
            html.Span([html.Span(className="dd-legend-box dd-legend-dag"), "other DAG"]),
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
            legend,
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


def _panel_hint() -> Any:
    return html.Div("Select a node to see what feeds it and what it feeds.", className="dd-muted")


def _edge_list(graph: queries.LineageGraph) -> html.Details:
    label = {n.id: n.label if n.kind != "output" else f"{n.task_id}.{n.label}" for n in graph.nodes}
    items = [
        html.Li(
            f"{label.get(e.source, e.source)} → {label.get(e.target, e.target)} ({e.kind.replace('_', '-')})",
            **{"data-edge": f"{e.source}|{e.target}"},
        )
        for e in graph.edges
    ]
    return html.Details(
        [html.Summary(f"Edges ({len(items)})"), html.Ul(items, className="dd-edge-list")],
        className="dd-edges",
    )


def graph_elements(graph: queries.LineageGraph, allowed: set[str]) -> list[dict[str, Any]]:
    """Cytoscape elements with left-to-right layered positions (longest path from a source)."""
    ids = {n.id for n in graph.nodes}
    edges = [e for e in graph.edges if e.source in ids and e.target in ids]
    layer = queries.layers(ids, [(e.source, e.target) for e in edges])
    by_layer: dict[int, list[str]] = defaultdict(list)
    order = sorted(graph.nodes, key=lambda n: (layer[n.id], n.kind != "task", n.label))
    for n in order:
        by_layer[layer[n.id]].append(n.id)
    pos: dict[str, dict[str, float]] = {}
    for lx, members in by_layer.items():
        for i, node_id in enumerate(members):
            pos[node_id] = {"x": lx * X_STEP, "y": (i - (len(members) - 1) / 2) * Y_STEP}
    elements: list[dict[str, Any]] = []
    for n in graph.nodes:
        label = n.label
        if n.kind == "output" and n.rows is not None:
            label = f"{n.label}\n{n.rows:,} rows"
        elif n.kind == "task" and n.state:
            label = f"{n.label}\n{n.state}"
        url = None
        if n.kind in ("task", "output") and n.task_id:
            url = href("task", dag_id=n.dag_id, task_id=n.task_id)
        elif n.kind == "dag" and n.dag_id in allowed:
            url = href("dag", dag_id=n.dag_id)
        elements.append(
            {
                "data": {
                    "id": n.id,
                    "label": label,
                    "kind": n.kind,
                    "name": n.label,
                    "title": f"{n.task_id}.{n.label}" if n.kind == "output" else n.label,
                    "dag_id": n.dag_id,
                    "task_id": n.task_id,
                    "state": n.state,
                    "rows": n.rows,
                    "uri": n.uri,
                    "url": url,
                    "color": state_color(n.state) if n.state else "#a1a1aa",
                },
                "position": pos[n.id],
                "classes": n.kind + ("" if n.tracked or n.kind != "task" else " untracked"),
            }
        )
    for e in edges:
        elements.append(
            {
                "data": {
                    "id": f"{e.source}->{e.target}",
                    "source": e.source,
                    "target": e.target,
                    "kind": e.kind,
                },
                "classes": e.kind,
            }
        )
    return elements


def _layer_sizes(elements: list[dict[str, Any]]) -> list[int]:
    counts: dict[float, int] = defaultdict(int)
    for el in elements:
        if "position" in el:
            counts[el["position"]["x"]] += 1
    return list(counts.values())


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
                html.Td(state_badge(r.state)),
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


BLUE, ORANGE = "#2563eb", "#f97316"
STYLESHEET: list[dict[str, Any]] = [
    {
        "selector": "node",
        "style": {
            "label": "data(label)",
            "text-wrap": "wrap",
            "text-valign": "center",
            "text-halign": "center",
            "font-size": 12,
            "font-family": "Inter, -apple-system, Segoe UI, Roboto, sans-serif",
            "color": "#27272a",
            "width": 140,
            "height": 42,
            "text-max-width": 132,
        },
    },
    {
        "selector": ".task",
        "style": {
            "shape": "round-rectangle",
            "background-color": "#ffffff",
            "border-width": 3,
            "border-color": "data(color)",
        },
    },
    {"selector": ".untracked", "style": {"border-style": "dashed", "background-color": "#f4f4f5"}},
    {
        "selector": ".output",
        "style": {
            "shape": "barrel",
            "background-color": "#e0edff",
            "border-width": 1,
            "border-color": "#017cee",
            "width": 120,
            "height": 38,
        },
    },
    {
        "selector": ".external",
        "style": {
            "shape": "tag",
            "background-color": "#fef3c7",
            "border-width": 1,
            "border-color": "#d97706",
            "width": 124,
            "height": 34,
        },
    },
    {
        "selector": ".dag",
        "style": {
            "shape": "round-rectangle",
            "background-color": "#f3e8ff",
            "border-width": 1,
            "border-style": "dashed",
            "border-color": "#9333ea",
        },
    },
    {
        "selector": ".hidden",
        "style": {
            "shape": "round-rectangle",
            "background-color": "#f4f4f5",
            "border-width": 1,
            "border-style": "dotted",
            "border-color": "#71717a",
            "color": "#52525b",
        },
    },
    {
        "selector": "edge",
        "style": {
            "curve-style": "bezier",
            "target-arrow-shape": "triangle",
            "width": 1.5,
            "line-color": "#a1a1aa",
            "target-arrow-color": "#a1a1aa",
            "arrow-scale": 0.9,
        },
    },
    {"selector": ".dependency", "style": {"line-style": "dashed"}},
    {"selector": ".data", "style": {"width": 2.2, "line-color": "#017cee", "target-arrow-color": "#017cee"}},
    {
        "selector": ".cross_dag",
        "style": {"line-style": "dotted", "line-color": "#9333ea", "target-arrow-color": "#9333ea"},
    },
    {"selector": ".faded", "style": {"opacity": 0.25}},
    {
        "selector": ".upstream",
        "style": {"border-color": BLUE, "border-width": 4, "line-color": BLUE, "target-arrow-color": BLUE},
    },
    {
        "selector": ".downstream",
        "style": {
            "border-color": ORANGE,
            "border-width": 4,
            "line-color": ORANGE,
            "target-arrow-color": ORANGE,
        },
    },
    {"selector": ".picked", "style": {"border-color": "#111827", "border-width": 5, "overlay-opacity": 0.08}},
]


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


def _select_node(node: dict | None, elements: list[dict], dag_id: str) -> tuple[Any, Any, Any]:
    """Highlight what feeds the tapped node and what it feeds; a second tap opens it."""
    ctx = request_context()
    if not ctx.can_read(dag_id):
        return [], not_found("DAG", dag_id or ""), no_update
    elements = _well_formed(elements)
    if not node or not isinstance(node.get("id"), str):
        return elements, _panel_hint(), no_update
    picked = next((el for el in elements if el["data"]["id"] == node["id"]), None)
    url = node.get("url")
    if not (isinstance(url, str) and url.startswith(common.PREFIX)):
        url = None  # only ever navigate to ddtrack's own pages
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
