"""Pure graph algorithms on plain edges: no database, no Dash, no recursion.

Pages and queries share them: the DAG page highlights a node's neighbours in the browser's
elements, the lineage query merges its edge lists. Iterative walks, so a 5,000-task chain
costs linear time and never meets Python's recursion limit.
"""

from __future__ import annotations

from collections import defaultdict
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
