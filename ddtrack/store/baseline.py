"""Runs pinned as the drift baseline of a task's outputs (``ddtrack_baseline``).

Without a pin, a try's drift is measured against the same task's previous successful try;
a pin makes one known-good run the reference instead (for one output, or with
``output_name=""`` for every output of the task).  A pin applies to tries ingested after
it; drift already stored keeps the baseline it was computed against (each row names it).

Authorization is the caller's: the query layer checks edit rights on the DAG first.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ddtrack.record import cut
from ddtrack.store.engine import in_transaction, session_factory
from ddtrack.store.models import Baseline, Output, TaskRun

_ATTEMPTS = 2  # a concurrent pin of the same key inserts first: update it then


class UnknownRun(LookupError):
    """The run (or its output) to pin has no stored try of the task."""


def pin(url: str, dag_id: str, task_id: str, run_id: str, output_name: str = "", by: str = "") -> None:
    """Make ``run_id`` the baseline of ``task_id``'s output ``output_name`` ('' = all its
    outputs), replacing an earlier pin; ``UnknownRun`` if the store has no such try/output."""
    make_session = session_factory(url)
    for attempt in range(1, _ATTEMPTS + 1):
        try:
            in_transaction(make_session, lambda s: _pin(s, dag_id, task_id, run_id, output_name, by))
            return
        except IntegrityError:
            if attempt == _ATTEMPTS:
                raise


def _pin(session: Session, dag_id: str, task_id: str, run_id: str, output_name: str, by: str) -> None:
    _check_exists(session, dag_id, task_id, run_id, output_name)
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    row = session.scalars(select(Baseline).where(*_key(dag_id, task_id, output_name))).first()
    if row is None:
        row = Baseline(dag_id=dag_id, task_id=task_id, output_name=output_name)
        session.add(row)
    row.run_id, row.pinned_by, row.pinned_at = run_id, cut(by or "", 255), now
    session.flush()


def _check_exists(session: Session, dag_id: str, task_id: str, run_id: str, output_name: str) -> None:
    tries = select(TaskRun.id).where(TaskRun.dag_id == dag_id, TaskRun.task_id == task_id, TaskRun.run_id == run_id)
    if output_name:
        found = session.scalar(select(Output.id).where(Output.task_run_id.in_(tries), Output.name == output_name).limit(1))
        what = f"output {output_name!r} of task {task_id!r}"
    else:
        found = session.scalar(tries.limit(1))
        what = f"task {task_id!r}"
    if found is None:
        raise UnknownRun(f"run {run_id!r} of DAG {dag_id!r} has no stored {what}")


def unpin(url: str, dag_id: str, task_id: str, output_name: str = "") -> bool:
    """Remove the pin of ``task_id``'s output ``output_name`` ('' = the task-wide pin);
    False if there was none."""
    def work(session: Session) -> bool:
        return bool(session.execute(delete(Baseline).where(*_key(dag_id, task_id, output_name))).rowcount)

    return in_transaction(session_factory(url), work)


def pinned(url: str, dag_id: str, task_id: str | None = None) -> list[dict[str, Any]]:
    """The pins of a DAG (or of one of its tasks): ``{"dag_id", "task_id", "output_name",
    "run_id", "pinned_by", "pinned_at"}``, by task and output."""
    query = select(Baseline).where(Baseline.dag_id == dag_id).order_by(Baseline.task_id, Baseline.output_name)
    if task_id is not None:
        query = query.where(Baseline.task_id == task_id)
    with session_factory(url)() as session:
        return [
            {
                "dag_id": b.dag_id, "task_id": b.task_id, "output_name": b.output_name, "run_id": b.run_id,
                "pinned_by": b.pinned_by, "pinned_at": b.pinned_at,
            }
            for b in session.scalars(query)
        ]


def _key(dag_id: str, task_id: str, output_name: str) -> tuple:
    return (Baseline.dag_id == dag_id, Baseline.task_id == task_id, Baseline.output_name == output_name)
