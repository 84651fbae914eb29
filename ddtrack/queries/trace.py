"""Trace (upstream) and impact (downstream) of exact output versions, across DAGs.

A version is one ``ddtrack_output`` row; the try that wrote it read inputs
(``ddtrack_lineage`` rows, direction "input") that resolve to versions too
(:func:`ddtrack.queries.versions.resolve_inputs`): an upstream task's output in the same run, or, for a URI or an
Asset, the newest version of that URI (any DAG) whose try started before the reader's try.
Consumers of a version are the tries whose inputs resolve to it, so a URI version is read
by the tries that started after it and before the URI's next version.

The walks are breadth-first and iterative, one hop at a time, with a fixed number of
set-based statements per hop (``IN`` lists of the frontier in bounded batches), never one
statement per node, so a 10-hop trace costs ~30 statements whatever the history's size.
Visited sets make cycles harmless; ``depth`` (hops = tries crossed) and ``max_nodes``
bound the walk and set ``truncated``.

Authorization: every statement marks each row's DAG as readable or not in SQL
(:func:`~ddtrack.queries.access.dag_filter` as a selected column). The walk passes
through a DAG the caller may not read, so what lies beyond it is still found, but every
try of such a DAG (with its versions) is answered as one node of kind "hidden" labelled
"a DAG you cannot read", and nothing of it (DAG, task, run, output name, URI, id) is in
the result.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import and_, literal, or_, select, tuple_, union_all
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, one_dag
from ddtrack.queries.graph import neighbours
from ddtrack.queries.search import escape_like
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.types import TraceEdge, TraceNode, TraceResult
from ddtrack.queries.versions import (
    TryRow,
    UnknownVersion,
    VersionRow,
    batches,
    mark_readable,
    newest_tries_only,
    readable_version,
    resolve,
    tries_with_outputs,
    uri_versions_after,
    version_row,
    version_select,
    versions_by_id,
)
from ddtrack.store.models import CatalogEntry, Dataset, Flag, Lineage, Review, TaskRun

DEFAULT_DEPTH = 10
MAX_NODES = 2000
HIDDEN_LABEL = "a DAG you cannot read"


class UnknownNode(LookupError):
    """A node spec (``path``) or an id (``trace``/``impact``) that matches nothing the caller may read."""

    def __init__(self, spec: str) -> None:
        super().__init__(f"no tracked output, task or URI matches {spec!r}")
        self.spec = spec


# -- the walk -------------------------------------------------------------------------------


class _Graph:
    """What a walk found, before it is answered: full rows, readable or not."""

    def __init__(self, max_nodes: int) -> None:
        self.versions: dict[int, VersionRow] = {}
        self.tries: dict[int, TryRow] = {}
        self.externals: set[str] = set()
        self.depth: dict[str, int] = {}
        self.edges: set[tuple[str, str, str]] = set()
        self.max_nodes = max_nodes
        self.truncated = False

    def mark(self, conn: Connection, allowed: Allowed) -> None:
        """Which of the walk's rows the caller may read (one statement)."""
        mark_readable(conn, [*self.versions.values(), *self.tries.values()], allowed)

    def full(self) -> bool:
        return len(self.depth) >= self.max_nodes

    def add(self, node_id: str, depth: int) -> bool:
        """Add a node; False if it was there already or the cap is reached."""
        if node_id in self.depth:
            return False
        if self.full():
            self.truncated = True
            return False
        self.depth[node_id] = depth
        return True


def _vid(v: VersionRow | int) -> str:
    return f"version:{v if isinstance(v, int) else v.id}"


def _tid(t: TryRow | int) -> str:
    return f"try:{t if isinstance(t, int) else t.id}"


def _walk_up(conn: Connection, g: _Graph, frontier: list[VersionRow], depth: int) -> None:
    """Hop by hop from ``frontier`` to the tries that wrote it and the versions they read."""
    hop = 0
    while frontier:
        if hop >= depth:
            g.truncated = True
            return
        hop += 1
        new_tries = []
        for v in frontier:
            t = v.try_row()
            if g.add(_tid(t), hop):
                g.tries[t.id] = t
                new_tries.append(t)
            if _tid(t) in g.depth:
                g.edges.add((_tid(t), _vid(v), "produced"))
        inputs = resolve(conn, new_tries)
        next_frontier = []
        for t in new_tries:
            for use in inputs.get(t.id, []):
                if use._row is None:
                    node = f"uri:{use.uri}"
                    if g.add(node, hop):
                        g.externals.add(use.uri)
                    if node in g.depth:
                        g.edges.add((node, _tid(t), "read"))
                    continue
                v = g.versions.get(use._row.id, use._row)
                if g.add(_vid(v), hop):
                    g.versions[v.id] = v
                    next_frontier.append(v)
                if _vid(v) in g.depth:
                    g.edges.add((_vid(v), _tid(t), "read"))
        frontier = next_frontier


def consumer_tries(conn: Connection, versions: Sequence[VersionRow], limit: int) -> dict[int, set[int]]:
    """Consumers of each version: ``output_id -> {task_run_id}`` (tries whose resolved input it is).

    Reading stops once more than ``limit`` tries are found (each statement and branch is cut
    there too): a file read by every run for years costs what the walk's node cap allows,
    not its whole history, and the cap then marks the walk truncated."""
    lin, r = Lineage.__table__, TaskRun.__table__
    found: dict[int, set[int]] = defaultdict(set)

    def enough() -> bool:
        return len({t for ts in found.values() for t in ts}) > limit

    for batch in batches(versions, 100):
        if enough():
            return found
        match = tuple_(lin.c.dag_id, lin.c.run_id, lin.c.upstream_task_id, lin.c.upstream_output).in_(
            sorted({(v.ref.dag_id, v.ref.run_id, v.ref.task_id, v.ref.name) for v in batch})
        )
        rows = conn.execute(
            select(lin.c.task_run_id, lin.c.dag_id, lin.c.run_id, lin.c.upstream_task_id, lin.c.upstream_output).where(
                match, lin.c.kind == "task", lin.c.direction == "input"
            ).limit(limit + 1)
        ).all()
        by_key = {(v.ref.dag_id, v.ref.run_id, v.ref.task_id, v.ref.name): v.id for v in batch}
        for row in rows:
            key = (row.dag_id, row.run_id, row.upstream_task_id, row.upstream_output)
            if key in by_key:
                found[by_key[key]].add(int(row.task_run_id))
    # Readers of the URIs the versions stand for: their own URI, and Assets their try wrote.
    stands_for: dict[tuple[str, dt.datetime], set[int]] = defaultdict(set)
    for v in versions:
        if v.ref.uri and v.ref.started_at is not None:
            stands_for[(v.ref.uri, v.ref.started_at)].add(v.id)
    by_try: dict[int, list[VersionRow]] = defaultdict(list)
    for v in versions:
        by_try[v.task_run_id].append(v)
    for batch in batches(sorted(by_try)):
        for row in conn.execute(
            select(lin.c.task_run_id, lin.c.uri).where(
                lin.c.task_run_id.in_(batch), lin.c.direction == "output", lin.c.kind == "asset"
            )
        ):
            for v in by_try[int(row.task_run_id)]:
                if row.uri and v.ref.started_at is not None:
                    stands_for[(row.uri, v.ref.started_at)].add(v.id)
    if not stands_for:
        return found
    pairs = sorted(stands_for)
    until = uri_versions_after(conn, pairs)
    for batch in batches(pairs, 100):
        if enough():
            break
        # One branch per (uri, window): each is planned on its own (readers of the URI, or
        # tries started in the window, whichever is fewer).
        branches = []
        for i, (uri, start) in enumerate(batch):
            end = until.get((uri, start))
            inner = (
                select(lin.c.task_run_id, literal(i).label("pair"))
                .select_from(lin.join(r, r.c.id == lin.c.task_run_id))
                .where(
                    lin.c.uri == uri, lin.c.direction == "input", lin.c.kind.in_(("uri", "asset")),
                    r.c.started_at > start, *((r.c.started_at < end,) if end is not None else ()),
                )
                .limit(limit + 1)
                .subquery()
            )
            branches.append(select(inner))
        for row in conn.execute(union_all(*branches)):
            for vid in stands_for[batch[int(row.pair)]]:
                found[vid].add(int(row.task_run_id))
    return found


def _walk_down(conn: Connection, g: _Graph, frontier: list[VersionRow], depth: int, hop: int = 0) -> None:
    """Hop by hop from ``frontier`` (found ``hop`` hops from the start) to the tries that read
    it and the versions they wrote."""
    while frontier:
        consumers = consumer_tries(conn, frontier, max(0, g.max_nodes - len(g.depth)))
        if hop >= depth:  # cut only if something was left unread
            g.truncated = g.truncated or any(consumers.values())
            return
        hop += 1
        tries, written = tries_with_outputs(conn, {t for ts in consumers.values() for t in ts})
        new_tries = []
        for v in frontier:
            for try_id in sorted(consumers.get(v.id, ())):
                t = tries.get(try_id)
                if t is None:
                    continue
                if g.add(_tid(t), hop):
                    g.tries[t.id] = t
                    new_tries.append(t)
                if _tid(t) in g.depth:
                    g.edges.add((_vid(v), _tid(t), "read"))
        frontier = _add_outputs(g, new_tries, written, hop)


def _add_outputs(g: _Graph, tries: Sequence[TryRow], written: Sequence[VersionRow], hop: int) -> list[VersionRow]:
    """The versions ``tries`` wrote (of ``written``), as nodes ``hop`` hops away."""
    new = {t.id for t in tries}
    added = []
    for v in written:
        if v.task_run_id not in new:
            continue
        if g.add(_vid(v), hop):
            g.versions[v.id] = v
            added.append(v)
        if _vid(v) in g.depth:
            g.edges.add((_tid(v.task_run_id), _vid(v), "produced"))
    return added


def _readers_of_uri(conn: Connection, uri: str, limit: int) -> list[int]:
    lin, r = Lineage.__table__, TaskRun.__table__
    rows = conn.execute(
        select(lin.c.task_run_id)
        .select_from(lin.join(r, r.c.id == lin.c.task_run_id))
        .where(lin.c.uri == uri, lin.c.direction == "input")
        .order_by(r.c.started_at.desc())
        .limit(limit)
    ).all()
    return [int(row.task_run_id) for row in rows]


# -- answering -------------------------------------------------------------------------------


def _answer(conn: Connection, g: _Graph, direction: str, root: str, depth: int) -> TraceResult:
    """The walk's graph as an answer: a DAG the caller may not read becomes one hidden node
    per try (its versions folded in), named by a counter and nothing else."""
    alias: dict[str, str] = {}
    hidden_of_try: dict[int, str] = {}

    def hidden(try_id: int) -> str:
        if try_id not in hidden_of_try:
            hidden_of_try[try_id] = f"hidden:{len(hidden_of_try) + 1}"
        return hidden_of_try[try_id]

    for t in g.tries.values():
        if not t.visible:
            alias[_tid(t)] = hidden(t.id)
    for v in g.versions.values():
        if not v.visible:
            alias[_vid(v)] = hidden(v.task_run_id)
    edges = set()
    for s, t, kind in g.edges:
        s2, t2 = alias.get(s, s), alias.get(t, t)
        if s2 != t2:
            edges.add((s2, t2, kind))
    # An external input seen only by hidden tries says something of them: leave it out.
    readable_ends = {s for s, t, _ in edges if not t.startswith("hidden:")}
    pii = _pii_identities(conn, [v for v in g.versions.values() if v.visible])
    suspect = _suspect_in(conn, [v.id for v in g.versions.values() if v.visible], edges)
    nodes: dict[str, TraceNode] = {}
    for node_id, d in sorted(g.depth.items(), key=lambda item: (item[1], item[0])):
        shown = alias.get(node_id, node_id)
        if shown in nodes:
            nodes[shown].depth = min(nodes[shown].depth, d)
            continue
        if shown.startswith("hidden:"):
            nodes[shown] = TraceNode(shown, "hidden", HIDDEN_LABEL, d)
        elif node_id.startswith("version:"):
            v = g.versions[int(node_id.split(":", 1)[1])]
            nodes[shown] = TraceNode(
                shown, "version", f"{v.ref.dag_id}.{v.ref.task_id}.{v.ref.name}", d, v.ref.dag_id, v.ref.task_id,
                v.ref.run_id, v.ref.started_at, v.ref.code_hash, v.ref.uri, v.ref,
                pii=(v.ref.dag_id, v.ref.task_id, v.ref.name) in pii, suspect=v.id in suspect,
            )
        elif node_id.startswith("try:"):
            t = g.tries[int(node_id.split(":", 1)[1])]
            mapped = f"[{t.map_index}]" if t.map_index >= 0 else ""
            nodes[shown] = TraceNode(
                shown, "try", f"{t.dag_id}.{t.task_id}{mapped} try {t.try_number}", d, t.dag_id, t.task_id,
                t.run_id, t.started_at, t.code_hash,
            )
        elif node_id.startswith("uri:") and (node_id in readable_ends or node_id == root):
            uri = node_id.split(":", 1)[1]
            nodes[shown] = TraceNode(shown, "external", uri, d, uri=uri)
    edges_out = [TraceEdge(s, t, kind) for s, t, kind in sorted(edges) if s in nodes and t in nodes]
    root = alias.get(root, root)
    return TraceResult(
        direction, root, list(nodes.values()), edges_out, depth, g.truncated,
        hidden=sum(1 for n in nodes.values() if n.kind == "hidden"),
    )


def _pii_identities(conn: Connection, versions: Sequence[VersionRow]) -> set[tuple[str, str, str]]:
    ds = Dataset.__table__
    dags = sorted({v.ref.dag_id for v in versions})
    found: set[tuple[str, str, str]] = set()
    for batch in batches(dags):
        for row in conn.execute(
            select(ds.c.dag_id, ds.c.task_id, ds.c.name).where(ds.c.dag_id.in_(batch), ds.c.has_pii.is_(True))
        ):
            found.add((row.dag_id, row.task_id, row.name))
    return found


def _suspect_in(conn: Connection, output_ids: Sequence[int], edges: set[tuple[str, str, str]]) -> set[int]:
    """Versions of the graph with an open flag, or downstream of one in the graph and not
    yet cleared under it (the graph's part of :func:`ddtrack.queries.flags.suspects`)."""
    fl, rv = Flag.__table__, Review.__table__
    flags: dict[int, int] = {}
    for batch in batches(output_ids, 500):
        for r in conn.execute(select(fl.c.id, fl.c.output_id).where(fl.c.output_id.in_(batch), fl.c.reviewed_at.is_(None))):
            flags[int(r.id)] = int(r.output_id)
    if not flags:
        return set()
    cleared: set[tuple[int, int]] = set()
    for batch in batches(sorted(flags), 500):
        cleared |= {
            (int(r.flag_id), int(r.output_id))
            for r in conn.execute(select(rv.c.flag_id, rv.c.output_id).where(rv.c.flag_id.in_(batch)))
        }
    pairs = [(s, t) for s, t, _ in edges]
    found = set(flags.values())
    for flag_id, flagged in flags.items():
        for node in neighbours(pairs, _vid(flagged))[1]:
            if node.startswith("version:") and (flag_id, int(node[8:])) not in cleared:
                found.add(int(node[8:]))
    return found


def walk(
    conn: Connection, output_id: int, *, allowed: Allowed, upstream: bool, depth: int = DEFAULT_DEPTH,
    max_nodes: int = MAX_NODES,
) -> _Graph | None:
    """The raw walk from one version (None if it is not stored or not readable), for the
    flags module: its versions keep their DAG's visibility and their depth in hops."""
    root = readable_version(conn, output_id, allowed)
    if root is None:
        return None
    return walk_from(conn, [root], allowed=allowed, upstream=upstream, depth=depth, max_nodes=max_nodes)


def walk_from(
    conn: Connection, roots: Sequence[VersionRow], *, allowed: Allowed, upstream: bool, depth: int = DEFAULT_DEPTH,
    max_nodes: int = MAX_NODES,
) -> _Graph:
    """One walk from several versions at once (a DAG's newest versions: what of one DAG is
    downstream of a flag), bounded as one walk is."""
    g = _Graph(max_nodes)
    start = []
    for v in roots:
        if g.add(_vid(v), 0):
            g.versions[v.id] = v
            start.append(v)
    (_walk_up if upstream else _walk_down)(conn, g, start, max(0, depth))
    g.mark(conn, allowed)
    return g


def trace(
    sources: Sources, output_id: int, *, allowed: Allowed, depth: int = DEFAULT_DEPTH, max_nodes: int = MAX_NODES
) -> TraceResult:
    """Where a version came from: the try that wrote it, the versions and external inputs
    that try read (across DAGs through URIs and Assets), and so on for ``depth`` hops.

    Raises :class:`UnknownVersion` if there is no such version the caller may read."""
    with store_conn(sources) as conn:
        g = walk(conn, output_id, allowed=allowed, upstream=True, depth=depth, max_nodes=max_nodes)
        if g is None:
            raise UnknownVersion(output_id)
        return _answer(conn, g, "upstream", _vid(output_id), depth)


def impact(
    sources: Sources,
    *,
    allowed: Allowed,
    output_id: int | None = None,
    dag_id: str | None = None,
    task_id: str | None = None,
    uri: str | None = None,
    tag: str | None = None,
    depth: int = DEFAULT_DEPTH,
    max_nodes: int = MAX_NODES,
) -> TraceResult:
    """Everything that consumed a version, across DAGs, and what those consumers wrote, for
    ``depth`` hops. The start is one of: an output version (``output_id``); a task
    (``dag_id`` + ``task_id``: the outputs of its newest run); an external URI (``uri``:
    every try that read it, newest first, up to ``max_nodes``); a tag (``"k"`` or
    ``"k=v"``: the newest version of every output so tagged, or of every output of a task
    so tagged). Raises :class:`UnknownNode` when the start matches nothing readable."""
    depth = max(0, depth)
    with store_conn(sources) as conn:
        g = _Graph(max_nodes)
        if output_id is not None:
            found = readable_version(conn, output_id, allowed)
            if found is None:
                raise UnknownVersion(output_id)
            start = [found]
            root = _vid(start[0])
        elif dag_id is not None and task_id is not None:
            start = _newest_versions_of_task(conn, dag_id, task_id, allowed)
            if not start:
                raise UnknownNode(f"{dag_id}.{task_id}")
            root = _vid(start[0])
        elif uri is not None:
            readers = _readers_of_uri(conn, uri, max_nodes)
            tries, written = tries_with_outputs(conn, readers)
            root = f"uri:{uri}"
            g.add(root, 0)
            g.externals.add(uri)
            new_tries = []
            for try_id in readers:
                t = tries.get(try_id)
                if t is not None and g.add(_tid(t), 1):
                    g.tries[t.id] = t
                    new_tries.append(t)
                    g.edges.add((root, _tid(t), "read"))
            if depth == 0:
                g.truncated = bool(new_tries)
            else:
                _walk_down(conn, g, _add_outputs(g, new_tries, written, 1), depth, hop=1)
            g.mark(conn, allowed)
            return _answer(conn, g, "downstream", root, depth)
        elif tag is not None:
            start = _newest_versions_with_tag(conn, tag, allowed, max_nodes)
            if not start:
                raise UnknownNode(tag)
            root = _vid(start[0])
        else:
            raise ValueError("impact needs an output_id, a dag_id and task_id, a uri or a tag")
        for v in start:
            if g.add(_vid(v), 0):
                g.versions[v.id] = v
        _walk_down(conn, g, start, depth)
        g.mark(conn, allowed)
        return _answer(conn, g, "downstream", root, depth)


def _newest_versions_of_task(conn: Connection, dag_id: str, task_id: str, allowed: Allowed) -> list[VersionRow]:
    r = TaskRun.__table__
    newest = conn.execute(
        select(r.c.run_id)
        .where(one_dag(r.c.dag_id, dag_id, allowed), r.c.task_id == task_id)
        .order_by(r.c.started_at.desc())
        .limit(1)
    ).first()
    if newest is None:
        return []
    rows = conn.execute(
        version_select().where(r.c.dag_id == dag_id, r.c.task_id == task_id, r.c.run_id == newest.run_id)
    ).all()
    return sorted(newest_tries_only(version_row(row) for row in rows), key=lambda v: (v.map_index, v.ref.name))


def _newest_versions_with_tag(conn: Connection, tag: str, allowed: Allowed, limit: int) -> list[VersionRow]:
    """The newest version of each output tagged ``tag`` (an output's tag, or its task's),
    read through the catalog's tag entries and each dataset's newest version."""
    key, _, value = tag.partition("=")
    cat, ds = CatalogEntry.__table__, Dataset.__table__
    text = cat.c.text == tag if "=" in tag else cat.c.text.like(escape_like(key) + "=%", escape="\\")
    entries = conn.execute(
        select(cat.c.dag_id, cat.c.task_id, cat.c.output_name)
        .where(cat.c.kind == "tag", text, dag_filter(cat.c.dag_id, allowed))
        .order_by(cat.c.dag_id, cat.c.task_id, cat.c.output_name)
        .limit(limit)
    ).all()
    if not entries:
        return []
    latest: list[int] = []
    for batch in batches(entries, 100):
        match = or_(
            *(
                and_(ds.c.dag_id == e.dag_id, ds.c.task_id == e.task_id, *((ds.c.name == e.output_name,) if e.output_name else ()))
                for e in batch
            )
        )
        latest += [
            int(r.latest_output_id)
            for r in conn.execute(select(ds.c.latest_output_id).where(match, dag_filter(ds.c.dag_id, allowed)))
            if r.latest_output_id is not None
        ]
    found = versions_by_id(conn, latest)
    return [found[i] for i in sorted(found)]

