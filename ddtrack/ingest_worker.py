"""The background thread that ingests records inside Airflow's server processes.

Listeners run inside the scheduler's loop, on the loop's own session: ddtrack must not
touch that session, must not raise, and must return at once. So a listener only hands
``(dag_id, run_id)`` to this thread, which ingests through engines of its own and retries
with back-off while the database is busy (SQLite's lock) or down. Records that still
cannot be stored stay in Airflow's XCom table, where ``ddtrack sync`` and the views'
on-demand ingest find them later: nothing is lost.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from ddtrack import config

log = logging.getLogger("ddtrack.ingest")

_RETRY_DELAYS = (0.5, 1, 2, 5, 10, 30, 60)
_QUEUE_LIMIT = 10_000


class IngestWorker:
    """One daemon thread per process that ingests DAG runs handed to it."""

    def __init__(self) -> None:
        self._queue: queue.Queue[tuple[str, str] | None] = queue.Queue(maxsize=_QUEUE_LIMIT)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._busy = 0

    def submit(self, dag_id: str, run_id: str) -> None:
        """Queue a DAG run for ingest; never blocks, never raises."""
        try:
            self._ensure_thread()
            self._queue.put_nowait((dag_id, run_id))
        except queue.Full:
            log.warning("ddtrack ingest queue is full; %s/%s is left for `ddtrack sync`", dag_id, run_id)
        except Exception as exc:
            log.warning("ddtrack could not queue %s/%s for ingest: %s", dag_id, run_id, exc)

    def wait_idle(self, timeout: float = 60) -> bool:
        """Block until everything queued is ingested (for tests and shutdown)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._queue.empty() and self._busy == 0:
                return True
            time.sleep(0.05)
        return False

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="ddtrack-ingest", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            self._busy += 1
            try:
                self._ingest_with_retries(*item)
            finally:
                self._busy -= 1

    def _ingest_with_retries(self, dag_id: str, run_id: str) -> None:
        from ddtrack.store.ingest import ingest_run

        settings = config.store_settings()
        metastore = config.metastore_url()
        for attempt, delay in enumerate((0, *_RETRY_DELAYS)):
            time.sleep(delay)
            try:
                report = ingest_run(metastore, settings.url, dag_id, run_id)
            except Exception as exc:
                log.warning(
                    "ddtrack ingest of %s/%s failed (attempt %d): %s", dag_id, run_id, attempt + 1, exc
                )
                continue
            if report.failed == 0:
                log.info("ddtrack ingested %s/%s: %d new, %d unchanged", dag_id, run_id, report.written, report.unchanged)
                return
            log.warning("ddtrack ingest of %s/%s: %d records failed", dag_id, run_id, report.failed)
        log.warning("ddtrack gave up ingesting %s/%s for now; `ddtrack sync` will pick it up", dag_id, run_id)


worker = IngestWorker()
