"""The pure graph helpers the lineage view stands on: crossings, depth limits, collapsing."""

from __future__ import annotations

from itertools import pairwise

from ddtrack.queries.graph import collapse, count_crossings, layered_order, within_depth


def test_two_diagonals_of_a_square_cross_once():
    pos = {"a": (0, 0), "b": (1, 1), "c": (0, 1), "d": (1, 0)}
    assert count_crossings(pos, [("a", "b"), ("c", "d")]) == 1


def test_parallel_touching_and_shared_end_edges_do_not_cross():
    pos = {"a": (0, 0), "b": (2, 0), "c": (0, 1), "d": (2, 1), "e": (2, 2), "f": (1, 0)}
    assert count_crossings(pos, [("a", "b"), ("c", "d")]) == 0  # parallel
    assert count_crossings(pos, [("a", "d"), ("a", "e")]) == 0  # they share an end
    assert count_crossings(pos, [("a", "b"), ("f", "c")]) == 0  # f lies on a-b: touching only


def test_edges_with_unplaced_ends_are_ignored():
    pos = {"a": (0, 0), "b": (1, 1), "c": (0, 1)}
    assert count_crossings(pos, [("a", "b"), ("c", "missing")]) == 0


def test_a_full_bipartite_layer_in_reverse_order_crosses_every_pair():
    n = 30
    pos = {**{f"l{i}": (0, i) for i in range(n)}, **{f"r{i}": (1, n - 1 - i) for i in range(n)}}
    edges = [(f"l{i}", f"r{i}") for i in range(n)]
    assert count_crossings(pos, edges) == n * (n - 1) // 2
    straight = {**pos, **{f"r{i}": (1, i) for i in range(n)}}
    assert count_crossings(straight, edges) == 0


def test_within_depth_walks_both_ways_and_stops_at_the_limit():
    chain = [f"t{i}" for i in range(10)]
    edges = [*pairwise(chain), ("x", "t5")]
    assert within_depth(edges, "t5", 2) == {"t3": 2, "t4": 1, "t5": 0, "t6": 1, "t7": 2, "x": 1}
    assert within_depth(edges, "t5", 0) == {"t5": 0}
    assert within_depth(edges, "alone", 3) == {"alone": 0}


def test_within_depth_of_a_5000_task_chain_is_linear_and_not_recursive():
    chain = [f"t{i:05d}" for i in range(5000)]
    assert len(within_depth(list(pairwise(chain)), chain[0], 10_000)) == 5000


def test_collapse_merges_edges_between_units_and_drops_inner_ones():
    unit_of = {"a": "G", "b": "G", "c": "c", "d": "H"}
    edges = [("a", "b", "data"), ("a", "c", "dependency"), ("b", "c", "data"), ("c", "d", "dependency"), ("z", "a", "data")]
    merged = sorted(collapse(unit_of, edges))
    assert merged == [("G", "c", "data", 2), ("c", "H", "dependency", 1)]


def test_layered_order_untangles_two_crossed_pairs():
    # Starting order puts b above a but their successors the other way round: one crossing.
    nodes = ["b", "a", "x", "y"]
    edges = [("a", "x"), ("b", "y")]
    start = {"a": (0, 0.5), "b": (0, -0.5), "x": (1, -0.5), "y": (1, 0.5)}
    assert count_crossings(start, edges) == 1
    order = layered_order(nodes, edges)
    assert {n: lx for n, (lx, _) in order.items()} == {"a": 0, "b": 0, "x": 1, "y": 1}
    assert count_crossings(order, edges) == 0


def test_layered_order_never_crosses_more_than_its_start():
    import random

    rng = random.Random(3)
    nodes = [f"n{i:03d}" for i in range(120)]
    edges = [(nodes[rng.randrange(0, i)], nodes[i]) for i in range(1, 120) for _ in range(2)]
    start_columns: dict[int, list[str]] = {}
    for n, (lx, _) in layered_order(nodes, edges, sweeps=0).items():
        start_columns.setdefault(lx, []).append(n)
    start = {n: (lx, i - (len(col) - 1) / 2) for lx, col in start_columns.items() for i, n in enumerate(col)}
    assert count_crossings(layered_order(nodes, edges), edges) < count_crossings(start, edges)


def test_the_gap_by_gap_count_agrees_with_the_geometric_one():
    import random

    from ddtrack.queries.graph import _layered_crossings

    rng = random.Random(5)
    nodes = [f"n{i}" for i in range(80)]
    layer = {n: rng.randrange(8) for n in nodes}
    at = {n: rng.random() * 40 for n in nodes}
    edges = [(a, b) for a, b in ((rng.choice(nodes), rng.choice(nodes)) for _ in range(200)) if layer[a] != layer[b]]
    assert _layered_crossings(layer, at, edges) == count_crossings({n: (layer[n], at[n]) for n in nodes}, edges) > 0
