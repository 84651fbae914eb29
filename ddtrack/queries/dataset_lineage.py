"""Lineage at dataset level: which tasks read an output (identity, not version), which
outputs a task writes. What the PII report and ``path`` walk, one hop at a time.

Nodes are ``"dataset:<dag>/<task>/<name>"``, ``"task:<dag>/<task>"`` and ``"uri:<uri>"``.
A dataset is read by the tasks that read it in its newest run (same DAG, through the
``(dag_id, run_id, upstream_task_id)`` index) and by every task that read its URI or an
Asset its task wrote (across DAGs, through the ``(uri, direction)`` index). Every
statement takes a whole frontier in bounded batches. The walk reads whatever DAG a node is
in (it passes through DAGs the caller may not read); callers then ask which DAGs the caller
may read, in SQL and once (:func:`~ddtrack.queries.versions.readable_dags`), and name only
those.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, tuple_
from sqlalchemy.engine import Connection

from ddtrack.queries.versions import batches
from ddtrack.store.models import Dataset, Lineage, Output

BATCH = 100


@dataclass(frozen=True)
class DatasetRow:
    id: int
    dag_id: str
    task_id: str
    name: str
    uri: str | None
    has_pii: bool
    pii_free: bool
    pii_columns: tuple[str, ...]
    latest_output_id: int | None

    @property
    def node(self) -> str:
        return dataset_node(self.dag_id, self.task_id, self.name)

    @property
    def task(self) -> str:
        return task_node(self.dag_id, self.task_id)


def dataset_node(dag_id: str, task_id: str, name: str) -> str:
    return f"dataset:{dag_id}/{task_id}/{name}"


def task_node(dag_id: str, task_id: str) -> str:
    return f"task:{dag_id}/{task_id}"


def _select():
    ds = Dataset.__table__
    return select(
        ds.c.id, ds.c.dag_id, ds.c.task_id, ds.c.name, ds.c.uri, ds.c.has_pii, ds.c.pii_free, ds.c.pii_columns,
        ds.c.latest_output_id,
    )


def _row(r: Any) -> DatasetRow:
    return DatasetRow(
        int(r.id), r.dag_id, r.task_id, r.name, r.uri, bool(r.has_pii), bool(r.pii_free),
        tuple(r.pii_columns or ()), None if r.latest_output_id is None else int(r.latest_output_id),
    )


def datasets_where(conn: Connection, where: Any, limit: int = 10_000) -> list[DatasetRow]:
    ds = Dataset.__table__
    rows = conn.execute(_select().where(where).order_by(ds.c.dag_id, ds.c.task_id, ds.c.name).limit(limit))
    return [_row(r) for r in rows]


def datasets_of_tasks(conn: Connection, tasks: Iterable[tuple[str, str]]) -> list[DatasetRow]:
    """The outputs each (dag, task) writes."""
    ds = Dataset.__table__
    found: list[DatasetRow] = []
    for batch in batches(sorted(set(tasks)), BATCH):
        match = tuple_(ds.c.dag_id, ds.c.task_id).in_(batch)
        found += datasets_where(conn, match)
    return found


def readers(conn: Connection, datasets: Iterable[DatasetRow]) -> dict[str, set[tuple[str, str]]]:
    """``dataset node -> {(dag, task)}``: the tasks that read each dataset."""
    datasets = list(datasets)
    out, lin = Output.__table__, Lineage.__table__
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    latest = [d.latest_output_id for d in datasets if d.latest_output_id is not None]
    newest: dict[int, Any] = {}
    for batch in batches(latest, 500):
        for r in conn.execute(select(out.c.id, out.c.run_id, out.c.task_run_id).where(out.c.id.in_(batch))):
            newest[int(r.id)] = r
    same_run = [(d, newest[d.latest_output_id]) for d in datasets if d.latest_output_id in newest]
    for batch in batches(same_run, BATCH):
        match = tuple_(lin.c.dag_id, lin.c.run_id, lin.c.upstream_task_id, lin.c.upstream_output).in_(
            sorted({(d.dag_id, o.run_id, d.task_id, d.name) for d, o in batch})
        )
        rows = conn.execute(
            select(lin.c.dag_id, lin.c.task_id, lin.c.upstream_task_id, lin.c.upstream_output)
            .where(match, lin.c.kind == "task", lin.c.direction == "input")
            .distinct()
        ).all()
        for r in rows:
            found[dataset_node(r.dag_id, r.upstream_task_id, r.upstream_output)].add((r.dag_id, r.task_id))
    # URIs each dataset stands for: its own, and Assets its newest try wrote.
    uris: dict[str, set[str]] = defaultdict(set)
    for d in datasets:
        if d.uri:
            uris[d.uri].add(d.node)
    by_try: dict[int, list[DatasetRow]] = defaultdict(list)
    for d, o in same_run:
        by_try[int(o.task_run_id)].append(d)
    for batch in batches(sorted(by_try), 500):
        for r in conn.execute(
            select(lin.c.task_run_id, lin.c.uri).where(
                lin.c.task_run_id.in_(batch), lin.c.direction == "output", lin.c.kind == "asset"
            )
        ):
            for d in by_try[int(r.task_run_id)]:
                if r.uri:
                    uris[r.uri].add(d.node)
    for uri, tasks in uri_readers(conn, uris).items():
        for node in uris[uri]:
            found[node] |= tasks
    return found


def uri_readers(conn: Connection, uris: Iterable[str]) -> dict[str, set[tuple[str, str]]]:
    """``uri -> {(dag, task)}``: the tasks that read each URI (any run)."""
    lin = Lineage.__table__
    found: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for batch in batches(sorted(set(uris)), BATCH):
        rows = conn.execute(
            select(lin.c.uri, lin.c.dag_id, lin.c.task_id)
            .where(lin.c.uri.in_(batch), lin.c.direction == "input")
            .distinct()
        ).all()
        for r in rows:
            found[r.uri].add((r.dag_id, r.task_id))
    return found
