"""Engines for ddtrack's side tables and for reading Airflow's XComs.

ddtrack never uses Airflow's scoped ``settings.Session``: in the scheduler that session
belongs to the scheduling loop, and committing on it breaks the scheduler's HA locks.
Every ddtrack database call goes through an engine of its own, created here, with
connect and statement timeouts from ``[ddtrack] db_connect_timeout`` and
``db_statement_timeout`` (ddtrack's own database and the metastore alike). On PostgreSQL
the statement timeout is set per transaction, so it works through PgBouncer in
transaction pooling as well as directly.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from ddtrack import conf

T = TypeVar("T")

_engines: dict[tuple[str, bool], Engine] = {}
_lock = threading.Lock()


def _normalise(url: str) -> str:
    # Airflow accepts the "postgres://" spelling; SQLAlchemy does not.
    if url.startswith("postgres://"):
        return "postgresql://" + url[len("postgres://") :]
    return url


def get_engine(url: str, *, bounded: bool = True) -> Engine:
    """A pooled engine for ``url``, one per process, URL and kind.

    ``bounded=False`` drops the statement timeout (connecting stays bounded): for
    ``ddtrack install``'s migrations, run by hand, whose backfill of a large store may
    rightly take longer than any statement ddtrack runs inside Airflow's processes."""
    if not url:
        raise ValueError(
            "ddtrack has no database to use: set [database] sql_alchemy_conn or [ddtrack] sql_alchemy_conn"
        )
    url = _normalise(url)
    with _lock:
        engine = _engines.get((url, bounded))
        if engine is None:
            engine = _create(url, conf.db_statement_timeout() if bounded else None)
            _engines[(url, bounded)] = engine
        return engine


def _create(url: str, statement_s: float | None) -> Engine:
    """An engine whose connections give up: a silent or locked database raises an error
    within the connect timeout (connecting) or the statement timeout (per statement),
    instead of holding a thread of the scheduler or the api-server forever."""
    connect_s = conf.db_connect_timeout()
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(url, statement_s or conf.db_statement_timeout())
    connect_args: dict[str, object] = {}
    if backend == "postgresql":
        connect_args = {
            # libpq counts whole seconds and waits at least 2.
            "connect_timeout": max(2, math.ceil(connect_s)),
            # A server host that vanished is noticed by the kernel's keepalives.
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
        }
    elif backend in ("mysql", "mariadb"):
        connect_args = {"connect_timeout": max(1, math.ceil(connect_s))}
        if statement_s:
            # Client-side socket timeouts: MySQL's protocol lets a silent server be noticed.
            connect_args |= {"read_timeout": max(1, math.ceil(statement_s)), "write_timeout": max(1, math.ceil(statement_s))}
    engine = create_engine(url, connect_args=connect_args, **_POOL)
    if backend == "postgresql":
        event.listen(engine, "begin", _postgres_transaction_settings(statement_s))
    elif backend in ("mysql", "mariadb") and statement_s:
        event.listen(engine, "connect", _mysql_statement_timeout(statement_s))
    return engine


_POOL = {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "pool_recycle": 1800, "pool_timeout": 10}


def _sqlite_engine(url: str, busy_s: float) -> Engine:
    engine = create_engine(url, connect_args={"timeout": busy_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={int(busy_s * 1000)}")
        cur.close()

    return engine


def _postgres_transaction_settings(statement_s: float | None) -> Callable:
    """A begin hook that sets ddtrack's limits for each transaction, local to it
    (``set_config(..., true)``, i.e. ``SET LOCAL``), as the transaction's first statement (one round trip more per transaction).

    Not as libpq's ``options`` at connect: PgBouncer refuses that startup parameter unless
    told to ignore it, and in transaction pooling it hands each transaction to whichever
    server connection is free, so a session setting would neither reach ddtrack's next
    transaction nor stay out of other clients'. A local setting holds for exactly the
    transaction it was set in, directly on PostgreSQL and through any pooler alike.

    JIT goes off too: ddtrack's reads are short index lookups, and PostgreSQL's JIT, set off
    by their summed cost estimates (home's union of 50 scans), compiled for ~0.9 s to save
    milliseconds."""
    settings = ["set_config('jit', 'off', true)"]
    if statement_s:
        settings.append(f"set_config('statement_timeout', '{int(statement_s * 1000)}', true)")
    statement = "SELECT " + ", ".join(settings)

    def _set(conn: Connection) -> None:
        conn.exec_driver_sql(statement)

    return _set


def _mysql_statement_timeout(seconds: float) -> Callable:
    """A connect hook that bounds every statement on the server too: MariaDB's
    ``max_statement_time`` (seconds, any statement), MySQL's ``max_execution_time`` (ms, SELECT)."""

    def _set(dbapi_conn, _record) -> None:
        cur = dbapi_conn.cursor()
        if "mariadb" in str(dbapi_conn.get_server_info()).lower():
            cur.execute(f"SET SESSION max_statement_time={float(seconds)}")
        else:
            cur.execute(f"SET SESSION max_execution_time={int(seconds * 1000)}")
        cur.close()

    return _set


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


# Errors that say the database is away or overloaded, not that a record is wrong:
# PostgreSQL classes 08 (connection), 53 (resources), 57 (operator intervention, statement
# timeout); MySQL/MariaDB client errors (2000+), too many connections, statement timeouts.
_PG_UNAVAILABLE = ("08", "53", "57")
_MYSQL_UNAVAILABLE = {1040, 1053, 1205, 1213, 1969, 3024}
_SQLITE_UNAVAILABLE = ("database is locked", "unable to open database", "disk i/o error")


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means "the database cannot be used now" (try later), False when
    it is about the data (try again will fail again)."""
    if not isinstance(exc, (OperationalError, InterfaceError)):
        return False
    if getattr(exc, "connection_invalidated", False) or isinstance(exc, InterfaceError):
        return True
    orig = getattr(exc, "orig", None)
    if hasattr(orig, "pgcode"):  # psycopg2: no code at all means the client gave up (connect, socket)
        return not orig.pgcode or str(orig.pgcode).startswith(_PG_UNAVAILABLE)
    code = orig.args[0] if orig is not None and orig.args and isinstance(orig.args[0], int) else None
    if code is not None:
        return code >= 2000 or code in _MYSQL_UNAVAILABLE
    return any(t in str(exc).lower() for t in _SQLITE_UNAVAILABLE)


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
