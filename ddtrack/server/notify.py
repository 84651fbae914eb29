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

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ddtrack import channels as channel_config
from ddtrack import conf

log = logging.getLogger("ddtrack.alerts")

FINISHED = {"success", "failed"}
MAX_RUNS_CHECKED = 200  # runs whose state is asked of Airflow per round
MAX_STALE = 1000  # stale output versions queued per sweep


@dataclass
class Channel:
    """A configured channel with its notifier class and its own sending thread."""

    spec: channel_config.Channel
    notifier_class: type
    executor: ThreadPoolExecutor = field(init=False)
    running: Future | None = None
    started: float = 0.0
    timed_out: bool = False

    def __post_init__(self) -> None:
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"ddtrack-alerts-{self.spec.name[:20]}")

    @property
    def busy(self) -> bool:
        return self.running is not None and not self.running.done()

    def build(self) -> Any:
        """A fresh notifier (rendering mutates it) with ddtrack's defaults where subject or body are unset."""
        return self.notifier_class(**channel_config.with_defaults(self.notifier_class, self.spec.kwargs))


@dataclass
class DeliveryReport:
    digests: int = 0
    sent: int = 0
    failed: int = 0
    waiting: int = 0
    errors: list[str] = field(default_factory=list)


class Deliverer:
    """Drains the outbox of one store; one per process (channels keep their threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: str | None = None
        self._channels: dict[str, Channel] = {}
        self.config_errors: list[str] = []

    def channels(self) -> dict[str, Channel]:
        """The configured channels, reloaded when the option's text changes; errors logged once."""
        raw = conf.alert_notifiers()
        if raw != self._raw:
            loaded, errors = channel_config.load(raw)
            loaded = [Channel(spec, cls) for spec, cls in loaded]
            self._raw, self._channels, self.config_errors = raw, {c.spec.name: c for c in loaded}, errors
            for error in errors:
                log.error("ddtrack alerts: %s (this channel is skipped; ingest goes on)", error)
        return self._channels

    def specs(self) -> list[channel_config.Channel]:
        return [c.spec for c in self.channels().values()]

    def deliver(self, store_url: str, metastore_url: str | None, wait_s: float = 0.0) -> DeliveryReport:
        """Send what is due: one digest per DAG run and channel, each on its channel's thread.
        Returns at once unless ``wait_s`` > 0 (``ddtrack sync``, tests), then waits at most
        that long for the sends."""
        with self._lock:
            report = DeliveryReport()
            channels = self.channels()
            self._time_out_hung(channels, store_url)
            idle = [name for name, c in channels.items() if not c.busy]
            if not idle:
                return report
            from ddtrack.store import outbox
            from ddtrack.store.engine import in_transaction, session_factory

            make = session_factory(store_url)
            in_transaction(make, lambda s: outbox.expire_stale_claims(s, conf.alert_attempts()))
            token, rows = in_transaction(make, lambda s: outbox.claim_due(s, idle))
            if not rows:
                return report
            ready, waiting = _split_finished(rows, metastore_url)
            if waiting:
                in_transaction(make, lambda s: outbox.release(s, [p.delivery_id for p in waiting], token))
                report.waiting = len(waiting)
            futures = []
            for (name, _dag, _run), digest in _digests(ready).items():
                channel = channels[name]
                futures.append(self._submit(channel, digest, token, make, report))
                report.digests += 1
        deadline = time.monotonic() + wait_s
        for future in futures:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            with contextlib.suppress(Exception):  # a failure is already recorded by the channel's thread
                future.result(timeout=remaining)
        return report

    def _submit(self, channel: Channel, digest: list[Any], token: str, make: Any, report: DeliveryReport) -> Future:
        ids = [p.delivery_id for p in digest]
        alerts = [p.alert for p in digest]

        def send() -> None:
            from ddtrack.store import outbox
            from ddtrack.store.engine import in_transaction

            try:
                notifier = channel.build()
                notifier(digest_context(alerts))
            except Exception as exc:  # noqa: BLE001 - a channel's failure is recorded, never raised
                error = f"{type(exc).__name__}: {exc}"
                log.warning("ddtrack alerts: channel %r failed to send %d alert(s): %s", channel.spec.name, len(ids), error)
                report.failed += len(ids)
                in_transaction(make, lambda s: outbox.mark_failed(s, ids, token, error, conf.alert_attempts()))
                return
            report.sent += len(ids)
            in_transaction(make, lambda s: outbox.mark_sent(s, ids, token, late=channel.timed_out))
            log.info("ddtrack alerts: sent %d alert(s) of %s/%s to %r", len(ids), alerts[0]["dag_id"],
                     alerts[0]["run_id"] or "-", channel.spec.name)

        channel.started, channel.timed_out = time.monotonic(), False
        channel.running = channel.executor.submit(send)
        channel.running.ids, channel.running.token = ids, token  # type: ignore[attr-defined]
        return channel.running

    def _time_out_hung(self, channels: Mapping[str, Channel], store_url: str) -> None:
        """A send running past the timeout counts as one failed attempt of its rows."""
        timeout = conf.alert_send_timeout()
        for channel in channels.values():
            if not channel.busy or channel.timed_out or time.monotonic() - channel.started < timeout:
                continue
            channel.timed_out = True
            ids, token = channel.running.ids, channel.running.token  # type: ignore[union-attr]
            error = f"no answer within {timeout:g} s"
            log.warning("ddtrack alerts: channel %r %s; its %d alert(s) will be tried again", channel.spec.name, error, len(ids))
            from ddtrack.store import outbox
            from ddtrack.store.engine import in_transaction, session_factory

            in_transaction(session_factory(store_url),
                           lambda s, ids=ids, token=token, error=error: outbox.mark_failed(s, ids, token, error, conf.alert_attempts()))


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
    runs = sorted({(r.alert["dag_id"], r.alert["run_id"]) for r in rows if r.alert["run_id"]})[:MAX_RUNS_CHECKED]
    if not runs or not metastore_url:
        return list(rows), []
    going = _runs_going(metastore_url, runs)
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
    output version (once per version); returns how many outbox rows were added."""
    from ddtrack.queries import Sources
    from ddtrack.queries.freshness import stale_outputs
    from ddtrack.store import outbox
    from ddtrack.store.engine import in_transaction, session_factory

    specs = channel_config.configured()
    if not specs:
        return 0
    make = session_factory(store_url)
    added = in_transaction(make, lambda s: outbox.enqueue_overdue(s, specs, channel_config.page_url))
    if any("stale" in c.kinds for c in specs):
        stale = [{"dag_id": o.dag_id, "task_id": o.task_id, "output": o.name, "output_id": o.output_id,
                  "reason": o.reason} for o in stale_outputs(Sources(store_url, ""), allowed=None, limit=MAX_STALE)]
        added += in_transaction(make, lambda s: outbox.enqueue_stale(s, stale, specs, channel_config.page_url))
    return added
