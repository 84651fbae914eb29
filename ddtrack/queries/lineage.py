"""The DAG page's lineage: tasks, their outputs, data edges, external inputs and linked DAGs.

Every query here takes ``allowed`` (:mod:`ddtrack.queries.access`): a DAG the caller may not
read does not exist here, and a linked DAG the caller may not read is only ever counted.
"""

from __future__ import annotations

import json
import zlib
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, one_dag
from ddtrack.queries.graph import dedupe_edges
from ddtrack.queries.sources import Sources, has_metastore, meta_conn, reading_metastore, store_conn
from ddtrack.queries.types import GraphEdge, GraphNode, LineageGraph
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


def serialized_dag_edges(
    sources: Sources, dag_id: str, *, allowed: Allowed
) -> tuple[list[str], list[tuple[str, str]]]:
    """Task ids and dependency edges of the DAG's newest serialized version (none without a
    metastore; :class:`~ddtrack.queries.sources.MetastoreUnavailable` if it does not answer)."""
    if not has_metastore(sources):
        return [], []
    sd = SERIALIZED_DAG
    with reading_metastore("read Airflow's serialized DAG"), meta_conn(sources) as conn:
        row = conn.execute(
            select(sd.c.data, sd.c.data_compressed)
            .where(one_dag(sd.c.dag_id, dag_id, allowed))
            .order_by(sd.c.created_at.desc())
            .limit(1)
        ).first()
    if row is None:
        return [], []
    data = row.data
    if data is None and row.data_compressed is not None:
        data = json.loads(zlib.decompress(row.data_compressed))
    if isinstance(data, str):
        data = json.loads(data)
    tasks = ((data or {}).get("dag") or {}).get("tasks") or []
    task_ids: list[str] = []
    edges: list[tuple[str, str]] = []
    for task in tasks:
        fields = task.get("__var", task) if isinstance(task, dict) else {}
        task_id = fields.get("task_id")
        if not task_id:
            continue
        task_ids.append(task_id)
        for downstream in fields.get("downstream_task_ids") or []:
            edges.append((task_id, downstream))
    return task_ids, edges


RECENT_TRIES = 500


MAX_TASK_LOOKUPS = 200


def _latest_tries(conn: Connection, dag_id: str, allowed: Allowed, task_ids: Sequence[str] = ()) -> list[Any]:
    """Each task's newest tracked run: the newest try of every instance (map index) in it.

    The DAG's newest tries come from the ``(dag_id, started_at)`` index; a task not among
    them (it has not run lately) gets one ``LIMIT 1`` look-up on the history index. The
    cost follows the number of tasks, not the DAG's history.
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
        .limit(RECENT_TRIES)
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
        rows += conn.execute(
            select(*columns).where(this_dag, run.c.run_id == run_id, run.c.task_id.in_(tasks))
        ).all()
    newest: dict[tuple[str, int], Any] = {}
    for r in rows:
        key = (r.task_id, r.map_index)
        if key not in newest or r.try_number > newest[key].try_number:
            newest[key] = r
    return list(newest.values())


def lineage_graph(sources: Sources, dag_id: str, *, allowed: Allowed) -> LineageGraph:
    """Tasks and their outputs, dependency and data edges, external inputs and linked DAGs.

    Linked DAGs the caller may read appear by name; the others as one count per shared
    URI ("2 tasks in DAGs you cannot read"), with nothing that names them. Empty for a
    DAG the caller may not read.
    """
    task_ids, dep_edges = serialized_dag_edges(sources, dag_id, allowed=allowed)
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    for task_id in task_ids:
        nodes[task_node_id(dag_id, task_id)] = GraphNode(
            task_node_id(dag_id, task_id), "task", task_id, dag_id, task_id
        )
    for up, down in dep_edges:
        edges.append(GraphEdge(task_node_id(dag_id, up), task_node_id(dag_id, down), "dependency"))
    out, lin = Output.__table__, Lineage.__table__
    with store_conn(sources) as conn:
        latest = _latest_tries(conn, dag_id, allowed, task_ids)
        run_ids = {r.id for r in latest}
        for r in latest:
            node = nodes.setdefault(
                task_node_id(dag_id, r.task_id),
                GraphNode(task_node_id(dag_id, r.task_id), "task", r.task_id, dag_id, r.task_id),
            )
            if node.state != "failed":  # one failed mapped instance marks the task
                node.state = r.state
            node.tracked = bool(r.tracked) or node.tracked
        outputs = (
            conn.execute(
                select(out.c.task_id, out.c.name, out.c.rows, out.c.uri, out.c.task_run_id).where(
                    out.c.task_run_id.in_(run_ids)
                )
            ).all()
            if run_ids
            else []
        )
        state_of = {r.id: r.state for r in latest}
        by_output: dict[str, GraphNode] = {}
        for o in outputs:
            oid = output_node_id(dag_id, o.task_id, o.name)
            node = by_output.get(oid)
            if node is None:
                node = GraphNode(
                    oid, "output", o.name, dag_id, o.task_id, state_of.get(o.task_run_id), None, True, o.uri
                )
                by_output[oid] = node
                edges.append(GraphEdge(task_node_id(dag_id, o.task_id), oid, "produces"))
            if o.rows is not None:  # mapped instances add up
                node.rows = (node.rows or 0) + int(o.rows)
        nodes.update(by_output)
        lineage = (
            conn.execute(
                select(
                    lin.c.task_id,
                    lin.c.direction,
                    lin.c.kind,
                    lin.c.name,
                    lin.c.uri,
                    lin.c.upstream_task_id,
                    lin.c.upstream_output,
                ).where(lin.c.task_run_id.in_(run_ids))
            ).all()
            if run_ids
            else []
        )
        _add_lineage_edges(conn, dag_id, allowed, nodes, edges, lineage)
    return LineageGraph(dag_id, list(nodes.values()), dedupe_edges(edges))


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
