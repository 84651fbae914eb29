"""PII outputs and columns and everything derived from them, in one question (UI, CLI,
JSON audits).

An output is a PII output when a column of it is named in ``pii=`` (``ddtrack_dataset.has_pii``
and ``pii_columns``, kept at ingest). Derivation follows columns, at dataset level across
DAGs (:mod:`ddtrack.queries.dataset_lineage`): a column of a downstream output is
PII-derived when its column lineage comes from a PII column (or when the task did not know
which columns it read: then every column of its outputs is, :mod:`ddtrack.queries.pii_columns`),
and an output is PII-derived only when one of its columns is. A task that declared
``pii_free=True`` (an aggregate) stops the walk. One indexed read of the PII outputs, then
a few set-based statements per hop.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import and_, func, select

from ddtrack import conf
from ddtrack.duration import utcnow
from ddtrack.queries.access import Allowed, dag_filter, dag_hidden, one_dag
from ddtrack.queries.dataset_lineage import DatasetRow, datasets_of_tasks, datasets_where, readers
from ddtrack.queries.freshness import summary_of
from ddtrack.queries.pii_columns import derived_columns
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.trace import HIDDEN_LABEL
from ddtrack.queries.types import DatasetSummary, PiiColumn, PiiReport
from ddtrack.queries.versions import batches, readable_dags
from ddtrack.store.models import Dataset

MAX_DATASETS = 5000  # readable outputs a report names at most; a report beyond that is cut (and says nothing false)
WALKED_PER_NAMED = 4  # outputs walked (readable or not: the walk passes through unreadable DAGs) per output named
MAX_HOPS = 50
MAX_VIA = 10  # PII outputs named per derived output


def pii_report(sources: Sources, *, allowed: Allowed, max_datasets: int = MAX_DATASETS) -> PiiReport:
    """Every readable PII output, every readable output derived from one (with the PII
    outputs it derives from), and how many of either are in DAGs the caller may not read.
    The walk passes through such DAGs: what they feed is still PII-derived.

    ``max_datasets`` bounds the readable outputs named, so outputs of DAGs the caller cannot
    read never take a readable one's place: readable PII outputs are read first, and each
    hop takes readable outputs before unreadable ones. The walk as a whole stops at
    ``WALKED_PER_NAMED * max_datasets`` outputs."""
    ds = Dataset.__table__
    walked = WALKED_PER_NAMED * max_datasets
    with store_conn(sources) as conn:
        pii = datasets_where(conn, and_(ds.c.has_pii.is_(True), dag_filter(ds.c.dag_id, allowed)), limit=max_datasets)
        pii += datasets_where(conn, and_(ds.c.has_pii.is_(True), dag_hidden(ds.c.dag_id, allowed)), limit=walked - len(pii))
        readable = readable_dags(conn, {d.dag_id for d in pii}, allowed)
        known: dict[str, DatasetRow] = {d.node: d for d in pii}
        named = sum(1 for d in pii if d.dag_id in readable)
        feeds: dict[str, set[str]] = defaultdict(set)
        # PII columns of each dataset reached (declared, then derived), and which feed which.
        columns: dict[str, set[str]] = {d.node: set(d.pii_columns) for d in pii}
        column_feeds: dict[str, set[str]] = defaultdict(set)
        outputs_of: dict[tuple[str, str], list[DatasetRow]] = {}
        frontier = list(pii)
        for _ in range(MAX_HOPS):
            if not frontier or len(known) >= walked:
                break
            read_by = readers(conn, frontier)
            tasks = {task for found in read_by.values() for task in found}
            new_tasks = tasks - set(outputs_of)
            for task in new_tasks:
                outputs_of[task] = []
            for d in datasets_of_tasks(conn, new_tasks):
                outputs_of[(d.dag_id, d.task_id)].append(d)
            readable |= readable_dags(conn, {dag for dag, _ in new_tasks} - readable, allowed)
            pairs = [
                (d, out)
                for d in frontier
                for task in sorted(read_by.get(d.node, ()))
                for out in outputs_of.get(task, [])
                if not out.pii_free
            ]
            from_pii = derived_columns(conn, pairs, columns)
            found = [(d, out) for d, out in pairs if from_pii[(d.node, out.node)]]
            next_frontier = []
            for d, out in sorted(found, key=lambda pair: pair[1].dag_id not in readable):  # readable first
                feeds[d.node].add(out.node)
                grew = False
                for column, pii_inputs in from_pii[(d.node, out.node)].items():
                    for pii_input in pii_inputs:
                        column_feeds[_column_node(d.node, pii_input)].add(_column_node(out.node, column))
                    if column not in columns.setdefault(out.node, set()):
                        columns[out.node].add(column)
                        grew = True
                if out.node in known:
                    if grew and out not in next_frontier:
                        next_frontier.append(out)  # new PII columns of it: follow them too
                    continue
                if len(known) >= walked:
                    continue
                if out.dag_id in readable:
                    if named >= max_datasets:
                        continue
                    named += 1
                known[out.node] = out
                next_frontier.append(out)
            frontier = next_frontier
        via = _sources_reaching(feeds, [d.node for d in pii])
        declared = [_column_node(d.node, c) for d in pii for c in d.pii_columns]
        column_via = _sources_reaching(column_feeds, declared)
        summaries = _summaries(conn, [d for d in known.values() if d.dag_id in readable])
    pii_nodes = {d.node for d in pii}

    def label(node: str) -> str:
        d = known[node]
        return f"{d.dag_id}.{d.task_id}.{d.name}" if d.dag_id in readable else HIDDEN_LABEL

    derived = [
        (summaries[d.id], sorted({label(s) for s in via.get(d.node, ())}))
        for d in known.values()
        if d.node not in pii_nodes and d.id in summaries
    ]
    return PiiReport(
        pii_outputs=[summaries[d.id] for d in pii if d.id in summaries],
        derived=sorted(derived, key=lambda item: (item[0].dag_id, item[0].task_id, item[0].name)),
        hidden=sum(1 for d in known.values() if d.dag_id not in readable),
        columns=_pii_columns(known, pii_nodes, columns, column_via, readable),
    )


def _column_node(node: str, column: str | None) -> str:
    return f"{node}\x00{'' if column is None else column}"  # NUL: in no name


def _pii_columns(
    known: dict[str, DatasetRow], pii_nodes: set[str], columns: dict[str, set[str | None]],
    via: dict[str, set[str]], readable: set[str],
) -> list[PiiColumn]:
    """Every readable PII column, declared or derived (with the declared columns it comes
    from, those in unreadable DAGs named only as such)."""

    def label(column_node: str) -> str:
        node, _, column = column_node.partition("\x00")
        d = known[node]
        return f"{d.dag_id}.{d.task_id}.{d.name}.{column}" if d.dag_id in readable else HIDDEN_LABEL

    found = []
    for node, d in known.items():
        if d.dag_id not in readable:
            continue
        declared = set(d.pii_columns) if node in pii_nodes else set()
        for column in declared:
            found.append(PiiColumn(d.dag_id, d.task_id, d.name, column, "declared"))
        for column in columns.get(node, set()) - declared:
            origins = via.get(_column_node(node, column), set()) - {_column_node(node, column)}
            found.append(PiiColumn(d.dag_id, d.task_id, d.name, column, "derived", sorted({label(o) for o in origins})))
    return sorted(found, key=lambda c: (c.dag_id, c.task_id, c.output, c.pii, c.column or ""))


def pii_output_count(sources: Sources, *, allowed: Allowed, dag_id: str | None = None) -> int:
    """How many readable outputs (``dag_id``'s only, if given) declare PII columns: the PII
    badge of home and of a DAG page, one indexed count (no walk)."""
    ds = Dataset.__table__
    readable = dag_filter(ds.c.dag_id, allowed) if dag_id is None else one_dag(ds.c.dag_id, dag_id, allowed)
    with store_conn(sources) as conn:
        return int(conn.execute(select(func.count()).where(ds.c.has_pii.is_(True), readable)).scalar_one())


def _sources_reaching(feeds: dict[str, set[str]], sources: list[str]) -> dict[str, set[str]]:
    """Which of ``sources`` reach each node along ``feeds``, at most ``MAX_VIA`` per node (what
    a report shows). A worklist: a node is revisited only when its set grows, so each node
    is revisited at most ``MAX_VIA`` times and cycles settle."""
    reached: dict[str, set[str]] = defaultdict(set)
    todo = []
    for source in sources:
        reached[source].add(source)
        todo.append(source)
    while todo:
        node = todo.pop()
        for nxt in feeds.get(node, ()):
            room = MAX_VIA - len(reached[nxt])
            new = sorted(reached[node] - reached[nxt])[: max(0, room)]
            if new:
                reached[nxt].update(new)
                todo.append(nxt)
    return reached


def _summaries(conn, datasets: list[DatasetRow]) -> dict[int, DatasetSummary]:
    """The report's outputs as the catalog shows them (:func:`~ddtrack.queries.freshness.summary_of`)."""
    ds = Dataset.__table__
    now, default = utcnow(), conf.default_fresh_within()
    found: dict[int, DatasetSummary] = {}
    for batch in batches(sorted(d.id for d in datasets), 500):
        for r in conn.execute(select(ds).where(ds.c.id.in_(batch))):
            found[int(r.id)] = summary_of(r, now=now, default_window=default)
    return found
