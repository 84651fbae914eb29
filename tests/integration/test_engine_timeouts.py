"""Every engine ddtrack creates carries connect and statement timeouts, and a silent
server (a socket on 127.0.0.1 that accepts and never answers) fails within them instead
of holding a thread of the scheduler or the api-server forever."""

from __future__ import annotations

import threading
import time

import pytest
from dev_tools.airflow_local import create_mariadb_database, drop_database
from dev_tools.tcp_proxy import TcpProxy, silent_server
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ddtrack.store.engine import dispose_all, get_engine, is_unavailable

CONNECT_S, STATEMENT_S = 2, 7


@pytest.fixture(autouse=True)
def timeouts(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__DB_CONNECT_TIMEOUT", str(CONNECT_S))
    monkeypatch.setenv("AIRFLOW__DDTRACK__DB_STATEMENT_TIMEOUT", str(STATEMENT_S))
    dispose_all()
    yield
    dispose_all()


def test_connections_carry_the_timeouts(store_url):
    backend = make_url(store_url).get_backend_name()
    with get_engine(store_url).connect() as conn:
        if backend == "sqlite":
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == STATEMENT_S * 1000
        elif backend == "postgresql":
            assert conn.execute(text("SHOW statement_timeout")).scalar() == f"{STATEMENT_S}s"
            dsn = conn.connection.dbapi_connection.get_dsn_parameters()
            assert dsn["connect_timeout"] == str(CONNECT_S)
        else:
            assert float(conn.execute(text("SELECT @@session.max_statement_time")).scalar()) == STATEMENT_S


def test_migrations_connect_bounded_but_run_statements_unbounded(store_url):
    backend = make_url(store_url).get_backend_name()
    with get_engine(store_url, bounded=False).connect() as conn:
        if backend == "postgresql":
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"
            assert conn.connection.dbapi_connection.get_dsn_parameters()["connect_timeout"] == str(CONNECT_S)
        elif backend == "mysql":
            assert float(conn.execute(text("SELECT @@session.max_statement_time")).scalar()) == 0
        else:  # SQLite's busy wait is no statement timeout: it stays
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == STATEMENT_S * 1000


@pytest.fixture(name="silent_port")
def _silent_port():
    with silent_server() as port:
        yield port


def _in_thread(work, wait_s: float) -> tuple[BaseException | None, float]:
    """Run ``work`` in a thread: a missing timeout must fail the test, not hang it."""
    outcome: list = []

    def run() -> None:
        t0 = time.monotonic()
        try:
            work()
            outcome.append((None, time.monotonic() - t0))
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcome.append((exc, time.monotonic() - t0))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wait_s)
    assert outcome, f"still waiting after {wait_s}s: no timeout"
    return outcome[0]


@pytest.mark.parametrize(
    "url", ["postgresql+psycopg2://postgres@127.0.0.1:{port}/x", "mysql+mysqldb://root@127.0.0.1:{port}/x"]
)
def test_a_silent_server_fails_connect_within_the_connect_timeout(silent_port, url):
    import MySQLdb  # noqa: F401 - imported before the clock starts
    import psycopg2  # noqa: F401

    exc, elapsed = _in_thread(lambda: get_engine(url.format(port=silent_port)).connect().close(), CONNECT_S + 20)
    assert isinstance(exc, OperationalError)
    assert is_unavailable(exc)  # the spool keeps such records waiting, never dead
    assert CONNECT_S - 0.5 <= elapsed <= CONNECT_S + 3


@pytest.fixture
def mariadb_url():
    url = create_mariadb_database()
    yield url
    dispose_all()
    drop_database(url)


@pytest.mark.mariadb
def test_mariadb_statement_on_a_server_gone_silent_fails(mariadb_url):
    """MySQL's client has socket read timeouts: a connection whose server stops answering
    mid-session raises (PostgreSQL's libpq has none; there the server's statement timeout
    and the kernel's keepalives are the bounds)."""
    proxy = TcpProxy(3306).start()
    try:
        engine = get_engine(mariadb_url.replace("127.0.0.1:3306", f"127.0.0.1:{proxy.port}"))
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
            proxy.silent()
            exc, elapsed = _in_thread(lambda: conn.execute(text("SELECT 2")), 3 * STATEMENT_S + 20)
        assert isinstance(exc, OperationalError)
        assert is_unavailable(exc)
        assert elapsed <= 3 * STATEMENT_S + 3  # libmysqlclient tries a read up to three times
    finally:
        proxy.stop()
