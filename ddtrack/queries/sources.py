"""Where the query layer reads from, and the few helpers every question shares.

ddtrack reads its side tables and Airflow's metastore (DAG runs, task instances, serialized
DAGs) through engines of its own (:mod:`ddtrack.store.engine`), never through Airflow's
scoped session.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from ddtrack import conf
from ddtrack.store.engine import get_engine

log = logging.getLogger("ddtrack.queries")

DEFAULT_HISTORY = 50
MAX_HISTORY = 1000


@dataclass(frozen=True)
class Sources:
    """Where the views read from: ddtrack's side tables and Airflow's metastore."""

    store_url: str
    metastore_url: str


def default_sources() -> Sources:
    """The databases configured for this Airflow deployment."""
    return Sources(store_url=conf.store_url(), metastore_url=conf.metastore_url())


def utc(value: Any) -> dt.datetime | None:
    """A naive-UTC datetime (side tables) from whatever a driver returned."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value


def store_conn(sources: Sources) -> Connection:
    return get_engine(sources.store_url).connect()


def meta_conn(sources: Sources) -> Connection:
    return get_engine(sources.metastore_url).connect()


def has_metastore(sources: Sources) -> bool:
    """Whether Airflow's metastore is configured at all. A store on its own (no metastore
    URL) deliberately answers from the side tables; a configured metastore that fails to
    answer is an error (:class:`MetastoreUnavailable`), never an empty result."""
    return bool(sources.metastore_url)


class MetastoreUnavailable(RuntimeError):
    """Airflow's metadata could not be read; a page says so instead of showing an empty result."""

    message = "Airflow's metadata could not be read"


_LOG_EVERY_S = 60.0
_last_logged: dict[str, float] = {}
_log_lock = threading.Lock()


def log_rate_limited(what: str, exc: BaseException) -> None:
    """A warning per kind of failure at most once a minute: a page polled by many users
    while a database is down must not flood the api-server's log."""
    now = time.monotonic()
    key = f"{what}:{type(exc).__name__}"
    with _log_lock:
        if now - _last_logged.get(key, -_LOG_EVERY_S) < _LOG_EVERY_S:
            return
        _last_logged[key] = now
    log.warning("ddtrack could not %s: %s: %s", what, type(exc).__name__, exc)


@contextlib.contextmanager
def reading_metastore(what: str) -> Iterator[None]:
    """Turn a database error while reading Airflow's tables into :class:`MetastoreUnavailable`,
    logged (rate-limited) with its cause."""
    try:
        yield
    except SQLAlchemyError as exc:
        log_rate_limited(what, exc)
        raise MetastoreUnavailable(f"{MetastoreUnavailable.message} ({what})") from exc
