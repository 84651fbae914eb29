"""The alert outbox: alerts to deliver, one row per alert and channel.

Written at ingest, in the try's own transaction, from the drift, anomaly and check rows just
stored (:func:`enqueue_try`), and by the overdue sweep (:func:`enqueue_overdue`). An alert's
identity is a hash of what it is about (``alert_key``); the outbox row is unique per alert
and channel, and both are inserted with "insert, or nothing if there", so a rewritten try,
two ingests racing on one record, the scheduler, the api-server and ``ddtrack sync`` all end
with one row per alert and channel.

Delivery claims rows before sending (:func:`claim_due`): an update from ``pending`` to
``sending`` with a fresh claim token, so of two processes draining at once each row goes to
one. A process that dies while sending leaves its claim; after :data:`CLAIM_LEASE_S` the row
is due again (counted as a failed attempt). Delivery is exactly once except for a crash
between a channel accepting a message and the ``sent`` mark (a window of one database
write), where it is at least once.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.orm import Session

from ddtrack import channels as channel_config
from ddtrack.channels import Channel
from ddtrack.duration import format_seconds, utcnow
from ddtrack.store.alert_rows import anomaly_alert, check_alert, drift_alert
from ddtrack.store.catalog import insert_ignore_into
from ddtrack.store.models import (
    Alert,
    AlertDelivery,
    AlertMute,
    Anomaly,
    CheckResult,
    Drift,
    Tag,
    TaskRun,
)

log = logging.getLogger("ddtrack.alerts")

CLAIM_LEASE_S = 300
BATCH = 500  # outbox rows claimed at a time
DETAIL_LIMIT = 2000
ERROR_LIMIT = 1000
BACKOFF_S = (30, 120, 600, 1800)  # after the 1st, 2nd, ... failed attempt


def alert_key(alert: Mapping[str, Any]) -> str:
    """The identity of an alert: the same drift of the same column of the same try is one
    alert however often it is written."""
    parts = [alert.get(k) for k in ("kind", "dag_id", "run_id", "task_id", "map_index", "try_number",
                                     "output", "column", "metric", "since")]
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


# ---------------------------------------------------------------- writing
def enqueue_configured(session: Session, run: TaskRun) -> int:
    """Queue the try's alerts for the channels of ``[ddtrack] alert_notifiers``, in a savepoint
    of the ingest transaction: a failure is logged and the try is stored all the same."""
    channels = channel_config.configured()
    if not channels:
        return 0
    try:
        with session.begin_nested():
            return enqueue_try(session, run, channels, channel_config.page_url)
    except Exception as exc:  # noqa: BLE001 - the try itself must still be stored
        log.warning("ddtrack could not queue the alerts of %s/%s/%s (they are not delivered): %s: %s",
                    run.dag_id, run.run_id, run.task_id, type(exc).__name__, exc)
        return 0


def enqueue_try(session: Session, run: TaskRun, channels: Sequence[Channel], page_url: Any) -> int:
    """Queue the try's alerts (drifted columns, anomalies, checks that did not pass) for every
    channel that takes them; returns the outbox rows added. ``page_url(alert)`` gives the URL
    of the page showing an alert."""
    if not channels:
        return 0
    found = [drift_alert(r) for r in _of_try(session, Drift, run, Drift.drifted.is_(True))]
    found += [anomaly_alert(r) for r in _of_try(session, Anomaly, run)]
    found += [check_alert(r) for r in _of_try(session, CheckResult, run, CheckResult.status.in_(("warn", "fail", "error")))]
    if not found:
        return 0
    tags = [(t.key, t.value) for t in session.scalars(select(Tag).where(Tag.task_run_id == run.id))]
    return _enqueue(session, found, channels, page_url, tags)


def _of_try(session: Session, model: type, run: TaskRun, *where: Any) -> list[Any]:
    table = model.__table__
    query = (
        select(table, TaskRun.map_index, TaskRun.try_number)
        .join(TaskRun, TaskRun.id == table.c.task_run_id)
        .where(table.c.task_run_id == run.id, *where)
        .order_by(table.c.id)
    )
    return list(session.execute(query))


def enqueue_overdue(session: Session, overdue: Sequence[Mapping[str, Any]], channels: Sequence[Channel],
                    page_url: Any) -> int:
    """Queue an ``overdue`` alert per overdue output (dicts with dag_id, task_id, output,
    last_success_at or None, window_s: what ``queries.freshness.overdue_outputs`` finds). Its
    identity includes the last success, so an output is alerted once per missed window, and
    again only after a new success (and a new miss)."""
    takers = [c for c in channels if "overdue" in c.kinds]
    found = []
    for o in overdue:
        last, window = o.get("last_success_at"), format_seconds(int(o["window_s"])) if o.get("window_s") else "its window"
        found.append({
            "kind": "overdue", "dag_id": o["dag_id"], "run_id": None, "task_id": o["task_id"], "map_index": -1,
            "try_number": None, "output": o["output"], "column": None, "status": "warn", "metric": "fresh_within",
            "since": last.isoformat() if last else "never",
            "detail": (f"no successful version since {last:%Y-%m-%d %H:%M} UTC" if last else "no successful version yet")
                      + f" (expected within {window})",
        })
    return _enqueue(session, found, takers, page_url, [])


def enqueue_stale(session: Session, stale: Sequence[Mapping[str, Any]], channels: Sequence[Channel],
                  page_url: Any) -> int:
    """Queue a ``stale`` alert per stale output version (dicts with dag_id, task_id, output,
    output_id, reason): once per version, so a new version that is stale again alerts again."""
    takers = [c for c in channels if "stale" in c.kinds]
    found = [
        {"kind": "stale", "dag_id": s["dag_id"], "run_id": None, "task_id": s["task_id"], "map_index": -1,
         "try_number": None, "output": s["output"], "column": None, "status": "warn", "metric": "stale",
         "since": s["output_id"], "detail": f"built from inputs that changed since: {s['reason']}"}
        for s in stale
    ]
    return _enqueue(session, found, takers, page_url, [])


def _enqueue(session: Session, found: list[dict[str, Any]], channels: Sequence[Channel], page_url: Any,
             tags: list[tuple[str, str | None]]) -> int:
    """Insert the alerts and their outbox rows (insert-or-nothing on both unique keys, in
    batches); returns how many outbox rows were new."""
    if not found or not channels:
        return 0
    now = utcnow()
    muted = _muted(session, found, now)
    rows = [
        {
            "alert_key": alert_key(alert), "dag_id": alert["dag_id"], "run_id": alert["run_id"],
            "task_id": alert["task_id"], "map_index": alert.get("map_index", -1), "try_number": alert.get("try_number"),
            "output_name": alert.get("output"), "column_name": alert.get("column"), "kind": alert["kind"],
            "status": alert["status"], "detail": str(alert.get("detail") or "")[:DETAIL_LIMIT],
            "url": page_url(alert), "created_at": now,
        }
        for alert in found
    ]
    insert_ignore_into(session, Alert, rows, ("alert_key",))
    ids: dict[str, int] = {}
    for batch in _batches([r["alert_key"] for r in rows]):
        ids.update(session.execute(select(Alert.alert_key, Alert.id).where(Alert.alert_key.in_(batch))).all())
    wanted = [
        {"alert_id": ids[row["alert_key"]], "channel": channel.name,
         "state": "muted" if (alert["dag_id"], alert["task_id"], alert.get("output")) in muted else "pending",
         "attempts": 0, "next_attempt_at": now, "created_at": now}
        for alert, row in zip(found, rows, strict=True)
        for channel in channels
        if channel.takes(alert, tags)
    ]
    there: set[tuple[int, str]] = set()
    for batch in _batches(sorted({d["alert_id"] for d in wanted})):
        there |= set(session.execute(
            select(AlertDelivery.alert_id, AlertDelivery.channel).where(AlertDelivery.alert_id.in_(batch))).all())
    new = [d for d in wanted if (d["alert_id"], d["channel"]) not in there]
    insert_ignore_into(session, AlertDelivery, new, ("alert_id", "channel"))  # a racing ingest may add some too
    return len(new)


def _muted(session: Session, found: list[dict[str, Any]], now: dt.datetime) -> set[tuple[str, str, str | None]]:
    muted: set[tuple[str, str, str | None]] = set()
    for batch in _batches(sorted({a["dag_id"] for a in found})):
        muted |= {
            (m.dag_id, m.task_id, m.output_name)
            for m in session.scalars(select(AlertMute).where(AlertMute.dag_id.in_(batch), AlertMute.muted_until > now))
        }
    return muted


def _batches(values: Sequence[Any], size: int = 500) -> list[list[Any]]:
    values = list(values)
    return [values[i : i + size] for i in range(0, len(values), size)]


# ---------------------------------------------------------------- delivering
@dataclass(frozen=True)
class Pending:
    """A claimed outbox row with its alert, ready to send."""

    delivery_id: int
    channel: str
    attempts: int
    alert: dict[str, Any]


def claim_due(session: Session, channels: Iterable[str], now: dt.datetime | None = None, limit: int = BATCH) -> tuple[str, list[Pending]]:
    """Claim due rows of ``channels`` (pending and due, or sending with an expired lease);
    returns the claim token and the rows this call won."""
    now = now or utcnow()
    names = sorted(set(channels))
    if not names:
        return "", []
    stale = now - dt.timedelta(seconds=CLAIM_LEASE_S)
    due = or_(
        and_(AlertDelivery.state == "pending", AlertDelivery.next_attempt_at <= now),
        and_(AlertDelivery.state == "sending", AlertDelivery.claimed_at < stale),
    )
    ids = list(session.scalars(
        select(AlertDelivery.id).where(AlertDelivery.channel.in_(names), due).order_by(AlertDelivery.id).limit(limit)
    ))
    if not ids:
        return "", []
    token = secrets.token_hex(16)
    session.execute(
        update(AlertDelivery).where(AlertDelivery.id.in_(ids), due)
        .values(state="sending", claim=token, claimed_at=now)
        .execution_options(synchronize_session=False)
    )
    rows = session.execute(
        select(AlertDelivery, Alert).join(Alert, Alert.id == AlertDelivery.alert_id).where(AlertDelivery.claim == token)
        .order_by(Alert.dag_id, Alert.run_id, Alert.id)
    ).all()
    return token, [Pending(d.id, d.channel, d.attempts, alert_dict(a)) for d, a in rows]


def alert_dict(a: Alert) -> dict[str, Any]:
    """What a notifier's template sees of one alert."""
    return {
        "id": a.id, "dag_id": a.dag_id, "run_id": a.run_id, "task_id": a.task_id, "map_index": a.map_index,
        "try_number": a.try_number, "output": a.output_name, "column": a.column_name, "kind": a.kind,
        "status": a.status, "detail": a.detail, "url": a.url,
    }


def mark_sent(session: Session, ids: Sequence[int], token: str, *, late: bool = False,
              now: dt.datetime | None = None) -> None:
    """The channel took these rows. ``late``: the send had outlived its timeout (its claim was
    released), yet it went through: mark them sent all the same, so they are not sent again."""
    mine = AlertDelivery.state != "sent" if late else AlertDelivery.claim == token
    session.execute(
        update(AlertDelivery).where(AlertDelivery.id.in_(list(ids)), mine)
        .values(state="sent", sent_at=now or utcnow(), claim=None, last_error=None)
        .execution_options(synchronize_session=False)
    )


def release(session: Session, ids: Sequence[int], token: str, *, defer_s: float = 0,
            now: dt.datetime | None = None) -> None:
    """Give claimed rows back unsent and uncounted: due again after ``defer_s`` (a run still
    going is looked at later, so rows behind it are claimed meanwhile)."""
    due = (now or utcnow()) + dt.timedelta(seconds=defer_s)
    for batch in _batches(ids):
        session.execute(
            update(AlertDelivery).where(AlertDelivery.id.in_(batch), AlertDelivery.claim == token)
            .values(state="pending", claim=None, claimed_at=None, next_attempt_at=due)
            .execution_options(synchronize_session=False)
        )


def mark_failed(session: Session, ids: Sequence[int], token: str, error: str, max_attempts: int,
                now: dt.datetime | None = None) -> None:
    """One failed attempt of these rows: due again after a back-off, or ``failed`` for good
    after ``max_attempts``."""
    now = now or utcnow()
    for delivery in session.scalars(select(AlertDelivery).where(AlertDelivery.id.in_(list(ids)), AlertDelivery.claim == token)):
        delivery.attempts += 1
        delivery.claim = None
        delivery.last_error = error[:ERROR_LIMIT]
        if delivery.attempts >= max_attempts:
            delivery.state = "failed"
        else:
            delivery.state = "pending"
            delivery.next_attempt_at = now + dt.timedelta(seconds=BACKOFF_S[min(delivery.attempts, len(BACKOFF_S)) - 1])


def expire_stale_claims(session: Session, max_attempts: int, now: dt.datetime | None = None) -> int:
    """Rows left ``sending`` past the lease (a process died or a channel hung) count one
    failed attempt; returns how many."""
    now = now or utcnow()
    stale = list(session.scalars(
        select(AlertDelivery).where(AlertDelivery.state == "sending",
                                    AlertDelivery.claimed_at < now - dt.timedelta(seconds=CLAIM_LEASE_S)).limit(BATCH)
    ))
    for delivery in stale:
        token = delivery.claim or ""
        mark_failed(session, [delivery.id], token, "no answer within the claim lease (process ended or channel hung)",
                    max_attempts, now)
    return len(stale)


# ---------------------------------------------------------------- users' actions
def acknowledge(session: Session, alert_id: int, user: str, now: dt.datetime | None = None) -> Alert | None:
    """Mark an alert seen; its deliveries not yet sent are dropped (state ``acked``)."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        return None
    alert.acked_by, alert.acked_at = user, now or utcnow()
    session.execute(
        update(AlertDelivery).where(AlertDelivery.alert_id == alert_id, AlertDelivery.state == "pending")
        .values(state="acked").execution_options(synchronize_session=False)
    )
    return alert


def mute(session: Session, dag_id: str, task_id: str, output: str, until: dt.datetime | None, user: str) -> None:
    """Silence an output's alerts until ``until`` (None: unmute): those not sent yet and those
    raised meanwhile are kept as ``muted`` (on the pages, never delivered); alerts raised after
    the mute ends are delivered again."""
    session.execute(delete(AlertMute).where(AlertMute.dag_id == dag_id, AlertMute.task_id == task_id,
                                            AlertMute.output_name == output))
    if until is None:
        return
    session.add(AlertMute(dag_id=dag_id, task_id=task_id, output_name=output, muted_until=until, muted_by=user,
                          muted_at=utcnow()))
    held = select(Alert.id).where(Alert.dag_id == dag_id, Alert.task_id == task_id, Alert.output_name == output)
    session.execute(
        update(AlertDelivery).where(AlertDelivery.alert_id.in_(held), AlertDelivery.state == "pending")
        .values(state="muted").execution_options(synchronize_session=False)
    )
