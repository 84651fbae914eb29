"""Delete old or orphaned records in small batches, and the background housekeeping.

Each batch is its own short transaction (a few hundred task tries and their rows), so
ingest keeps writing while a cleanup runs, and the tries to delete are found page by page
(keyset), so a cleanup holds a bounded amount in memory whatever the table's size.
"Orphans" are tries whose DAG run no longer exists in Airflow (deleted DAGs, ``airflow db
clean``). ddtrack keeps them by default: its history is what trends, compare, trace,
baselines and PII audits read after Airflow's own housekeeping, so they go only on request
(``ddtrack cleanup --orphans``, ``[ddtrack] follow_airflow_deletes``).

:func:`housekeep` is what the ingest threads of the schedulers and api-servers run: one of
them per interval (a lease, :mod:`ddtrack.store.lease`), within a time budget.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, tuple_
from sqlalchemy.orm import Session

from ddtrack.duration import parse_seconds
from ddtrack.store import lease
from ddtrack.store.airflow_tables import DAG_RUN
from ddtrack.store.datasets import recompute as recompute_datasets
from ddtrack.store.engine import get_engine, in_transaction, session_factory
from ddtrack.store.models import (
    ACROSS_RUNS,
    CatalogEntry,
    ColumnLineage,
    ColumnProfile,
    Flag,
    Lineage,
    Output,
    Review,
    Tag,
    TaskRun,
)
from ddtrack.store.stale_counts import mark as mark_stale

BATCH = 500
HOUSEKEEPING = "housekeeping"  # the lease's name


def parse_age(text: str) -> dt.timedelta:
    """'90d', '12h', '2w', '30m', '45s' -> timedelta."""
    try:
        return dt.timedelta(seconds=parse_seconds(text, what="age"))
    except ValueError:
        raise ValueError(f"not an age: {text!r} (use e.g. 90d, 12h, 2w)") from None


@dataclass
class CleanupReport:
    dry_run: bool
    deleted: dict[str, int] = field(default_factory=lambda: {
        "task tries": 0, "outputs": 0, "column profiles": 0, "lineage edges": 0, "column lineage edges": 0, "tags": 0,
    })
    more_left: bool = False  # stopped at its time budget: the rest goes next time

    def add(self, counts: dict[str, int]) -> None:
        for key, value in counts.items():
            self.deleted[key] += value

    @property
    def total_tries(self) -> int:
        return self.deleted["task tries"]

    def summary(self) -> str:
        text = ", ".join(f"{n} {what}" for what, n in self.deleted.items() if n) or "nothing"
        return text + (" (more left: continued next time)" if self.more_left else "")


def _counts(session: Session, ids: list[int]) -> dict[str, int]:
    output_ids = select(Output.id).where(Output.task_run_id.in_(ids))
    return {
        "task tries": len(ids),
        "outputs": session.scalar(select(func.count()).select_from(Output).where(Output.task_run_id.in_(ids))),
        "column profiles": session.scalar(
            select(func.count()).select_from(ColumnProfile).where(ColumnProfile.output_id.in_(output_ids))
        ),
        "lineage edges": session.scalar(select(func.count()).select_from(Lineage).where(Lineage.task_run_id.in_(ids))),
        "column lineage edges": session.scalar(
            select(func.count()).select_from(ColumnLineage).where(ColumnLineage.task_run_id.in_(ids))
        ),
        "tags": session.scalar(select(func.count()).select_from(Tag).where(Tag.task_run_id.in_(ids))),
    }


def _delete(session: Session, ids: list[int]) -> None:
    # The DAGs whose staleness these versions decided: theirs, and those reading what they wrote.
    dags = session.execute(select(TaskRun.dag_id).where(TaskRun.id.in_(ids)).distinct()).scalars().all()
    written = select(Lineage.uri).where(Lineage.task_run_id.in_(ids), Lineage.direction == "output").distinct()
    mark_stale(session, dags, session.execute(written).scalars().all())
    # Children first: correct whether or not the database enforces the cascades.
    outputs = session.execute(select(Output.id, Output.dag_id, Output.task_id, Output.name).where(Output.task_run_id.in_(ids))).all()
    output_ids = [o.id for o in outputs]
    for i in range(0, len(output_ids), BATCH):
        chunk = output_ids[i : i + BATCH]
        session.execute(delete(ColumnProfile).where(ColumnProfile.output_id.in_(chunk)))
        for model in (Review, Flag):
            session.execute(delete(model).where(model.output_id.in_(chunk)))
    for model in (*ACROSS_RUNS, Output, Lineage, Tag):
        session.execute(delete(model).where(model.task_run_id.in_(ids)))
    session.execute(delete(TaskRun).where(TaskRun.id.in_(ids)))
    # The datasets whose versions went: counted again from what is left, or deleted.
    recompute_datasets(session, {(o.dag_id, o.task_id, o.name) for o in outputs})


def _process(
    store_url: str,
    batches: Iterable[list[int]],
    dry_run: bool,
    progress: Callable[[int], None] | None,
    deadline: float | None = None,
) -> CleanupReport:
    """Count (and delete) each batch in a transaction of its own; stop between batches
    once ``deadline`` (``time.monotonic()``) has passed."""
    report = CleanupReport(dry_run=dry_run)
    make_session = session_factory(store_url)
    for ids in batches:
        if ids:
            # a deadlock with a concurrent ingest is tried again
            report.add(in_transaction(make_session, lambda s, ids=ids: _count_and_delete(s, ids, dry_run)))
        if progress:
            progress(len(ids))
        if deadline is not None and time.monotonic() > deadline:
            report.more_left = True
            break
    if report.total_tries and not dry_run:
        _forget_catalog_of_vanished_dags(store_url)
    return report


def _count_and_delete(session: Session, ids: list[int], dry_run: bool) -> dict[str, int]:
    counts = _counts(session, ids)
    if not dry_run:
        _delete(session, ids)
    return counts


def _started_before(cutoff: dt.datetime) -> ColumnElement[bool]:
    """A try started before ``cutoff`` (one without a start time: ingested before it),
    written so that the ``started_at`` index answers it (a ``coalesce`` would scan)."""
    return or_(
        TaskRun.started_at < cutoff, and_(TaskRun.started_at.is_(None), TaskRun.ingested_at < cutoff)
    )


def _any_older_than(store_url: str, cutoff: dt.datetime) -> bool:
    """Whether any try is older than ``cutoff``: two look-ups at the start of the
    ``started_at`` index, so the usual hourly answer "nothing" costs no scan."""
    with session_factory(store_url)() as session:
        for when in (TaskRun.started_at < cutoff, and_(TaskRun.started_at.is_(None), TaskRun.ingested_at < cutoff)):
            if session.scalar(select(TaskRun.id).where(when).limit(1)) is not None:
                return True
    return False


def _older_than_batches(store_url: str, cutoff: dt.datetime) -> Iterable[list[int]]:
    """Pages of ids by keyset; each page read in a short session of its own (no lock held)."""
    make_session = session_factory(store_url)
    last_id = 0
    while True:
        with make_session() as session:
            ids = list(
                session.scalars(
                    select(TaskRun.id)
                    .where(_started_before(cutoff), TaskRun.id > last_id)
                    .order_by(TaskRun.id)
                    .limit(BATCH)
                )
            )
        if not ids:
            return
        last_id = ids[-1]
        yield ids


def count_older_than(store_url: str, cutoff: dt.datetime) -> int:
    with session_factory(store_url)() as session:
        return session.scalar(select(func.count()).select_from(TaskRun).where(_started_before(cutoff)))


def delete_older_than(
    store_url: str,
    age: dt.timedelta,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    deadline: float | None = None,
) -> CleanupReport:
    """Delete (or count, with ``dry_run``) every try that started more than ``age`` ago."""
    cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - age
    if not _any_older_than(store_url, cutoff):
        return CleanupReport(dry_run=dry_run)
    return _process(store_url, _older_than_batches(store_url, cutoff), dry_run, progress, deadline)


def _orphan_batches(store_url: str, metastore_url: str) -> Iterator[list[int]]:
    """Ids of tries whose DAG run no longer exists in Airflow, a page of runs at a time:
    the (dag_id, run_id) pairs are paged by keyset, each page checked against the
    metastore in one query, so neither list is ever held whole."""
    make_session = session_factory(store_url)
    last: tuple[str, str] | None = None
    while True:
        query = select(TaskRun.dag_id, TaskRun.run_id).distinct().order_by(TaskRun.dag_id, TaskRun.run_id).limit(BATCH)
        if last is not None:
            query = query.where(
                or_(TaskRun.dag_id > last[0], and_(TaskRun.dag_id == last[0], TaskRun.run_id > last[1]))
            )
        with make_session() as session:
            page = [(d, r) for d, r in session.execute(query)]
        if not page:
            return
        last = page[-1]
        with get_engine(metastore_url).connect() as conn:
            runs = tuple_(DAG_RUN.c.dag_id, DAG_RUN.c.run_id)
            present = {(d, r) for d, r in conn.execute(select(DAG_RUN.c.dag_id, DAG_RUN.c.run_id).where(runs.in_(page)))}
        missing = [pair for pair in page if pair not in present]
        if missing:
            with make_session() as session:
                ids = list(session.scalars(select(TaskRun.id).where(tuple_(TaskRun.dag_id, TaskRun.run_id).in_(missing))))
            for i in range(0, len(ids), BATCH):
                yield ids[i : i + BATCH]


def delete_orphans(
    store_url: str,
    metastore_url: str,
    *,
    dry_run: bool = False,
    progress: Callable[[int], None] | None = None,
    deadline: float | None = None,
) -> CleanupReport:
    """Delete (or count, with ``dry_run``) every try whose DAG run Airflow no longer has."""
    return _process(store_url, _orphan_batches(store_url, metastore_url), dry_run, progress, deadline)


def _forget_catalog_of_vanished_dags(store_url: str) -> None:
    with session_factory(store_url)() as session, session.begin():
        session.execute(
            delete(CatalogEntry).where(~exists().where(TaskRun.dag_id == CatalogEntry.dag_id))
        )


@dataclass
class Housekeeping:
    """What one housekeeping pass did, for its log line."""

    retention_days: int
    older: CleanupReport | None  # None: retention_days is 0 (keep every record)
    orphans: CleanupReport | None  # None: follow_airflow_deletes is off
    seconds: float

    @property
    def more_left(self) -> bool:
        """Whether the pass stopped at its time budget with records still to delete."""
        return any(r is not None and r.more_left for r in (self.older, self.orphans))

    def summary(self) -> str:
        older = (
            f"older than {self.retention_days} days: {self.older.summary()}"
            if self.older is not None
            else "retention_days = 0: nothing deleted for age"
        )
        orphans = (
            f"runs Airflow deleted: {self.orphans.summary()}"
            if self.orphans is not None
            else "runs Airflow deleted: kept (follow_airflow_deletes off)"
        )
        return f"{older}; {orphans}; took {self.seconds:.2f} s"


def housekeep(
    store_url: str,
    metastore_url: str | None,
    *,
    retention_days: int,
    follow_airflow_deletes: bool,
    every_s: float,
    budget_s: float,
    holder: str | None = None,
    resume: bool = False,
) -> Housekeeping | None:
    """Delete what ddtrack's own settings say has expired, if this process takes the
    housekeeping lease for the next ``every_s`` seconds; None when another process holds it
    (it did or does this interval's pass) or there is nothing to do by the settings.

    Records older than ``retention_days`` (0: none), and, only with
    ``follow_airflow_deletes``, those of DAG runs Airflow no longer has. The pass stops
    between batches after ``budget_s`` (it runs on the ingest thread, which must get back to
    ingesting); with ``resume`` the lease's own holder goes on with what its last pass left.
    """
    follow = follow_airflow_deletes and bool(metastore_url)
    if retention_days <= 0 and not follow:
        return None
    if not lease.take(store_url, HOUSEKEEPING, every_s, holder, renew=resume):
        return None
    started = time.monotonic()
    deadline = started + min(budget_s, every_s / 2)
    older = delete_older_than(store_url, dt.timedelta(days=retention_days), deadline=deadline) if retention_days > 0 else None
    orphans = delete_orphans(store_url, metastore_url, deadline=deadline) if follow and metastore_url else None
    return Housekeeping(retention_days, older, orphans, time.monotonic() - started)

