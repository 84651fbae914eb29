"""Every command fails clearly: one line that says what to do, a non-zero exit code, no traceback.

Each case runs the real entry point (``ddtrack`` of this virtualenv, as a subprocess) with
an Airflow home and settings of its own: no metastore, one never migrated, ddtrack's
tables missing or older than the code, a database that refuses connections or accepts
them and never answers, an unknown DAG id and malformed options.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy as sa
from dev_tools.airflow_local import free_port

from ddtrack.store.schema import head_revision, upgrade

DDTRACK = str(Path(sys.executable).parent / "ddtrack")
# Every command that touches a database; `install --conn` is covered by test_cli.py.
COMMANDS = (["sync"], ["cleanup", "--older-than", "30d"], ["install"], ["status"])


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([DDTRACK, *args], capture_output=True, text=True, env=env, timeout=timeout)


def run_all(commands, env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda args: run(args, env), commands))


def fails_clearly(proc: subprocess.CompletedProcess, expected: str, code: int = 1) -> str:
    """The command exited ``code`` with one error line holding ``expected``; returns that line."""
    out = proc.stdout + proc.stderr
    assert proc.returncode == code, out
    assert "Traceback" not in out, out
    errors = [line for line in out.splitlines() if line.startswith("Error:")]
    if proc.args[1] == "status" and not errors:
        # status reports every problem it finds, one "! ..." line each.
        problems = [line for line in proc.stdout.splitlines() if line.startswith("! ")]
        assert any(expected in line for line in problems), out
        return next(line for line in problems if expected in line)
    assert len(errors) == 1 and expected in errors[0], out
    return errors[0]


def own_home(tmp_path: Path, metastore: str, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(
        AIRFLOW_HOME=str(tmp_path),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=metastore,
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__DDTRACK__DB_CONNECT_TIMEOUT="2",
        AIRFLOW__DDTRACK__DB_STATEMENT_TIMEOUT="3",
        **settings,
    )
    return env


def session_home(**settings: str) -> dict[str, str]:
    """The test session's migrated metastore, with ddtrack's settings changed."""
    return {**os.environ, "AIRFLOW__DDTRACK__DB_CONNECT_TIMEOUT": "2", "AIRFLOW__DDTRACK__DB_STATEMENT_TIMEOUT": "3", **settings}


def test_no_metastore(tmp_path):
    db = tmp_path / "airflow.db"
    env = own_home(tmp_path, f"sqlite:///{db}")
    for proc in run_all(COMMANDS, env):
        fails_clearly(proc, "does not exist (no such file): run `airflow db migrate`")
    assert not db.exists()  # reported, never created


def test_metastore_not_migrated(tmp_path):
    db = tmp_path / "airflow.db"
    with sa.create_engine(f"sqlite:///{db}").begin() as conn:
        conn.execute(sa.text("CREATE TABLE something_else (x INTEGER)"))
    env = own_home(tmp_path, f"sqlite:///{db}")
    commands = [*COMMANDS, ["cleanup", "--orphans", "--conn", f"sqlite:///{tmp_path / 'own.db'}"]]
    for proc in run_all(commands, env):
        fails_clearly(proc, "is not migrated (no xcom, dag_run, task_instance, alembic_version table): run `airflow db migrate`")


@pytest.mark.usefixtures("airflow_home")
def test_ddtrack_tables_missing(tmp_path):
    empty = tmp_path / "own.db"
    sa.create_engine(f"sqlite:///{empty}").connect().close()
    env = session_home(AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN=f"sqlite:///{empty}")
    for proc in run_all([["sync"], ["cleanup", "--older-than", "30d"], ["status"]], env):
        fails_clearly(proc, f"ddtrack's tables are missing at sqlite:///{empty}: run `ddtrack install`")


@pytest.mark.usefixtures("airflow_home")
def test_ddtrack_tables_older_than_the_code(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0001")
    env = session_home(AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN=url)
    expected = f"are at revision 0001, this ddtrack needs {head_revision()}: run `ddtrack install`"
    for proc in run_all([["sync"], ["cleanup", "--older-than", "30d"], ["status"]], env):
        fails_clearly(proc, expected)
    assert run(["install"], env).returncode == 0
    assert f"{head_revision()} (current)" in run(["status"], env).stdout


@pytest.mark.usefixtures("airflow_home")
def test_database_that_refuses(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    store = f"postgresql+psycopg2://postgres:secret@127.0.0.1:{port}/ddtrack"
    env = session_home(AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN=store)
    for proc in run_all([["sync"], ["cleanup", "--older-than", "30d"], ["status"]], env):
        line = fails_clearly(proc, f"ddtrack's database postgresql+psycopg2://postgres:***@127.0.0.1:{port}/ddtrack is unreachable")
        assert "Connection refused" in line and "secret" not in proc.stdout + proc.stderr
    metastore = f"postgresql+psycopg2://postgres@127.0.0.1:{port}/airflow"
    proc = run(["sync"], own_home(tmp_path, metastore))
    fails_clearly(proc, f"Airflow's metastore {metastore} is unreachable")


class SilentServer:
    """Accepts TCP connections on 127.0.0.1 and never answers: a database host that hangs."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", free_port()))
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    def close(self) -> None:
        for conn in self.held:
            conn.close()
        self.sock.close()


@pytest.mark.usefixtures("airflow_home")
def test_database_that_stays_silent():
    server = SilentServer()
    try:
        for url in (
            f"postgresql+psycopg2://postgres@127.0.0.1:{server.port}/ddtrack",
            f"mysql+mysqldb://root@127.0.0.1:{server.port}/ddtrack",
        ):
            env = session_home(AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN=url)
            started = time.monotonic()
            procs = run_all([["sync"], ["status"], ["install", "--conn", url]], env)
            # Bounded by the connect timeout (2 s here), not by the test's own timeout.
            assert time.monotonic() - started < 60
            fails_clearly(procs[0], "is unreachable")
            fails_clearly(procs[1], "is unreachable")
            fails_clearly(procs[2], "could not create ddtrack's tables")
    finally:
        server.close()


@pytest.mark.usefixtures("airflow_home")
def test_unknown_dag_id():
    proc = run(["sync", "--dag-id", "no_such_dag"], session_home())
    fails_clearly(proc, "no run of a DAG 'no_such_dag'", code=2)


@pytest.mark.usefixtures("airflow_home")
def test_malformed_options(tmp_path):
    env = session_home()
    cases = [
        (["sync", "--since", "yesterday"], "Invalid value for '--since'"),
        (["cleanup", "--older-than", "soon"], "Invalid value for --older-than"),
        (["status", "--colour"], "No such option '--colour'"),
        (["sync", "--conn", "not a url"], "ddtrack's database URL is not a SQLAlchemy URL"),
    ]
    procs = run_all([args for args, _ in cases], env)
    for proc, (args, expected) in zip(procs, cases, strict=True):
        fails_clearly(proc, expected, code=1 if "--conn" in args else 2)
    bad_setting = run(["status"], session_home(AIRFLOW__DDTRACK__RETENTION_DAYS="ninety"))
    fails_clearly(bad_setting, "[ddtrack] retention_days must be a number, got 'ninety': fix it in airflow.cfg")
