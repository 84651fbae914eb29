"""The background thread that ingests records inside Airflow's server processes.

Listeners run inside the scheduler's loop, on the loop's own session: ddtrack must not
touch that session, must not raise, and must return at once. So a listener only hands
``(dag_id, run_id)`` to this thread, which ingests through engines of its own. A run that
fails (SQLite's lock, ddtrack's database down) is retried with back-off for about a
quarter of an hour without holding up other runs; its records wait in Airflow's XCom
table meanwhile, where ``ddtrack sync`` and the views' on-demand ingest also find them.
Records the capture middleware copied to the spool are stored here too, at once when it
asks, and every ``SPOOL_CHECK_S`` while the database is away. Housekeeping (records past
``[ddtrack] retention_days``, and with ``follow_airflow_deletes`` those of runs Airflow
deleted) runs here too, in one process of the deployment per hour, and so does the refresh
of the per-DAG stale counts home's badge reads (:mod:`ddtrack.server.stale_refresh`), in
one process every few seconds.
"""

from __future__ import annotations

import heapq
import logging
import queue
import threading
import time

from ddtrack import conf

log = logging.getLogger("ddtrack.ingest")

RETRY_DELAYS = (1, 2, 5, 10, 20, 30, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60, 60)
SPOOL_CHECK_S = 30
HOUSEKEEPING_EVERY_S = 3600  # one pass per hour across every scheduler and api-server
HOUSEKEEPING_CHECK_S = 300  # how often each process asks for the housekeeping lease
HOUSEKEEPING_BUDGET_S = 20  # one pass's time on the ingest thread; the holder resumes after
HOUSEKEEPING_RESUME_S = 60
ALERTS_CHECK_S = 15  # how often the outbox is looked at when nothing was ingested
OVERDUE_CHECK_S = 300  # how often overdue outputs are swept into the outbox
STALE_REFRESH_S = 10  # how often the stale counts' lease holder counts changed DAGs again
STALE_RETRY_S = 60  # after a failed refresh (a database away, a store not upgraded)
_QUEUE_LIMIT = 10_000
_DRAIN = ("__drain__", "")


class IngestWorker:
    """One daemon thread per process that ingests DAG runs handed to it."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str]] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._retries: list[tuple[float, int, str, str]] = []  # (due, attempt, dag_id, run_id)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._busy = False
        self._spool_due = 0.0
        self._housekeeping_due = time.monotonic() + 60
        self._housekeeping_left = False  # this process's last pass stopped at its budget
        self._alerts_due = 0.0
        self._overdue_due = time.monotonic() + 30
        self._stale_due = time.monotonic() + STALE_REFRESH_S
        self._stale_problem = ""  # the last refresh failure, said once

    # -- called from Airflow's threads: never block, never raise -------------------------

    def submit(self, dag_id: str, run_id: str) -> None:
        """Queue a DAG run for ingest."""
        self._put((dag_id, run_id))

    def drain_spool_later(self) -> None:
        """Ask the thread to ingest spooled records as soon as it can."""
        self._put(_DRAIN)

    def _put(self, item: tuple[str, str]) -> None:
        try:
            self._ensure_thread()
            self._queue.put_nowait(item)
        except queue.Full:
            log.warning("ddtrack ingest queue is full; %s/%s is left for `ddtrack sync`", *item)
        except Exception as exc:
            log.warning("ddtrack could not queue %s/%s for ingest: %s", *item, exc)

    def wait_idle(self, timeout: float = 60) -> bool:
        """Block until nothing is queued, running or waiting for a retry (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and not self._busy and not self._retries:
                return True
            time.sleep(0.05)
        return False

    def start(self) -> None:
        """Start the thread now (the scheduler does at start-up: overdue sweeps and alert
        delivery need no run to end)."""
        self._ensure_thread()

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="ddtrack-ingest", daemon=True)
                self._thread.start()

    # -- the thread ----------------------------------------------------------------------

    def _loop(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=self._seconds_to_next_job())
            except queue.Empty:
                item = None
            self._busy = True
            try:
                if item == _DRAIN:
                    self._spool_due = 0.0
                elif item is not None:
                    self._attempt(item[0], item[1], attempt=0)
                self._run_due_retries()
                self._drain_spool_if_due()
                self._housekeep_if_due()
                self._refresh_stale_counts_if_due()
                self._deliver_alerts(ingested=item is not None and item != _DRAIN)
            except Exception as exc:  # the thread must outlive any bug of ours
                log.warning("ddtrack ingest thread error: %s", exc)
            finally:
                self._busy = False

    def _seconds_to_next_job(self) -> float:
        now = time.monotonic()
        due = [self._spool_due if self._spool_due else now + SPOOL_CHECK_S, self._stale_due]
        if self._retries:
            due.append(self._retries[0][0])
        if self._alerts_due:  # set once alerts were looked at: channels are configured
            due.append(self._alerts_due)
        return max(0.05, min(due) - now)

    def _attempt(self, dag_id: str, run_id: str, attempt: int) -> None:
        from ddtrack.store.ingest import ingest_run

        try:
            report = ingest_run(conf.metastore_url(), conf.store_url(), dag_id, run_id)
            problem = "; ".join(report.errors[:3]) if report.failed else ""
        except Exception as exc:
            # The first line only: a database error goes on with its statement and its parameters.
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if not problem:
            log.info("ddtrack ingested %s/%s: %d new, %d unchanged", dag_id, run_id, report.written, report.unchanged)
            return
        if attempt >= len(RETRY_DELAYS):
            log.warning("ddtrack gave up ingesting %s/%s for now (%s); `ddtrack sync` will pick it up", dag_id, run_id, problem)
            return
        delay = RETRY_DELAYS[attempt]
        log.warning("ddtrack ingest of %s/%s failed (%s); retrying in %ss", dag_id, run_id, problem, delay)
        heapq.heappush(self._retries, (time.monotonic() + delay, attempt + 1, dag_id, run_id))

    def _run_due_retries(self) -> None:
        while self._retries and self._retries[0][0] <= time.monotonic():
            _, attempt, dag_id, run_id = heapq.heappop(self._retries)
            self._attempt(dag_id, run_id, attempt)

    def _drain_spool_if_due(self) -> None:
        now = time.monotonic()
        if self._spool_due and now < self._spool_due:
            return
        self._spool_due = now + SPOOL_CHECK_S
        from ddtrack.server import spool

        report = spool.drain(conf.store_url(), conf.metastore_url())
        if report.stored:
            log.info("ddtrack ingested %d spooled record(s)", report.stored)

    def _housekeep_if_due(self) -> None:
        """Every few minutes, ask for the deployment's housekeeping lease; the one process
        that gets it deletes what ``[ddtrack] retention_days`` (and, only if set,
        ``follow_airflow_deletes``) says has expired, and logs one line. Nothing to do by
        the settings (the default): no lease asked, nothing deleted."""
        if time.monotonic() < self._housekeeping_due:
            return
        self._housekeeping_due = time.monotonic() + HOUSEKEEPING_CHECK_S
        days, follow = conf.retention_days(), conf.follow_airflow_deletes()
        if days <= 0 and not follow:
            return
        from ddtrack.store.retention import housekeep

        try:
            done = housekeep(
                conf.store_url(),
                conf.metastore_url(),
                retention_days=days,
                follow_airflow_deletes=follow,
                every_s=HOUSEKEEPING_EVERY_S,
                budget_s=HOUSEKEEPING_BUDGET_S,
                resume=self._housekeeping_left,
            )
        except Exception as exc:  # a database away, a store not upgraded: asked again later
            log.warning("ddtrack housekeeping failed, tried again in %d s: %s", HOUSEKEEPING_CHECK_S, exc)
            return
        self._housekeeping_left = done is not None and done.more_left
        if done is not None:
            log.info("ddtrack housekeeping: %s", done.summary())
        if self._housekeeping_left:  # a backlog: go on soon, between ingests
            self._housekeeping_due = time.monotonic() + HOUSEKEEPING_RESUME_S

    def _refresh_stale_counts_if_due(self) -> None:
        """Every few seconds, count again the DAGs whose staleness an ingest or a deletion
        may have changed (in the one process holding the lease), so that home's stale badge
        reads counts instead of working them out."""
        if time.monotonic() < self._stale_due:
            return
        from ddtrack.server.stale_refresh import refresh

        try:
            counted = refresh(conf.store_url())
        except Exception as exc:  # a database away, a store not upgraded yet: said once, not every minute
            self._stale_due = time.monotonic() + STALE_RETRY_S
            # The first line only: a database error goes on with its statement and its parameters.
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            level = logging.DEBUG if problem == self._stale_problem else logging.WARNING
            self._stale_problem = problem
            log.log(level, "ddtrack could not refresh the stale counts, tried again in %d s: %s", STALE_RETRY_S, problem)
            return
        self._stale_problem = ""
        self._stale_due = time.monotonic() + STALE_REFRESH_S
        if counted:
            log.debug("ddtrack counted the stale outputs of %d DAG(s) again", counted)

    def _deliver_alerts(self, ingested: bool) -> None:
        """Queue overdue outputs every few minutes and hand what is due to the alert channels
        (:mod:`ddtrack.server.notify`: each channel sends on its own thread, so this returns
        at once). Nothing happens while ``[ddtrack] alert_notifiers`` is empty."""
        if not conf.alert_notifiers().strip():
            self._alerts_due = 0.0  # nothing to wake up for
            return
        now = time.monotonic()
        if not ingested and now < self._alerts_due:
            return
        self._alerts_due = now + ALERTS_CHECK_S
        from ddtrack.server import notify

        try:
            if now >= self._overdue_due:
                self._overdue_due = now + OVERDUE_CHECK_S
                notify.sweep_freshness(conf.store_url())
            notify.deliverer.deliver(conf.store_url(), conf.metastore_url())
        except Exception as exc:  # a database away: the outbox keeps the alerts for the next round
            log.warning("ddtrack alert delivery failed, tried again in %d s: %s", ALERTS_CHECK_S, exc)


worker = IngestWorker()
