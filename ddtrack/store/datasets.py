"""``ddtrack_dataset``: one row per output identity (dag, task, output name), kept true.

Ingest updates the row of each output it writes (:func:`record_outputs`), under a row lock,
in the record's transaction; retention recomputes the rows whose versions it deleted
(:func:`recompute`), and migration 0006 fills the table from what earlier versions stored
(:func:`backfill`). A version is one run: ``n_versions`` counts distinct runs, and the
"latest" fields describe the newest run's output (mapped parts' rows summed).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from ddtrack import conf
from ddtrack.store.models import Dataset, Output, TaskRun

log = logging.getLogger("ddtrack.ingest")

Key = tuple[str, str, str]  # (dag_id, task_id, name)
_PAGE = 10_000
_SUCCESS = "success"


@dataclass(frozen=True)
class VersionFacts:
    """What one written output says about its dataset."""

    output: Output
    map_index: int
    pii: Sequence[str]
    fresh_within_s: int | None


# ---------------------------------------------------------------------------
# Recomputing from the stored versions (retention, migration)
# ---------------------------------------------------------------------------

# Plain tables, not the models: the migration runs this at 0006's schema, whatever comes later.
_o = sa.table(
    "ddtrack_output",
    *(sa.column(c) for c in ("id", "task_run_id", "dag_id", "task_id", "run_id", "name", "started_at", "uri", "kind")),
    sa.column("rows"),
    sa.column("schema_fingerprint"),
    sa.column("detail", sa.JSON),
)
_r = sa.table(
    "ddtrack_task_run",
    *(sa.column(c) for c in ("id", "dag_id", "run_id", "task_id", "map_index", "try_number", "state")),
    sa.column("extra", sa.JSON),
)
_d = sa.table(
    "ddtrack_dataset",
    *(
        sa.column(c)
        for c in (
            "id", "dag_id", "task_id", "name", "uri", "kind", "first_seen_at", "last_seen_at", "last_success_at",
            "n_versions", "latest_output_id", "latest_rows", "latest_fingerprint", "has_pii", "pii_free", "fresh_within_s",
        )
    ),
    sa.column("pii_columns", sa.JSON),
)


def _of_dataset(o: Any) -> Any:
    return sa.and_(o.c.dag_id == _d.c.dag_id, o.c.task_id == _d.c.task_id, o.c.name == _d.c.name)


def _newest_tries_rows(run_id: Any) -> Any:
    """Rows of the dataset's outputs in ``run_id``, each map index's newest try only."""
    o, r, r2 = _o.alias("o2"), _r.alias("r2"), _r.alias("r3")
    newest_try = (
        sa.select(sa.func.max(r2.c.try_number))
        .where(
            r2.c.dag_id == r.c.dag_id, r2.c.run_id == r.c.run_id, r2.c.task_id == r.c.task_id, r2.c.map_index == r.c.map_index
        )
        .scalar_subquery()
    )
    return (
        sa.select(sa.func.sum(o.c.rows))
        .select_from(o.join(r, r.c.id == o.c.task_run_id))
        .where(_of_dataset(o), o.c.run_id == run_id, r.c.try_number == newest_try)
        .correlate(_d)
        .scalar_subquery()
    )


def _recompute_statements(where: Any) -> list[Any]:
    """UPDATEs that set every derived field of the datasets matching ``where`` from their
    stored versions (correlated subqueries: one statement each, any backend)."""
    o = _o.alias("o")
    newest = (
        sa.select(o.c.id)
        .where(_of_dataset(o))
        .order_by(sa.case((o.c.started_at.is_(None), 1), else_=0), o.c.started_at.desc(), o.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )

    def agg(fn: Any) -> Any:
        return sa.select(fn).where(_of_dataset(o)).scalar_subquery()

    succeeded = (
        sa.select(sa.func.max(o.c.started_at))
        .select_from(o.join(_r, _r.c.id == o.c.task_run_id))
        .where(_of_dataset(o), _r.c.state == _SUCCESS)
        .scalar_subquery()
    )

    def latest(column: str) -> Any:
        return sa.select(o.c[column]).where(o.c.id == _d.c.latest_output_id).correlate(_d).scalar_subquery()

    return [
        # MySQL/MariaDB apply SET clauses in order: latest_output_id first, then what reads it.
        _d.update()
        .where(where)
        .values(
            n_versions=agg(sa.func.count(sa.distinct(o.c.run_id))),
            first_seen_at=agg(sa.func.min(o.c.started_at)),
            last_seen_at=agg(sa.func.max(o.c.started_at)),
            last_success_at=succeeded,
            latest_output_id=newest,
        ),
        _d.update()
        .where(where, _d.c.latest_output_id.is_not(None))
        .values(
            uri=latest("uri"),
            kind=latest("kind"),
            latest_fingerprint=latest("schema_fingerprint"),
            latest_rows=_newest_tries_rows(latest("run_id")),
        ),
    ]


def _pii_and_freshness(conn: Connection | Session, where: Any) -> None:
    """``pii_columns``/``has_pii``/``fresh_within_s``/``pii_free`` from the newest version's
    stored detail and its try's (JSON: read in Python, a page of datasets at a time);
    written only where they change, so a store of few PII outputs costs few statements."""
    default = default_fresh_within_s()
    last_id = 0
    while True:
        page = conn.execute(
            sa.select(_d.c.id, _d.c.pii_columns, _d.c.pii_free, _d.c.fresh_within_s, _o.c.detail, _r.c.extra)
            .select_from(_d.join(_o, _o.c.id == _d.c.latest_output_id).join(_r, _r.c.id == _o.c.task_run_id))
            .where(where, _d.c.id > last_id)
            .order_by(_d.c.id)
            .limit(_PAGE)
        ).all()
        if not page:
            return
        last_id = page[-1].id
        for row in page:
            detail = row.detail if isinstance(row.detail, dict) else {}
            extra = row.extra if isinstance(row.extra, dict) else {}
            pii = sorted({str(c) for c in detail.get("pii") or []})
            fresh = _int_or_none(detail.get("fresh_within_s")) or default
            free = bool(extra.get("pii_free"))
            if (row.pii_columns, bool(row.pii_free), row.fresh_within_s) != (pii, free, fresh):
                conn.execute(
                    _d.update()
                    .where(_d.c.id == row.id)
                    .values(pii_columns=pii, has_pii=bool(pii), fresh_within_s=fresh, pii_free=free)
                )


def default_fresh_within_s() -> int | None:
    """``[ddtrack] default_fresh_within`` for outputs without a window of their own; a bad
    value is logged, never fails an ingest, a cleanup or a migration."""
    try:
        return conf.default_fresh_within()
    except ValueError as exc:
        log.warning("ddtrack ignores %s", exc)
        return None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def recompute(conn: Connection | Session, keys: Iterable[Key]) -> int:
    """Set the datasets ``keys`` from their stored versions, and delete those with none
    left (retention deleted them). Returns the datasets deleted."""
    keys = sorted(set(keys))
    deleted = 0
    for i in range(0, len(keys), 500):
        where = sa.tuple_(_d.c.dag_id, _d.c.task_id, _d.c.name).in_(keys[i : i + 500])
        for statement in _recompute_statements(where):
            conn.execute(statement)
        deleted += conn.execute(_d.delete().where(where, _d.c.n_versions == 0)).rowcount or 0
        _pii_and_freshness(conn, where)
    return deleted


def backfill(conn: Connection) -> int:
    """One dataset per (dag, task, output name) already stored, set from its versions;
    returns the datasets added. Migration 0006 runs it; the benchmarks too, after a bulk seed."""
    grouped = sa.select(
        _o.c.dag_id, _o.c.task_id, _o.c.name, sa.literal("other"), sa.literal(0), sa.false(), sa.false()
    ).group_by(_o.c.dag_id, _o.c.task_id, _o.c.name)
    added = conn.execute(
        _d.insert().from_select(["dag_id", "task_id", "name", "kind", "n_versions", "has_pii", "pii_free"], grouped)
    ).rowcount
    everything = sa.true()
    for statement in _recompute_statements(everything):
        conn.execute(statement)
    conn.execute(_d.update().where(_d.c.pii_columns.is_(None)).values(pii_columns=[]))
    _pii_and_freshness(conn, everything)
    return int(added or 0)


# ---------------------------------------------------------------------------
# Ingest: one upsert per written output
# ---------------------------------------------------------------------------


def _lock(session: Session, key: Key) -> Dataset | None:
    dag_id, task_id, name = key
    return session.execute(
        sa.select(Dataset)
        .where(Dataset.dag_id == dag_id, Dataset.task_id == task_id, Dataset.name == name)
        .with_for_update()
    ).scalar_one_or_none()


def _locked_or_created(session: Session, key: Key) -> Dataset:
    """The dataset's row, locked until the transaction ends; created first if missing.

    Insert-or-ignore then lock: two ingests that create the same dataset at once both end
    up updating the one row, one after the other (no duplicate-key error to recover from)."""
    from ddtrack.store.catalog import insert_ignore_into

    row = _lock(session, key)
    if row is None:
        dag_id, task_id, name = key
        insert_ignore_into(
            session,
            Dataset,
            [dict(dag_id=dag_id, task_id=task_id, name=name, kind="other", n_versions=0, has_pii=False, pii_free=False)],
            ("dag_id", "task_id", "name"),
        )
        row = _lock(session, key)
    assert row is not None
    return row


def _parts_of_run(session: Session, run: TaskRun, name: str) -> list[Any]:
    """Output ``name`` of every try of this task in this run (map indexes, retries).

    Read through the tries' unique key and the outputs' (task_run_id, name): bounded by the
    run's map indexes and tries, not by the dataset's history. Called with the dataset's
    row locked, so a concurrent ingest of the same dataset has committed its part; on
    MySQL/MariaDB (REPEATABLE READ) a locking read is what sees that commit."""
    query = (
        sa.select(Output.task_run_id, Output.rows, TaskRun.map_index, TaskRun.try_number)
        .join(TaskRun, TaskRun.id == Output.task_run_id)
        .where(
            TaskRun.dag_id == run.dag_id,
            TaskRun.run_id == run.run_id,
            TaskRun.task_id == run.task_id,
            Output.name == name,
        )
    )
    if session.get_bind().dialect.name in ("mysql", "mariadb"):
        query = query.with_for_update(read=True)
    return list(session.execute(query))


def _rows_of_newest_tries(parts: list[Any]) -> int | None:
    """A mapped version's rows: each map index's newest try, summed."""
    newest: dict[int, Any] = {}
    for part in parts:
        if part.map_index not in newest or part.try_number > newest[part.map_index].try_number:
            newest[part.map_index] = part
    counted = [p.rows for p in newest.values() if p.rows is not None]
    return sum(counted) if counted else None


def record_outputs(
    session: Session,
    run: TaskRun,
    outputs: Sequence[VersionFacts],
    *,
    pii_free: bool,
    default_fresh_within_s: int | None,
    replaced: Iterable[str] = (),
) -> None:
    """Update the dataset of each output ``run`` wrote, in the caller's transaction.

    ``replaced`` names the outputs of the earlier copy of this try that ingest just
    replaced: their run was counted already. Rows are locked in key order, so two ingests
    of overlapping outputs never wait on each other in a cycle."""
    replaced = set(replaced)
    for facts in sorted(outputs, key=lambda f: f.output.name):
        out = facts.output
        key = (run.dag_id, run.task_id, out.name)
        row = _locked_or_created(session, key)
        parts = _parts_of_run(session, run, out.name)
        if out.name not in replaced and all(p.task_run_id == run.id for p in parts):
            row.n_versions += 1
        started = run.started_at
        if started is not None and (row.first_seen_at is None or started < row.first_seen_at):
            row.first_seen_at = started
        if _is_newest(row.last_seen_at, started):
            _take_latest(row, out, facts, run, parts, pii_free, default_fresh_within_s)
        if run.state == _SUCCESS and started is not None and (row.last_success_at is None or started > row.last_success_at):
            row.last_success_at = started
    # Outputs the earlier copy of this try had and this one has not: recount them.
    gone = replaced - {f.output.name for f in outputs}
    if gone:
        session.flush()
        recompute(session, [(run.dag_id, run.task_id, name) for name in gone])


def _is_newest(last_seen: datetime | None, started: datetime | None) -> bool:
    return last_seen is None or (started is not None and started >= last_seen)


def _take_latest(
    row: Dataset,
    out: Output,
    facts: VersionFacts,
    run: TaskRun,
    parts: list[Any],
    pii_free: bool,
    default_fresh_within_s: int | None,
) -> None:
    row.last_seen_at = run.started_at
    row.latest_output_id = out.id
    row.uri = out.uri or row.uri
    row.kind = out.kind
    row.latest_fingerprint = out.schema_fingerprint
    # A mapped task's version is the sum of its parts in the run.
    row.latest_rows = _rows_of_newest_tries(parts) if facts.map_index >= 0 else out.rows
    pii = sorted({str(c) for c in facts.pii})
    row.pii_columns = pii
    row.has_pii = bool(pii)
    row.pii_free = pii_free
    row.fresh_within_s = facts.fresh_within_s if facts.fresh_within_s is not None else default_fresh_within_s


def pii_of(output: Mapping[str, Any]) -> list[str]:
    """The PII column names a record's output declares (``pii=``), wherever it put them."""
    names = output.get("pii") or (output.get("profile") or {}).get("pii") or []
    return [str(n) for n in names] if isinstance(names, (list, tuple)) else []
