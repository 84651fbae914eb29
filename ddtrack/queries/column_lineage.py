"""Column lineage across tasks and DAGs: where a column of an output version comes from
(upstream), what derives from it (downstream), and a column's neighbours by identity.

A node is one column of one output version. Upstream, the try that wrote the version has
``ddtrack_column_lineage`` rows for the column, each naming an input (an upstream task's
output, a URI, an Asset) and one of its columns; the input resolves to the exact version
the try read as output lineage resolves it (:func:`ddtrack.queries.versions.resolve`).
Downstream, the consumers of a version (:func:`ddtrack.queries.trace.consumer_tries`) have
rows naming it as their input and the column as theirs.

Each hop costs a fixed number of set-based statements for the whole frontier, in bounded
batches; ``depth`` (hops) and ``max_nodes`` bound the walk and set ``truncated``. The walk
passes through DAGs the caller may not read; which DAGs those are is asked in SQL once
(:func:`~ddtrack.queries.versions.mark_readable`), and their columns are counted
(``hidden``), never named.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, one_dag
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.trace import DEFAULT_DEPTH, HIDDEN_LABEL, MAX_NODES, consumer_tries
from ddtrack.queries.types import ColumnNode, ColumnTrace
from ddtrack.queries.versions import (
    UnknownVersion,
    VersionRow,
    batches,
    mark_readable,
    readable_version,
    resolve,
    tries_with_outputs,
    versions_by_id,
)
from ddtrack.store.models import ColumnLineage, ColumnProfile, Dataset, Lineage

Key = tuple[int, str]  # (output version id, column)


class UnknownColumn(LookupError):
    """An output version the caller may read has no such column."""

    def __init__(self, column: str) -> None:
        super().__init__(f"the output has no column {column!r}")
        self.column = column


class _Walk:
    """The columns a walk found, before it is answered."""

    def __init__(self, max_nodes: int) -> None:
        self.versions: dict[int, VersionRow] = {}
        self.hops: dict[Key, int] = {}
        self.how: dict[Key, str] = {}
        self.externals: dict[tuple[str, str], int] = {}  # (uri, column) -> hops
        self.edges: set[tuple[str, str, str]] = set()
        self.max_nodes = max_nodes
        self.truncated = False

    def add(self, v: VersionRow, column: str, hops: int, how: str | None) -> bool:
        key = (v.id, column)
        if key in self.hops:
            return False
        if len(self.hops) + len(self.externals) >= self.max_nodes:
            self.truncated = True
            return False
        self.versions.setdefault(v.id, v)
        self.hops[key] = hops
        if how:
            self.how[key] = how
        return True


def _cid(v: VersionRow | int, column: str) -> str:
    return f"column:{v if isinstance(v, int) else v.id}:{column}"


def _eid(uri: str, column: str) -> str:
    return f"external:{uri}:{column}"


# -- upstream -------------------------------------------------------------------------------


def _rows_of_columns(conn: Connection, frontier: Sequence[tuple[VersionRow, str]]) -> list[Any]:
    """The column lineage rows of each (version, column) of ``frontier``: its try's, for it."""
    cl = ColumnLineage.__table__
    keys = sorted({(v.task_run_id, v.ref.name, column) for v, column in frontier})
    rows = []
    for batch in batches(keys, 100):
        rows += conn.execute(
            select(cl.c.task_run_id, cl.c.output_name, cl.c.column_name, cl.c.input_kind, cl.c.input_uri,
                   cl.c.upstream_task_id, cl.c.upstream_output, cl.c.input_column, cl.c.how)
            .where(tuple_(cl.c.task_run_id, cl.c.output_name, cl.c.column_name).in_(batch))
        ).all()
    return rows


def _matches(row: Any, use: Any) -> bool:
    """Whether a column lineage row's input is the resolved input ``use`` of the same try."""
    if row.input_kind == "task":
        return use.kind == "task" and use._row is not None and (use._row.ref.task_id, use._row.ref.name) == (
            row.upstream_task_id, row.upstream_output
        )
    return use.kind != "task" and use.uri == row.input_uri


def _walk_up(conn: Connection, w: _Walk, frontier: list[tuple[VersionRow, str]], depth: int) -> None:
    hop = 0
    while frontier:
        rows = _rows_of_columns(conn, frontier)
        if not rows:
            return
        if hop >= depth:
            w.truncated = True
            return
        hop += 1
        tries = {v.task_run_id: v.try_row() for v, _ in frontier}
        uses = resolve(conn, list(tries.values()))
        by_key: dict[tuple[int, str, str], list[VersionRow]] = defaultdict(list)
        for v, column in frontier:
            by_key[(v.task_run_id, v.ref.name, column)].append(v)
        next_frontier = []
        for row in rows:
            for v in by_key.get((int(row.task_run_id), row.output_name, row.column_name), ()):
                target = _cid(v, row.column_name)
                for use in uses.get(v.task_run_id, ()):
                    if not _matches(row, use):
                        continue
                    if use._row is None:  # a URI no tracked task wrote before: an external column
                        key = (use.uri, row.input_column)
                        if key not in w.externals and len(w.hops) + len(w.externals) < w.max_nodes:
                            w.externals[key] = hop
                        if key in w.externals:
                            w.edges.add((_eid(*key), target, row.how))
                        continue
                    source = w.versions.get(use._row.id, use._row)
                    if w.add(source, row.input_column, hop, row.how):
                        next_frontier.append((source, row.input_column))
                    if (source.id, row.input_column) in w.hops:
                        w.edges.add((_cid(source, row.input_column), target, row.how))
        frontier = next_frontier


# -- downstream -----------------------------------------------------------------------------


def asset_outlets(conn: Connection, try_ids: Iterable[int]) -> dict[int, set[str]]:
    """The Asset URIs each try wrote (its outlets): what else its outputs are read by."""
    lin = Lineage.__table__
    found: dict[int, set[str]] = defaultdict(set)
    for batch in batches(sorted(set(try_ids))):
        for row in conn.execute(
            select(lin.c.task_run_id, lin.c.uri).where(
                lin.c.task_run_id.in_(batch), lin.c.direction == "output", lin.c.kind == "asset"
            )
        ):
            if row.uri:
                found[int(row.task_run_id)].add(row.uri)
    return found


def _asset_uris(conn: Connection, versions: Iterable[VersionRow]) -> dict[int, set[str]]:
    """The URIs each version stands for: its own, and the Assets its try wrote."""
    versions = list(versions)
    outlets = asset_outlets(conn, {v.task_run_id for v in versions})
    return {v.id: ({v.ref.uri} if v.ref.uri else set()) | outlets.get(v.task_run_id, set()) for v in versions}


def _reads_version(row: Any, v: VersionRow, uris: set[str]) -> bool:
    """Whether a consumer's column lineage row names version ``v`` as its input."""
    if row.input_kind == "task":
        return (row.dag_id, row.run_id, row.upstream_task_id, row.upstream_output) == (
            v.ref.dag_id, v.ref.run_id, v.ref.task_id, v.ref.name
        )
    return row.input_uri in uris


def _walk_down(conn: Connection, w: _Walk, frontier: list[tuple[VersionRow, str]], depth: int) -> None:
    cl = ColumnLineage.__table__
    hop = 0
    while frontier:
        versions = {v.id: v for v, _ in frontier}
        consumers = consumer_tries(conn, list(versions.values()), max(0, w.max_nodes - len(w.hops)))
        try_ids = sorted({t for ts in consumers.values() for t in ts})
        columns = sorted({column for _, column in frontier})
        rows = []
        for batch in batches(try_ids, 100):
            for names in batches(columns, 100):
                rows += conn.execute(
                    select(cl.c.task_run_id, cl.c.dag_id, cl.c.run_id, cl.c.output_name, cl.c.column_name,
                           cl.c.input_kind, cl.c.input_uri, cl.c.upstream_task_id, cl.c.upstream_output,
                           cl.c.input_column, cl.c.how)
                    .where(cl.c.task_run_id.in_(batch), cl.c.input_column.in_(names))
                ).all()
        if not rows:
            return
        if hop >= depth:
            w.truncated = True
            return
        hop += 1
        uris = _asset_uris(conn, versions.values())
        _, written = tries_with_outputs(conn, {int(r.task_run_id) for r in rows})
        output_of = {(v.task_run_id, v.ref.name): v for v in written}
        next_frontier = []
        for v, column in frontier:
            readers = consumers.get(v.id, set())
            for row in rows:
                if row.input_column != column or int(row.task_run_id) not in readers:
                    continue
                if not _reads_version(row, v, uris.get(v.id, set())):
                    continue
                target = output_of.get((int(row.task_run_id), row.output_name))
                if target is None:
                    continue
                target = w.versions.get(target.id, target)
                if w.add(target, row.column_name, hop, row.how):
                    next_frontier.append((target, row.column_name))
                if (target.id, row.column_name) in w.hops:
                    w.edges.add((_cid(v, column), _cid(target, row.column_name), row.how))
        frontier = next_frontier


# -- answering ------------------------------------------------------------------------------


def _answer(w: _Walk, direction: str, root: Key, depth: int) -> ColumnTrace:
    """The walk as an answer: each column of a DAG the caller may not read becomes a hidden
    node (a counter, nothing else), edges between hidden nodes are dropped."""
    alias: dict[str, str] = {}
    nodes: list[ColumnNode] = []
    for (vid, column), hops in sorted(w.hops.items(), key=lambda item: (item[1], item[0])):
        v = w.versions[vid]
        node_id = _cid(vid, column)
        if not v.visible:
            alias[node_id] = f"hidden:{len(alias) + 1}"
            nodes.append(ColumnNode(alias[node_id], "hidden", hops, column=HIDDEN_LABEL))
            continue
        r = v.ref
        nodes.append(ColumnNode(
            node_id, "column", hops, column=column, dag_id=r.dag_id, task_id=r.task_id, run_id=r.run_id,
            output=r.name, output_id=v.id, started_at=r.started_at, uri=r.uri, how=w.how.get((vid, column)),
        ))
    edges = set()
    for s, t, how in w.edges:
        s2, t2 = alias.get(s, s), alias.get(t, t)
        if not (s2.startswith("hidden:") and t2.startswith("hidden:")):
            edges.add((s2, t2, how))
    # An external column read only by hidden columns would say something of them: left out.
    shown_externals = {s for s, t, _ in edges if s.startswith("external:") and not t.startswith("hidden:")}
    for (uri, column), hops in sorted(w.externals.items(), key=lambda item: (item[1], item[0])):
        if _eid(uri, column) in shown_externals:
            nodes.append(ColumnNode(_eid(uri, column), "external", hops, column=column, uri=uri))
    shown = {n.id for n in nodes}
    return ColumnTrace(
        direction, _cid(*root), nodes, sorted(e for e in edges if e[0] in shown and e[1] in shown), depth,
        w.truncated, hidden=sum(1 for n in nodes if n.kind == "hidden"),
    )


def _has_column(conn: Connection, output_id: int, column: str) -> bool:
    col = ColumnProfile.__table__
    found = conn.execute(select(col.c.id).where(col.c.output_id == output_id, col.c.name == column).limit(1)).first()
    return found is not None


def walk_columns(
    conn: Connection, roots: Sequence[tuple[VersionRow, str]], *, allowed: Allowed, upstream: bool,
    depth: int = DEFAULT_DEPTH, max_nodes: int = MAX_NODES,
) -> _Walk:
    """One walk from several (version, column) at once, bounded as one walk is; its
    versions marked readable or not."""
    w = _Walk(max_nodes)
    start = [(v, column) for v, column in roots if w.add(v, column, 0, None)]
    (_walk_up if upstream else _walk_down)(conn, w, start, max(0, depth))
    mark_readable(conn, w.versions.values(), allowed)
    return w


def trace_column(
    sources: Sources, output_id: int, column: str, *, allowed: Allowed, upstream: bool = True,
    depth: int = DEFAULT_DEPTH, max_nodes: int = MAX_NODES,
) -> ColumnTrace:
    """Every column a column of one output version comes from (``upstream``), or every
    column that derives from it (downstream), across tasks and DAGs, for ``depth`` hops.

    Raises :class:`UnknownVersion` (no such version the caller may read) or
    :class:`UnknownColumn` (the version has no such column)."""
    with store_conn(sources) as conn:
        root = readable_version(conn, output_id, allowed)
        if root is None:
            raise UnknownVersion(output_id)
        if not _has_column(conn, root.id, column):
            raise UnknownColumn(column)
        w = walk_columns(conn, [(root, column)], allowed=allowed, upstream=upstream, depth=depth, max_nodes=max_nodes)
    return _answer(w, "upstream" if upstream else "downstream", (root.id, column), depth)


def column_neighbours(
    sources: Sources, dag_id: str, task_id: str, output: str, column: str, *, allowed: Allowed,
    depth: int = DEFAULT_DEPTH, max_nodes: int = 200,
) -> tuple[ColumnTrace, ColumnTrace] | None:
    """A column by identity (the catalog's column page): the upstream and downstream columns
    of its newest version, across DAGs. None if the caller may not read it or it has none."""
    ds = Dataset.__table__
    with store_conn(sources) as conn:
        latest = conn.execute(
            select(ds.c.latest_output_id).where(
                one_dag(ds.c.dag_id, dag_id, allowed), ds.c.task_id == task_id, ds.c.name == output
            )
        ).scalar()
        if latest is None:
            return None
        root = versions_by_id(conn, [int(latest)]).get(int(latest))
        if root is None or not _has_column(conn, root.id, column):
            return None
        up = walk_columns(conn, [(root, column)], allowed=allowed, upstream=True, depth=depth, max_nodes=max_nodes)
        down = walk_columns(conn, [(root, column)], allowed=allowed, upstream=False, depth=depth, max_nodes=max_nodes)
    key = (root.id, column)
    return _answer(up, "upstream", key, depth), _answer(down, "downstream", key, depth)


def columns_of_version(sources: Sources, output_id: int, *, allowed: Allowed, limit: int = 500) -> list[str]:
    """The column names of an output version the caller may read, in order (at most
    ``limit``): what the trace page offers to follow."""
    col = ColumnProfile.__table__
    with store_conn(sources) as conn:
        if readable_version(conn, output_id, allowed) is None:
            return []
        rows = conn.execute(select(col.c.name).where(col.c.output_id == output_id).order_by(col.c.position).limit(limit))
        return [r.name for r in rows]
