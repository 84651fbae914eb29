"""Move task records from Airflow's XCom table into ddtrack's side tables.

Runs server-side only (scheduler listener thread, api-server, ``ddtrack sync``), through
engines of its own. Idempotent: a try's rows are keyed by dag/run/task/map_index/try and
rewritten only when the record's content hash changed, so ingesting twice, or from two
processes at once, leaves one copy. Each record is its own transaction: one bad record
never blocks the others. Records are read from XCom a page at a time (keyset paging), so
memory stays bounded whatever a run's size; an unavailable database stops the ingest at
the first record, leaving the rest where it waits (XCom, the spool) for the next attempt.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ddtrack.record import XCOM_KEY, is_record, record_hash
from ddtrack.store.airflow_tables import TASK_INSTANCE, TASK_INSTANCE_HISTORY, XCOM
from ddtrack.store.catalog import entries_of_record, insert_ignore
from ddtrack.store.column_lineage import columns_known, write_column_lineage
from ddtrack.store.datasets import VersionFacts, default_fresh_within_s, pii_of, record_outputs
from ddtrack.store.engine import get_engine, in_transaction, is_unavailable, session_factory
from ddtrack.store.models import (
    ACROSS_RUNS,
    ColumnProfile,
    Flag,
    Lineage,
    Output,
    Review,
    Source,
    Tag,
    TaskRun,
)
from ddtrack.store.profiles import COLUMN_STATS, WrittenOutput
from ddtrack.store.stale_counts import mark as mark_stale

log = logging.getLogger("ddtrack.ingest")

_OUTPUT_DETAIL = ("repr", "sample", "pii", "type")


@dataclass
class IngestReport:
    seen: int = 0
    written: int = 0
    unchanged: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    # Records that failed because the database was unavailable (worth retrying later).
    unreachable: int = 0


# ---------------------------------------------------------------------------
# Reading Airflow's XComs
# ---------------------------------------------------------------------------


def decode_xcom_value(value: Any) -> Any:
    """An XCom value as stored (JSON text, maybe JSON inside JSON, or already decoded)."""
    for _ in range(3):
        if isinstance(value, bytes):
            value = value.decode()
        if not isinstance(value, str):
            return value
        try:
            value = json.loads(value)
        except ValueError:
            return value
    return value


_PAGE = 8  # records read at once: a page of 2 MiB records stays a few tens of MiB
_ORDER = (XCOM.c.dag_id, XCOM.c.run_id, XCOM.c.task_id, XCOM.c.map_index)


def _xcom_filter(dag_id: str | None, run_id: str | None, since: dt.datetime | None) -> list:
    where = [XCOM.c.key == XCOM_KEY]
    if dag_id is not None:
        where.append(XCOM.c.dag_id == dag_id)
    if run_id is not None:
        where.append(XCOM.c.run_id == run_id)
    if since is not None:
        where.append(XCOM.c.timestamp >= since)
    return where


def _after(last: tuple) -> Any:
    """Rows after ``last`` in ``_ORDER``: keyset paging without row-value comparison,
    which every backend reads the same way."""
    condition = _ORDER[-1] > last[-1]
    for column, value in zip(reversed(_ORDER[:-1]), reversed(last[:-1]), strict=True):
        condition = or_(column > value, and_(column == value, condition))
    return condition


def iter_records(
    metastore_url: str,
    *,
    dag_id: str | None = None,
    run_id: str | None = None,
    since: dt.datetime | None = None,
    page: int = _PAGE,
) -> Iterator[dict[str, Any]]:
    """The ddtrack records stored as XComs, optionally of one DAG / run / since a time,
    read ``page`` at a time: each page in a short connection of its own, so memory stays
    bounded and no read lock is held while the records are written (SQLite)."""
    where = _xcom_filter(dag_id, run_id, since)
    last: tuple | None = None
    while True:
        query = select(XCOM.c.value, *_ORDER).where(*where).order_by(*_ORDER).limit(page)
        if last is not None:
            query = query.where(_after(last))
        with get_engine(metastore_url).connect() as conn:
            rows = conn.execute(query).all()
        if not rows:
            return
        last = tuple(rows[-1])[1:]
        for row in rows:
            value = decode_xcom_value(row.value)
            if is_record(value):
                yield value
        del rows


def count_records(metastore_url: str, *, dag_id: str | None = None, since: dt.datetime | None = None) -> int:
    """How many ddtrack records wait in the XCom table (for a progress bar)."""
    query = select(func.count()).select_from(XCOM).where(*_xcom_filter(dag_id, None, since))
    with get_engine(metastore_url).connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def read_records_of_task(metastore_url: str, dag_id: str, run_id: str, task_id: str, map_index: int) -> list[dict[str, Any]]:
    """The record of one task instance by its keys (one primary-key read)."""
    query = select(XCOM.c.value).where(
        *_xcom_filter(dag_id, run_id, None), XCOM.c.task_id == task_id, XCOM.c.map_index == map_index
    )
    with get_engine(metastore_url).connect() as conn:
        rows = conn.execute(query).all()
    return [v for v in (decode_xcom_value(r.value) for r in rows) if is_record(v)]


def read_records_of_task_instance(metastore_url: str, ti_id: str) -> list[dict[str, Any]]:
    """The record of one task instance (by its UUID), before Airflow clears its XComs."""
    ti = TASK_INSTANCE
    q = (
        select(XCOM.c.value)
        .select_from(
            XCOM.join(
                ti,
                and_(
                    XCOM.c.dag_id == ti.c.dag_id,
                    XCOM.c.run_id == ti.c.run_id,
                    XCOM.c.task_id == ti.c.task_id,
                    XCOM.c.map_index == ti.c.map_index,
                ),
            )
        )
        # PostgreSQL keeps a native uuid; SQLite stores its 32 hex digits without dashes.
        .where(ti.c.id.in_(_uuid_spellings(ti_id)), XCOM.c.key == XCOM_KEY)
    )
    with get_engine(metastore_url).connect() as conn:
        rows = conn.execute(q).all()
    return [v for v in (decode_xcom_value(r.value) for r in rows) if is_record(v)]


def _uuid_spellings(value: str) -> list[str]:
    plain = value.replace("-", "").lower()
    if len(plain) != 32:
        return [value]
    dashed = f"{plain[:8]}-{plain[8:12]}-{plain[12:16]}-{plain[16:20]}-{plain[20:]}"
    return [dashed, plain]


def _airflow_state(metastore_url: str, record: Mapping[str, Any]) -> str | None:
    """Airflow's state of the record's try (current try, or one kept in the history)."""
    keys = {k: record[k] for k in ("dag_id", "run_id", "task_id", "map_index", "try_number")}
    try:
        with get_engine(metastore_url).connect() as conn:
            for table in (TASK_INSTANCE, TASK_INSTANCE_HISTORY):
                state = conn.execute(
                    select(table.c.state).where(*(table.c[k] == v for k, v in keys.items()))
                ).scalar()
                if state:
                    return str(state)
    except Exception as exc:  # the history table may not exist on every version
        log.debug("could not read task state: %s", exc)
    return None


# ---------------------------------------------------------------------------
# Writing the side tables
# ---------------------------------------------------------------------------


def _parse_time(value: Any) -> dt.datetime | None:
    """ISO time as naive UTC (the side tables store UTC without zone on every database)."""
    if not value:
        return None
    try:
        parsed = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return parsed


def _text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    s = str(value)
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _key_filter(record: Mapping[str, Any]):
    return and_(
        TaskRun.dag_id == record["dag_id"],
        TaskRun.run_id == record["run_id"],
        TaskRun.task_id == record["task_id"],
        TaskRun.map_index == int(record.get("map_index", -1)),
        TaskRun.try_number == int(record.get("try_number", 1)),
    )


def write_record(session: Session, record: Mapping[str, Any], *, state: str | None = None) -> bool:
    """Store one record in ``session``'s transaction; False if it was already stored as is."""
    digest = record_hash(record)
    existing = session.execute(select(TaskRun.id, TaskRun.record_hash, TaskRun.state).where(_key_filter(record))).first()
    replaced: dict[int, str] = {}  # the earlier copy's outputs: id -> name
    kept = _Kept([], [])
    if existing is not None:
        # Same record, and Airflow's state (of a "running" record: an untracked task's)
        # unknown or unchanged since: an ingest during the try must not leave it "running".
        if existing.record_hash == digest and (state is None or existing.state == _text(state, 20)):
            return False
        replaced = dict(session.execute(select(Output.id, Output.name).where(Output.task_run_id == existing.id)).all())
        kept = _flags_of(session, list(replaced))
        _delete_children(session, existing.id, kept)
        session.execute(delete(TaskRun).where(TaskRun.id == existing.id))
    started = _parse_time(record.get("started_at"))
    error = record.get("error") or {}
    run = TaskRun(
        dag_id=record["dag_id"],
        run_id=record["run_id"],
        task_id=record["task_id"],
        map_index=int(record.get("map_index", -1)),
        try_number=int(record.get("try_number", 1)),
        tracked=bool(record.get("tracked", True)),
        state=_text(state or record.get("state") or "unknown", 20),
        function=_text(record.get("function"), 255),
        code_hash=record.get("code_hash"),
        started_at=started,
        ended_at=_parse_time(record.get("ended_at")),
        duration_s=record.get("duration_s"),
        error_type=_text(error.get("type"), 255),
        error_message=error.get("message"),
        record_hash=digest,
        ingested_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
        extra={
            "upstream_task_ids": record.get("upstream_task_ids") or [],
            "warnings": record.get("warnings") or [],
            "truncated": bool(record.get("truncated")),
        }
        | ({"pii_free": True} if record.get("pii_free") else {}),
    )
    session.add(run)
    session.flush()
    outputs = record.get("outputs") or []
    written = [_write_output(session, run, output) for output in outputs]
    record_outputs(
        session,
        run,
        [
            VersionFacts(w.row, run.map_index, pii_of(output), _fresh_within_s(output))
            for w, output in zip(written, outputs, strict=True)
        ],
        pii_free=bool(record.get("pii_free")),
        default_fresh_within_s=default_fresh_within_s(),
        replaced=replaced.values(),  # their runs are counted in the datasets already
    )
    _put_back(session, kept, replaced, {w.row.name: w.row.id for w in written})
    _write_lineage(session, run, record)
    mark_stale(session, [run.dag_id], _written_uris(record))
    _write_tags(session, run, record)
    insert_ignore(session, entries_of_record(record))
    # Imported here: it loads numpy (profile.drift), which processes that import ingest only
    # to read records need not pay for.
    from ddtrack.store.across_runs import write_across_runs
    from ddtrack.store.outbox import enqueue_configured

    write_across_runs(session, run, written, record.get("checks"))
    enqueue_configured(session, run)
    return True


@dataclass
class _Kept:
    """Users' flags on a try's outputs and the reviews under them or of them, as rows."""

    flags: list[dict[str, Any]]
    reviews: list[dict[str, Any]]


def _flags_of(session: Session, output_ids: list[int]) -> _Kept:
    """What users said about the outputs of a try whose record is about to be rewritten
    (an untracked task's record grows with each ``log_output``), so that it survives."""
    if not output_ids:
        return _Kept([], [])
    flags = [dict(r) for r in session.execute(select(Flag.__table__).where(Flag.output_id.in_(output_ids))).mappings()]
    flag_ids = [f["id"] for f in flags]
    reviews = session.execute(
        select(Review.__table__).where(or_(Review.output_id.in_(output_ids), Review.flag_id.in_(flag_ids)))
    ).mappings()
    return _Kept(flags, [dict(r) for r in reviews])


def _put_back(session: Session, kept: _Kept, replaced: Mapping[int, str], new_ids: Mapping[str, int]) -> None:
    """The kept flags and reviews, on the rewritten outputs of the same names (same ids, so
    the reviews under a flag still name it); those on an output the new record lacks go."""
    moved = {old: new_ids[name] for old, name in replaced.items() if name in new_ids}
    flags = [f | {"output_id": moved[f["output_id"]]} for f in kept.flags if f["output_id"] in moved]
    gone_flags = {f["id"] for f in kept.flags} - {f["id"] for f in flags}
    reviews = [
        r | {"output_id": moved.get(r["output_id"], r["output_id"])}
        for r in kept.reviews
        if r["flag_id"] not in gone_flags and (r["output_id"] in moved or r["output_id"] not in replaced)
    ]
    if flags:
        session.execute(insert(Flag.__table__), flags)
    if reviews:
        session.execute(insert(Review.__table__), reviews)


def _delete_children(session: Session, task_run_id: int, kept: _Kept) -> None:
    # Databases without enforced cascades (SQLite without the pragma) still end up clean.
    output_ids = select(Output.id).where(Output.task_run_id == task_run_id).scalar_subquery()
    if kept.reviews:
        session.execute(delete(Review).where(Review.id.in_([r["id"] for r in kept.reviews])))
    if kept.flags:
        session.execute(delete(Flag).where(Flag.id.in_([f["id"] for f in kept.flags])))
    session.execute(delete(ColumnProfile).where(ColumnProfile.output_id.in_(output_ids)))
    for model in (*ACROSS_RUNS, Output, Lineage, Tag):
        session.execute(delete(model).where(model.task_run_id == task_run_id))


def _ensure_source(make_session: sessionmaker[Session], record: Mapping[str, Any]) -> None:
    """Store the function's source once per hash, in a transaction of its own."""
    code_hash, source = record.get("code_hash"), record.get("source")
    if not code_hash or source is None:
        return
    try:
        with make_session() as session, session.begin():
            if session.get(Source, code_hash) is None:
                session.add(Source(code_hash=code_hash, function=_text(record.get("function"), 255), source=source))
    except IntegrityError:
        pass  # stored by a concurrent ingest


def _write_output(session: Session, run: TaskRun, output: Mapping[str, Any]) -> WrittenOutput:
    profile = output.get("profile") or {}
    row = Output(
        task_run_id=run.id,
        dag_id=run.dag_id,
        task_id=run.task_id,
        run_id=run.run_id,
        started_at=run.started_at,
        name=_text(output.get("name") or "return_value", 250),
        uri=_text(output.get("uri"), 700),
        kind=_text(profile.get("kind") or "other", 20),
        type_name=_text(profile.get("type"), 255),
        rows=_int(profile.get("rows")),
        n_columns=_int(profile.get("n_columns")),
        memory_bytes=_int(profile.get("memory_bytes")),
        schema_fingerprint=profile.get("schema_fingerprint"),
        schema=profile.get("schema"),
        truncated=bool(profile.get("truncated")),
        detail={k: profile.get(k) for k in _OUTPUT_DETAIL if profile.get(k) is not None}
        | ({"tags": output["tags"]} if output.get("tags") else {})
        | ({"batches": _int(output["batches"])} if _int(output.get("batches")) else {})
        | ({"fresh_within_s": _fresh_within_s(output)} if _fresh_within_s(output) else {}),
    )
    session.add(row)
    session.flush()
    columns = [_column_row(row.id, col) for col in profile.get("columns") or []]
    if columns:
        session.execute(insert(ColumnProfile), columns)
    for key, value in (output.get("tags") or {}).items():
        session.add(Tag(task_run_id=run.id, output_name=row.name, key=_text(key, 250), value=_text(value, 500)))
    checks = output.get("checks")
    return WrittenOutput(row, columns, checks if isinstance(checks, list) else [])


def _fresh_within_s(output: Mapping[str, Any]) -> int | None:
    value = _int(output.get("fresh_within_s"))
    return value if value and value > 0 else None


def _column_row(output_id: int, col: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "output_id": output_id,
        "position": int(col.get("position", 0)),
        "name": _text(col.get("name"), 250) or "",
        "dtype": _text(col.get("dtype"), 100) or "",
        "kind": _text(col.get("kind"), 20) or "other",
        "count": _int(col.get("count")),
        "nulls": _int(col.get("nulls")),
        "null_pct": _finite(col.get("null_pct")),
        "n_distinct": _int(col.get("distinct")),
        "distinct_estimated": bool(col.get("distinct_estimated")),
        "mean": _finite(col.get("mean")),
        "std": _finite(col.get("std")),
        "zeros": _int(col.get("zeros")),
        "negatives": _int(col.get("negatives")),
        "infinities": _int(col.get("infinities")),
        "stats": {k: col.get(k) for k in COLUMN_STATS if col.get(k) is not None},
    }


def _int(value: Any) -> int | None:
    """An integer field of a record; anything else is a malformed record (on every database)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        raise ValueError(f"expected an integer, got {value!r:.50}")
    return int(value)


def _finite(value: Any) -> float | None:
    # The record spells infinities as strings; a FLOAT column takes numbers only.
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _write_lineage(session: Session, run: TaskRun, record: Mapping[str, Any]) -> None:
    base = {"task_run_id": run.id, "dag_id": run.dag_id, "run_id": run.run_id, "task_id": run.task_id}
    rows: list[dict[str, Any]] = []
    known = columns_known(record)
    for position, item in enumerate(record.get("inputs") or []):
        kind = item.get("kind") or "uri"
        direction = item.get("direction") or "input"
        if kind == "task":
            rows.append(
                base
                | {
                    "direction": "input",
                    "kind": "task",
                    "name": _text(item.get("name"), 250),
                    "uri": None,
                    "upstream_task_id": _text(item.get("task_id"), 250),
                    "upstream_output": _text(item.get("name"), 250),
                    "columns_known": position in known,
                }
            )
        else:
            rows.append(
                base
                | {
                    "direction": direction,
                    "kind": "asset" if kind == "asset" else "uri",
                    "name": _text(item.get("name"), 250),
                    "uri": _text(item.get("uri"), 700),
                    "upstream_task_id": None,
                    "upstream_output": None,
                    "columns_known": position in known if direction == "input" else None,
                }
            )
    for output in record.get("outputs") or []:
        if output.get("uri"):
            rows.append(
                base
                | {
                    "direction": "output",
                    "kind": "uri",
                    "name": _text(output.get("name"), 250),
                    "uri": _text(output.get("uri"), 700),
                    "upstream_task_id": None,
                    "upstream_output": None,
                    "columns_known": None,
                }
            )
    if rows:
        session.execute(insert(Lineage), rows)
    write_column_lineage(session, run, record)


def _written_uris(record: Mapping[str, Any]) -> list[str]:
    """The URIs a try wrote: its outputs' and its Asset outlets' (whose readers' staleness
    this version may change)."""
    outlets = [i.get("uri") for i in record.get("inputs") or [] if i.get("direction") == "output"]
    return [str(u) for u in [*(o.get("uri") for o in record.get("outputs") or []), *outlets] if u]


def _write_tags(session: Session, run: TaskRun, record: Mapping[str, Any]) -> None:
    for key, value in (record.get("tags") or {}).items():
        session.add(Tag(task_run_id=run.id, output_name=None, key=_text(key, 250), value=_text(value, 500)))


# ---------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------


def ingest_records(
    store_url: str,
    records: Iterable[Mapping[str, Any]],
    *,
    metastore_url: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Write ``records`` to the side tables at ``store_url``, one transaction each.

    Stops at the first record that finds the database unavailable: the others would only
    wait out the same timeouts, and they are still where they came from (XCom, spool)."""
    report = IngestReport()
    make_session = session_factory(store_url)
    for record in records:
        report.seen += 1
        try:
            changed = _ingest_one(make_session, record, metastore_url)
            report.written += int(changed)
            report.unchanged += int(not changed)
        except Exception as exc:
            report.failed += 1
            report.errors.append(f"{_describe(record)}: {type(exc).__name__}: {exc}")
            log.warning("ddtrack could not ingest %s: %s", _describe(record), exc)
            if is_unavailable(exc):
                report.unreachable += 1
                break
        if progress is not None:
            progress(1)
    return report


_INTEGRITY_ATTEMPTS = 3


def _ingest_one(make_session: sessionmaker[Session], record: Mapping[str, Any], metastore_url: str | None) -> bool:
    """Store one record; False if it was already stored as is (by us or a concurrent ingest)."""
    state = None
    if record.get("state") == "running" and metastore_url:
        state = _airflow_state(metastore_url, record)
    for attempt in range(1, _INTEGRITY_ATTEMPTS + 1):
        try:
            _ensure_source(make_session, record)
            return in_transaction(make_session, lambda s: write_record(s, record, state=state))
        except IntegrityError as exc:
            if is_duplicate_try(exc):
                return False  # a concurrent ingest stored the same try first
            if attempt == _INTEGRITY_ATTEMPTS:
                raise
            log.warning("ddtrack ingest of %s hit an integrity error, trying again: %s", _describe(record), exc)
    raise AssertionError("unreachable")


# The try's unique key, as each backend names it in a duplicate-key error.
_TRY_KEY_NAMES = ("uq_ddtrack_task_run_", "unique constraint failed: ddtrack_task_run.")


def is_duplicate_try(exc: IntegrityError) -> bool:
    """True only for the expected race: another ingest inserted this very try first
    (PostgreSQL 23505, MySQL 1062, SQLite UNIQUE, on ``ddtrack_task_run``'s unique key)."""
    orig = getattr(exc, "orig", None)
    code = str(getattr(orig, "pgcode", "") or (orig.args[0] if orig is not None and orig.args else ""))
    text = str(orig or exc).lower()
    duplicate = code in ("23505", "1062") or "unique constraint failed" in text
    return duplicate and any(name in text for name in _TRY_KEY_NAMES)


def _describe(record: Mapping[str, Any]) -> str:
    return "{}/{}/{}[{}] try {}".format(
        record.get("dag_id"), record.get("run_id"), record.get("task_id"), record.get("map_index"), record.get("try_number")
    )


def ingest_run(metastore_url: str, store_url: str, dag_id: str, run_id: str) -> IngestReport:
    """Ingest every record of one DAG run (what the dag-run listener does), a page at a
    time: a run of 1,000 map indexes with 2 MiB records never sits in memory at once."""
    records = iter_records(metastore_url, dag_id=dag_id, run_id=run_id)
    return ingest_records(store_url, records, metastore_url=metastore_url)
