"""Deliver queued alerts through Airflow's notifiers, off the scheduling loop.

The outbox (:mod:`ddtrack.store.outbox`) is filled at ingest. :class:`Deliverer` drains it
from the ingest thread (and from ``ddtrack sync``): it claims the due rows, groups them into
one digest per DAG run and channel, and hands each digest to its channel's own thread, so a
channel that fails or hangs never delays ingest or the other channels. The channel's thread
builds a fresh notifier (``BaseNotifier`` subclass from ``[ddtrack] alert_notifiers``),
calls it with a context holding ``ddtrack_alerts``, ``ddtrack_alert``, ``dag_id`` and
``run_id``, and marks the rows sent, or failed for this attempt (due again after a back-off,
failed for good after ``[ddtrack] alert_attempts``).

A digest waits until its DAG run has finished in Airflow (or Airflow no longer has it), so
the alerts of one run go out together. A send that outlives ``[ddtrack]
alert_send_timeout`` counts as a failed attempt; its channel gets no new work until that
call returns.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ddtrack import channels as channel_config
from ddtrack import conf

log = logging.getLogger("ddtrack.alerts")

FINISHED = {"success", "failed"}
MAX_RUNS_CHECKED = 200  # runs whose state is asked of Airflow per round
MAX_STALE = 1000  # stale output versions queued per sweep
MAX_OVERDUE = 5000  # overdue outputs queued per sweep
WAIT_FOR_RUN_S = 30  # a digest of a run still going is looked at again after this


@dataclass
class Channel:
    """A configured channel and its notifier class."""

    spec: channel_config.Channel
    notifier_class: type

    def build(self) -> Any:
        """A fresh notifier (rendering mutates it) with ddtrack's defaults where subject or body are unset."""
        return self.notifier_class(**channel_config.with_defaults(self.notifier_class, self.spec.kwargs))


@dataclass
class _Send:
    """One digest being sent on its own daemon thread (a hung notifier never holds up a
    process's exit); a channel has at most one at a time."""

    ids: list[int]
    token: str
    started: float = field(default_factory=time.monotonic)
    timed_out: bool = False
    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class DeliveryReport:
    digests: int = 0
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


class Deliverer:
    """Drains the outbox of one store; one per process. Each channel sends one digest at a
    time: what else is due for it stays in the outbox for the next round."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: str | None = None
        self._channels: dict[str, Channel] = {}
        self._sending: dict[str, _Send] = {}  # by channel name: outlives a reload of the option
        self.config_errors: list[str] = []

    def channels(self) -> dict[str, Channel]:
        """The configured channels, reloaded when the option's text changes; errors logged once."""
        raw = conf.alert_notifiers()
        if raw != self._raw:
            loaded, errors = channel_config.load(raw)
            self._raw, self.config_errors = raw, errors
            self._channels = {spec.name: Channel(spec, cls) for spec, cls in loaded}
            for error in errors:
                log.error("ddtrack alerts: %s (this channel is skipped; ingest goes on)", error)
        return self._channels

    def _busy(self, name: str) -> bool:
        send = self._sending.get(name)
        return send is not None and not send.done.is_set()

    def deliver(self, store_url: str, metastore_url: str | None, wait_s: float = 0.0) -> DeliveryReport:
        """Hand each idle channel its next due digest (one DAG run's alerts) and return at once;
        with ``wait_s`` > 0 (``ddtrack sync``, tests) go on round after round, waiting for the
        sends, until nothing is due or ``wait_s`` has passed."""
        report = DeliveryReport()
        deadline = time.monotonic() + wait_s
        while True:
            started = self._round(store_url, metastore_url, report)
            if not started or wait_s <= 0:
                return report
            for send in started:
                send.done.wait(max(0.0, deadline - time.monotonic()))
            if time.monotonic() >= deadline:
                return report

    def _round(self, store_url: str, metastore_url: str | None, report: DeliveryReport) -> list[_Send]:
        from ddtrack.store import outbox
        from ddtrack.store.engine import in_transaction, session_factory

        with self._lock:
            channels = self.channels()
            make = session_factory(store_url)
            self._time_out_hung(make)
            idle = [name for name in channels if not self._busy(name)]
            if not idle:
                return []
            in_transaction(make, lambda s: outbox.expire_stale_claims(s, conf.alert_attempts()))
            token, rows = in_transaction(make, lambda s: outbox.claim_due(s, idle))
            if not rows:
                return []
            ready, waiting = _split_finished(rows, metastore_url)
            chosen: dict[str, list[Any]] = {}
            for (name, _dag, _run), digest in _digests(ready).items():
                chosen.setdefault(name, digest)  # one digest per channel and round
            sending = {p.delivery_id for digest in chosen.values() for p in digest}
            next_round = [p.delivery_id for p in ready if p.delivery_id not in sending]
            in_transaction(make, lambda s: (
                outbox.release(s, [p.delivery_id for p in waiting], token, defer_s=WAIT_FOR_RUN_S),
                outbox.release(s, next_round, token, defer_s=0),
            ))
            report.waiting += len(waiting)
            started = [self._start(channels[name], digest, token, make, report) for name, digest in chosen.items()]
            report.digests += len(started)
            return started

    def _start(self, channel: Channel, digest: list[Any], token: str, make: Any, report: DeliveryReport) -> _Send:
        from ddtrack.store import outbox
        from ddtrack.store.engine import in_transaction

        ids, alerts = [p.delivery_id for p in digest], [p.alert for p in digest]
        send = _Send(ids, token)

        def run() -> None:
            try:
                try:
                    channel.build()(digest_context(alerts))
                except Exception as exc:  # noqa: BLE001 - a channel's failure is recorded, never raised
                    error = f"{type(exc).__name__}: {exc}"
                    log.warning("ddtrack alerts: channel %r failed to send %d alert(s): %s", channel.spec.name,
                                len(ids), error)
                    report.failed += len(ids)
                    if not send.timed_out:  # else already counted as a failed attempt
                        in_transaction(make, lambda s: outbox.mark_failed(s, ids, token, error, conf.alert_attempts()))
                    return
                report.sent += len(ids)
                in_transaction(make, lambda s: outbox.mark_sent(s, ids, token, late=send.timed_out))
                log.info("ddtrack alerts: sent %d alert(s) of %s/%s to %r", len(ids), alerts[0]["dag_id"],
                         alerts[0]["run_id"] or "-", channel.spec.name)
            except Exception as exc:  # noqa: BLE001 - the store away: the claim's lease brings the rows back
                log.warning("ddtrack alerts: could not record a send to %r: %s", channel.spec.name, exc)
            finally:
                send.done.set()

        self._sending[channel.spec.name] = send
        threading.Thread(target=run, name=f"ddtrack-alerts-{channel.spec.name[:20]}", daemon=True).start()
        return send

    def _time_out_hung(self, make: Any) -> None:
        """A send running past the timeout counts as one failed attempt of its rows; the
        channel gets no new work until that call returns."""
        from ddtrack.store import outbox
        from ddtrack.store.engine import in_transaction

        timeout = conf.alert_send_timeout()
        for name, send in self._sending.items():
            if send.done.is_set() or send.timed_out or time.monotonic() - send.started < timeout:
                continue
            send.timed_out = True
            error = f"no answer within {timeout:g} s"
            log.warning("ddtrack alerts: channel %r %s; its %d alert(s) will be tried again", name, error, len(send.ids))
            in_transaction(make, lambda s, send=send, error=error:
                           outbox.mark_failed(s, send.ids, send.token, error, conf.alert_attempts()))


def digest_context(alerts: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The context a notifier renders its templates with: the run's alerts."""
    first = alerts[0]
    return {"ddtrack_alerts": list(alerts), "ddtrack_alert": first, "dag_id": first["dag_id"], "run_id": first["run_id"]}


def _digests(rows: Sequence[Any]) -> dict[tuple[str, str, str | None], list[Any]]:
    grouped: dict[tuple[str, str, str | None], list[Any]] = defaultdict(list)
    for row in rows:
        grouped[(row.channel, row.alert["dag_id"], row.alert["run_id"])].append(row)
    return grouped


def _split_finished(rows: Sequence[Any], metastore_url: str | None) -> tuple[list[Any], list[Any]]:
    """Rows whose DAG run has finished in Airflow (or that Airflow no longer has, or that have
    no run), and rows of runs still going, which wait for the run's digest."""
    runs = sorted({(r.alert["dag_id"], r.alert["run_id"]) for r in rows if r.alert["run_id"]})
    if not runs or not metastore_url:
        return list(rows), []
    # Runs past the first MAX_RUNS_CHECKED are not asked about this round: they wait too.
    going = _runs_going(metastore_url, runs[:MAX_RUNS_CHECKED]) | set(runs[MAX_RUNS_CHECKED:])
    ready = [r for r in rows if (r.alert["dag_id"], r.alert["run_id"]) not in going]
    return ready, [r for r in rows if (r.alert["dag_id"], r.alert["run_id"]) in going]


def _runs_going(metastore_url: str, runs: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
    from sqlalchemy import select, tuple_

    from ddtrack.store.airflow_tables import DAG_RUN as dag_run
    from ddtrack.store.engine import get_engine

    try:
        with get_engine(metastore_url).connect() as conn:
            found = conn.execute(
                select(dag_run.c.dag_id, dag_run.c.run_id, dag_run.c.state)
                .where(tuple_(dag_run.c.dag_id, dag_run.c.run_id).in_(list(runs)))
            ).all()
    except Exception as exc:  # noqa: BLE001 - Airflow unreadable: send now rather than never
        log.warning("ddtrack alerts: could not read the runs' states (%s); sending without waiting", exc)
        return set()
    return {(d, r) for d, r, state in found if state not in FINISHED}


deliverer = Deliverer()


def sweep_freshness(store_url: str) -> int:
    """Queue an alert for each output overdue now (once per missed window) and each stale
    output version (once per version), as the pages find them; returns how many outbox rows
    were added."""
    from ddtrack.queries import Sources
    from ddtrack.queries.freshness import overdue_outputs, stale_outputs
    from ddtrack.store import outbox
    from ddtrack.store.engine import in_transaction, session_factory

    specs = channel_config.configured()
    if not specs:
        return 0
    sources, make, added = Sources(store_url, ""), session_factory(store_url), 0
    if any("overdue" in c.kinds for c in specs):
        overdue = [{"dag_id": o.dag_id, "task_id": o.task_id, "output": o.name, "last_success_at": o.last_success_at,
                    "window_s": o.fresh_within_s} for o in overdue_outputs(sources, allowed=None, limit=MAX_OVERDUE)]
        added += in_transaction(make, lambda s: outbox.enqueue_overdue(s, overdue, specs, channel_config.page_url))
    if any("stale" in c.kinds for c in specs):
        stale = [{"dag_id": o.dag_id, "task_id": o.task_id, "output": o.name, "output_id": o.output_id,
                  "reason": o.reason} for o in stale_outputs(sources, allowed=None, limit=MAX_STALE)]
        added += in_transaction(make, lambda s: outbox.enqueue_stale(s, stale, specs, channel_config.page_url))
    return added
