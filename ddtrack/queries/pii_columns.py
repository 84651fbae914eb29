"""Which columns of a consumer's output derive from a dataset's PII columns (the PII report's
column step, at dataset level: each output's newest try).

The try that wrote an output's newest version read the dataset (an upstream task's output
in the same run, or its URI or an Asset its task wrote). If the task knew that input's
columns (``ddtrack_lineage.columns_known``), PII follows its column lineage: the output's
columns whose lineage names one of the PII columns. If it did not (a try recorded before
column lineage, a URI read without its frame), nothing says which columns carry what, so
every column of the output derives from it: the safe answer for PII.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from ddtrack.queries.column_lineage import asset_outlets
from ddtrack.queries.dataset_lineage import DatasetRow
from ddtrack.queries.versions import batches
from ddtrack.store.models import ColumnLineage, ColumnProfile, Lineage, Output

WHOLE = None  # "every column": a derived output whose columns are not known (or not a frame)


def _tries_of(conn: Connection, datasets: Iterable[DatasetRow]) -> dict[int, int]:
    """latest output id -> its try."""
    o = Output.__table__
    ids = sorted({d.latest_output_id for d in datasets if d.latest_output_id is not None})
    found: dict[int, int] = {}
    for batch in batches(ids, 500):
        found |= {int(r.id): int(r.task_run_id) for r in conn.execute(select(o.c.id, o.c.task_run_id).where(o.c.id.in_(batch)))}
    return found


def _stands_for(conn: Connection, datasets: Sequence[DatasetRow], tries: dict[int, int]) -> dict[str, set[str]]:
    """dataset node -> the URIs readers name it by: its own, and Assets its newest try wrote."""
    outlets = asset_outlets(conn, {tries[d.latest_output_id] for d in datasets if d.latest_output_id in tries})
    return {
        d.node: ({d.uri} if d.uri else set()) | outlets.get(tries.get(d.latest_output_id, -1), set()) for d in datasets
    }


def _names(d: DatasetRow, row: Any, uris: dict[str, set[str]], dag_id: str) -> bool:
    """Whether an input row (lineage or column lineage) of a try of ``dag_id`` names dataset ``d``."""
    kind = row.kind if hasattr(row, "kind") else row.input_kind
    if kind == "task":
        return (dag_id, row.upstream_task_id, row.upstream_output) == (d.dag_id, d.task_id, d.name)
    uri = row.uri if hasattr(row, "uri") else row.input_uri
    return uri in uris.get(d.node, ())


def derived_columns(
    conn: Connection, pairs: Sequence[tuple[DatasetRow, DatasetRow]], pii: dict[str, set[str]]
) -> dict[tuple[str, str], dict[str | None, set[str]]]:
    """For each (dataset, consumer output): ``{derived column: {PII columns of the dataset it
    comes from}}`` (``WHOLE`` as the column when every column derives, unknown which);
    empty when nothing of the output comes from the dataset's PII columns (``pii``: each
    dataset node's PII columns). A few statements for all the pairs."""
    lin, cl, col = Lineage.__table__, ColumnLineage.__table__, ColumnProfile.__table__
    tries = _tries_of(conn, {d for pair in pairs for d in pair})
    uris = _stands_for(conn, list({d.node: d for d, _ in pairs}.values()), tries)
    reader_tries = sorted({tries[out.latest_output_id] for _, out in pairs if out.latest_output_id in tries})
    inputs: dict[int, list[Any]] = defaultdict(list)
    for batch in batches(reader_tries, 500):
        for r in conn.execute(
            select(lin.c.task_run_id, lin.c.kind, lin.c.uri, lin.c.upstream_task_id, lin.c.upstream_output,
                   lin.c.columns_known).where(lin.c.task_run_id.in_(batch), lin.c.direction == "input")
        ):
            inputs[int(r.task_run_id)].append(r)
    edges: dict[int, list[Any]] = defaultdict(list)
    wanted = sorted({c for d, _ in pairs for c in pii.get(d.node, ())})
    for batch in batches(reader_tries, 200):
        for names in batches(wanted, 200):
            for r in conn.execute(
                select(cl.c.task_run_id, cl.c.output_name, cl.c.column_name, cl.c.input_kind, cl.c.input_uri,
                       cl.c.upstream_task_id, cl.c.upstream_output, cl.c.input_column)
                .where(cl.c.task_run_id.in_(batch), cl.c.input_column.in_(names))
            ):
                edges[int(r.task_run_id)].append(r)
    whole: list[tuple[DatasetRow, DatasetRow]] = []
    found: dict[tuple[str, str], dict[str | None, set[str]]] = {}
    for d, out in pairs:
        t = tries.get(out.latest_output_id)
        read = [r for r in inputs.get(t, ()) if _names(d, r, uris, out.dag_id)] if t is not None else []
        derived: dict[str | None, set[str]] = defaultdict(set)
        if read and any(r.columns_known for r in read):
            for e in edges.get(t, ()):
                if e.output_name == out.name and e.input_column in pii.get(d.node, ()) and _names(d, e, uris, out.dag_id):
                    derived[e.column_name].add(e.input_column)
        elif read:
            whole.append((d, out))
        found[(d.node, out.node)] = derived
    if whole:  # every column of those outputs, from every PII column of the dataset
        names_of: dict[int, list[str]] = defaultdict(list)
        ids = sorted({out.latest_output_id for _, out in whole})
        for batch in batches(ids, 500):
            for r in conn.execute(select(col.c.output_id, col.c.name).where(col.c.output_id.in_(batch)).order_by(col.c.position)):
                names_of[int(r.output_id)].append(r.name)
        for d, out in whole:
            for name in names_of.get(out.latest_output_id, [WHOLE]):
                found[(d.node, out.node)][name] = set(pii.get(d.node, ()))
    return found
