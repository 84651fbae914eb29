"""Keep every try's record: copy it to the spool before Airflow clears the task's XComs.

When a task instance starts a new try (a retry, or a clear and re-run), its XComs go,
ddtrack's record of the previous try with them. The worker first sends its start request
(``PATCH /execution/task-instances/{id}/run``); Airflow 3.3 then has the worker delete
the XComs one key at a time (``DELETE /execution/xcoms/{dag}/{run}/{task}/ddtrack``).
A root middleware of the plugin copies the pending record on both requests before they
go on. It runs before Airflow authenticates them, so it only ever acts for a request
Airflow will accept, and costs the task start next to nothing whatever ddtrack's
database does:

- the request must carry an execution-API token that Airflow's own validator accepts
  (``JWTValidator``, built by the execution API's own factory), of a kind the route takes,
  naming the task instance: the one being started, or the owner of the deleted record.
  A request without one costs no statement and no file: Airflow answers it 401/403;
- each task instance (a new try has a new id) is copied once: a repeated start or delete
  waits for, or finds, the copy already made; a copy that failed is tried once more;
- it only reads Airflow's metastore (one indexed read by the task instance's id), never
  ddtrack's own database; it writes the record to the local spool (one atomic file) and
  leaves storing it to the process's ingest thread (:mod:`ddtrack.server.ingest_worker`);
- it runs on a dedicated pool of ``_THREADS`` threads and waits at most ``_BUDGET_S``
  (token check included). When the pool is busy, or the budget passes, the request goes
  on without waiting (logged). A read that started finishes in its thread and is still
  spooled. Only when the metastore cannot answer that read on either request is the
  record lost, and the warning says which one.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
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
_ATTEMPTS = 2  # copies started per task instance: the first, and one more if it failed
# The token kinds Airflow's routes take (``allowed_token_types``): the start request takes
# the long-lived workload token too, every other route (XComs) only execution tokens.
_START_SCOPES = frozenset({"execution", "workload"})
_DELETE_SCOPES = frozenset({"execution"})

TaskKey = tuple[str, str, str, int]  # dag_id, run_id, task_id, map_index

# Both bound the threads: the executor never has more, and a copy is only handed to it
# when one is free, so nothing queues up behind a slow metastore.
_pool = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="ddtrack-capture")
_free = threading.BoundedSemaphore(_THREADS)


@dataclass(frozen=True)
class Outcome:
    """What one copy found: the task instance's own record (its key, None when it has
    none) and whether it was spooled (not when a delete named another one's record)."""

    key: TaskKey | None
    copied: bool


@dataclass
class _Copy:
    future: Future[Outcome]
    attempts: int


# Task instance id -> its copy, newest last; bounded, the oldest forgotten first.
_copies: OrderedDict[uuid.UUID, _Copy] = OrderedDict()
_copies_lock = threading.Lock()


def _key_of(record: dict[str, Any]) -> TaskKey:
    return record["dag_id"], record["run_id"], record["task_id"], int(record.get("map_index", -1))


def copy_record(ti_id: uuid.UUID, deleted: TaskKey | None = None) -> Outcome:
    """Spool the pending record of task instance ``ti_id``: on its start (``deleted`` is
    None), or when its token deletes the record at ``deleted``, if that record is its own."""
    from ddtrack.server import spool
    from ddtrack.server.ingest_worker import worker
    from ddtrack.store.ingest import read_records_of_task_instance

    records = read_records_of_task_instance(conf.metastore_url(), str(ti_id))
    if not records:
        return Outcome(None, False)
    key = _key_of(records[0])
    if deleted is not None and deleted != key:
        return Outcome(key, False)
    spool.put(records)
    worker.drain_spool_later()
    return Outcome(key, True)


def _needs_copy(entry: _Copy | None, deleted: TaskKey | None) -> bool:
    """Whether a request for this task instance starts a copy (else it waits for, or
    finds, the one there is)."""
    if entry is None:
        return True
    future = entry.future
    if not future.done() or entry.attempts >= _ATTEMPTS:
        return False
    if future.exception() is not None:
        return True
    found = future.result()
    # A delete by its token of another one's record read it but did not copy it.
    return not found.copied and found.key is not None and deleted in (None, found.key)


def _run(ti_id: uuid.UUID, deleted: TaskKey | None, what: str) -> Outcome:
    try:
        return copy_record(ti_id, deleted)
    except Exception as exc:  # never fail Airflow's own request; the next request retries once
        log.warning("ddtrack could not keep the previous try's record of %s: %s", what, exc)
        raise
    finally:
        _free.release()


def _copy_of(ti_id: uuid.UUID, deleted: TaskKey | None, what: str) -> Future[Outcome] | None:
    """The copy this request waits for: a new one, or the one the task instance has."""
    with _copies_lock:
        entry = _copies.get(ti_id)
        if not _needs_copy(entry, deleted):
            return entry.future if entry is not None else None
        if not _free.acquire(blocking=False):
            log.warning("ddtrack capture threads are busy: %s goes on without waiting for its record", what)
            return None
        future = _pool.submit(_run, ti_id, deleted, what)
        _copies[ti_id] = _Copy(future, (entry.attempts if entry else 0) + 1)
        _copies.move_to_end(ti_id)
        while len(_copies) > _REMEMBERED:
            _copies.popitem(last=False)
        return future


async def copy_within_budget(what: str, ti_id: uuid.UUID, deleted: TaskKey | None, deadline: float) -> bool:
    """Copy the record of ``ti_id`` once, waiting until ``deadline`` (the event loop's
    clock) at most; True if the record is kept (or there was none)."""
    future = _copy_of(ti_id, deleted, what)
    if future is None:
        return False
    if not future.done():
        try:
            # shield: a copy that outlives the budget still finishes (and spools) in its thread.
            remaining = max(0.0, deadline - asyncio.get_running_loop().time())
            await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(future)), remaining)
        except asyncio.TimeoutError:
            log.warning("ddtrack is still reading the record of %s after %.1fs; the request goes on", what, _BUDGET_S)
            return False
        except Exception:  # logged in its thread
            return False
    return future.exception() is None


@functools.cache
def _validator() -> Any | None:
    """The execution API's own token validator, made once per process: its factory reads
    ``[api_auth]`` and ``[execution_api]`` as Airflow does (secret or key set, audience,
    issuer, leeway), so a token ddtrack accepts is one Airflow accepts.  None, said once,
    when it cannot be made (a factory this Airflow lacks, its keys missing): no request
    then pays for trying again."""
    try:
        from airflow.api_fastapi.execution_api.app import _jwt_validator

        return _jwt_validator()
    except Exception as exc:  # noqa: BLE001
        log.warning("ddtrack cannot check execution-API tokens, so it keeps no record of earlier tries: %s", exc)
        return None


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            kind, _, token = value.decode("latin-1").partition(" ")
            return token.strip() if kind.lower() == "bearer" and token.strip() else None
    return None


async def token_task_instance(scope: dict[str, Any], kinds: frozenset[str], deadline: float) -> uuid.UUID | None:
    """The task instance a request's execution-API token names, if Airflow's validator
    accepts the token and it is of a kind in ``kinds``; None otherwise (Airflow refuses
    such a request: ddtrack does nothing for it)."""
    token = _bearer(scope)
    if token is None:
        return None
    validator = _validator()
    if validator is None:
        return None
    try:
        remaining = max(0.0, deadline - asyncio.get_running_loop().time())
        claims = await asyncio.wait_for(validator.avalidated_claims(token, {}), remaining)
        if claims.get("scope", "execution") not in kinds:
            return None
        return uuid.UUID(str(claims["sub"]))
    except asyncio.TimeoutError:
        log.warning("ddtrack could not check a task's token within %.1fs; its record is not copied", _BUDGET_S)
    except Exception as exc:  # noqa: BLE001 - an invalid token: Airflow answers it
        log.debug("ddtrack capture: token refused: %s", exc)
    return None


def _delete_key(path_match: re.Match, query_string: bytes) -> TaskKey:
    query = parse_qs(query_string.decode("latin-1"))
    map_index = int(query.get("map_index", ["-1"])[0])
    return path_match.group(1), path_match.group(2), path_match.group(3), map_index


async def _capture(scope: dict[str, Any]) -> None:
    """Copy the record a start or delete request is about to clear, if the request is one
    Airflow will accept for the task instance that owns the record."""
    method, path = scope.get("method"), scope.get("path", "")
    deadline = asyncio.get_running_loop().time() + _BUDGET_S
    if method == "PATCH" and (match := _RUN_PATH.search(path)):
        try:
            started = uuid.UUID(match.group(1))
        except ValueError:  # not a task instance id: Airflow answers it
            return
        if await token_task_instance(scope, _START_SCOPES, deadline) == started:
            await copy_within_budget(f"task instance {started}", started, None, deadline)
    elif method == "DELETE" and (match := _XCOM_DELETE_PATH.search(path)):
        try:
            key = _delete_key(match, scope.get("query_string", b""))
        except ValueError:  # not a request the worker sends: Airflow answers it
            return
        if (owner := await token_task_instance(scope, _DELETE_SCOPES, deadline)) is not None:
            await copy_within_budget("{}/{}/{}[{}]".format(*key), owner, key, deadline)


def _warm_up() -> None:
    try:
        import ddtrack.server.ingest_worker  # noqa: F401
        import ddtrack.server.spool  # noqa: F401
        import ddtrack.store.ingest  # noqa: F401

        _validator()
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
        if scope.get("type") == "http" and scope.get("method") in ("PATCH", "DELETE") and conf.capture_before_retry():
            await _capture(scope)
        await self.app(scope, receive, send)
