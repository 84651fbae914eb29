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
