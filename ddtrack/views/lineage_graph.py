"""The lineage graph component of the DAG page: what is drawn, where, and how much.

The server decides everything the browser draws, so a 5,000-task DAG costs the browser no
more than a small one:

- **grouping**: above :data:`COLLAPSE_ABOVE` nodes each task group (from the serialized
  DAG) is one node until it is expanded;
- **depth limit**: with a focus (a searched or selected node) only the nodes within the
  chosen number of steps are shown; across DAGs the same control counts hops;
- **a cap**: never more than :data:`MAX_NODES` nodes; the rest are counted in a
  "N more not shown" note, nearest the focus (or the graph's sources) first;
- **layout**: layered left to right, each layer ordered to cross few edges
  (:func:`~ddtrack.queries.graph.layered_order`), sent as preset positions. Measured on
  this page's views of the 5,000-task benchmark DAG (benchmarks/lineage_speed.py): dagre
  (the layout dash-cytoscape bundles) took 2.9 s for the 50 collapsed groups and 212 s for
  one opened group in V8, and overflowed its stack on the whole graph; grandalf's
  Sugiyama layout took 0.2-1 s but, its long edges drawn straight, crossed more edges than
  the old columns (220 against 0 with a group open).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from typing import Any

from ddtrack import queries
from ddtrack.queries.graph import collapse, layered_order, layers, within_depth
from ddtrack.views.common import href, state_color

MAX_NODES = 300  # the most nodes one answer sends; also bounds the layout's cost
COLLAPSE_ABOVE = 150  # a bigger graph starts with its task groups collapsed
DEPTHS = (1, 2, 3, 5, 10)
DEFAULT_DEPTH = 2
LAYER_STEP, ROW_STEP = 200, 66  # pixels between layers (left to right) and between nodes in one


@dataclass
class View:
    """What the user asked to see; kept in the page's ``dag-lineage-view`` store."""

    scope: str = "dag"  # "dag": this DAG's tasks; "dags": DAGs linked through shared datasets
    focus: str | None = None  # a node id: show only its neighbourhood
    depth: int = DEFAULT_DEPTH  # steps around the focus; hops across DAGs
    expanded: list[str] = field(default_factory=list)  # task groups opened by the user

    @classmethod
    def from_data(cls, data: Any) -> View:
        """The store's data as this page wrote it; a hand-made request may send anything."""
        data = data if isinstance(data, dict) else {}
        depth = data.get("depth")
        expanded = data.get("expanded")
        return cls(
            scope="dags" if data.get("scope") == "dags" else "dag",
            focus=data["focus"] if isinstance(data.get("focus"), str) else None,
            depth=depth if isinstance(depth, int) and depth in DEPTHS else DEFAULT_DEPTH,
            expanded=[g for g in expanded if isinstance(g, str)][:1000] if isinstance(expanded, list) else [],
        )

    def to_data(self) -> dict[str, Any]:
        return {"scope": self.scope, "focus": self.focus, "depth": self.depth, "expanded": self.expanded}


@dataclass
class Drawn:
    """The elements to draw and what the note under the graph says of them."""

    elements: list[dict[str, Any]]
    not_shown: int = 0  # nodes (or collapsed groups) left out by the cap
    collapsed_groups: int = 0
    focus_missing: bool = False


CACHE_SECONDS, CACHE_ENTRIES = 60.0, 8
_graphs: OrderedDict[tuple, tuple[float, queries.LineageGraph]] = OrderedDict()
_graphs_lock = threading.Lock()


def graph_for(
    sources: queries.Sources, dag_id: str, view: View, allowed: set[str] | None, *, fresh: bool = False
) -> queries.LineageGraph:
    """The graph ``view`` draws, kept for :data:`CACHE_SECONDS` per reader's rights.

    Opening a group, searching or changing the depth redraws the graph the page shows;
    reading a 5,000-task DAG's lineage takes seconds, drawing it a fraction of that. A page
    load reads afresh (``fresh``), so a reload shows new runs. The key holds the caller's
    readable DAGs, so one user never gets a graph built for another's rights.
    """
    rights = None if allowed is None else frozenset(allowed)
    key = (sources.store_url, sources.metastore_url, dag_id, view.scope, view.depth if view.scope == "dags" else 0, rights)
    now = time.monotonic()
    with _graphs_lock:
        hit = _graphs.get(key)
        if hit is not None and not fresh and now - hit[0] < CACHE_SECONDS:
            return hit[1]
    graph = (
        queries.linked_dags(sources, dag_id, view.depth, allowed=allowed)
        if view.scope == "dags"
        else queries.lineage_graph(sources, dag_id, allowed=allowed)
    )
    with _graphs_lock:
        _graphs[key] = (now, graph)
        _graphs.move_to_end(key)
        while len(_graphs) > CACHE_ENTRIES:
            _graphs.popitem(last=False)
    return graph


def group_node_id(group: str) -> str:
    return f"group::{group}"


def draw(graph: queries.LineageGraph, view: View, allowed: set[str] | None) -> Drawn:
    """The capped, grouped, laid-out elements of ``graph`` as ``view`` asks for them."""
    ids = {n.id for n in graph.nodes}
    pairs = [(e.source, e.target) for e in graph.edges if e.source in ids and e.target in ids]
    nodes = graph.nodes
    distance: dict[str, int] = {}
    focus_missing = view.focus is not None and view.focus not in ids
    if view.focus in ids:
        distance = within_depth(pairs, view.focus, view.depth)
        nodes = [n for n in nodes if n.id in distance]
    unit_of, groups = _units(graph, nodes, view, distance)
    by_id = {n.id: n for n in nodes}
    units = list(dict.fromkeys(unit_of.values()))
    unit_edges = collapse(unit_of, [(e.source, e.target, e.kind) for e in graph.edges])
    kept = _nearest_first(units, unit_edges, unit_of, distance)[:MAX_NODES]
    keep = set(kept)
    unit_edges = [e for e in unit_edges if e[0] in keep and e[1] in keep]
    # The layout starts from the old columns' order (tasks first, then by name) and only improves on it.
    start = sorted(kept, key=lambda u: (False, u) if u in groups else (by_id[u].kind != "task", by_id[u].label))
    positions = layered_positions(start, [(a, b) for a, b, _, _ in unit_edges])
    elements = [
        _group_element(u, groups[u], positions[u]) if u in groups else _node_element(by_id[u], positions[u], allowed)
        for u in kept
    ]
    if view.focus in keep:
        elements[kept.index(view.focus)]["classes"] += " focus"
    elements += [_edge_element(a, b, kind, count) for a, b, kind, count in unit_edges]
    return Drawn(elements, len(units) - len(kept), sum(1 for u in kept if u in groups), focus_missing)


def _units(
    graph: queries.LineageGraph, nodes: list[queries.GraphNode], view: View, distance: dict[str, int]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Each node's unit: itself, or its outermost collapsed task group. Groups collapse only
    when the nodes to draw exceed :data:`COLLAPSE_ABOVE`; the focus's groups stay open."""
    unit_of = {n.id: n.id for n in nodes}
    members: dict[str, list[str]] = defaultdict(list)
    if len(nodes) <= COLLAPSE_ABOVE or not graph.groups:
        return unit_of, {}
    opened = set(view.expanded)
    focus = next((n for n in nodes if n.id == view.focus), None)
    if focus is not None:
        opened.update(_ancestors(focus.group, graph.groups))
    for n in nodes:
        if n.group is None:
            continue
        closed = next((g for g in reversed(_ancestors(n.group, graph.groups)) if g not in opened), None)
        if closed is not None:
            unit = group_node_id(closed)
            unit_of[n.id] = unit
            members[unit].append(n.id)
    return unit_of, dict(members)


def _ancestors(group: str | None, parent: dict[str, str | None]) -> list[str]:
    """``group`` and the groups holding it, innermost first (bounded against a bad cycle)."""
    chain: list[str] = []
    while group is not None and group not in chain and len(chain) < 100:
        chain.append(group)
        group = parent.get(group)
    return chain


def _nearest_first(
    units: list[str], edges: list[tuple[str, str, str, int]], unit_of: dict[str, str], distance: dict[str, int]
) -> list[str]:
    """Units in the order the cap keeps them: nearest the focus, then by layer (sources
    first), then by id, so a capped view shows one connected piece of the graph."""
    layer = layers(units, [(a, b) for a, b, _, _ in edges])
    near: dict[str, int] = {}
    for node_id, d in distance.items():
        unit = unit_of.get(node_id)
        if unit is not None:
            near[unit] = min(d, near.get(unit, d))
    return sorted(units, key=lambda u: (near.get(u, 0), layer[u], u))


def layered_positions(nodes: list[str], edges: list[tuple[str, str]]) -> dict[str, dict[str, float]]:
    """Left-to-right layered positions: a column per longest-path layer, each column
    ordered to cross few edges (:func:`~ddtrack.queries.graph.layered_order`) and centred."""
    order = layered_order(nodes, edges)
    return {n: {"x": lx * LAYER_STEP, "y": offset * ROW_STEP} for n, (lx, offset) in order.items()}


def _node_element(n: queries.GraphNode, position: dict[str, float], allowed: set[str] | None) -> dict[str, Any]:
    label = n.label
    if n.kind == "output" and n.rows is not None:
        label = f"{n.label}\n{n.rows:,} rows"
    elif n.kind == "task" and n.state:
        label = f"{n.label}\n{n.state}"
    elif n.kind == "dag" and n.hop:
        label = f"{n.label}\n{n.hop} hop{'s' if n.hop > 1 else ''} away"
    url = None
    if n.kind in ("task", "output") and n.task_id:
        url = href("task", dag_id=n.dag_id, task_id=n.task_id)
    elif n.kind == "dag" and (allowed is None or n.dag_id in allowed):
        url = href("dag", dag_id=n.dag_id)
    return {
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
            "group": n.group,
            "url": url,
            "color": state_color(n.state) if n.state else "#a1a1aa",
        },
        "position": position,
        "classes": n.kind + ("" if n.tracked or n.kind != "task" else " untracked"),
    }


def _group_element(unit: str, members: list[str], position: dict[str, float]) -> dict[str, Any]:
    group = unit.split("::", 1)[1]
    tasks = sum(1 for m in members if m.startswith("task::"))
    return {
        "data": {
            "id": unit,
            "label": f"{group}\n{tasks:,} task{'s' if tasks != 1 else ''} · click to open",
            "kind": "group",
            "name": group,
            "title": f"task group {group}",
            "members": len(members),
            "url": None,
        },
        "position": position,
        "classes": "group",
    }


def _edge_element(source: str, target: str, kind: str, count: int) -> dict[str, Any]:
    data: dict[str, Any] = {"id": f"{source}->{target}", "source": source, "target": target, "kind": kind}
    if count > 1:
        data["label"] = f"{count:,}"
    return {"data": data, "classes": kind + (" bundle" if count > 1 else "")}


def search(graph: queries.LineageGraph, text: str) -> queries.GraphNode | None:
    """The node a search for ``text`` focuses: an exact task or output name, else the first
    (by name) whose name starts with it, else the first containing it; case-insensitive."""
    text = text.strip().lower()
    if not text:
        return None
    named = sorted(
        (n for n in graph.nodes if n.kind in ("task", "output", "external", "dag")),
        key=lambda n: (n.kind != "task", n.label),
    )

    def name(n: queries.GraphNode) -> str:
        return (f"{n.task_id}.{n.label}" if n.kind == "output" else n.label).lower()

    for test in (lambda s: s == text, lambda s: s.startswith(text), lambda s: text in s):
        found = next((n for n in named if test(name(n))), None)
        if found is not None:
            return found
    return None


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
        "selector": ".group",
        "style": {
            "shape": "round-rectangle",
            "background-color": "#ecfdf5",
            "border-width": 2,
            "border-style": "double",
            "border-color": "#059669",
            "width": 160,
            "height": 52,
            "text-max-width": 152,
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
    {"selector": ".bundle", "style": {"label": "data(label)", "font-size": 10, "color": "#52525b"}},
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
    {"selector": ".focus", "style": {"border-color": "#111827", "border-width": 4, "border-style": "double"}},
    {"selector": ".picked", "style": {"border-color": "#111827", "border-width": 5, "overlay-opacity": 0.08}},
]
