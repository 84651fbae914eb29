"""Keep every try's record: copy it out before Airflow clears the task's XComs.

When a task instance starts a new try (a retry, or a clear and re-run), the worker deletes
all its XComs first, ddtrack's record of the previous try with them. That start is one
request to the api-server's execution API (``PATCH /execution/task-instances/{id}/run``),
so a root middleware of the plugin ingests that task instance's pending record just
before the request goes on. It costs one indexed query when there is nothing to copy,
waits at most ``_BUDGET_S``, and never fails the request.
"""

from __future__ import annotations

import logging
import re
import threading

from ddtrack import conf

log = logging.getLogger("ddtrack.capture")

_RUN_PATH = re.compile(r"/execution/task-instances/([0-9a-fA-F-]{32,36})/run$")
_BUDGET_S = 5.0


def capture_task_instance(ti_id: str) -> int:
    """Ingest the pending record of task instance ``ti_id``; how many were written."""
    from ddtrack.store.ingest import ingest_records, read_records_of_task_instance

    metastore = conf.metastore_url()
    records = read_records_of_task_instance(metastore, ti_id)
    if not records:
        return 0
    report = ingest_records(conf.store_url(), records, metastore_url=metastore)
    if report.unreachable:
        # The XComs are about to be cleared: keep the records on disk until the database is back.
        from ddtrack.server import spool
        from ddtrack.server.ingest_worker import worker

        spool.put(report.unreachable)
        worker.drain_spool_later()
        log.warning("ddtrack's database is unreachable; %d record(s) spooled", len(report.unreachable))
    return report.written


def _warm_up() -> None:
    try:
        import ddtrack.store.ingest  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - capture then imports it itself, and reports
        log.debug("ddtrack capture warm-up failed: %s", exc)


class CaptureBeforeRetryMiddleware:
    """ASGI middleware for the api-server (registered as a plugin root middleware)."""

    def __init__(self, app) -> None:
        self.app = app
        # Starlette builds its middleware stack on the api-server's first request (in practice
        # a health check or a UI call): import the capture code then, in the background, so the
        # first task start does not pay for it while Airflow's own first-request work runs.
        threading.Thread(target=_warm_up, name="ddtrack-capture-warm-up", daemon=True).start()

    async def __call__(self, scope, receive, send):
        if scope.get("type") == "http" and scope.get("method") == "PATCH":
            match = _RUN_PATH.search(scope.get("path", ""))
            if match and conf.capture_before_retry():
                await self._capture(match.group(1))
        await self.app(scope, receive, send)

    @staticmethod
    async def _capture(ti_id: str) -> None:
        import anyio

        try:
            with anyio.move_on_after(_BUDGET_S):
                await anyio.to_thread.run_sync(capture_task_instance, ti_id, abandon_on_cancel=True)
        except Exception as exc:  # never fail Airflow's own request
            log.warning("ddtrack could not keep the previous try's record of %s: %s", ti_id, exc)
