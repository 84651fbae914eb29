"""Engines for ddtrack's side tables and for reading Airflow's XComs.

ddtrack never uses Airflow's scoped ``settings.Session``: in the scheduler that session
belongs to the scheduling loop, and committing on it breaks the scheduler's HA locks.
Every ddtrack database call goes through an engine of its own, created here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def _normalise(url: str) -> str:
    # Airflow accepts the "postgres://" spelling; SQLAlchemy does not.
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def get_engine(url: str) -> Engine:
    """A pooled engine for ``url``, one per process and URL."""
    if not url:
        raise ValueError(
            "ddtrack has no database to use: set [database] sql_alchemy_conn or [ddtrack] sql_alchemy_conn"
        )
    url = _normalise(url)
    with _lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _create(url)
            _engines[url] = engine
        return engine


def _create(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5, pool_recycle=1800)


def session_factory(url: str) -> sessionmaker[Session]:
    return sessionmaker(bind=get_engine(url), expire_on_commit=False)


def dispose_all() -> None:
    """Forget every engine (tests, and forked processes that must not share sockets)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()


# Transient conflicts between concurrent writers: InnoDB deadlock / lock wait timeout,
# PostgreSQL deadlock / serialization failure, SQLite "database is locked".
_TRANSIENT = ("1213", "1205", "40P01", "40001", "deadlock", "database is locked")
ATTEMPTS = 5


def is_transient(exc: BaseException) -> bool:
    code = str(getattr(getattr(exc, "orig", None), "pgcode", "") or "")
    text = f"{code} {exc}".lower()
    return isinstance(exc, OperationalError) and any(t.lower() in text for t in _TRANSIENT)


def in_transaction(make_session: sessionmaker[Session], work: Callable[[Session], T]) -> T:
    """``work`` in one transaction, tried again (with backoff) when a concurrent writer
    deadlocked it; ingest and cleanup run at the same time on the same rows."""
    for attempt in range(ATTEMPTS):
        try:
            with make_session() as session, session.begin():
                return work(session)
        except OperationalError as exc:
            if attempt == ATTEMPTS - 1 or not is_transient(exc):
                raise
            time.sleep(0.05 * 2**attempt)
    raise AssertionError("unreachable")
