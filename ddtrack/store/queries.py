"""The query layer of ddtrack's views: every question a page asks, answered with plain data.

Views get data only through this module. It reads ddtrack's side tables and Airflow's
metastore (DAG runs, task instances, serialized DAGs) through ddtrack's own engines
(:mod:`ddtrack.store.engine`), never through Airflow's scoped session, and it knows nothing
of Dash: it returns dataclasses and dicts a test can compare.

Each function filters by the DAG ids the caller may read (``allowed``), so a page cannot
ask for data its user may not see. Every query is bounded (``limit``) and reads an index:
``benchmarks/views_speed.py`` prints their plans.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Integer,
    case,
    func,
    select,
)
from sqlalchemy.engine import Connection

from ddtrack import config
from ddtrack.store.airflow_tables import DAG_RUN, SERIALIZED_DAG, TASK_INSTANCE
from ddtrack.store.engine import get_engine
from ddtrack.store.models import CatalogEntry, ColumnProfile, Lineage, Output, Source, Tag, TaskRun

DEFAULT_HISTORY = 50
MAX_HISTORY = 1000
SPARK_RUNS = 20

@dataclass(frozen=True)
class Sources:
    """Where the views read from: ddtrack's side tables and Airflow's metastore."""

    store_url: str
    metastore_url: str


def default_sources() -> Sources:
    """The databases configured for this Airflow deployment."""
    return Sources(store_url=config.store_settings().url, metastore_url=config.metastore_url())


def _utc(value: Any) -> dt.datetime | None:
    """A naive-UTC datetime (side tables) from whatever a driver returned."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def _allowed_filter(column, allowed: Iterable[str] | None):
    """``column IN allowed``; ``None`` means no restriction (a trusted caller such as a CLI)."""
    if allowed is None:
        return True
    allowed = list(allowed)
    if not allowed:
        return False
    return column.in_(allowed)


def _store(sources: Sources) -> Connection:
    return get_engine(sources.store_url).connect()


def _meta(sources: Sources) -> Connection:
    return get_engine(sources.metastore_url).connect()


# ---------------------------------------------------------------------------
# Home
# ---------------------------------------------------------------------------


@dataclass
class DagSummary:
    dag_id: str
    last_run_id: str | None = None
    last_state: str | None = None
    last_time: dt.datetime | None = None
    n_outputs: int = 0
    n_tasks: int = 0
    # (run start, total rows of the run's tracked outputs), oldest first.
    rows_by_run: list[tuple[dt.datetime | None, int]] = field(default_factory=list)


def tracked_dags(sources: Sources, allowed: Iterable[str] | None) -> list[DagSummary]:
    """Every DAG with tracked outputs the caller may read, with its last run and sparkline.

    Output and task counts come from the catalog (one row per distinct output), not from
    a scan of every recorded output.
    """
    cat = CatalogEntry.__table__
    with _store(sources) as conn:
        rows = conn.execute(
            select(cat.c.dag_id, func.count(), func.count(func.distinct(cat.c.task_id)))
            .where(cat.c.kind == "output", _allowed_filter(cat.c.dag_id, allowed))
            .group_by(cat.c.dag_id)
            .order_by(cat.c.dag_id)
        ).all()
        summaries = {r[0]: DagSummary(dag_id=r[0], n_outputs=int(r[1]), n_tasks=int(r[2])) for r in rows}
        for summary in summaries.values():
            summary.rows_by_run = _rows_by_recent_run(conn, summary.dag_id)
    if summaries:
        _add_last_runs(sources, summaries)
    return list(summaries.values())


def _rows_by_recent_run(
    conn: Connection, dag_id: str, runs: int = SPARK_RUNS
) -> list[tuple[dt.datetime | None, int]]:
    """Total tracked rows of the DAG's newest runs, oldest first.

    Newest tries come from the ``started_at`` index, their outputs by ``task_run_id``: the
    cost depends on the number of runs shown, not on the DAG's whole history.
    """
    run, out = TaskRun.__table__, Output.__table__
    recent = conn.execute(
        select(run.c.id, run.c.run_id, run.c.started_at)
        .where(run.c.dag_id == dag_id)
        .order_by(run.c.started_at.desc())
        .limit(runs * 50)
    ).all()
    run_ids: list[str] = []
    started: dict[str, dt.datetime | None] = {}
    try_run: dict[int, str] = {}
    for r in recent:
        if r.run_id not in started:
            if len(run_ids) == runs:
                continue
            run_ids.append(r.run_id)
        started[r.run_id] = _utc(r.started_at)  # ends at the run's earliest try seen
        try_run[r.id] = r.run_id
    if not try_run:
        return []
    totals: dict[str, int] = defaultdict(int)
    for o in conn.execute(select(out.c.task_run_id, out.c.rows).where(out.c.task_run_id.in_(list(try_run)))):
        totals[try_run[o.task_run_id]] += int(o.rows or 0)
    return [(started[r], totals.get(r, 0)) for r in reversed(run_ids)]


def _add_last_runs(sources: Sources, summaries: dict[str, DagSummary]) -> None:
    """Last DAG run of each DAG from Airflow's metastore (falls back to the side tables)."""
    dr = DAG_RUN
    latest = (
        select(dr.c.dag_id, func.max(dr.c.id).label("id"))
        .where(dr.c.dag_id.in_(list(summaries)))
        .group_by(dr.c.dag_id)
        .subquery()
    )
    query = select(dr.c.dag_id, dr.c.run_id, dr.c.state, dr.c.start_date, dr.c.run_after).join(
        latest, dr.c.id == latest.c.id
    )
    try:
        with _meta(sources) as conn:
            for r in conn.execute(query):
                s = summaries[r.dag_id]
                s.last_run_id, s.last_state = r.run_id, r.state
                s.last_time = _utc(r.start_date) or _utc(r.run_after)
    except Exception:
        # No metastore reachable (a store on its own): show what the side tables know.
        pass


@dataclass
class SearchHit:
    kind: str  # "dag", "task", "output", "column", "tag"
    dag_id: str
    task_id: str | None
    label: str
    detail: str = ""


_KIND_ORDER = {"dag": 0, "task": 1, "output": 2, "column": 3, "tag": 4}


def search(sources: Sources, text: str, allowed: Iterable[str] | None, limit: int = 50) -> list[SearchHit]:
    """DAGs, tasks, outputs, columns and tags whose name contains ``text`` (case-insensitive).

    Reads ``ddtrack_catalog`` (each distinct name once, kept at ingest), not the profile
    tables: a substring match cannot use a B-tree index, and the catalog stays small when
    the column table holds millions of profiles.
    """
    text = (text or "").strip().lower()[:100]
    if len(text) < 2:
        return []
    pattern = f"%{_escape_like(text)}%"
    cat = CatalogEntry.__table__
    kind_order = case(_KIND_ORDER, value=cat.c.kind, else_=9)
    with _store(sources) as conn:
        rows = conn.execute(
            select(cat.c.kind, cat.c.dag_id, cat.c.task_id, cat.c.output_name, cat.c.text)
            .where(_allowed_filter(cat.c.dag_id, allowed))
            .where(func.lower(cat.c.text).like(pattern, escape="\\"))
            .order_by(kind_order, cat.c.dag_id, cat.c.task_id, cat.c.text)
            .limit(limit * 4)
        ).all()
    hits: list[SearchHit] = []
    seen: set[tuple] = set()
    for r in rows:
        hit = _search_hit(r)
        key = (hit.kind, hit.dag_id, hit.task_id, hit.label)
        if key not in seen:
            seen.add(key)
            hits.append(hit)
        if len(hits) == limit:
            break
    return hits


def _search_hit(r: Any) -> SearchHit:
    task_id = r.task_id or None
    if r.kind == "dag":
        return SearchHit("dag", r.dag_id, None, r.text)
    if r.kind == "task":
        return SearchHit("task", r.dag_id, task_id, r.text, r.dag_id)
    if r.kind == "output":
        return SearchHit("output", r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id}")
    if r.kind == "column":
        return SearchHit("column", r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id} / {r.output_name}")
    return SearchHit(r.kind, r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id}" if task_id else r.dag_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


# ---------------------------------------------------------------------------
# DAG: lineage graph and run history
# ---------------------------------------------------------------------------


@dataclass
class GraphNode:
    id: str
    kind: str  # "task", "output", "external", "dag"
    label: str
    dag_id: str
    task_id: str | None = None
    state: str | None = None
    rows: int | None = None
    tracked: bool = False
    uri: str | None = None


@dataclass
class GraphEdge:
    source: str
    target: str
    kind: str  # "dependency" (serialized DAG), "data" (side tables), "produces", "uri", "cross_dag"


@dataclass
class LineageGraph:
    dag_id: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]

    def node(self, node_id: str) -> GraphNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


def task_node_id(dag_id: str, task_id: str) -> str:
    return f"task::{dag_id}::{task_id}"


def output_node_id(dag_id: str, task_id: str, name: str) -> str:
    return f"output::{dag_id}::{task_id}::{name}"


def dag_exists(sources: Sources, dag_id: str) -> bool:
    """Whether Airflow or ddtrack knows ``dag_id``."""
    with _store(sources) as conn:
        if conn.execute(select(TaskRun.id).where(TaskRun.dag_id == dag_id).limit(1)).first():
            return True
    try:
        with _meta(sources) as conn:
            return (
                conn.execute(select(DAG_RUN.c.id).where(DAG_RUN.c.dag_id == dag_id).limit(1)).first()
                is not None
            )
    except Exception:
        return False


def serialized_dag_edges(sources: Sources, dag_id: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Task ids and dependency edges of the DAG's newest serialized version."""
    sd = SERIALIZED_DAG
    try:
        with _meta(sources) as conn:
            row = conn.execute(
                select(sd.c.data, sd.c.data_compressed)
                .where(sd.c.dag_id == dag_id)
                .order_by(sd.c.created_at.desc())
                .limit(1)
            ).first()
    except Exception:
        return [], []
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


def _latest_tries(conn: Connection, dag_id: str, task_ids: Sequence[str] = ()) -> list[Any]:
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
    recent = conn.execute(
        select(run.c.task_id, run.c.run_id)
        .where(run.c.dag_id == dag_id)
        .order_by(run.c.started_at.desc())
        .limit(RECENT_TRIES)
    ).all()
    latest_run: dict[str, str] = {}
    for r in recent:
        latest_run.setdefault(r.task_id, r.run_id)
    for task_id in [t for t in task_ids if t not in latest_run][:MAX_TASK_LOOKUPS]:
        found = conn.execute(
            select(run.c.run_id)
            .where(run.c.dag_id == dag_id, run.c.task_id == task_id)
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
            select(*columns).where(run.c.dag_id == dag_id, run.c.run_id == run_id, run.c.task_id.in_(tasks))
        ).all()
    newest: dict[tuple[str, int], Any] = {}
    for r in rows:
        key = (r.task_id, r.map_index)
        if key not in newest or r.try_number > newest[key].try_number:
            newest[key] = r
    return list(newest.values())


def lineage_graph(sources: Sources, dag_id: str) -> LineageGraph:
    """Tasks and their outputs, dependency and data edges, external inputs and linked DAGs."""
    task_ids, dep_edges = serialized_dag_edges(sources, dag_id)
    nodes: dict[str, GraphNode] = {}
    edges: list[GraphEdge] = []
    for task_id in task_ids:
        nodes[task_node_id(dag_id, task_id)] = GraphNode(
            task_node_id(dag_id, task_id), "task", task_id, dag_id, task_id
        )
    for up, down in dep_edges:
        edges.append(GraphEdge(task_node_id(dag_id, up), task_node_id(dag_id, down), "dependency"))
    out, lin = Output.__table__, Lineage.__table__
    with _store(sources) as conn:
        latest = _latest_tries(conn, dag_id, task_ids)
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
        _add_lineage_edges(conn, dag_id, nodes, edges, lineage)
    return LineageGraph(dag_id, list(nodes.values()), _dedupe(edges))


def _add_lineage_edges(
    conn: Connection, dag_id: str, nodes: dict[str, GraphNode], edges: list[GraphEdge], lineage
) -> None:
    lin = Lineage.__table__
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
    # Cross-DAG edges: other DAGs that write what this DAG reads, or read what it writes.
    linked = uris_in | uris_out
    if not linked:
        return
    others = conn.execute(
        select(lin.c.dag_id, lin.c.task_id, lin.c.direction, lin.c.uri)
        .where(lin.c.uri.in_(list(linked)), lin.c.dag_id != dag_id)
        .group_by(lin.c.dag_id, lin.c.task_id, lin.c.direction, lin.c.uri)
        .limit(200)
    ).all()
    for o in others:
        other = f"dag::{o.dag_id}::{o.task_id}"
        nodes.setdefault(
            other, GraphNode(other, "dag", f"{o.dag_id}.{o.task_id}", o.dag_id, o.task_id, uri=o.uri)
        )
        ext = f"uri::{o.uri}"
        if o.direction == "output" and o.uri in uris_in:
            edges.append(GraphEdge(other, ext, "cross_dag"))
        elif o.direction == "input" and o.uri in uris_out:
            producer = next((n.id for n in nodes.values() if n.kind == "output" and n.uri == o.uri), None)
            edges.append(GraphEdge(producer or ext, other, "cross_dag"))


def _dedupe(edges: list[GraphEdge]) -> list[GraphEdge]:
    seen: set[tuple[str, str]] = set()
    result = []
    # Data edges win over plain dependencies between the same two nodes.
    for e in sorted(edges, key=lambda e: e.kind == "dependency"):
        if (e.source, e.target) not in seen:
            seen.add((e.source, e.target))
            result.append(e)
    return result


def neighbours(graph: LineageGraph, node_id: str) -> tuple[set[str], set[str]]:
    """Every node upstream of ``node_id`` (what feeds it) and downstream (what it feeds)."""
    ups: dict[str, list[str]] = defaultdict(list)
    downs: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        ups[e.target].append(e.source)
        downs[e.source].append(e.target)

    def walk(start: str, step: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        todo = list(step.get(start, []))
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(step.get(n, []))
        return seen

    return walk(node_id, ups), walk(node_id, downs)


@dataclass
class DagRunRow:
    run_id: str
    state: str | None
    run_type: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    duration_s: float | None
    tracked_tasks: int = 0
    failed_tasks: int = 0


def dag_runs(sources: Sources, dag_id: str, limit: int = DEFAULT_HISTORY) -> list[DagRunRow]:
    """The DAG's newest runs (Airflow's metastore), with counts of tracked and failed tries."""
    dr = DAG_RUN
    runs: list[DagRunRow] = []
    try:
        with _meta(sources) as conn:
            for r in conn.execute(
                select(dr.c.run_id, dr.c.state, dr.c.run_type, dr.c.start_date, dr.c.end_date)
                .where(dr.c.dag_id == dag_id)
                .order_by(dr.c.id.desc())
                .limit(limit)
            ):
                start, end = _utc(r.start_date), _utc(r.end_date)
                duration = (end - start).total_seconds() if start and end else None
                runs.append(DagRunRow(r.run_id, r.state, r.run_type, start, end, duration))
    except Exception:
        runs = []
    run = TaskRun.__table__
    with _store(sources) as conn:
        if not runs:  # no metastore: the side tables' view of the runs, from the newest tries
            recent = conn.execute(
                select(run.c.run_id, run.c.started_at, run.c.ended_at)
                .where(run.c.dag_id == dag_id)
                .order_by(run.c.started_at.desc())
                .limit(limit * 100)
            ).all()
            spans: dict[str, list[Any]] = {}
            for r in recent:
                span = spans.get(r.run_id)
                if span is None:
                    if len(spans) < limit:
                        spans[r.run_id] = [r.started_at, r.ended_at]
                    continue
                if r.started_at and (span[0] is None or r.started_at < span[0]):
                    span[0] = r.started_at
                if r.ended_at and (span[1] is None or r.ended_at > span[1]):
                    span[1] = r.ended_at
            runs = [
                DagRunRow(run_id, None, None, _utc(a), _utc(b), (b - a).total_seconds() if a and b else None)
                for run_id, (a, b) in spans.items()
            ]
        if runs:
            counts = conn.execute(
                select(run.c.run_id, func.count(), func.sum(func.cast(run.c.state == "failed", Integer)))
                .where(run.c.dag_id == dag_id, run.c.run_id.in_([r.run_id for r in runs]))
                .group_by(run.c.run_id)
            ).all()
            by_run = {c[0]: c for c in counts}
            for r in runs:
                if r.run_id in by_run:
                    r.tracked_tasks = int(by_run[r.run_id][1])
                    r.failed_tasks = int(by_run[r.run_id][2] or 0)
    return runs


# ---------------------------------------------------------------------------
# Task: history over its last N runs
# ---------------------------------------------------------------------------


@dataclass
class TaskHistoryRow:
    run_id: str
    map_index: int
    try_number: int
    tries: int
    state: str
    started_at: dt.datetime | None
    duration_s: float | None
    rows: int | None
    null_pct: float | None
    schema_fingerprint: str | None
    schema_changed: bool = False
    error: str | None = None


def task_history(
    sources: Sources, dag_id: str, task_id: str, limit: int = DEFAULT_HISTORY
) -> list[TaskHistoryRow]:
    """The task's last ``limit`` tries (newest first): duration, state, rows, null rate, schema.

    Reads ``ix_ddtrack_task_run_history`` (dag_id, task_id, started_at) for the tries and the
    outputs by ``task_run_id``; the column table only for these tries' null rates.
    """
    limit = max(1, min(int(limit), MAX_HISTORY))
    run, out, col = TaskRun.__table__, Output.__table__, ColumnProfile.__table__
    with _store(sources) as conn:
        tries = conn.execute(
            select(
                run.c.id,
                run.c.run_id,
                run.c.map_index,
                run.c.try_number,
                run.c.state,
                run.c.started_at,
                run.c.duration_s,
                run.c.error_type,
                run.c.error_message,
            )
            .where(run.c.dag_id == dag_id, run.c.task_id == task_id)
            .order_by(run.c.started_at.desc())
            .limit(limit)
        ).all()
        if not tries:
            return []
        ids = [t.id for t in tries]
        outputs = conn.execute(
            select(out.c.id, out.c.task_run_id, out.c.rows, out.c.schema_fingerprint)
            .where(out.c.task_run_id.in_(ids))
            .order_by(out.c.id)
        ).all()
        out_ids = [o.id for o in outputs]
        nulls = (
            dict(
                conn.execute(
                    select(col.c.output_id, func.avg(col.c.null_pct))
                    .where(col.c.output_id.in_(out_ids))
                    .group_by(col.c.output_id)
                ).all()
            )
            if out_ids
            else {}
        )
    rows_of: dict[int, int] = defaultdict(int)
    null_of: dict[int, list[float]] = defaultdict(list)
    fingerprint_of: dict[int, str] = {}
    for o in outputs:
        rows_of[o.task_run_id] += int(o.rows or 0)
        if nulls.get(o.id) is not None:
            null_of[o.task_run_id].append(float(nulls[o.id]))
        fingerprint_of.setdefault(o.task_run_id, o.schema_fingerprint)
    tries_per_instance: dict[tuple[str, int], int] = defaultdict(int)
    for t in tries:
        tries_per_instance[(t.run_id, t.map_index)] = max(
            tries_per_instance[(t.run_id, t.map_index)], t.try_number
        )
    history = [
        TaskHistoryRow(
            run_id=t.run_id,
            map_index=t.map_index,
            try_number=t.try_number,
            tries=tries_per_instance[(t.run_id, t.map_index)],
            state=t.state,
            started_at=_utc(t.started_at),
            duration_s=t.duration_s,
            rows=rows_of.get(t.id) if t.id in rows_of else None,
            null_pct=(sum(null_of[t.id]) / len(null_of[t.id])) if null_of.get(t.id) else None,
            schema_fingerprint=fingerprint_of.get(t.id),
            error=f"{t.error_type}: {t.error_message}" if t.error_type else None,
        )
        for t in tries
    ]
    previous: str | None = None
    for row in reversed(history):  # oldest first: mark where the schema changed
        if row.schema_fingerprint:
            row.schema_changed = previous is not None and row.schema_fingerprint != previous
            previous = row.schema_fingerprint
    return history


# ---------------------------------------------------------------------------
# Task instance: outputs, profiles, code, lineage, diff against the previous success
# ---------------------------------------------------------------------------


@dataclass
class ColumnDetail:
    position: int
    name: str
    dtype: str
    kind: str
    count: int | None
    nulls: int | None
    null_pct: float | None
    n_distinct: int | None
    distinct_estimated: bool
    mean: float | None
    std: float | None
    zeros: int | None
    negatives: int | None
    infinities: int | None
    stats: dict[str, Any]


@dataclass
class OutputDetail:
    name: str
    uri: str | None
    kind: str
    type_name: str | None
    rows: int | None
    n_columns: int | None
    memory_bytes: int | None
    schema_fingerprint: str | None
    schema: list | None
    truncated: bool
    detail: dict[str, Any]
    columns: list[ColumnDetail]


@dataclass
class TryRef:
    try_number: int
    state: str


@dataclass
class InstanceDetail:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str
    tracked: bool
    function: str | None
    code_hash: str | None
    source: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None
    error_type: str | None
    error_message: str | None
    warnings: list[str]
    tags: dict[str, str]
    output_tags: dict[str, dict[str, str]]
    outputs: list[OutputDetail]
    inputs: list[dict[str, Any]]
    consumers: list[dict[str, Any]]
    tries: list[TryRef]
    map_indexes: list[int]
    previous: PreviousRun | None = None


@dataclass
class ColumnChange:
    name: str
    change: str  # "added", "removed", "type", "same"
    null_pct_before: float | None = None
    null_pct_after: float | None = None
    mean_before: float | None = None
    mean_after: float | None = None
    dtype_before: str | None = None
    dtype_after: str | None = None


@dataclass
class OutputDiff:
    name: str
    rows_before: int | None
    rows_after: int | None
    schema_changed: bool
    columns: list[ColumnChange]


@dataclass
class PreviousRun:
    run_id: str
    try_number: int
    started_at: dt.datetime | None
    diffs: list[OutputDiff]


def task_instance(
    sources: Sources,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: int = -1,
    try_number: int | None = None,
) -> InstanceDetail | None:
    """Everything recorded about one task instance's try (the newest try unless given)."""
    run = TaskRun.__table__
    with _store(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.try_number, run.c.state)
            .where(
                run.c.dag_id == dag_id,
                run.c.run_id == run_id,
                run.c.task_id == task_id,
                run.c.map_index == map_index,
            )
            .order_by(run.c.try_number)
        ).all()
        map_indexes = [
            r[0]
            for r in conn.execute(
                select(run.c.map_index)
                .where(run.c.dag_id == dag_id, run.c.run_id == run_id, run.c.task_id == task_id)
                .group_by(run.c.map_index)
                .order_by(run.c.map_index)
            )
        ]
        if not tries:
            return None
        chosen = next((t for t in tries if t.try_number == try_number), tries[-1])
        row = conn.execute(select(run).where(run.c.id == chosen.id)).one()
        outputs = _outputs_of(conn, [row.id])[row.id]
        source = None
        if row.code_hash:
            source = conn.execute(
                select(Source.__table__.c.source).where(Source.__table__.c.code_hash == row.code_hash)
            ).scalar()
        tags, output_tags = _tags_of(conn, row.id)
        inputs = _inputs_of(conn, row.id)
        consumers = _consumers_of(conn, dag_id, run_id, task_id, outputs)
        detail = InstanceDetail(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            try_number=row.try_number,
            state=row.state,
            tracked=bool(row.tracked),
            function=row.function,
            code_hash=row.code_hash,
            source=source,
            started_at=_utc(row.started_at),
            ended_at=_utc(row.ended_at),
            duration_s=row.duration_s,
            error_type=row.error_type,
            error_message=row.error_message,
            warnings=list((row.extra or {}).get("warnings") or []),
            tags=tags,
            output_tags=output_tags,
            outputs=outputs,
            inputs=inputs,
            consumers=consumers,
            tries=[TryRef(t.try_number, t.state) for t in tries],
            map_indexes=map_indexes,
        )
        detail.previous = _previous_success(conn, detail, row.started_at)
    return detail


def _outputs_of(conn: Connection, task_run_ids: Sequence[int]) -> dict[int, list[OutputDetail]]:
    out, col = Output.__table__, ColumnProfile.__table__
    result: dict[int, list[OutputDetail]] = {i: [] for i in task_run_ids}
    outputs = conn.execute(
        select(out).where(out.c.task_run_id.in_(list(task_run_ids))).order_by(out.c.id)
    ).all()
    if not outputs:
        return result
    columns: dict[int, list[ColumnDetail]] = defaultdict(list)
    for c in conn.execute(
        select(col)
        .where(col.c.output_id.in_([o.id for o in outputs]))
        .order_by(col.c.output_id, col.c.position)
    ):
        columns[c.output_id].append(
            ColumnDetail(
                c.position,
                c.name,
                c.dtype,
                c.kind,
                c.count,
                c.nulls,
                c.null_pct,
                c.n_distinct,
                bool(c.distinct_estimated),
                c.mean,
                c.std,
                c.zeros,
                c.negatives,
                c.infinities,
                dict(c.stats or {}),
            )
        )
    for o in outputs:
        result[o.task_run_id].append(
            OutputDetail(
                o.name,
                o.uri,
                o.kind,
                o.type_name,
                o.rows,
                o.n_columns,
                o.memory_bytes,
                o.schema_fingerprint,
                o.schema,
                bool(o.truncated),
                dict(o.detail or {}),
                columns.get(o.id, []),
            )
        )
    return result


@dataclass
class MappedPart:
    """One map index of a mapped task, as merged into the whole (its newest try)."""

    map_index: int
    try_number: int
    state: str
    duration_s: float | None
    rows: dict[str, int | None]  # output name -> rows


@dataclass
class MappedWhole:
    """A mapped task's outputs over all its map indexes: one merged profile per output name."""

    dag_id: str
    run_id: str
    task_id: str
    parts: list[MappedPart]
    outputs: list[OutputDetail]
    parts_per_output: dict[str, int]


def mapped_whole(sources: Sources, dag_id: str, run_id: str, task_id: str) -> MappedWhole | None:
    """The whole of a mapped task in one run: each output's profiles of the newest try of
    every map index merged (:func:`ddtrack.profile.merge_profiles`: counts and sums exact,
    sketches merged).  None when the task has no tracked map index."""
    run = TaskRun.__table__
    with _store(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.map_index, run.c.try_number, run.c.state, run.c.duration_s, run.c.record_hash)
            .where(run.c.dag_id == dag_id, run.c.run_id == run_id, run.c.task_id == task_id, run.c.map_index >= 0)
            .order_by(run.c.map_index, run.c.try_number)
        ).all()
        newest = {t.map_index: t for t in tries}  # ordered by try: the last one wins
        if not newest:
            return None
        # reading and merging cost ~1 s for 1,000 map indexes (benchmarks/mapped_whole_speed.py): keep it while no try changes
        key = (sources.store_url, dag_id, run_id, task_id, tuple((t.id, t.record_hash, t.state) for t in newest.values()))
        with _WHOLE_LOCK:
            if key in _WHOLE_CACHE:
                _WHOLE_CACHE.move_to_end(key)
                return _WHOLE_CACHE[key]
        outputs = _outputs_of(conn, [t.id for t in newest.values()])
    by_name: dict[str, list[OutputDetail]] = {}
    parts = []
    for t in newest.values():
        for o in outputs[t.id]:
            by_name.setdefault(o.name, []).append(o)
        parts.append(MappedPart(t.map_index, t.try_number, t.state, t.duration_s, {o.name: o.rows for o in outputs[t.id]}))
    merged = [_merge_outputs(name, group) for name, group in by_name.items()]
    whole = MappedWhole(dag_id, run_id, task_id, parts, merged, {k: len(v) for k, v in by_name.items()})
    with _WHOLE_LOCK:
        _WHOLE_CACHE[key] = whole
        while len(_WHOLE_CACHE) > WHOLE_CACHE_SIZE:
            _WHOLE_CACHE.popitem(last=False)
    return whole


WHOLE_CACHE_SIZE = 32
_WHOLE_CACHE: OrderedDict[tuple, MappedWhole] = OrderedDict()
_WHOLE_LOCK = threading.Lock()


def _merge_outputs(name: str, group: list[OutputDetail]) -> OutputDetail:
    """One OutputDetail for the union of several (the same output of several map indexes)."""
    from ddtrack.profile import merge_profiles

    merged = merge_profiles([_as_profile(o) for o in group])
    uris = {o.uri for o in group if o.uri}
    columns = [
        ColumnDetail(
            c["position"], c["name"], c["dtype"], c["kind"], c.get("count"), c.get("nulls"), c.get("null_pct"),
            c.get("distinct"), bool(c.get("distinct_estimated")), c.get("mean"), c.get("std"), c.get("zeros"),
            c.get("negatives"), c.get("infinities"),
            {k: c.get(k) for k in _MERGED_STATS if c.get(k) is not None},
        )
        for c in merged.get("columns") or []
    ]
    detail = {k: merged[k] for k in ("sample", "pii", "repr") if merged.get(k)}
    return OutputDetail(
        name, uris.pop() if len(uris) == 1 else None, merged.get("kind") or "other", merged.get("type"),
        merged.get("rows"), merged.get("n_columns"), merged.get("memory_bytes"), merged.get("schema_fingerprint"),
        merged.get("schema"), bool(merged.get("truncated")), detail, columns,
    )


_MERGED_STATS = ("min", "max", "quantiles", "histogram", "top_values", "str_len", "estimates")


def _as_profile(o: OutputDetail) -> dict[str, Any]:
    """A stored output turned back into the profile dict it was written from."""
    return {
        "format": 1, "kind": o.kind, "type": o.type_name, "rows": o.rows, "n_columns": o.n_columns,
        "memory_bytes": o.memory_bytes, "schema": o.schema or [], "schema_fingerprint": o.schema_fingerprint,
        "truncated": o.truncated, "repr": o.detail.get("repr"), "sample": o.detail.get("sample"),
        "pii": o.detail.get("pii") or [],
        "columns": [
            {
                "name": c.name, "position": c.position, "dtype": c.dtype, "kind": c.kind, "count": c.count,
                "nulls": c.nulls, "null_pct": c.null_pct, "distinct": c.n_distinct,
                "distinct_estimated": c.distinct_estimated, "mean": c.mean, "std": c.std, "zeros": c.zeros,
                "negatives": c.negatives, "infinities": c.infinities, **c.stats,
            }
            for c in o.columns
        ],
    }


def _tags_of(conn: Connection, task_run_id: int) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    tag = Tag.__table__
    run_tags: dict[str, str] = {}
    output_tags: dict[str, dict[str, str]] = defaultdict(dict)
    for t in conn.execute(
        select(tag.c.output_name, tag.c.key, tag.c.value).where(tag.c.task_run_id == task_run_id)
    ):
        if t.output_name is None:
            run_tags[t.key] = t.value
        else:
            output_tags[t.output_name][t.key] = t.value
    return run_tags, dict(output_tags)


def _inputs_of(conn: Connection, task_run_id: int) -> list[dict[str, Any]]:
    lin = Lineage.__table__
    rows = conn.execute(
        select(
            lin.c.direction, lin.c.kind, lin.c.name, lin.c.uri, lin.c.upstream_task_id, lin.c.upstream_output
        )
        .where(lin.c.task_run_id == task_run_id, lin.c.direction == "input")
        .order_by(lin.c.id)
    ).all()
    return [dict(r._mapping) for r in rows]


def _consumers_of(
    conn: Connection, dag_id: str, run_id: str, task_id: str, outputs: list[OutputDetail]
) -> list[dict[str, Any]]:
    """Tasks that read this task's outputs: in the same run, and other DAGs through shared URIs."""
    lin = Lineage.__table__
    consumers = [
        {
            "dag_id": r.dag_id,
            "run_id": r.run_id,
            "task_id": r.task_id,
            "name": r.upstream_output,
            "via": "xcom",
        }
        for r in conn.execute(
            select(lin.c.dag_id, lin.c.run_id, lin.c.task_id, lin.c.upstream_output)
            .where(
                lin.c.dag_id == dag_id,
                lin.c.run_id == run_id,
                lin.c.kind == "task",
                lin.c.upstream_task_id == task_id,
            )
            .group_by(lin.c.dag_id, lin.c.run_id, lin.c.task_id, lin.c.upstream_output)
        )
    ]
    uris = [o.uri for o in outputs if o.uri]
    if uris:
        for r in conn.execute(
            select(lin.c.dag_id, lin.c.task_id, lin.c.uri, func.max(lin.c.run_id).label("run_id"))
            .where(lin.c.uri.in_(uris), lin.c.direction == "input")
            .group_by(lin.c.dag_id, lin.c.task_id, lin.c.uri)
            .limit(50)
        ):
            consumers.append(
                {"dag_id": r.dag_id, "run_id": r.run_id, "task_id": r.task_id, "name": r.uri, "via": "uri"}
            )
    return consumers


def _previous_success(conn: Connection, detail: InstanceDetail, started_at) -> PreviousRun | None:
    """Diff against the same task's newest successful try that started before this one."""
    if started_at is None:
        return None
    run = TaskRun.__table__
    prev = conn.execute(
        select(run.c.id, run.c.run_id, run.c.try_number, run.c.started_at)
        .where(
            run.c.dag_id == detail.dag_id,
            run.c.task_id == detail.task_id,
            run.c.started_at < started_at,
            run.c.state == "success",
            run.c.map_index == detail.map_index,
            run.c.run_id != detail.run_id,
        )
        .order_by(run.c.started_at.desc())
        .limit(1)
    ).first()
    if prev is None:
        return None
    before = {o.name: o for o in _outputs_of(conn, [prev.id])[prev.id]}
    diffs = [diff_outputs(before.get(o.name), o) for o in detail.outputs]
    return PreviousRun(prev.run_id, prev.try_number, _utc(prev.started_at), diffs)


def diff_outputs(before: OutputDetail | None, after: OutputDetail) -> OutputDiff:
    """Row count, schema and per-column null rate / mean of ``after`` against ``before``."""
    old = {c.name: c for c in (before.columns if before else [])}
    new = {c.name: c for c in after.columns}
    changes: list[ColumnChange] = []
    for name, c in new.items():
        b = old.get(name)
        if b is None:
            changes.append(
                ColumnChange(
                    name,
                    "added" if before else "same",
                    null_pct_after=c.null_pct,
                    mean_after=c.mean,
                    dtype_after=c.dtype,
                )
            )
            continue
        change = "type" if b.dtype != c.dtype else "same"
        changes.append(ColumnChange(name, change, b.null_pct, c.null_pct, b.mean, c.mean, b.dtype, c.dtype))
    for name, b in old.items():
        if name not in new:
            changes.append(
                ColumnChange(
                    name, "removed", null_pct_before=b.null_pct, mean_before=b.mean, dtype_before=b.dtype
                )
            )
    schema_changed = before is not None and (
        (before.schema_fingerprint or "") != (after.schema_fingerprint or "")
        or any(ch.change != "same" for ch in changes)
    )
    return OutputDiff(after.name, before.rows if before else None, after.rows, schema_changed, changes)


# ---------------------------------------------------------------------------
# Run: every tracked output of one DAG run, and the waterfall
# ---------------------------------------------------------------------------


@dataclass
class RunTask:
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    tracked: bool
    outputs: list[tuple[str, int | None]]


@dataclass
class RunDetail:
    dag_id: str
    run_id: str
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    tasks: list[RunTask]


def run_detail(sources: Sources, dag_id: str, run_id: str) -> RunDetail | None:
    """The run's task instances (Airflow's view, with ddtrack's outputs where tracked)."""
    run, out = TaskRun.__table__, Output.__table__
    tasks: dict[tuple[str, int], RunTask] = {}
    state = start = end = None
    found = False
    try:
        with _meta(sources) as conn:
            r = conn.execute(
                select(DAG_RUN.c.state, DAG_RUN.c.start_date, DAG_RUN.c.end_date).where(
                    DAG_RUN.c.dag_id == dag_id, DAG_RUN.c.run_id == run_id
                )
            ).first()
            if r is not None:
                found, state, start, end = True, r.state, _utc(r.start_date), _utc(r.end_date)
            ti = TASK_INSTANCE
            for t in conn.execute(
                select(
                    ti.c.task_id, ti.c.map_index, ti.c.try_number, ti.c.state, ti.c.start_date, ti.c.end_date
                ).where(ti.c.dag_id == dag_id, ti.c.run_id == run_id)
            ):
                tasks[(t.task_id, t.map_index)] = RunTask(
                    t.task_id,
                    t.map_index,
                    t.try_number,
                    t.state,
                    _utc(t.start_date),
                    _utc(t.end_date),
                    False,
                    [],
                )
    except Exception:
        pass
    with _store(sources) as conn:
        tries = conn.execute(
            select(
                run.c.id,
                run.c.task_id,
                run.c.map_index,
                run.c.try_number,
                run.c.state,
                run.c.started_at,
                run.c.ended_at,
            )
            .where(run.c.dag_id == dag_id, run.c.run_id == run_id)
            .order_by(run.c.try_number)
        ).all()
        newest = {(t.task_id, t.map_index): t for t in tries}
        outputs: dict[int, list[tuple[str, int | None]]] = defaultdict(list)
        if newest:
            for o in conn.execute(
                select(out.c.task_run_id, out.c.name, out.c.rows).where(
                    out.c.task_run_id.in_([t.id for t in newest.values()])
                )
            ):
                outputs[o.task_run_id].append((o.name, o.rows))
    if not found and not newest:
        return None
    for key, t in newest.items():
        task = tasks.get(key)
        if task is None:
            task = tasks[key] = RunTask(
                t.task_id, t.map_index, t.try_number, t.state, _utc(t.started_at), _utc(t.ended_at), True, []
            )
        task.tracked = True
        task.outputs = outputs.get(t.id, [])
        task.start = task.start or _utc(t.started_at)
        task.end = task.end or _utc(t.ended_at)
    ordered = sorted(tasks.values(), key=lambda t: (t.start or dt.datetime.max, t.task_id, t.map_index))
    return RunDetail(dag_id, run_id, state, start, end, ordered)


def task_ids_of_dag(sources: Sources, dag_id: str) -> list[str]:
    """Tracked task ids of a DAG (for pickers), from the side tables."""
    run = TaskRun.__table__
    with _store(sources) as conn:
        return [
            r[0]
            for r in conn.execute(
                select(run.c.task_id)
                .where(run.c.dag_id == dag_id)
                .group_by(run.c.task_id)
                .order_by(run.c.task_id)
            )
        ]


__all__ = [
    "Sources",
    "default_sources",
    "tracked_dags",
    "search",
    "lineage_graph",
    "neighbours",
    "dag_runs",
    "dag_exists",
    "task_history",
    "task_instance",
    "diff_outputs",
    "run_detail",
    "task_ids_of_dag",
]
