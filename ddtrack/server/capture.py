"""Keep every try's record: copy it to the spool before Airflow clears the task's XComs.

When a task instance starts a new try (a retry, or a clear and re-run), its XComs go,
ddtrack's record of the previous try with them. The worker first sends its start request
(``PATCH /execution/task-instances/{id}/run``); Airflow 3.3 then has the worker delete
the XComs one key at a time (``DELETE /execution/xcoms/{dag}/{run}/{task}/ddtrack``).
A root middleware of the plugin copies the pending record on both requests before they
go on, and costs the task start next to nothing whatever ddtrack's database does:

- it only reads Airflow's metastore (one indexed query), which the request itself needs
  anyway, and never touches ddtrack's own database;
- it writes the record to the local spool (one atomic file) and leaves storing it to the
  process's ingest thread (:mod:`ddtrack.server.ingest_worker`);
- it runs on a dedicated pool of ``_THREADS`` threads and waits at most ``_BUDGET_S``.
  When the pool is busy, or the budget passes, the request goes on without waiting
  (logged). A read that started finishes in its thread and is still spooled. The start
  request's copy marks the task instance done, so the XCom delete that follows costs
  nothing; if the start request had to go on without it, the delete tries once more.
  Only when the metastore cannot answer that indexed read on either request is the
  record lost, and the warning says which one.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs

from ddtrack import conf
from ddtrack.record import XCOM_KEY

log = logging.getLogger("ddtrack.capture")

_RUN_PATH = re.compile(r"/execution/task-instances/([0-9a-fA-F-]{32,36})/run$")
_XCOM_DELETE_PATH = re.compile(rf"/execution/xcoms/([^/]+)/([^/]+)/([^/]+)/{XCOM_KEY}$")
_BUDGET_S = 0.3
_THREADS = 2
_REMEMBERED = 4096

# Both bound the threads: the executor never has more, and a copy is only handed to it
# when one is free, so nothing queues up behind a slow metastore.
_pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="ddtrack-capture")
_free = threading.BoundedSemaphore(_THREADS)
_copied: OrderedDict[tuple[str, str, str, int], None] = OrderedDict()
_copied_lock = threading.Lock()

TaskKey = tuple[str, str, str, int]  # dag_id, run_id, task_id, map_index


def _spool(records: list[dict[str, Any]]) -> int:
    from ddtrack.server import spool
    from ddtrack.server.ingest_worker import worker

    if not records:
        return 0
    spool.put(records)
    with _copied_lock:
        for r in records:
            _copied[(r["dag_id"], r["run_id"], r["task_id"], int(r.get("map_index", -1)))] = None
        while len(_copied) > _REMEMBERED:
            _copied.popitem(last=False)
    worker.drain_spool_later()
    return len(records)


def copy_task_instance(ti_id: str) -> int:
    """Spool the pending record of task instance ``ti_id`` (its start request); how many."""
    from ddtrack.store.ingest import read_records_of_task_instance

    return _spool(read_records_of_task_instance(conf.metastore_url(), ti_id))


def copy_xcom(key: TaskKey) -> int:
    """Spool the record the worker is about to delete, unless its start request did."""
    from ddtrack.store.ingest import read_records_of_task

    with _copied_lock:
        if key in _copied:
            del _copied[key]
            return 0
    return _spool(read_records_of_task(conf.metastore_url(), *key))


def _delete_key(path_match: re.Match, query_string: bytes) -> TaskKey:
    query = parse_qs(query_string.decode("latin-1"))
    map_index = int(query.get("map_index", ["-1"])[0])
    return path_match.group(1), path_match.group(2), path_match.group(3), map_index


async def copy_within_budget(what: str, job: Callable[..., int], *args: Any) -> bool:
    """Run ``job`` on the capture pool, waiting at most ``_BUDGET_S``; True if it finished."""
    if not _free.acquire(blocking=False):
        log.warning("ddtrack capture threads are busy: %s goes on without waiting for its record", what)
        return False

    def run() -> int:
        try:
            return job(*args)
        finally:
            _free.release()

    future = asyncio.wrap_future(_pool.submit(run))
    try:
        # shield: a copy that outlives the budget still finishes (and spools) in its thread.
        await asyncio.wait_for(asyncio.shield(future), _BUDGET_S)
        return True
    except asyncio.TimeoutError:
        log.warning("ddtrack is still reading the record of %s after %.1fs; the request goes on", what, _BUDGET_S)
    except Exception as exc:  # never fail Airflow's own request
        log.warning("ddtrack could not keep the previous try's record of %s: %s", what, exc)
    return False


def _warm_up() -> None:
    try:
        import ddtrack.server.ingest_worker  # noqa: F401
        import ddtrack.server.spool  # noqa: F401
        import ddtrack.store.ingest  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - the copy then imports it itself, and reports
        log.debug("ddtrack capture warm-up failed: %s", exc)


class CaptureBeforeRetryMiddleware:
    """ASGI middleware for the api-server (registered as a plugin root middleware)."""

    def __init__(self, app) -> None:
        self.app = app
        # Starlette builds its middleware stack on the api-server's first request: import
        # the capture code then, on the capture pool, so the first retry does not pay for it.
        _pool.submit(_warm_up)

    async def __call__(self, scope, receive, send):
        method = scope.get("method")
        if scope.get("type") == "http" and method in ("PATCH", "DELETE") and conf.capture_before_retry():
            path = scope.get("path", "")
            if method == "PATCH" and (match := _RUN_PATH.search(path)):
                await copy_within_budget(f"task instance {match.group(1)}", copy_task_instance, match.group(1))
            elif method == "DELETE" and (match := _XCOM_DELETE_PATH.search(path)):
                try:
                    key = _delete_key(match, scope.get("query_string", b""))
                except ValueError:  # not a request the worker sends: Airflow answers it
                    key = None
                if key is not None:
                    await copy_within_budget("{}/{}/{}[{}]".format(*key), copy_xcom, key)
        await self.app(scope, receive, send)
