"""ddtrack's engines through a real PgBouncer in transaction pooling, the way many
deployments reach PostgreSQL.

PgBouncer refuses libpq's ``options`` startup parameter unless told to ignore it, and in
transaction pooling it gives each transaction whichever server connection is free: a
limit set at connect would not reach ddtrack's next transaction, and one set for the
session would stay behind for the next client of that server connection. The test starts
its own pgbouncer (Debian's package) on a free port, with a single server connection so
that ddtrack and another client share it, in front of the machine's PostgreSQL.
"""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg2
import pytest
from dev_tools.airflow_local import create_postgres_database, drop_database
from records import make_record
from sqlalchemy import select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from ddtrack.store.engine import dispose_all, get_engine, is_unavailable, session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import TaskRun
from ddtrack.store.schema import upgrade

pytestmark = pytest.mark.postgres

STATEMENT_S = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_listening(port: int, process: subprocess.Popen, log: Path) -> None:
    for _ in range(200):
        assert process.poll() is None, f"pgbouncer exited: {log.read_text() if log.exists() else ''}"
        try:
            psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres").close()
            return
        except psycopg2.OperationalError:
            time.sleep(0.05)
    raise AssertionError(f"pgbouncer did not answer: {log.read_text() if log.exists() else ''}")


@contextmanager
def _pgbouncer(folder: Path) -> Iterator[int]:
    """pgbouncer in transaction pooling, one server connection per database, in front of
    the machine's PostgreSQL; its port."""
    (folder / "users.txt").write_text('"postgres" ""\n')
    port = _free_port()
    (folder / "pgbouncer.ini").write_text(
        f"""[databases]
* = host=127.0.0.1 port=5432

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {folder / "users.txt"}
pool_mode = transaction
default_pool_size = 1
logfile = {folder / "pgbouncer.log"}
"""
    )
    subprocess.run(["chown", "-R", "postgres", str(folder)], check=True)
    # PgBouncer refuses to run as root.
    process = subprocess.Popen(["runuser", "-u", "postgres", "--", "pgbouncer", str(folder / "pgbouncer.ini")])
    try:
        _wait_until_listening(port, process, folder / "pgbouncer.log")
        yield port
    finally:
        process.terminate()
        process.wait(30)


@pytest.fixture
def bouncer():
    """A database of our own on PostgreSQL (schema installed directly), and its URL
    through pgbouncer."""
    direct = create_postgres_database()
    try:
        upgrade(direct)
        # Not under pytest's tmp_path: the postgres user cannot enter it (root's, mode 0700).
        with tempfile.TemporaryDirectory(prefix="ddtrack-pgbouncer-") as folder, _pgbouncer(Path(folder)) as port:
            yield make_url(direct).set(port=port).render_as_string(hide_password=False), port
            dispose_all()
    finally:
        dispose_all()
        drop_database(direct)


@pytest.fixture(autouse=True)
def timeouts(monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__DB_STATEMENT_TIMEOUT", str(STATEMENT_S))
    dispose_all()
    yield
    dispose_all()


def _server_settings(port: int, database: str) -> tuple[int, str, str]:
    """Backend pid, statement_timeout and jit as a plain client on ``port`` sees them."""
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=database)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_backend_pid(), current_setting('statement_timeout'), current_setting('jit')")
            return cur.fetchone()
    finally:
        conn.close()


def test_ddtrack_stores_and_reads_through_pgbouncer_in_transaction_pooling(bouncer):
    url, port = bouncer
    records = [make_record(run_id=f"run_{i}") for i in range(3)]
    report = ingest_records(url, records)
    assert (report.written, report.failed) == (3, 0), report.errors
    with session_factory(url)() as session:
        assert sorted(session.scalars(select(TaskRun.run_id))) == ["run_0", "run_1", "run_2"]
    # The migrations' engine (no statement timeout) connects through it too.
    with get_engine(url, bounded=False).connect() as conn:
        assert conn.execute(text("SHOW statement_timeout")).scalar() == "0"


def test_the_statement_timeout_holds_in_each_transaction_and_stays_in_it(bouncer):
    url, port = bouncer
    database = make_url(url).database
    engine = get_engine(url)
    for _ in range(3):  # every transaction, on whichever server connection it gets
        with engine.connect() as conn:
            assert conn.execute(text("SHOW statement_timeout")).scalar() == f"{STATEMENT_S}s"
            assert conn.execute(text("SHOW jit")).scalar() == "off"
            ours = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    # Another client, on the same (only) server connection after ddtrack's transactions,
    # finds the server's own settings (as a direct connection has them): nothing of
    # ddtrack's stayed behind.
    pid, *settings = _server_settings(port, database)
    assert pid == ours
    assert settings == list(_server_settings(5432, database)[1:])

    outcome: list[BaseException | None] = []

    def long_statement() -> None:
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT pg_sleep(:s)"), {"s": STATEMENT_S * 30})
            outcome.append(None)
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            outcome.append(exc)

    thread = threading.Thread(target=long_statement, daemon=True)
    thread.start()
    thread.join(STATEMENT_S * 30 + 20)
    assert outcome, "the statement was not cancelled"
    (exc,) = outcome
    assert isinstance(exc, OperationalError)
    assert exc.orig.pgcode == "57014"  # query_canceled: the statement timeout
    assert is_unavailable(exc)


def test_install_through_pgbouncer_leaves_no_lock_behind(bouncer):
    """``ddtrack install`` locks with a transaction-level advisory lock, released by the
    migration's commit: a session-level one could be unlocked on another server connection
    under transaction pooling and stay held, blocking every later install."""
    _, port = bouncer
    empty = create_postgres_database()
    try:
        through = make_url(empty).set(port=port).render_as_string(hide_password=False)
        assert upgrade(through).applied  # every migration, through the bouncer
        assert not upgrade(through).applied  # and again: nothing left locked, nothing to do
        conn = psycopg2.connect(host="127.0.0.1", port=5432, user="postgres", dbname=make_url(empty).database)
        try:
            with conn.cursor() as cur:
                # pg_locks spans the cluster: only this database's (other tests migrate theirs meanwhile)
                cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND database = "
                            "(SELECT oid FROM pg_database WHERE datname = current_database())")
                assert cur.fetchone()[0] == 0
        finally:
            conn.close()
    finally:
        dispose_all()
        drop_database(empty)
