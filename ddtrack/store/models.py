"""ddtrack's side tables.

Normalised so that the views' common questions are indexed look-ups:

* ``ddtrack_task_run``: one row per task try (dag/run/task/map_index/try), how it ran.
* ``ddtrack_output``: one row per recorded output of a try; row counts, schema fingerprint.
  The run's dag/task/start time are copied here so "row count of task X over its last
  1,000 runs" reads one index.
* ``ddtrack_column``: one row per column profile of an output, so "which outputs have a
  column named ``email``" is an index look-up.
* ``ddtrack_lineage``: inputs and outputs of a try (upstream tasks, external URIs, Assets).
* ``ddtrack_column_lineage``: which input columns each output column of a try comes from.
* ``ddtrack_tag``: key/value tags of a try or of one of its outputs.
* ``ddtrack_source``: function source code, stored once per hash.
* ``ddtrack_lease``: which process does a piece of background work (housekeeping) until when.
* ``ddtrack_drift``, ``ddtrack_anomaly``, ``ddtrack_check_result``: what changed across runs,
  written at ingest with the try (drift per column against a baseline, values outside their
  history's band, the results of checks declared in code).
* ``ddtrack_baseline``: runs pinned as the baseline of a task's outputs.
* ``ddtrack_dataset``: one row per output identity across runs (catalog, PII, freshness),
  kept at ingest; ``ddtrack_flag`` / ``ddtrack_review``: versions flagged as bad, and
  suspects downstream of them cleared by a review.

The schema is owned by Alembic (``ddtrack/store/migrations``); these models must match the
newest migration (a test compares them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# Key lengths stay within MySQL/MariaDB's 3072-byte index limit with utf8mb4 (4 bytes a char).
ID_LEN = 250
NAME_LEN = 250
URI_LEN = 700
SHORT_TEXT = 255

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _big_id() -> Mapped[int]:
    # BIGINT on PostgreSQL/MySQL, but plain INTEGER on SQLite so it stays a rowid alias.
    return mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)


class Source(Base):
    __tablename__ = "ddtrack_source"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    function: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    source: Mapped[str] = mapped_column(Text)


class Lease(Base):
    """Who does a piece of background work until when: one row per kind of work. Every
    scheduler and api-server runs an ingest thread; the one that takes the lease does
    the work (housekeeping) for the lease's interval, the others leave it."""

    __tablename__ = "ddtrack_lease"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(SHORT_TEXT))
    taken_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime] = mapped_column(DateTime)


class StaleCount(Base):
    """How many of a DAG's outputs are stale (their newest version missed a newer version of
    an input), as the background refresh last computed it: home's badge reads these instead
    of working staleness out across every DAG. Valid only while no :class:`StaleMark` of
    the DAG is left (see :mod:`ddtrack.store.stale_counts`)."""

    __tablename__ = "ddtrack_stale_count"

    dag_id: Mapped[str] = mapped_column(String(ID_LEN), primary_key=True)
    stale_outputs: Mapped[int] = mapped_column(Integer)
    computed_at: Mapped[datetime] = mapped_column(DateTime)


class StaleMark(Base):
    """A DAG whose staleness may have changed: written in the same transaction as the
    versions that changed it (an ingest, a deletion), removed by the refresh that counted
    the DAG again. Only ever inserted by writers, so ingests never wait on each other here."""

    __tablename__ = "ddtrack_stale_mark"

    id: Mapped[int] = _big_id()
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))

    __table_args__ = (Index("ix_ddtrack_stale_mark_dag", "dag_id"),)


class TaskRun(Base):
    __tablename__ = "ddtrack_task_run"

    id: Mapped[int] = _big_id()
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int] = mapped_column(Integer, default=1)
    tracked: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(20))
    function: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    code_hash: Mapped[str | None] = mapped_column(String(64))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    duration_s: Mapped[float | None] = mapped_column(Float)
    error_type: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    error_message: Mapped[str | None] = mapped_column(Text)
    record_hash: Mapped[str] = mapped_column(String(64))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)
    extra: Mapped[dict | None] = mapped_column(JSON)

    outputs: Mapped[list[Output]] = relationship(back_populates="task_run", cascade="all, delete-orphan")
    lineage: Mapped[list[Lineage]] = relationship(cascade="all, delete-orphan")
    tags: Mapped[list[Tag]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("dag_id", "run_id", "task_id", "map_index", "try_number"),
        Index("ix_ddtrack_task_run_history", "dag_id", "task_id", "started_at"),
        Index("ix_ddtrack_task_run_started", "started_at"),
        # Newest tries of a whole DAG (home sparklines, DAG run history).
        Index("ix_ddtrack_task_run_dag_started", "dag_id", "started_at"),
    )


class Output(Base):
    __tablename__ = "ddtrack_output"

    id: Mapped[int] = _big_id()
    task_run_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_task_run.id", ondelete="CASCADE"))
    # Copied from the task run: history and search queries read this table alone.
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    uri: Mapped[str | None] = mapped_column(String(URI_LEN))
    kind: Mapped[str] = mapped_column(String(20))
    type_name: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    rows: Mapped[int | None] = mapped_column(BigInteger)
    n_columns: Mapped[int | None] = mapped_column(Integer)
    memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    schema_fingerprint: Mapped[str | None] = mapped_column(String(64))
    schema: Mapped[list | None] = mapped_column(JSON)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    # Fields of the profile that have no column of their own (repr, sample, pii, ...).
    detail: Mapped[dict | None] = mapped_column(JSON)

    task_run: Mapped[TaskRun] = relationship(back_populates="outputs")
    columns: Mapped[list[ColumnProfile]] = relationship(
        cascade="all, delete-orphan", order_by="ColumnProfile.position"
    )

    __table_args__ = (
        UniqueConstraint("task_run_id", "name"),
        Index("ix_ddtrack_output_history", "dag_id", "task_id", "name", "started_at"),
        Index("ix_ddtrack_output_uri", "uri"),
        # The versions of a URI in time order: which version a reader of the URI used.
        Index("ix_ddtrack_output_uri_started", "uri", "started_at"),
    )


class ColumnProfile(Base):
    __tablename__ = "ddtrack_column"

    id: Mapped[int] = _big_id()
    output_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_output.id", ondelete="CASCADE"))
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    dtype: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    count: Mapped[int | None] = mapped_column(BigInteger)
    nulls: Mapped[int | None] = mapped_column(BigInteger)
    null_pct: Mapped[float | None] = mapped_column(Float)
    n_distinct: Mapped[int | None] = mapped_column(BigInteger)
    distinct_estimated: Mapped[bool] = mapped_column(Boolean, default=False)
    mean: Mapped[float | None] = mapped_column(Float)
    std: Mapped[float | None] = mapped_column(Float)
    zeros: Mapped[int | None] = mapped_column(BigInteger)
    negatives: Mapped[int | None] = mapped_column(BigInteger)
    infinities: Mapped[int | None] = mapped_column(BigInteger)
    # min/max/quantiles/histogram/top values/string lengths/sketches: shown, not queried.
    stats: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_ddtrack_column_output", "output_id", "position"),
        Index("ix_ddtrack_column_name", "name"),
        # One column's history across outputs (trends, drift baselines).
        Index("ix_ddtrack_column_output_name", "output_id", "name"),
    )


class Lineage(Base):
    __tablename__ = "ddtrack_lineage"

    id: Mapped[int] = _big_id()
    task_run_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_task_run.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    # "input" or "output" of this task.
    direction: Mapped[str] = mapped_column(String(10))
    # "task" (an upstream task's tracked output), "uri" (log_input/log_output), "asset" (inlets/outlets).
    kind: Mapped[str] = mapped_column(String(10))
    name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    uri: Mapped[str | None] = mapped_column(String(URI_LEN))
    upstream_task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    upstream_output: Mapped[str | None] = mapped_column(String(NAME_LEN))
    # An input whose columns the task knew (or declared): its column lineage is complete, so
    # PII follows it column by column; otherwise every output of the try derives from it whole.
    columns_known: Mapped[bool | None] = mapped_column(Boolean)

    __table_args__ = (
        Index("ix_ddtrack_lineage_task", "dag_id", "task_id"),
        Index("ix_ddtrack_lineage_uri", "uri"),
        Index("ix_ddtrack_lineage_run", "task_run_id"),
        # Consumers of an upstream task's output within a run (trace/impact, one hop).
        Index("ix_ddtrack_lineage_upstream", "dag_id", "run_id", "upstream_task_id"),
        # Readers (direction "input") or writers of a URI across DAGs, in (DAG, task) order: a
        # page of a URI's readers reads just them (on PostgreSQL a (uri, direction) index lost to
        # a scan of (dag_id, task_id) for "ORDER BY dag_id, task_id LIMIT n", 4.3 s at 1.2M rows).
        # MariaDB keeps 255 characters of the URI in the key (3072-byte limit).
        Index(
            "ix_ddtrack_lineage_uri_direction", "uri", "direction", "dag_id", "task_id", mysql_length={"uri": 255}
        ),
    )


class Tag(Base):
    __tablename__ = "ddtrack_tag"

    id: Mapped[int] = _big_id()
    task_run_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_task_run.id", ondelete="CASCADE"))
    output_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    key: Mapped[str] = mapped_column(String(NAME_LEN))
    value: Mapped[str | None] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_ddtrack_tag_key_value", "key", "value"),
        Index("ix_ddtrack_tag_run", "task_run_id"),
    )


class CatalogEntry(Base):
    """One distinct searchable name: a DAG, task, output, column, tag or URI seen in any run.

    Search reads this small table instead of scanning millions of column profiles with
    ``LIKE '%text%'`` (which no B-tree index serves). ``entry_hash`` makes the identity
    unique within MySQL's index size limit.
    """

    __tablename__ = "ddtrack_catalog"

    id: Mapped[int] = _big_id()
    entry_hash: Mapped[str] = mapped_column(String(40), unique=True)
    # "dag", "task", "output", "column", "tag" or "uri".
    kind: Mapped[str] = mapped_column(String(10))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN), default="")
    output_name: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    text: Mapped[str] = mapped_column(String(500))

    __table_args__ = (
        Index("ix_ddtrack_catalog_text", "text"),
        Index("ix_ddtrack_catalog_dag", "dag_id"),
        # Home's counts of outputs and tasks per DAG, from the index alone (migration 0010).
        Index("ix_ddtrack_catalog_kind_dag", "kind", "dag_id", "task_id"),
    )


class _OfTry:
    """Rows written at ingest for a try: deleted with it, and carrying its keys so history
    and alert questions read one table."""

    id: Mapped[int] = _big_id()
    task_run_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_task_run.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    started_at: Mapped[datetime | None] = mapped_column(DateTime)


class Drift(_OfTry, Base):
    """Drift of one column of one output against its baseline (written at ingest)."""

    __tablename__ = "ddtrack_drift"

    output_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_output.id", ondelete="CASCADE"))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    column_name: Mapped[str] = mapped_column(String(NAME_LEN))
    baseline_task_run_id: Mapped[int | None] = mapped_column(BigInteger)
    baseline_run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    psi: Mapped[float | None] = mapped_column(Float)
    ks: Mapped[float | None] = mapped_column(Float)
    null_rate_change: Mapped[float | None] = mapped_column(Float)
    distinct_change: Mapped[float | None] = mapped_column(Float)
    new_categories: Mapped[list | None] = mapped_column(JSON)
    vanished_categories: Mapped[list | None] = mapped_column(JSON)
    drifted: Mapped[bool] = mapped_column(Boolean, default=False)
    # Why it drifted, in words ("PSI 0.412 >= 0.2"): what alerts show.
    reasons: Mapped[list | None] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_ddtrack_drift_history", "dag_id", "task_id", "output_name", "started_at"),
        Index("ix_ddtrack_drift_dag_drifted", "dag_id", "drifted", "started_at"),
        # Deleting a try (or an output) finds its rows by index on every backend.
        Index("ix_ddtrack_drift_run", "task_run_id"),
        Index("ix_ddtrack_drift_output", "output_id"),
    )


class Anomaly(_OfTry, Base):
    """A value outside the robust band of its last successful runs (flagged values only).

    ``output_name``/``column_name`` are None for the task's duration; ``column_name`` is None
    for an output's row count."""

    __tablename__ = "ddtrack_anomaly"

    output_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    column_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    # "rows", "null_pct", "distinct", "mean" or "duration_s".
    metric: Mapped[str] = mapped_column(String(20))
    value: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    median: Mapped[float] = mapped_column(Float)

    __table_args__ = (
        Index("ix_ddtrack_anomaly_dag_started", "dag_id", "started_at"),
        Index("ix_ddtrack_anomaly_task_started", "dag_id", "task_id", "started_at"),
        Index("ix_ddtrack_anomaly_run", "task_run_id"),
    )


class CheckResult(_OfTry, Base):
    """The result of one check declared in code (``ddtrack.checks``), judged in the task."""

    __tablename__ = "ddtrack_check_result"

    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    column_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    check_name: Mapped[str] = mapped_column(String(50))
    severity: Mapped[str] = mapped_column(String(10))
    # "pass", "warn", "fail" or "error" (could not be evaluated).
    status: Mapped[str] = mapped_column(String(10))
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    bound: Mapped[Any] = mapped_column(JSON, nullable=True)
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_ddtrack_check_result_task_started", "dag_id", "task_id", "started_at"),
        Index("ix_ddtrack_check_result_dag_status", "dag_id", "status", "started_at"),
        Index("ix_ddtrack_check_result_run", "task_run_id"),
    )


class Baseline(Base):
    """A run pinned as the drift baseline of a task's output ('' = every output of the task)."""

    __tablename__ = "ddtrack_baseline"

    id: Mapped[int] = _big_id()
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN), default="")
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    pinned_by: Mapped[str] = mapped_column(String(SHORT_TEXT), default="")
    pinned_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("dag_id", "task_id", "output_name"),)


class Dataset(Base):
    """One output identity (dag, task, output name) across its versions, kept at ingest.

    The catalog, PII and freshness questions ask about outputs, not runs: this row answers
    them without aggregating millions of ``ddtrack_output`` rows. A version is one run.
    """

    __tablename__ = "ddtrack_dataset"

    id: Mapped[int] = _big_id()
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    name: Mapped[str] = mapped_column(String(NAME_LEN))
    # Of the newest version seen.
    uri: Mapped[str | None] = mapped_column(String(URI_LEN))
    kind: Mapped[str] = mapped_column(String(20), default="other")
    first_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    # started_at of the newest version, and of the newest whose try succeeded.
    last_seen_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_success_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Distinct runs with this output.
    n_versions: Mapped[int] = mapped_column(Integer, default=0)
    # No foreign key: retention deletes outputs in batches and then corrects this row.
    latest_output_id: Mapped[int | None] = mapped_column(BigInteger)
    # Of the newest version (mapped parts summed).
    latest_rows: Mapped[int | None] = mapped_column(BigInteger)
    latest_fingerprint: Mapped[str | None] = mapped_column(String(64))
    pii_columns: Mapped[list | None] = mapped_column(JSON)
    has_pii: Mapped[bool] = mapped_column(Boolean, default=False)
    # The producing task declared its outputs hold no PII (``@track(pii_free=True)``).
    pii_free: Mapped[bool] = mapped_column(Boolean, default=False)
    fresh_within_s: Mapped[int | None] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("dag_id", "task_id", "name"),
        Index("ix_ddtrack_dataset_uri", "uri"),
        Index("ix_ddtrack_dataset_has_pii", "has_pii"),
        Index("ix_ddtrack_dataset_last_success", "last_success_at"),
    )


class Flag(Base):
    """An output version flagged as bad by a user who may edit its DAG; open while
    ``reviewed_at`` is NULL. Its keys are copied so the flag outlives nothing it names."""

    __tablename__ = "ddtrack_flag"

    id: Mapped[int] = _big_id()
    output_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_output.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    note: Mapped[str] = mapped_column(Text)
    flagged_by: Mapped[str] = mapped_column(String(SHORT_TEXT))
    flagged_at: Mapped[datetime] = mapped_column(DateTime)
    reviewed_by: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    review_note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_ddtrack_flag_output", "output_id"),
        Index("ix_ddtrack_flag_dag_reviewed", "dag_id", "reviewed_at"),
    )


class Review(Base):
    """A suspect version (downstream of a flagged one) cleared under that flag."""

    __tablename__ = "ddtrack_review"

    id: Mapped[int] = _big_id()
    flag_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_flag.id", ondelete="CASCADE"))
    output_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_output.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    note: Mapped[str | None] = mapped_column(Text)
    reviewed_by: Mapped[str] = mapped_column(String(SHORT_TEXT))
    reviewed_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("flag_id", "output_id"),
        # Deleting an output finds its reviews by index on every backend.
        Index("ix_ddtrack_review_output", "output_id"),
    )


class Alert(Base):
    """One alert to deliver: a drifted column, an anomaly, a check that did not pass, an
    overdue output. ``alert_key`` is the alert's identity (a hash of what it is about), so
    an alert written twice (a rewritten try, two ingests racing) is one row. It copies what
    it names and is not deleted with the try: what was sent stays on record."""

    __tablename__ = "ddtrack_alert"

    id: Mapped[int] = _big_id()
    alert_key: Mapped[str] = mapped_column(String(64), unique=True)
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    map_index: Mapped[int] = mapped_column(Integer, default=-1)
    try_number: Mapped[int | None] = mapped_column(Integer)
    output_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    column_name: Mapped[str | None] = mapped_column(String(NAME_LEN))
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(10))
    detail: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    acked_by: Mapped[str | None] = mapped_column(String(SHORT_TEXT))
    acked_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_ddtrack_alert_dag_created", "dag_id", "created_at"),)


class AlertDelivery(Base):
    """An alert on one channel: the outbox row. Unique per alert and channel, written in
    the alert's transaction; ``state`` goes pending -> sending -> sent (or failed after
    the retries, or muted)."""

    __tablename__ = "ddtrack_alert_delivery"

    id: Mapped[int] = _big_id()
    alert_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_alert.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime)
    claim: Mapped[str | None] = mapped_column(String(32))
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (
        UniqueConstraint("alert_id", "channel"),
        Index("ix_ddtrack_alert_delivery_due", "state", "next_attempt_at"),
        Index("ix_ddtrack_alert_delivery_claim", "claim"),
    )


class AlertMute(Base):
    """An output whose alerts are silenced until ``muted_until`` (set by a user who may edit
    its DAG): alerts raised meanwhile stay on record as ``muted`` and are never delivered."""

    __tablename__ = "ddtrack_alert_mute"

    id: Mapped[int] = _big_id()
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    muted_until: Mapped[datetime] = mapped_column(DateTime)
    muted_by: Mapped[str] = mapped_column(String(SHORT_TEXT))
    muted_at: Mapped[datetime] = mapped_column(DateTime)

    __table_args__ = (UniqueConstraint("dag_id", "task_id", "output_name"),)


class ColumnLineage(Base):
    """One edge of a try's column lineage: output column <- a column of one of its inputs.

    The input is named as its ``ddtrack_lineage`` row names it (an upstream task's output,
    or a URI/Asset), so a walk resolves it to the version read exactly as output lineage
    does. ``how``: "declared", "sql" or "inferred" (same name). Written at ingest with the
    try (``ddtrack.column_lineage`` works it out in the task)."""

    __tablename__ = "ddtrack_column_lineage"

    id: Mapped[int] = _big_id()
    task_run_id: Mapped[int] = mapped_column(ForeignKey("ddtrack_task_run.id", ondelete="CASCADE"))
    dag_id: Mapped[str] = mapped_column(String(ID_LEN))
    run_id: Mapped[str] = mapped_column(String(ID_LEN))
    task_id: Mapped[str] = mapped_column(String(ID_LEN))
    output_name: Mapped[str] = mapped_column(String(NAME_LEN))
    column_name: Mapped[str] = mapped_column(String(NAME_LEN))
    # "task" (an upstream task's output in the same run), "uri" or "asset".
    input_kind: Mapped[str] = mapped_column(String(10))
    input_uri: Mapped[str | None] = mapped_column(String(URI_LEN))
    upstream_task_id: Mapped[str | None] = mapped_column(String(ID_LEN))
    upstream_output: Mapped[str | None] = mapped_column(String(NAME_LEN))
    input_column: Mapped[str] = mapped_column(String(NAME_LEN))
    how: Mapped[str] = mapped_column(String(10))

    __table_args__ = (
        # Upstream: where a version's column came from (the try's rows for that column).
        Index("ix_ddtrack_column_lineage_output", "task_run_id", "output_name", "column_name"),
        # Downstream: what the consumers of a version made of one of its columns.
        Index("ix_ddtrack_column_lineage_input", "task_run_id", "input_column"),
        # A column's lineage by identity across runs (MariaDB keeps a prefix of the names).
        Index(
            "ix_ddtrack_column_lineage_column", "dag_id", "task_id", "output_name", "column_name",
            mysql_length={"output_name": 150, "column_name": 100},
        ),
    )


# Rows of a try written at ingest besides its outputs: deleted with the try (explicitly too,
# where a database does not enforce the cascades).
ACROSS_RUNS = (Drift, Anomaly, CheckResult, ColumnLineage)
