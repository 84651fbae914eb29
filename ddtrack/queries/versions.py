"""Output versions and which versions a try read: the one definition trace, impact,
flags and staleness share.

A version is one ``ddtrack_output`` row (of the newest try of its dag/run/task/map index,
when found by keys). The inputs of a try are its ``ddtrack_lineage`` rows of direction
"input", resolved by :func:`resolve_inputs`. Every statement takes a whole set of keys in
bounded batches. Rows are read whatever their DAG (a walk passes through DAGs the caller
may not read); which of them the caller may read is then decided in SQL, in one statement
for all of them (:func:`mark_readable`, through :func:`~ddtrack.queries.access.dag_filter`),
and only those are ever named.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import literal, select, tuple_, union_all
from sqlalchemy.engine import Connection

from ddtrack.queries.access import Allowed, dag_filter, one_dag
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.types import VersionRef
from ddtrack.store.catalog import entry
from ddtrack.store.models import CatalogEntry, Lineage, Output, TaskRun

BATCH = 200  # keys per statement: IN lists and OR-ed key groups stay small for every backend


class UnknownVersion(LookupError):
    """An output id the store does not have (or of a DAG the caller may not read)."""

    def __init__(self, output_id: int) -> None:
        super().__init__(f"no output version with id {output_id}")
        self.output_id = output_id


# -- rows -------------------------------------------------------------------------------


@dataclass
class TryRow:
    id: int
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    code_hash: str | None
    started_at: dt.datetime | None
    visible: bool = True  # until mark_readable says otherwise


@dataclass
class VersionRow:
    id: int
    task_run_id: int
    ref: VersionRef
    map_index: int
    visible: bool = True  # until mark_readable says otherwise

    def try_row(self) -> TryRow:
        """The try that wrote this version (its keys are copied on the output row)."""
        r = self.ref
        return TryRow(
            self.task_run_id, r.dag_id, r.run_id, r.task_id, self.map_index, r.try_number or 1, r.state, r.code_hash,
            r.started_at, self.visible,
        )


@dataclass
class InputUse:
    """One input of a try, resolved: the version it read, or ``version=None`` for an
    external input (a URI no tracked task wrote before the try started)."""

    kind: str  # "task", "uri" or "asset"
    name: str | None
    uri: str | None
    version: VersionRef | None = None
    visible: bool = True  # False: the version is in a DAG the caller may not read
    _row: VersionRow | None = field(default=None, repr=False, compare=False)


def batches(items: Iterable[Any], size: int = BATCH) -> Iterator[list[Any]]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i : i + size]


_TRY_COLS = (
    TaskRun.id, TaskRun.dag_id, TaskRun.run_id, TaskRun.task_id, TaskRun.map_index,
    TaskRun.try_number, TaskRun.state, TaskRun.code_hash, TaskRun.started_at,
)


def _version_cols():
    o, r = Output.__table__, TaskRun.__table__
    return (
        o.c.id, o.c.task_run_id, o.c.dag_id, o.c.task_id, o.c.run_id, o.c.name, o.c.started_at, o.c.uri,
        o.c.rows, o.c.schema_fingerprint, r.c.code_hash, r.c.try_number, r.c.state, r.c.map_index,
    )


def version_select():
    """Versions with their try's code hash, try number, state and map index."""
    o, r = Output.__table__, TaskRun.__table__
    return select(*_version_cols()).select_from(o.join(r, r.c.id == o.c.task_run_id))


def readable_dags(conn: Connection, dag_ids: Iterable[str], allowed: Allowed) -> set[str]:
    """Which of ``dag_ids`` the caller may read, asked in SQL in one statement per 500: how a
    walk that read rows of any DAG decides what it may name. Reads the catalog's one entry
    per DAG by its unique hash (a DAG without one, which ingest always writes, stays hidden)."""
    dag_ids = set(dag_ids)
    if allowed is None:
        return dag_ids
    cat = CatalogEntry.__table__
    readable: set[str] = set()
    for batch in batches(sorted(dag_ids), 500):
        hashes = [entry("dag", dag_id, dag_id)["entry_hash"] for dag_id in batch]
        readable |= set(
            conn.execute(select(cat.c.dag_id).where(cat.c.entry_hash.in_(hashes), dag_filter(cat.c.dag_id, allowed))).scalars()
        )
    return readable & dag_ids


def mark_readable(conn: Connection, rows: Iterable[VersionRow | TryRow], allowed: Allowed) -> None:
    """Set ``visible`` on rows read for a walk (:func:`readable_dags`)."""
    rows = list(rows)
    readable = readable_dags(conn, {_dag(r) for r in rows}, allowed)
    for r in rows:
        r.visible = _dag(r) in readable


def _dag(row: VersionRow | TryRow) -> str:
    return row.ref.dag_id if isinstance(row, VersionRow) else row.dag_id


def version_row(row: Any) -> VersionRow:
    ref = VersionRef(
        output_id=int(row.id), dag_id=row.dag_id, task_id=row.task_id, run_id=row.run_id, name=row.name,
        started_at=utc(row.started_at), uri=row.uri, rows=row.rows, schema_fingerprint=row.schema_fingerprint,
        code_hash=row.code_hash, try_number=row.try_number, state=row.state,
    )
    return VersionRow(int(row.id), int(row.task_run_id), ref, int(row.map_index))


def versions_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, VersionRow]:
    found: dict[int, VersionRow] = {}
    for batch in batches(sorted(set(ids))):
        for row in conn.execute(version_select().where(Output.__table__.c.id.in_(batch))):
            found[int(row.id)] = version_row(row)
    return found


def versions_of_tries(conn: Connection, try_ids: Iterable[int]) -> list[VersionRow]:
    found: list[VersionRow] = []
    for batch in batches(sorted(set(try_ids))):
        rows = conn.execute(version_select().where(Output.__table__.c.task_run_id.in_(batch)))
        found += [version_row(row) for row in rows]
    return found


def _try_row(r: Any) -> TryRow:
    return TryRow(
        int(r.id), r.dag_id, r.run_id, r.task_id, int(r.map_index), int(r.try_number), r.state, r.code_hash,
        utc(r.started_at),
    )


def tries_by_id(conn: Connection, ids: Iterable[int]) -> dict[int, TryRow]:
    found: dict[int, TryRow] = {}
    for batch in batches(sorted(set(ids))):
        for r in conn.execute(select(*_TRY_COLS).where(TaskRun.id.in_(batch))):
            found[int(r.id)] = _try_row(r)
    return found


def tries_with_outputs(conn: Connection, ids: Iterable[int]) -> tuple[dict[int, TryRow], list[VersionRow]]:
    """Tries and the versions they wrote, in one statement per batch (an outer join: a try
    without a tracked output is still a try)."""
    o, r = Output.__table__, TaskRun.__table__
    tries: dict[int, TryRow] = {}
    versions: list[VersionRow] = []
    cols = (o.c.id.label("output_id"), o.c.name, o.c.uri, o.c.rows, o.c.schema_fingerprint)
    for batch in batches(sorted(set(ids))):
        for row in conn.execute(select(*_TRY_COLS, *cols).select_from(r.outerjoin(o, o.c.task_run_id == r.c.id)).where(r.c.id.in_(batch))):
            t = tries.setdefault(int(row.id), _try_row(row))
            if row.output_id is not None:
                ref = VersionRef(
                    output_id=int(row.output_id), dag_id=t.dag_id, task_id=t.task_id, run_id=t.run_id, name=row.name,
                    started_at=t.started_at, uri=row.uri, rows=row.rows, schema_fingerprint=row.schema_fingerprint,
                    code_hash=t.code_hash, try_number=t.try_number, state=t.state,
                )
                versions.append(VersionRow(ref.output_id, t.id, ref, t.map_index))
    return tries, versions


def newest_tries_only(versions: Iterable[VersionRow]) -> list[VersionRow]:
    """Of versions of the same (dag, run, task, map index, name), the newest try's."""
    best: dict[tuple, VersionRow] = {}
    for v in versions:
        key = (v.ref.dag_id, v.ref.run_id, v.ref.task_id, v.map_index, v.ref.name)
        if key not in best or (v.ref.try_number or 0) > (best[key].ref.try_number or 0):
            best[key] = v
    return list(best.values())


# -- version resolution (shared with staleness) ------------------------------------------


def _uri_versions_before(conn: Connection, pairs: Sequence[tuple[str, dt.datetime]]) -> dict[tuple, VersionRow]:
    """For each (uri, time): the newest output with that URI started before the time. One
    statement per batch: a UNION ALL of ``LIMIT 1`` index seeks on (uri, started_at)."""
    o = Output.__table__
    found: dict[tuple, VersionRow] = {}
    for batch in batches(pairs, 100):
        branches = []
        for i, (uri, before) in enumerate(batch):
            inner = (
                version_select()
                .where(o.c.uri == uri, o.c.started_at < before)
                .order_by(o.c.started_at.desc(), o.c.id.desc())
                .limit(1)
                .subquery()
            )
            branches.append(select(inner, _literal(i)))
        for row in conn.execute(union_all(*branches)):
            found[batch[int(row.pair)]] = version_row(row)
    return found


def uri_versions_after(conn: Connection, pairs: Sequence[tuple[str, dt.datetime]]) -> dict[tuple, dt.datetime]:
    """For each (uri, time): when the URI's next version started (the next output written to
    it, or the next try with it as an Asset outlet). Two statements per batch, each a
    UNION ALL of ``LIMIT 1`` index seeks."""
    o, lin, r = Output.__table__, Lineage.__table__, TaskRun.__table__
    found: dict[tuple, dt.datetime] = {}
    for batch in batches(pairs, 100):
        for kind in ("output", "asset"):
            branches = []
            for i, (uri, after) in enumerate(batch):
                if kind == "output":
                    query = select(o.c.started_at.label("started_at")).where(o.c.uri == uri, o.c.started_at > after)
                    order = o.c.started_at
                else:
                    query = (
                        select(r.c.started_at.label("started_at"))
                        .select_from(lin.join(r, r.c.id == lin.c.task_run_id))
                        .where(lin.c.uri == uri, lin.c.direction == "output", lin.c.kind == "asset", r.c.started_at > after)
                    )
                    order = r.c.started_at
                inner = query.order_by(order).limit(1).subquery()
                branches.append(select(inner.c.started_at, _literal(i)))
            for row in conn.execute(union_all(*branches)):
                pair, started = batch[int(row[1])], utc(row[0])
                if pair not in found or started < found[pair]:
                    found[pair] = started
    return found


def _asset_writers_before(conn: Connection, pairs: Sequence[tuple[str, dt.datetime]]) -> dict[tuple, tuple[int, dt.datetime]]:
    """For each (asset uri, time): the newest try with that Asset as an outlet started before it."""
    lin, r = Lineage.__table__, TaskRun.__table__
    found: dict[tuple, tuple[int, dt.datetime]] = {}
    for batch in batches(pairs, 100):
        branches = []
        for i, (uri, before) in enumerate(batch):
            inner = (
                select(r.c.id.label("try_id"), r.c.started_at.label("started_at"))
                .select_from(lin.join(r, r.c.id == lin.c.task_run_id))
                .where(lin.c.uri == uri, lin.c.direction == "output", lin.c.kind == "asset", r.c.started_at < before)
                .order_by(r.c.started_at.desc())
                .limit(1)
                .subquery()
            )
            branches.append(select(inner.c.try_id, inner.c.started_at, _literal(i)))
        for row in conn.execute(union_all(*branches)):
            found[batch[int(row[2])]] = (int(row[0]), utc(row[1]))
    return found


def _literal(i: int):
    return literal(i).label("pair")


def _task_input_versions(conn: Connection, keys: set[tuple[str, str, str, str]]) -> dict[tuple, list[VersionRow]]:
    """(dag, run, upstream task, output name) -> that output's versions in the run (each map
    index's newest try), through the try's unique key."""
    o, r = Output.__table__, TaskRun.__table__
    found: dict[tuple, list[VersionRow]] = defaultdict(list)
    for batch in batches(sorted(keys), 100):
        match = tuple_(r.c.dag_id, r.c.run_id, r.c.task_id, o.c.name).in_(batch)
        for v in newest_tries_only(version_row(row) for row in conn.execute(version_select().where(match))):
            found[(v.ref.dag_id, v.ref.run_id, v.ref.task_id, v.ref.name)].append(v)
    return found


def resolve(conn: Connection, tries: Sequence[TryRow]) -> dict[int, list[InputUse]]:
    """The inputs of ``tries``, each resolved to the version it read (``_row``; None:
    external). Readability is the caller's (:func:`mark_readable`)."""
    lin = Lineage.__table__
    rows = []
    for batch in batches([t.id for t in tries]):
        rows += conn.execute(
            select(lin.c.task_run_id, lin.c.kind, lin.c.name, lin.c.uri, lin.c.upstream_task_id, lin.c.upstream_output)
            .where(lin.c.task_run_id.in_(batch), lin.c.direction == "input")
            .order_by(lin.c.id)
        ).all()
    by_id = {t.id: t for t in tries}
    task_keys: set[tuple[str, str, str, str]] = set()
    uri_pairs: set[tuple[str, dt.datetime]] = set()
    asset_pairs: set[tuple[str, dt.datetime]] = set()
    for row in rows:
        t = by_id[int(row.task_run_id)]
        if row.kind == "task" and row.upstream_task_id:
            task_keys.add((t.dag_id, t.run_id, row.upstream_task_id, row.upstream_output or "return_value"))
        elif row.uri and t.started_at is not None:
            uri_pairs.add((row.uri, t.started_at))
            if row.kind == "asset":
                asset_pairs.add((row.uri, t.started_at))
    by_task = _task_input_versions(conn, task_keys) if task_keys else {}
    by_uri = _uri_versions_before(conn, sorted(uri_pairs)) if uri_pairs else {}
    writers = _asset_writers_before(conn, sorted(asset_pairs)) if asset_pairs else {}
    writer_versions: dict[int, list[VersionRow]] = defaultdict(list)
    for v in versions_of_tries(conn, {w[0] for w in writers.values()}):
        writer_versions[v.task_run_id].append(v)

    result: dict[int, list[InputUse]] = {t.id: [] for t in tries}
    seen: set[tuple[int, Any]] = set()
    for row in rows:
        t = by_id[int(row.task_run_id)]
        if row.kind == "task" and row.upstream_task_id:
            key = (t.dag_id, t.run_id, row.upstream_task_id, row.upstream_output or "return_value")
            found = by_task.get(key, [])
        elif row.uri and t.started_at is not None:
            pair = (row.uri, t.started_at)
            found = [by_uri[pair]] if pair in by_uri else []
            writer = writers.get(pair)
            if writer and writer_versions.get(writer[0]) and (
                not found or (found[0].ref.started_at or dt.datetime.min) < writer[1]
            ):
                found = writer_versions[writer[0]]
        else:
            continue
        if not found:
            if (t.id, row.uri) not in seen:
                seen.add((t.id, row.uri))
                result[t.id].append(InputUse(row.kind, row.name, row.uri))
            continue
        for v in found:
            if (t.id, v.id) not in seen:
                seen.add((t.id, v.id))
                result[t.id].append(InputUse(row.kind, row.name, row.uri, _row=v))
    return result


def resolve_inputs(sources: Sources, task_run_ids: Iterable[int], *, allowed: Allowed) -> dict[int, list[InputUse]]:
    """The exact versions each try read: ``task_run_id -> [InputUse]``.

    The one definition of "which version did this try use" (trace, impact, staleness):
    an upstream task's output is the one of the same run (each map index's newest try); a
    URI or Asset input is the newest output version with that URI (any DAG) whose try
    started before the reader's try, or for an Asset, the outputs of the newest try with it
    as an outlet if that is newer; otherwise the input is external (``version=None``,
    ``visible=True``). An input read from a DAG the caller may not read has
    ``visible=False`` and no version (nothing of it is named). Tries of DAGs the caller may
    not read get no entry. A few statements for all the ids, in batches.
    """
    with store_conn(sources) as conn:
        tries = list(tries_by_id(conn, task_run_ids).values())
        mark_readable(conn, tries, allowed)
        resolved = resolve(conn, [t for t in tries if t.visible])
        mark_readable(conn, [u._row for uses in resolved.values() for u in uses if u._row is not None], allowed)
    for uses in resolved.values():
        for use in uses:
            if use._row is not None:
                use.visible = use._row.visible
                use.version = use._row.ref if use.visible else None
                if not use.visible:
                    use._row = None  # not even the id of what an unreadable DAG wrote
    return resolved


# -- finding versions ---------------------------------------------------------------------


def find_version(
    sources: Sources, dag_id: str, run_id: str, task_id: str, output: str | None = None, *, allowed: Allowed
) -> VersionRef | None:
    """The output version of (dag, run, task): its newest try's output named ``output``
    (None: ``return_value`` if there is one, else the first by name). A mapped task's
    newest try of its lowest map index. None if there is none or the DAG is not readable."""
    o, r = Output.__table__, TaskRun.__table__
    query = version_select().where(one_dag(r.c.dag_id, dag_id, allowed), r.c.run_id == run_id, r.c.task_id == task_id)
    if output is not None:
        query = query.where(o.c.name == output)
    with store_conn(sources) as conn:
        rows = conn.execute(query.order_by(r.c.map_index, r.c.try_number.desc(), o.c.name).limit(500)).all()
    if not rows:
        return None
    versions = [version_row(row) for row in rows]
    newest = max(v.ref.try_number or 0 for v in versions if v.map_index == versions[0].map_index)
    candidates = [v for v in versions if v.map_index == versions[0].map_index and v.ref.try_number == newest]
    chosen = next((v for v in candidates if v.ref.name == "return_value"), candidates[0])
    return chosen.ref


def version_of(sources: Sources, output_id: int, *, allowed: Allowed) -> VersionRef | None:
    """The version with id ``output_id``, if the caller may read its DAG."""
    with store_conn(sources) as conn:
        found = readable_version(conn, output_id, allowed)
    return None if found is None else found.ref


def readable_version(conn: Connection, output_id: int, allowed: Allowed) -> VersionRow | None:
    """The version with id ``output_id`` if the caller may read its DAG (in SQL)."""
    o = Output.__table__
    row = conn.execute(version_select().where(o.c.id == int(output_id), dag_filter(o.c.dag_id, allowed))).first()
    return None if row is None else version_row(row)
