"""The DAG page's lineage: tasks, their outputs, data edges, external inputs and linked DAGs.

Every query here takes ``allowed`` (:mod:`ddtrack.queries.access`): a DAG the caller may not
read does not exist here, and a linked DAG the caller may not read is only ever counted.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, may_read, one_dag
from ddtrack.queries.graph import dedupe_edges
from ddtrack.queries.sources import Sources, has_metastore, meta_conn, reading_metastore, store_conn
from ddtrack.queries.types import GraphEdge, GraphNode, LineageGraph
from ddtrack.queries.versions import batches
from ddtrack.store.airflow_tables import DAG_RUN, SERIALIZED_DAG
from ddtrack.store.models import Lineage, Output, TaskRun


def task_node_id(dag_id: str, task_id: str) -> str:
    return f"task::{dag_id}::{task_id}"


def output_node_id(dag_id: str, task_id: str, name: str) -> str:
    return f"output::{dag_id}::{task_id}::{name}"


def dag_exists(sources: Sources, dag_id: str, *, allowed: Allowed) -> bool:
    """Whether Airflow or ddtrack knows ``dag_id`` and the caller may read it.

    Raises :class:`~ddtrack.queries.sources.MetastoreUnavailable` when the configured
    metastore does not answer.
    """
    with store_conn(sources) as conn:
        run = TaskRun.__table__
        if conn.execute(select(run.c.id).where(one_dag(run.c.dag_id, dag_id, allowed)).limit(1)).first():
            return True
    if not has_metastore(sources):
        return False
    with reading_metastore("read Airflow's DAG runs"), meta_conn(sources) as conn:
        return (
            conn.execute(
                select(DAG_RUN.c.id).where(one_dag(DAG_RUN.c.dag_id, dag_id, allowed)).limit(1)
            ).first()
            is not None
        )


@dataclass
class SerializedShape:
    """What the page needs of a serialized DAG: its tasks, their dependencies and task groups."""

    task_ids: list[str] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)
    group_of: dict[str, str] = field(default_factory=dict)  # task -> innermost task group
    parent_group: dict[str, str | None] = field(default_factory=dict)  # task group -> its parent


SHAPES_KEPT = 16
_shapes: OrderedDict[tuple[str, str, str], SerializedShape] = OrderedDict()
_shapes_lock = threading.Lock()


def serialized_dag(sources: Sources, dag_id: str, *, allowed: Allowed) -> SerializedShape:
    """Tasks, dependency edges and task groups of the DAG's newest serialized version (empty
    without a metastore; :class:`~ddtrack.queries.sources.MetastoreUnavailable` if it does
    not answer).

    A parsed shape is kept per serialized version (``dag_hash``, which Airflow changes with
    the DAG's content): a 5,000-task DAG's JSON costs tens of milliseconds and some
    hundred thousand objects to parse, and changes only when its file does.
    """
    if not has_metastore(sources):
        return SerializedShape()
    sd = SERIALIZED_DAG
    newest = select(sd.c.dag_hash).where(one_dag(sd.c.dag_id, dag_id, allowed)).order_by(sd.c.created_at.desc()).limit(1)
    with reading_metastore("read Airflow's serialized DAG"), meta_conn(sources) as conn:
        version = conn.execute(newest).scalar()
        if version is None:
            return SerializedShape()
        key = (sources.metastore_url, dag_id, str(version))
        with _shapes_lock:
            if key in _shapes:
                _shapes.move_to_end(key)
                return _shapes[key]
        row = conn.execute(
            select(sd.c.data, sd.c.data_compressed).where(sd.c.dag_id == dag_id, sd.c.dag_hash == version).limit(1)
        ).first()
    shape = _parse_shape(row)
    with _shapes_lock:
        _shapes[key] = shape
        while len(_shapes) > SHAPES_KEPT:
            _shapes.popitem(last=False)
    return shape


def _parse_shape(row: Any) -> SerializedShape:
    """The tasks, edges and groups of one serialized_dag row (``data`` or ``data_compressed``)."""
    if row is None:
        return SerializedShape()
    data = row.data
    if data is None and row.data_compressed is not None:
        data = json.loads(zlib.decompress(row.data_compressed))
    if isinstance(data, str):
        data = json.loads(data)
    dag = (data or {}).get("dag") or {}
    shape = SerializedShape()
    for task in dag.get("tasks") or []:
        fields = task.get("__var", task) if isinstance(task, dict) else {}
        task_id = fields.get("task_id")
        if not task_id:
            continue
        shape.task_ids.append(task_id)
        for downstream in fields.get("downstream_task_ids") or []:
            shape.edges.append((task_id, downstream))
    _read_task_groups(dag.get("task_group"), shape)
    return shape


def _read_task_groups(root: Any, shape: SerializedShape) -> None:
    """Walk Airflow's serialized task group tree (``children``: label -> ``["operator",
    task_id]`` or ``["taskgroup", {...}]``) without recursion; the root group has no id."""
    todo: list[tuple[Any, str | None]] = [(root, None)]
    while todo:
        group, parent = todo.pop()
        if not isinstance(group, dict):
            continue
        group_id = group.get("_group_id")
        if isinstance(group_id, str) and group_id:
            shape.parent_group[group_id] = parent
        else:
            group_id = None
        for child in (group.get("children") or {}).values():
            if not (isinstance(child, list | tuple) and len(child) == 2):
                continue
            kind, payload = child
            if kind == "taskgroup":
                todo.append((payload, group_id))
            elif kind == "operator" and isinstance(payload, str) and group_id:
                shape.group_of[payload] = group_id


RECENT_TRIES = 500


MAX_TASK_LOOKUPS = 200
WHOLE_RUN_ABOVE = 50  # tasks of one run: above this, the run's tries are read whole, not by an id list


def _latest_tries(conn: Connection, dag_id: str, allowed: Allowed, task_ids: Sequence[str] = ()) -> list[Any]:
    """Each task's newest tracked run: the newest try of every instance (map index) in it.

    The DAG's newest tries come from the ``(dag_id, started_at)`` index; a task not among
    them (it has not run lately) gets one ``LIMIT 1`` look-up on the history index. The
    cost follows the number of tasks, not the DAG's history. A run that holds many of the
    tasks (a 5,000-task DAG's last run) is read whole by its key rather than through a
    list of thousands of task ids, which the database would parse and plan each time.
    """
    run = TaskRun.__table__
    columns = (
        run.c.id,
        run.c.task_id,
        run.c.run_id,
        run.c.map_index,
        run.c.try_number,
        run.c.state,
        run.c.tracked,
    )
    this_dag = one_dag(run.c.dag_id, dag_id, allowed)
    recent = conn.execute(
        select(run.c.task_id, run.c.run_id)
        .where(this_dag)
        .order_by(run.c.started_at.desc())
        .limit(max(RECENT_TRIES, 2 * len(task_ids)))  # a 5,000-task DAG's last run fits
    ).all()
    latest_run: dict[str, str] = {}
    for r in recent:
        latest_run.setdefault(r.task_id, r.run_id)
    for task_id in [t for t in task_ids if t not in latest_run][:MAX_TASK_LOOKUPS]:
        found = conn.execute(
            select(run.c.run_id)
            .where(this_dag, run.c.task_id == task_id)
            .order_by(run.c.started_at.desc())
            .limit(1)
        ).first()
        if found is not None:
            latest_run[task_id] = found.run_id
    if not latest_run:
        return []
    by_run: dict[str, list[str]] = defaultdict(list)
    for task_id, run_id in latest_run.items():
        by_run[run_id].append(task_id)
    rows = []
    for run_id, tasks in by_run.items():
        query = select(*columns).where(this_dag, run.c.run_id == run_id)
        if len(tasks) <= WHOLE_RUN_ABOVE:
            query = query.where(run.c.task_id.in_(tasks))
        rows += [r for r in conn.execute(query) if latest_run.get(r.task_id) == run_id]
    newest: dict[tuple[str, int], Any] = {}
    for r in rows:
        key = (r.task_id, r.map_index)
        if key not in newest or r.try_number > newest[key].try_number:
            newest[key] = r
    return list(newest.values())


def _of_tries(conn: Connection, table: Any, columns: Sequence[Any], dag_id: str, tries: list[Any]) -> list[Any]:
    """Rows of ``table`` (outputs, lineage) written by ``tries``. A run holding many of them
    (a 5,000-task DAG's newest run) is read by its key, not by a list of thousands of ids,
    and kept for those tries only; the few tries of other runs (tasks that did not run
    lately) by id, so an old run is never read whole for one task."""
    run = TaskRun.__table__
    by_run: dict[str, list[int]] = defaultdict(list)
    for r in tries:
        by_run[r.run_id].append(r.id)
    whole = sorted(run_id for run_id, ids in by_run.items() if len(ids) > WHOLE_RUN_ABOVE)
    by_id = sorted(i for run_id, ids in by_run.items() if len(ids) <= WHOLE_RUN_ABOVE for i in ids)
    query = select(table.c.task_run_id, *columns)
    rows: list[Any] = []
    if whole:
        of_runs = select(run.c.id).where(run.c.dag_id == dag_id, run.c.run_id.in_(whole))
        wanted = {r.id for r in tries}
        rows += [r for r in conn.execute(query.where(table.c.task_run_id.in_(of_runs))) if r.task_run_id in wanted]
    for batch in batches(by_id, 500):
        rows += conn.execute(query.where(table.c.task_run_id.in_(batch))).all()
    return rows


def lineage_graph(sources: Sources, dag_id: str, *, allowed: Allowed) -> LineageGraph:
    """Tasks and their outputs, dependency and data edges, external inputs and linked DAGs.

    Linked DAGs the caller may read appear by name; the others as one count per shared
    URI ("2 tasks in DAGs you cannot read"), with nothing that names them. Empty for a
    DAG the caller may not read.
    """
    shape = serialized_dag(sources, dag_id, allowed=allowed)
    group_of = shape.group_of
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []

    def task_node(task_id: str) -> GraphNode:
        node_id = task_node_id(dag_id, task_id)
        node = nodes.get(node_id)
        if node is None:
            node = nodes[node_id] = GraphNode(node_id, "task", task_id, dag_id, task_id, group=group_of.get(task_id))
        return node

    for task_id in shape.task_ids:
        task_node(task_id)
    for up, down in shape.edges:
        edges.append(GraphEdge(task_node_id(dag_id, up), task_node_id(dag_id, down), "dependency"))
    out, lin = Output.__table__, Lineage.__table__
    with store_conn(sources) as conn:
        latest = _latest_tries(conn, dag_id, allowed, shape.task_ids)
        for r in latest:
            node = task_node(r.task_id)
            if node.state != "failed":  # one failed mapped instance marks the task
                node.state = r.state
            node.tracked = bool(r.tracked) or node.tracked
        outputs = _of_tries(conn, out, (out.c.task_id, out.c.name, out.c.rows, out.c.uri), dag_id, latest)
        state_of = {r.id: r.state for r in latest}
        by_output: dict[str, GraphNode] = {}
        for o in outputs:
            oid = output_node_id(dag_id, o.task_id, o.name)
            node = by_output.get(oid)
            if node is None:
                node = by_output[oid] = GraphNode(
                    oid, "output", o.name, dag_id, o.task_id, state_of.get(o.task_run_id), None, True, o.uri,
                    group=group_of.get(o.task_id),
                )
                edges.append(GraphEdge(task_node_id(dag_id, o.task_id), oid, "produces"))
            if o.rows is not None:  # mapped instances add up
                node.rows = (node.rows or 0) + int(o.rows)
        nodes.update(by_output)
        lineage = _of_tries(
            conn,
            lin,
            (lin.c.task_id, lin.c.direction, lin.c.kind, lin.c.name, lin.c.uri, lin.c.upstream_task_id, lin.c.upstream_output),
            dag_id,
            latest,
        )
        _add_lineage_edges(conn, dag_id, allowed, nodes, edges, lineage)
    return LineageGraph(dag_id, list(nodes.values()), dedupe_edges(edges), groups=shape.parent_group)


def _add_lineage_edges(
    conn: Connection, dag_id: str, allowed: Allowed, nodes: dict[str, GraphNode], edges: list[GraphEdge], lineage
) -> None:
    uris_in: set[str] = set()
    uris_out: set[str] = set()
    for item in lineage:
        target = task_node_id(dag_id, item.task_id)
        if item.kind == "task" and item.upstream_task_id:
            source = output_node_id(dag_id, item.upstream_task_id, item.upstream_output or "return_value")
            if source not in nodes:
                source = task_node_id(dag_id, item.upstream_task_id)
            edges.append(GraphEdge(source, target, "data"))
        elif item.uri and item.direction == "input":
            uris_in.add(item.uri)
            ext = f"uri::{item.uri}"
            nodes.setdefault(ext, GraphNode(ext, "external", item.name or item.uri, dag_id, uri=item.uri))
            edges.append(GraphEdge(ext, target, "uri"))
        elif item.uri and item.direction == "output":
            uris_out.add(item.uri)
    if uris_in or uris_out:
        _add_cross_dag_edges(conn, dag_id, allowed, uris_in, uris_out, nodes, edges)


def _add_cross_dag_edges(
    conn: Connection,
    dag_id: str,
    allowed: Allowed,
    uris_in: set[str],
    uris_out: set[str],
    nodes: dict[str, GraphNode],
    edges: list[GraphEdge],
) -> None:
    """Other DAGs that write what this DAG reads, or read what it writes: readable ones by
    name, unreadable ones counted per URI and direction."""
    lin = Lineage.__table__
    linked = or_(
        and_(lin.c.direction == "output", lin.c.uri.in_(sorted(uris_in))),
        and_(lin.c.direction == "input", lin.c.uri.in_(sorted(uris_out))),
    )
    others = conn.execute(
        select(lin.c.dag_id, lin.c.task_id, lin.c.direction, lin.c.uri)
        .where(linked, lin.c.dag_id != dag_id, dag_filter(lin.c.dag_id, allowed))
        .group_by(lin.c.dag_id, lin.c.task_id, lin.c.direction, lin.c.uri)
        .limit(200)
    ).all()
    pairs = (
        select(lin.c.uri, lin.c.direction, lin.c.dag_id, lin.c.task_id)
        .where(linked, lin.c.dag_id != dag_id, dag_hidden(lin.c.dag_id, allowed))
        .group_by(lin.c.uri, lin.c.direction, lin.c.dag_id, lin.c.task_id)
        .subquery()
    )
    hidden = conn.execute(
        select(pairs.c.uri, pairs.c.direction, func.count()).group_by(pairs.c.uri, pairs.c.direction)
    ).all()

    def link(node_id: str, direction: str, uri: str) -> None:
        if direction == "output":  # it writes what this DAG reads
            edges.append(GraphEdge(node_id, f"uri::{uri}", "cross_dag"))
        else:  # it reads what this DAG writes
            producer = next((n.id for n in nodes.values() if n.kind == "output" and n.uri == uri), None)
            edges.append(GraphEdge(producer or f"uri::{uri}", node_id, "cross_dag"))

    for o in others:
        other = f"dag::{o.dag_id}::{o.task_id}"
        nodes.setdefault(
            other, GraphNode(other, "dag", f"{o.dag_id}.{o.task_id}", o.dag_id, o.task_id, uri=o.uri)
        )
        link(other, o.direction, o.uri)
    for uri, direction, count in hidden:
        node_id = f"hidden::{direction}::{uri}"
        nodes[node_id] = GraphNode(node_id, "hidden", hidden_label(int(count)), dag_id, uri=uri)
        link(node_id, direction, uri)


def hidden_label(count: int) -> str:
    """What a page says of tasks in DAGs the user may not read: how many, nothing more."""
    return "1 task in a DAG you cannot read" if count == 1 else f"{count} tasks in DAGs you cannot read"


MAX_HOPS = 10
MAX_LINK_ROWS = 500  # per hop and direction: the walk stays bounded on any history


def linked_dags(sources: Sources, dag_id: str, hops: int, *, allowed: Allowed) -> LineageGraph:
    """DAGs joined to ``dag_id`` through shared datasets (URIs and Assets), hop by hop.

    Hop 1 is every DAG that reads what ``dag_id`` writes or writes what it reads; hop 2 the
    same for those DAGs, and so on up to ``hops`` (at most :data:`MAX_HOPS`). Nodes are
    whole DAGs (``dag::<id>``) and datasets (``uri::<uri>``). A DAG the caller may not read
    is never walked through nor named: each dataset gets one "N DAGs you cannot read"
    node, and the graph's ``hidden_dags`` counts them. Empty for an unreadable ``dag_id``.
    """
    if not may_read(dag_id, allowed):
        return LineageGraph(dag_id, [], [])
    lin = Lineage.__table__
    dataset = and_(lin.c.kind.in_(("uri", "asset")), lin.c.uri.is_not(None))
    nodes: dict[str, GraphNode] = {
        f"dag::{dag_id}": GraphNode(f"dag::{dag_id}", "dag", dag_id, dag_id, tracked=True)
    }
    edges: list[GraphEdge] = []
    seen_uris: set[str] = set()
    hidden_by: dict[tuple[str, str], int] = {}
    frontier = [dag_id]
    with store_conn(sources) as conn:
        for hop in range(1, max(1, min(hops, MAX_HOPS)) + 1):
            rows = conn.execute(
                select(lin.c.dag_id, lin.c.direction, lin.c.uri, lin.c.name)
                .where(dataset, lin.c.dag_id.in_(frontier), dag_filter(lin.c.dag_id, allowed))
                .group_by(lin.c.dag_id, lin.c.direction, lin.c.uri, lin.c.name)
                .limit(MAX_LINK_ROWS)
            ).all()
            new_uris: dict[str, str] = {}
            for r in rows:
                uri_node = f"uri::{r.uri}"
                nodes.setdefault(uri_node, GraphNode(uri_node, "external", r.name or r.uri, dag_id, uri=r.uri, hop=hop))
                pair = (f"dag::{r.dag_id}", uri_node) if r.direction == "output" else (uri_node, f"dag::{r.dag_id}")
                edges.append(GraphEdge(*pair, "cross_dag"))
                if r.uri not in seen_uris:
                    new_uris[r.uri] = r.direction
            seen_uris.update(new_uris)
            if not new_uris:
                break
            linked = or_(
                and_(lin.c.direction == "input", lin.c.uri.in_([u for u, d in new_uris.items() if d == "output"])),
                and_(lin.c.direction == "output", lin.c.uri.in_([u for u, d in new_uris.items() if d == "input"])),
            )
            others = conn.execute(
                select(lin.c.dag_id, lin.c.direction, lin.c.uri)
                .where(dataset, linked, dag_filter(lin.c.dag_id, allowed))
                .group_by(lin.c.dag_id, lin.c.direction, lin.c.uri)
                .limit(MAX_LINK_ROWS)
            ).all()
            hidden_pairs = (
                select(lin.c.uri, lin.c.direction, lin.c.dag_id)
                .where(dataset, linked, dag_hidden(lin.c.dag_id, allowed))
                .group_by(lin.c.uri, lin.c.direction, lin.c.dag_id)
                .subquery()
            )
            for uri, direction, count in conn.execute(
                select(hidden_pairs.c.uri, hidden_pairs.c.direction, func.count()).group_by(
                    hidden_pairs.c.uri, hidden_pairs.c.direction
                )
            ).all():
                hidden_by[(uri, direction)] = int(count)
            frontier = []
            for o in others:
                other = f"dag::{o.dag_id}"
                if other not in nodes:
                    nodes[other] = GraphNode(other, "dag", o.dag_id, o.dag_id, hop=hop)
                    frontier.append(o.dag_id)
                pair = (other, f"uri::{o.uri}") if o.direction == "output" else (f"uri::{o.uri}", other)
                edges.append(GraphEdge(*pair, "cross_dag"))
            if not frontier:
                break
    for (uri, direction), count in hidden_by.items():
        node_id = f"hidden::{direction}::{uri}"
        label = "1 DAG you cannot read" if count == 1 else f"{count} DAGs you cannot read"
        nodes[node_id] = GraphNode(node_id, "hidden", label, dag_id, uri=uri)
        pair = (node_id, f"uri::{uri}") if direction == "output" else (f"uri::{uri}", node_id)
        edges.append(GraphEdge(*pair, "cross_dag"))
    return LineageGraph(
        dag_id, list(nodes.values()), dedupe_edges(edges), hidden_dags=sum(hidden_by.values())
    )
