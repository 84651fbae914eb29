"""Pure graph algorithms on plain edges: no database, no Dash, no recursion.

Pages and queries share them: the DAG page lays its graph out in layers and highlights a
node's neighbours in the browser's elements, the lineage query merges its edge lists.
Iterative walks, so a 5,000-task chain costs linear time and never meets Python's
recursion limit.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Iterable

from ddtrack.queries.types import GraphEdge


def dedupe_edges(edges: list[GraphEdge]) -> list[GraphEdge]:
    """One edge per (source, target); a data edge wins over a plain dependency."""
    seen: set[tuple[str, str]] = set()
    result = []
    for e in sorted(edges, key=lambda e: e.kind == "dependency"):
        if (e.source, e.target) not in seen:
            seen.add((e.source, e.target))
            result.append(e)
    return result


def neighbours(edges: Iterable[tuple[str, str]], node_id: str) -> tuple[set[str], set[str]]:
    """Every node upstream of ``node_id`` (what feeds it) and downstream (what it feeds),
    given ``(source, target)`` pairs."""
    ups: dict[str, list[str]] = defaultdict(list)
    downs: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        ups[target].append(source)
        downs[source].append(target)
    return _reachable(node_id, ups), _reachable(node_id, downs)


def _reachable(start: str, step: dict[str, list[str]]) -> set[str]:
    seen: set[str] = set()
    todo = list(step.get(start, []))
    while todo:
        n = todo.pop()
        if n not in seen:
            seen.add(n)
            todo.extend(step.get(n, []))
    return seen


def layers(nodes: Iterable[str], edges: Iterable[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: the length of the longest path reaching it from a source.

    Kahn's topological order, so linear in nodes and edges. A cycle (which a DAG's lineage
    should not have, but recorded data might) is broken where the walk gets stuck: the
    first unplaced node in sorted order is placed as if its remaining incoming edges were
    absent, and those edges become back edges that do not push layers.
    """
    order = sorted(set(nodes))
    known = set(order)
    successors: dict[str, list[str]] = defaultdict(list)
    waiting = dict.fromkeys(order, 0)  # incoming edges from nodes not placed yet
    for source, target in edges:
        if source in known and target in known and source != target:
            successors[source].append(target)
            waiting[target] += 1
    layer = dict.fromkeys(order, 0)
    placed: set[str] = set()
    ready = deque(n for n in order if waiting[n] == 0)
    unplaced = iter(order)  # shared across cycle breaks: one pass over the nodes in all
    while len(placed) < len(order):
        if not ready:  # only cycles left: cut the first unplaced node loose
            ready.append(next(n for n in unplaced if n not in placed))
        node = ready.popleft()
        if node in placed:
            continue
        placed.add(node)
        for target in successors.get(node, ()):
            if target in placed:  # a back edge of a broken cycle
                continue
            layer[target] = max(layer[target], layer[node] + 1)
            waiting[target] -= 1
            if waiting[target] == 0:
                ready.append(target)
    return layer


def within_depth(edges: Iterable[tuple[str, str]], start: str, depth: int) -> dict[str, int]:
    """Every node at most ``depth`` edges from ``start``, in either direction, with its
    distance: the neighbourhood a depth limit around a selected node shows."""
    around: dict[str, list[str]] = defaultdict(list)
    for source, target in edges:
        around[source].append(target)
        around[target].append(source)
    distance = {start: 0}
    todo = deque([start])
    while todo:
        node = todo.popleft()
        if distance[node] >= depth:
            continue
        for other in around.get(node, ()):
            if other not in distance:
                distance[other] = distance[node] + 1
                todo.append(other)
    return distance


def collapse(unit_of: dict[str, str], edges: Iterable[tuple[str, str, str]]) -> list[tuple[str, str, str, int]]:
    """Edges between units (a collapsed group stands for all its members): ``(source, target,
    kind, count)``, one per unit pair, without edges inside a unit. ``unit_of`` maps each
    node to its unit (itself when not collapsed); nodes missing from it are dropped. The
    kind is the first one met in ``("data", "produces", "uri", "cross_dag", "dependency")``
    order, so a data edge shows as data even if a dependency joins the same pair."""
    rank = {k: i for i, k in enumerate(("data", "produces", "uri", "cross_dag", "dependency"))}
    merged: dict[tuple[str, str], list] = {}
    for source, target, kind in edges:
        a, b = unit_of.get(source), unit_of.get(target)
        if a is None or b is None or a == b:
            continue
        entry = merged.get((a, b))
        if entry is None:
            merged[(a, b)] = [kind, 1]
        else:
            entry[1] += 1
            if rank.get(kind, len(rank)) < rank.get(entry[0], len(rank)):
                entry[0] = kind
    return [(a, b, kind, count) for (a, b), (kind, count) in merged.items()]


def count_crossings(positions: dict[str, tuple[float, float]], edges: Iterable[tuple[str, str]]) -> int:
    """How many pairs of edges cross when drawn as straight lines between node centres.

    Edges that share an end never count (they meet, they do not cross); nor do edges with an
    end not in ``positions``. Pairs whose bounding boxes do not overlap are skipped before
    the exact orientation test, which keeps a few thousand edges quick.
    """
    segments = []
    for source, target in edges:
        if source in positions and target in positions and source != target:
            (x1, y1), (x2, y2) = positions[source], positions[target]
            box = (min(x1, x2), max(x1, x2), min(y1, y2), max(y1, y2))
            segments.append((source, target, (x1, y1), (x2, y2), box))
    segments.sort(key=lambda s: s[4][0])
    crossings = 0
    for i, (s1, t1, p1, q1, b1) in enumerate(segments):
        for s2, t2, p2, q2, b2 in segments[i + 1 :]:
            if b2[0] > b1[1]:
                break  # sorted by left edge: no later segment reaches back to this one
            if b2[3] < b1[2] or b2[2] > b1[3] or {s1, t1} & {s2, t2}:
                continue
            if _segments_cross(p1, q1, p2, q2):
                crossings += 1
    return crossings


def _segments_cross(p1, q1, p2, q2) -> bool:
    """Proper crossing of two segments (touching or collinear overlaps do not count)."""

    def turn(a, b, c) -> float:
        return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])

    d1, d2 = turn(p2, q2, p1), turn(p2, q2, q1)
    d3, d4 = turn(p1, q1, p2), turn(p1, q1, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def layered_order(
    nodes: list[str], edges: list[tuple[str, str]], sweeps: int = 8
) -> dict[str, tuple[int, float]]:
    """Each node's ``(layer, offset)``: its longest-path layer, and its place in that layer,
    centred on 0, chosen to cross few edges when drawn as straight lines.

    The Sugiyama ordering step: starting from ``nodes``' own order, sweeps alternately place
    each node at the barycentre of what feeds it (left to right) or what it feeds (right to
    left); after each sweep the straight-line crossings are counted (as
    :func:`count_crossings` would, gap by gap between layers) and the best ordering seen
    is kept, so the result never
    crosses more than the starting order. Edges of any span count, as they are drawn.
    """
    layer = layers(nodes, edges)
    inside = [(a, b) for a, b in edges if a in layer and b in layer and a != b]
    ups: dict[str, list[str]] = defaultdict(list)
    downs: dict[str, list[str]] = defaultdict(list)
    for a, b in inside:
        ups[b].append(a)
        downs[a].append(b)
    columns: dict[int, list[str]] = defaultdict(list)
    for node in dict.fromkeys(nodes):
        columns[layer[node]].append(node)

    def offsets() -> dict[str, float]:
        return {n: i - (len(col) - 1) / 2 for col in columns.values() for i, n in enumerate(col)}

    def crossings(at: dict[str, float]) -> int:
        return _layered_crossings(layer, at, inside)

    best = offsets()
    fewest = crossings(best)
    for sweep in range(sweeps):
        if fewest == 0:
            break
        at = offsets()
        side = ups if sweep % 2 == 0 else downs
        for lx in sorted(columns, reverse=sweep % 2 == 1):
            col = columns[lx]
            for node in col:
                others = side.get(node)
                if others:
                    at[node] = sum(at[o] for o in others) / len(others)
            col.sort(key=lambda n: at[n])  # stable: ties keep their order
            for i, n in enumerate(col):
                at[n] = i - (len(col) - 1) / 2
        count = crossings(at)
        if count < fewest:
            best, fewest = at, count
    return {n: (layer[n], best[n]) for n in layer}


def _layered_crossings(layer: dict[str, int], at: dict[str, float], edges: list[tuple[str, str]]) -> int:
    """Straight-line crossings of a layered drawing, counted gap by gap: two segments cross
    between layers ``g`` and ``g + 1`` exactly when their order flips across that gap (each
    is a straight line there), so each gap is an inversion count, ``O(k log k)`` for its
    ``k`` segments instead of comparing every pair of edges."""
    gaps: dict[int, list[tuple[float, float]]] = defaultdict(list)
    for a, b in edges:
        if layer[a] > layer[b]:
            a, b = b, a
        la, lb = layer[a], layer[b]
        if la == lb:
            continue
        ya, yb = at[a], at[b]
        # exact at the ends, so edges sharing an end tie there instead of crossing by a rounding
        ys = [ya, *(ya + (yb - ya) * (x - la) / (lb - la) for x in range(la + 1, lb)), yb]
        for g in range(la, lb):
            gaps[g].append((ys[g - la], ys[g - la + 1]))
    return sum(_inversions([right for _, right in sorted(pairs)]) for pairs in gaps.values())


def _inversions(values: list[float]) -> int:
    """Pairs ``i < j`` with ``values[i] > values[j]`` (a Fenwick tree over ranks)."""
    rank = {v: i + 1 for i, v in enumerate(sorted(set(values)))}
    tree = [0] * (len(rank) + 1)
    count = 0
    for seen, v in enumerate(values):
        i, below = rank[v], 0
        while i > 0:
            below += tree[i]
            i -= i & -i
        count += seen - below
        i = rank[v]
        while i < len(tree):
            tree[i] += 1
            i += i & -i
    return count
