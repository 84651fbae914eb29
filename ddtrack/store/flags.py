"""Output versions flagged as bad (``ddtrack_flag``) and suspects cleared under a flag
(``ddtrack_review``), each kept with who, when and the note.

A flag is open while ``reviewed_at`` is NULL; reviewing the flagged version itself closes
it. A version downstream of an open flag is a suspect until a review row clears it under
that flag. Authorization is the caller's: the query layer (:mod:`ddtrack.queries.flags`)
checks edit rights on the DAG first and works out which flags a version is suspect under.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ddtrack.record import cut
from ddtrack.store.engine import in_transaction, session_factory
from ddtrack.store.models import Flag, Output, Review

NOTE_LEN = 10_000  # a note is a sentence or a paragraph, never a document


class UnknownOutput(LookupError):
    """The output version to flag or review is not stored."""

    def __init__(self, output_id: int) -> None:
        super().__init__(f"no output version with id {output_id}")
        self.output_id = output_id


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def _output(session: Session, output_id: int) -> Output:
    row = session.get(Output, int(output_id))
    if row is None:
        raise UnknownOutput(output_id)
    return row


def as_dict(f: Flag) -> dict[str, Any]:
    return {
        "id": f.id, "output_id": f.output_id, "dag_id": f.dag_id, "task_id": f.task_id, "run_id": f.run_id,
        "output_name": f.output_name, "note": f.note, "flagged_by": f.flagged_by, "flagged_at": f.flagged_at,
        "reviewed_by": f.reviewed_by, "reviewed_at": f.reviewed_at, "review_note": f.review_note,
    }


def flag(url: str, output_id: int, note: str, user: str) -> dict[str, Any]:
    """Flag the version as bad; a second flag of an open-flagged version adds another flag
    (two people, two notes). Returns the flag as a dict of its columns."""

    def work(session: Session) -> dict[str, Any]:
        out = _output(session, output_id)
        row = Flag(
            output_id=out.id, dag_id=out.dag_id, task_id=out.task_id, run_id=out.run_id, output_name=out.name,
            note=cut(note or "", NOTE_LEN), flagged_by=cut(user or "", 255), flagged_at=_now(),
        )
        session.add(row)
        session.flush()
        return as_dict(row)

    return in_transaction(session_factory(url), work)


def close(url: str, output_id: int, note: str, user: str) -> list[dict[str, Any]]:
    """Close the open flags of the version itself (its review); the closed flags."""

    def work(session: Session) -> list[dict[str, Any]]:
        _output(session, output_id)
        rows = session.scalars(
            select(Flag).where(Flag.output_id == int(output_id), Flag.reviewed_at.is_(None)).order_by(Flag.id)
        ).all()
        now = _now()
        for row in rows:
            row.reviewed_by, row.reviewed_at, row.review_note = cut(user or "", 255), now, cut(note or "", NOTE_LEN)
        session.flush()
        return [as_dict(r) for r in rows]

    return in_transaction(session_factory(url), work)


def clear(url: str, output_id: int, flag_ids: Iterable[int], note: str, user: str) -> list[dict[str, Any]]:
    """Clear the suspect version under each of ``flag_ids`` (open flags upstream of it);
    already cleared ones are left as they are. Returns the flags it is now cleared under."""

    def work(session: Session) -> list[dict[str, Any]]:
        out = _output(session, output_id)
        flags = session.scalars(select(Flag).where(Flag.id.in_(list(flag_ids))).order_by(Flag.id)).all()
        done = set(
            session.scalars(
                select(Review.flag_id).where(Review.output_id == out.id, Review.flag_id.in_([f.id for f in flags]))
            )
        )
        now = _now()
        for f in flags:
            if f.id not in done:
                session.add(
                    Review(
                        flag_id=f.id, output_id=out.id, dag_id=out.dag_id, task_id=out.task_id, run_id=out.run_id,
                        output_name=out.name, note=cut(note or "", NOTE_LEN), reviewed_by=cut(user or "", 255),
                        reviewed_at=now,
                    )
                )
        session.flush()
        return [as_dict(f) for f in flags]

    return in_transaction(session_factory(url), work)
