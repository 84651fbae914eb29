"""Path: what lies between two nodes ("passengers.age" and "titanic.train_model"), at dataset
level across DAGs: the shortest chain of outputs and tasks, found breadth-first from every
node a spec names at once, one set-based step per hop (:mod:`ddtrack.queries.dataset_lineage`).
"""

from __future__ import annotations

from sqlalchemy import and_, select, tuple_
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, one_dag
from ddtrack.queries.dataset_lineage import (
    DatasetRow,
    datasets_of_tasks,
    datasets_where,
    readers,
    task_node,
    uri_readers,
)
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.trace import HIDDEN_LABEL, UnknownNode
from ddtrack.queries.types import TraceEdge, TraceNode, TraceResult
from ddtrack.queries.versions import readable_dags
from ddtrack.store.models import CatalogEntry, Dataset, Lineage, TaskRun

BATCH = 100


def _spec_nodes(conn: Connection, spec: str, allowed: Allowed) -> dict[str, DatasetRow | None]:
    """The dataset, task or URI nodes a spec names (readable ones only): ``node -> its
    dataset row`` (None for a task or a URI). See :func:`path` for the forms."""
    spec = spec.strip()
    found: dict[str, DatasetRow | None] = {}
    ds, r, lin, cat = Dataset.__table__, TaskRun.__table__, Lineage.__table__, CatalogEntry.__table__
    if "://" in spec:
        for d in datasets_where(conn, and_(ds.c.uri == spec, dag_filter(ds.c.dag_id, allowed)), limit=100):
            found[d.node] = d
        read = conn.execute(
            select(lin.c.id).where(lin.c.uri == spec, dag_filter(lin.c.dag_id, allowed)).limit(1)
        ).first()
        if read is not None or found:
            found[f"uri:{spec}"] = None
        return found
    parts = spec.split(".")
    if len(parts) < 2 or not all(parts):
        return found
    dag = parts[0]
    task = ".".join(parts[1:])
    if conn.execute(select(r.c.id).where(one_dag(r.c.dag_id, dag, allowed), r.c.task_id == task).limit(1)).first():
        found[task_node(dag, task)] = None
    if len(parts) >= 3:
        task, name = ".".join(parts[1:-1]), parts[-1]
        output = and_(one_dag(ds.c.dag_id, dag, allowed), ds.c.task_id == task, ds.c.name == name)
        for d in datasets_where(conn, output, 1):
            found[d.node] = d
    # A column of an output: "dag.task.output.column", or "output.column" where output is an
    # output's name, its task's id, or the end of it ("passengers" for load_passengers).
    column = parts[-1]
    entries = conn.execute(
        select(cat.c.dag_id, cat.c.task_id, cat.c.output_name)
        .where(cat.c.kind == "column", cat.c.text == column, dag_filter(cat.c.dag_id, allowed))
        .limit(5000)
    ).all()
    owner = ".".join(parts[:-1])
    wanted = set()
    for e in entries:
        key = (e.dag_id, e.task_id, e.output_name)
        named = len(parts) >= 4 and key == (dag, ".".join(parts[1:-2]), parts[-2])
        short = len(parts) == 2 and (
            owner in (e.output_name, e.task_id) or e.task_id.endswith((f"_{owner}", f".{owner}"))
        )
        if named or short:
            wanted.add(key)
    wanted_list = sorted(wanted)
    for i in range(0, len(wanted_list), BATCH):
        batch = wanted_list[i : i + BATCH]
        match = tuple_(ds.c.dag_id, ds.c.task_id, ds.c.name).in_(batch)
        for d in datasets_where(conn, and_(match, dag_filter(ds.c.dag_id, allowed))):
            found[d.node] = d
    return found


def _path_search(
    conn: Connection, starts: dict[str, DatasetRow | None], targets: set[str], max_depth: int
) -> tuple[list[str], dict[str, DatasetRow]] | None:
    """Breadth-first from every start at once: the shortest node sequence to a target."""
    parent: dict[str, str | None] = dict.fromkeys(starts)
    rows: dict[str, DatasetRow] = {n: d for n, d in starts.items() if d is not None}
    frontier = list(starts)
    for _ in range(2 * max_depth + 1):
        hit = next((n for n in frontier if n in targets), None)
        if hit is not None:
            chain = [hit]
            while parent[chain[-1]] is not None:
                chain.append(parent[chain[-1]])
            return chain[::-1], rows
        if not frontier:
            return None
        step: list[tuple[str, str]] = []
        datasets = [rows[n] for n in frontier if n.startswith("dataset:")]
        for node, tasks in readers(conn, datasets).items():
            step += [(node, task_node(dag, task)) for dag, task in sorted(tasks)]
        uris = [n[4:] for n in frontier if n.startswith("uri:")]
        for uri, tasks in uri_readers(conn, uris).items():
            step += [(f"uri:{uri}", task_node(dag, task)) for dag, task in sorted(tasks)]
        tasks = [tuple(n[5:].split("/", 1)) for n in frontier if n.startswith("task:")]
        for d in datasets_of_tasks(conn, tasks):
            step.append((d.task, d.node))
            rows.setdefault(d.node, d)
        frontier = []
        for source, target in step:
            if target not in parent:
                parent[target] = source
                frontier.append(target)
    return None


def path(sources: Sources, source: str, target: str, *, allowed: Allowed, max_depth: int = 20) -> TraceResult | None:
    """The shortest chain of outputs and tasks between two nodes, at dataset level, across
    DAGs, from ``source`` downstream to ``target`` (or, if there is none, from ``target``
    downstream to ``source``); None if they are not connected within ``max_depth`` tasks.

    A node spec is ``"dag.task"`` (a task), ``"dag.task.output"`` (an output),
    ``"dag.task.output.column"`` or ``"output.column"`` (the output holding that column;
    ``output`` may also be its task's id or the end of it: ``"passengers.age"`` finds
    ``load_passengers``'s output with a column ``age``), or a URI (contains ``"://"``).
    A spec matching nothing the caller may read raises :class:`UnknownNode`. Nodes of
    DAGs the caller may not read on the path are answered as "a DAG you cannot read".
    """
    with store_conn(sources) as conn:
        starts = _spec_nodes(conn, source, allowed)
        if not starts:
            raise UnknownNode(source)
        ends = _spec_nodes(conn, target, allowed)
        if not ends:
            raise UnknownNode(target)
        found = _path_search(conn, starts, set(ends), max_depth)
        if found is None:
            found = _path_search(conn, ends, set(starts), max_depth)
        if found is None:
            return None
        chain, rows = found
        readable = readable_dags(conn, {_dag_of(n) for n in chain if not n.startswith("uri:")}, allowed)
    shown: dict[str, str] = {}
    nodes: list[TraceNode] = []
    for i, node in enumerate(chain):
        if not node.startswith("uri:") and _dag_of(node) not in readable:
            shown[node] = f"hidden:{sum(1 for n in nodes if n.kind == 'hidden') + 1}"
            nodes.append(TraceNode(shown[node], "hidden", HIDDEN_LABEL, i))
            continue
        shown[node] = node
        if node.startswith("dataset:"):
            d = rows[node]
            nodes.append(
                TraceNode(node, "dataset", f"{d.dag_id}.{d.task_id}.{d.name}", i, d.dag_id, d.task_id, uri=d.uri, pii=d.has_pii)
            )
        elif node.startswith("task:"):
            dag, task = node[5:].split("/", 1)
            nodes.append(TraceNode(node, "task", f"{dag}.{task}", i, dag, task))
        else:
            nodes.append(TraceNode(node, "external", node[4:], i, uri=node[4:]))
    edges = [
        TraceEdge(shown[a], shown[b], "read" if b.startswith("task:") else "produced") for a, b in zip(chain, chain[1:], strict=False)
    ]
    return TraceResult(
        "path", shown[chain[0]], nodes, edges, max_depth, hidden=sum(1 for n in nodes if n.kind == "hidden")
    )


def _dag_of(node: str) -> str:
    """The DAG of a "dataset:<dag>/..." or "task:<dag>/..." node."""
    return node.split(":", 1)[1].split("/", 1)[0]
