"""Where alerts were sent, what waits to be sent, and a user's acknowledge and mute.

Reading needs read rights on the alert's DAG (filtered in SQL, as everywhere); acknowledging
an alert and muting an output need edit rights (the auth manager's ``PUT`` on the DAG),
checked here so every caller (a page's callback, the CLI) goes through it; a page passes the
DAGs the user may both edit and read. An alert id that does not exist and one in a DAG the
caller may not edit get the same answer, so ids in other DAGs cannot be probed. The store (:mod:`ddtrack.store.outbox`) trusts its caller.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select

from ddtrack.queries.access import Allowed, dag_filter, may_read, one_dag
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.store import outbox
from ddtrack.store.engine import in_transaction, session_factory
from ddtrack.store.models import Alert, AlertDelivery

MAX_PENDING = 1000


def with_deliveries(sources: Sources, allowed: Allowed, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alert dicts (:mod:`ddtrack.queries.alerts`) each with ``deliveries``: channel, state,
    when sent, attempts, last error, who acknowledged ([] when no channel took the alert)."""
    keys = {outbox.alert_key(a): a for a in alerts if may_read(a["dag_id"], allowed)}
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    if keys:
        query = (
            select(Alert.alert_key, Alert.id, Alert.acked_by, Alert.acked_at, AlertDelivery.channel,
                   AlertDelivery.state, AlertDelivery.sent_at, AlertDelivery.attempts, AlertDelivery.last_error)
            .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
            .where(Alert.alert_key.in_(list(keys)), dag_filter(Alert.dag_id, allowed))
            .order_by(AlertDelivery.channel)
        )
        with store_conn(sources) as conn:
            for r in conn.execute(query):
                found[r.alert_key].append({
                    "alert_id": r.id, "channel": r.channel, "state": r.state, "sent_at": utc(r.sent_at),
                    "attempts": r.attempts, "error": r.last_error, "acked_by": r.acked_by,
                    "acked_at": utc(r.acked_at),
                })
    return [{**a, "deliveries": found.get(outbox.alert_key(a), [])} for a in alerts]


def pending(sources: Sources, allowed: Allowed, limit: int = 200, dag_id: str | None = None) -> list[dict[str, Any]]:
    """Deliveries not sent yet (pending, sending, failed) of the readable DAGs (of ``dag_id``
    only, if given), oldest first, at most ``limit``."""
    limit = max(1, min(int(limit), MAX_PENDING))
    readable = dag_filter(Alert.dag_id, allowed) if dag_id is None else one_dag(Alert.dag_id, dag_id, allowed)
    query = (
        select(Alert, AlertDelivery)
        .join(AlertDelivery, AlertDelivery.alert_id == Alert.id)
        .where(AlertDelivery.state.in_(("pending", "sending", "failed")), readable)
        .order_by(AlertDelivery.created_at, AlertDelivery.id)
        .limit(limit)
    )
    with session_factory(sources.store_url)() as session:
        return [
            outbox.alert_dict(a) | {
                "channel": d.channel, "state": d.state, "attempts": d.attempts, "error": d.last_error,
                "next_attempt_at": utc(d.next_attempt_at), "created_at": utc(d.created_at),
            }
            for a, d in session.execute(query)
        ]


def channel_states(sources: Sources, allowed: Allowed) -> dict[str, dict[str, int]]:
    """channel -> state -> deliveries, of the readable DAGs (``ddtrack status``, the home page)."""
    query = (
        select(AlertDelivery.channel, AlertDelivery.state, func.count())
        .join(Alert, Alert.id == AlertDelivery.alert_id)
        .where(dag_filter(Alert.dag_id, allowed))
        .group_by(AlertDelivery.channel, AlertDelivery.state)
    )
    states: dict[str, dict[str, int]] = defaultdict(dict)
    with store_conn(sources) as conn:
        for channel, state, n in conn.execute(query):
            states[channel][state] = int(n)
    return dict(states)


def acknowledge(sources: Sources, alert_id: int, user: str, *, editable: Iterable[str] | None) -> dict[str, Any]:
    """Acknowledge an alert: its deliveries not sent yet are dropped. PermissionError unless
    it is in a DAG in ``editable`` (the same for an id that does not exist); LookupError for
    an unknown id when ``editable`` is None (the CLI)."""

    def work(session):
        alert = session.get(Alert, int(alert_id))
        if alert is None or (editable is not None and alert.dag_id not in set(editable)):
            if editable is None:
                raise LookupError(f"no alert {alert_id}")
            raise PermissionError(f"you may not acknowledge alert {alert_id}: it is not in a DAG you have edit rights on")
        return outbox.alert_dict(outbox.acknowledge(session, alert.id, user))

    return in_transaction(session_factory(sources.store_url), work)


def mute_output(sources: Sources, dag_id: str, task_id: str, output: str, until: dt.datetime | None, user: str, *,
                editable: Iterable[str] | None) -> None:
    """Hold the output's alerts until ``until`` (naive UTC; None unmutes). Needs edit rights on the DAG."""
    if editable is not None and dag_id not in set(editable):
        raise PermissionError(f"you may not mute alerts of {dag_id}: you have no edit rights on it")
    in_transaction(session_factory(sources.store_url), lambda s: outbox.mute(s, dag_id, task_id, output, until, user))


def mute_task(sources: Sources, dag_id: str, task_id: str, until: dt.datetime | None, user: str, *,
              editable: Iterable[str] | None) -> list[str]:
    """Mute every output of the task that has had alerts; returns their names."""
    if editable is not None and dag_id not in set(editable):
        raise PermissionError(f"you may not mute alerts of {dag_id}: you have no edit rights on it")
    with store_conn(sources) as conn:
        names = sorted(conn.execute(
            select(Alert.output_name).distinct()
            .where(Alert.dag_id == dag_id, Alert.task_id == task_id, Alert.output_name.is_not(None))
            .limit(100)
        ).scalars())
    if not names:
        raise LookupError(f"{task_id} of {dag_id} has had no alerts to mute")
    for name in names:
        mute_output(sources, dag_id, task_id, name, until, user, editable=editable)
    return names
