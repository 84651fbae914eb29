"""A real local Airflow 3 deployment on the example DAGs, for tests and the demo.

One class, :class:`LocalAirflow`, owns a temporary ``AIRFLOW_HOME``: it writes the
configuration (SimpleAuthManager users, a shared JWT secret, LocalExecutor), migrates the
metastore, runs ``ddtrack install``, starts the api-server, scheduler and dag-processor on
127.0.0.1 as separate processes, and drives them through Airflow's REST API like a user
would. The same code serves the scheduler tests, the browser tests and
``tests/dev_tools/run_webserver.py``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_DAGS = REPO / "tests" / "dags"
BIN = Path(sys.executable).parent
USERS = {"admin": "admin", "viewer": "viewer"}
EXAMPLE_DAG_IDS = ("titanic", "mapped_batches", "sales_producer", "quality_check")
FINISHED = {"success", "failed"}


def dags_folder_with(home: Path, *extra: Path) -> Path:
    """A DAG folder holding the example DAGs plus ``extra`` DAG files (as symlinks)."""
    folder = home / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for source in [*EXAMPLE_DAGS.glob("*.py"), *extra]:
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _create_database(server: str, admin_db: str, create: str, suffix: str = "") -> str:
    import sqlalchemy as sa

    name = f"ddtrack_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(f"{server}/{admin_db}", isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(create.format(name=name)))
    engine.dispose()
    return f"{server}/{name}{suffix}"


def create_postgres_database(server: str = "postgresql+psycopg2://postgres@127.0.0.1:5432") -> str:
    """A new empty PostgreSQL database on the local server; returns its URL."""
    return _create_database(server, "postgres", 'CREATE DATABASE "{name}"')


def create_mariadb_database(server: str = "mysql+mysqldb://root@127.0.0.1:3306") -> str:
    """A new empty MariaDB database (utf8mb4) on the local server; returns its URL."""
    return _create_database(
        server,
        "mysql",
        "CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        suffix="?charset=utf8mb4",
    )


def drop_database(url: str) -> None:
    """Drop a database made by create_postgres_database / create_mariadb_database."""
    import sqlalchemy as sa

    parsed = sa.engine.make_url(url)
    name = parsed.database
    if parsed.get_backend_name() == "postgresql":
        admin = parsed.set(database="postgres")
        stmt = f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'
    else:
        admin = parsed.set(database="mysql")
        stmt = f"DROP DATABASE IF EXISTS `{name}`"
    engine = sa.create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(stmt))
    engine.dispose()


@dataclass
class LocalAirflow:
    """A throw-away Airflow 3 deployment; use as a context manager or call start()/stop()."""

    home: Path
    metastore_url: str | None = None  # default: SQLite inside home
    store_url: str | None = None  # ddtrack's tables; default: the metastore
    executor: str = "LocalExecutor"
    dags_folder: Path = EXAMPLE_DAGS
    port: int = field(default_factory=free_port)
    # The LocalExecutor's log server: a port of its own, so two deployments can overlap.
    log_port: int = field(default_factory=free_port)
    extra_env: dict[str, str] = field(default_factory=dict)
    # CeleryExecutor: broker and result backend on the local Redis, every key under this
    # prefix (Celery's global_keyprefix), so a test owns its keys on a shared server.
    redis_prefix: str | None = None
    auth_manager: str | None = None  # [core] auth_manager; default SimpleAuthManager
    extra_users: dict[str, str] = field(default_factory=dict)  # user name -> role; the password is the name
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    _tokens: dict[str, str] = field(default_factory=dict)

    # -- configuration ----------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        home = self.home
        metastore = self.metastore_url or f"sqlite:///{home / 'airflow.db'}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
        env.update(
            {
                "AIRFLOW_HOME": str(home),
                "PATH": f"{BIN}:{env.get('PATH', '')}",
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
                "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "300",
                "AIRFLOW__DAG_PROCESSOR__DAG_FILE_PROCESSOR_TIMEOUT": "300",
                "AIRFLOW__CORE__EXECUTOR": self.executor,
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
                "AIRFLOW__CORE__AUTH_MANAGER": self.auth_manager
                or "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(
                    ["admin:admin", "viewer:viewer", *(f"{u}:{r}" for u, r in self.extra_users.items())]
                ),
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(home / "passwords.json"),
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.base_url}/execution/",
                # Airflow's own first execution-API request takes ~4 s on a quiet 2-core machine
                # (several times that when the test suite loads it); its 5 s default then kills tasks.
                "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "60",
                "AIRFLOW__API__BASE_URL": self.base_url,
                "AIRFLOW__API__HOST": "127.0.0.1",
                "AIRFLOW__API__PORT": str(self.port),
                "AIRFLOW__API__WORKERS": "1",
                "AIRFLOW__API_AUTH__JWT_SECRET": self._secret(),
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metastore,
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                "AIRFLOW__SCHEDULER__SCHEDULER_IDLE_SLEEP_TIME": "0.5",
                "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(self.log_port),
                "AIRFLOW__DDTRACK__STRICT": "True",
                "DDTRACK_DEMO_DATA": str(home / "data"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        if self.store_url:
            env["AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN"] = self.store_url
        if self.redis_prefix is not None:
            redis = "redis://127.0.0.1:6379/0"
            env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": redis,
                    "AIRFLOW__CELERY__RESULT_BACKEND": redis,
                    "AIRFLOW__CELERY__WORKER_CONCURRENCY": "4",
                    "AIRFLOW__CELERY_BROKER_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.redis_prefix,
                    "AIRFLOW__CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS__GLOBAL_KEYPREFIX": self.redis_prefix,
                }
            )
        env.update(self.extra_env)
        return env

    def worker_env(self) -> dict[str, str]:
        """A Celery worker's environment: its own AIRFLOW_HOME and no metastore at all.

        Tasks reach Airflow only through the execution API; ddtrack's records travel as
        XComs. Any ORM access from the worker would find no database.
        """
        env = dict(self.env)
        for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN"):
            env.pop(key, None)
        worker_home = self.home / "worker-home"
        worker_home.mkdir(exist_ok=True)
        env["AIRFLOW_HOME"] = str(worker_home)
        return env

    def start_celery_worker(self) -> None:
        self.start_component("celery worker", env=self.worker_env())

    def _secret(self) -> str:
        path = self.home / "jwt_secret"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_hex(32))
        return path.read_text()

    # -- lifecycle ----------------------------------------------------------------

    def setup(self) -> None:
        """Write config files, migrate the metastore and install ddtrack's tables."""
        self.home.mkdir(parents=True, exist_ok=True)
        (self.home / "passwords.json").write_text(json.dumps({**USERS, **{u: u for u in self.extra_users}}))
        (self.home / "logs").mkdir(exist_ok=True)
        self.run_cli(["airflow", "db", "migrate"], timeout=600)
        self.run_cli(["ddtrack", "install"], timeout=300)

    def run_cli(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        argv = [str(BIN / argv[0]), *argv[1:]]
        proc = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=timeout)
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-5000:]}")
        return proc

    def start(self, components: Iterable[str] = ("api-server", "scheduler", "dag-processor")) -> None:
        for name in components:
            self.start_component(name)
        self.wait_healthy()

    def start_component(self, name: str, argv: list[str] | None = None, env: dict[str, str] | None = None) -> None:
        argv = argv or ["airflow", *name.split()]
        if name == "api-server":
            argv = [*argv, "-H", "127.0.0.1", "-p", str(self.port)]
        log = open(self.home / "logs" / f"{name.replace(' ', '_')}.out", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [str(BIN / argv[0]), *argv[1:]],
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop_component(self, name: str, timeout: float = 30) -> None:
        proc = self.processes.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.processes):
            self.stop_component(name)

    def __enter__(self) -> LocalAirflow:
        self.setup()
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def check_alive(self) -> None:
        """Fail loudly, with the log's tail, if a component died (a crashed scheduler)."""
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                raise RuntimeError(f"airflow {name} exited with {proc.returncode}:\n{self.log_tail(name)}")

    def log_tail(self, name: str, chars: int = 6000) -> str:
        path = self.home / "logs" / f"{name.replace(' ', '_')}.out"
        return path.read_text(errors="replace")[-chars:] if path.exists() else "(no log)"

    def wait_healthy(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(f"{self.base_url}/api/v2/monitor/health", timeout=5).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise TimeoutError(f"api-server not healthy after {timeout}s:\n{self.log_tail('api-server')}")

    # -- REST API -------------------------------------------------------------------

    def token(self, user: str = "admin") -> str:
        if user not in self._tokens:
            resp = httpx.post(
                f"{self.base_url}/auth/token", json={"username": user, "password": USERS.get(user, user)}, timeout=30
            )
            resp.raise_for_status()
            self._tokens[user] = resp.json()["access_token"]
        return self._tokens[user]

    def api(self, method: str, path: str, user: str = "admin", **kwargs) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(user)}", **kwargs.pop("headers", {})}
        return httpx.request(method, f"{self.base_url}{path}", headers=headers, timeout=60, **kwargs)

    def wait_dags(self, dag_ids: Iterable[str], timeout: float = 240) -> None:
        """Wait until the dag-processor has parsed every DAG in ``dag_ids``."""
        missing = set(dag_ids)
        deadline = time.monotonic() + timeout
        while missing and time.monotonic() < deadline:
            self.check_alive()
            for dag_id in list(missing):
                if self.api("GET", f"/api/v2/dags/{dag_id}").status_code == 200:
                    missing.discard(dag_id)
            if missing:
                time.sleep(2)
        if missing:
            errors = self.api("GET", "/api/v2/importErrors").text
            raise TimeoutError(f"DAGs not parsed after {timeout}s: {sorted(missing)}; import errors: {errors[:3000]}")

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        self._answered("PATCH", f"/api/v2/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        resp = self._answered("POST", f"/api/v2/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}})
        if resp.status_code >= 300:
            raise RuntimeError(f"trigger {dag_id}: {resp.status_code} {resp.text}")
        return resp.json()["dag_run_id"]

    def _answered(self, method: str, path: str, attempts: int = 3, **kwargs) -> httpx.Response:
        """``api``, asked again after a 5xx: a SQLite metastore on a loaded machine answers 500
        when its write lock outlasts SQLite's 5 s busy timeout ("database is locked")."""
        for _ in range(attempts - 1):
            resp = self.api(method, path, **kwargs)
            if resp.status_code < 500:
                return resp
            time.sleep(2)
        return self.api(method, path, **kwargs)

    def run_state(self, dag_id: str, run_id: str) -> str:
        """The run's state; "unknown" while a saturated api-server cannot answer (polling goes on)."""
        try:
            resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        except httpx.HTTPError:
            return "unknown"
        if resp.status_code >= 500:
            return "unknown"
        resp.raise_for_status()
        return resp.json()["state"]

    def wait_runs(self, runs: Iterable[tuple[str, str]], timeout: float = 600) -> dict[tuple[str, str], str]:
        """Wait for DAG runs to finish; returns their final states."""
        pending = set(runs)
        states: dict[tuple[str, str], str] = {}
        deadline = time.monotonic() + timeout
        while pending and time.monotonic() < deadline:
            self.check_alive()
            for key in list(pending):
                state = self.run_state(*key)
                if state in FINISHED:
                    states[key] = state
                    pending.discard(key)
            if pending:
                time.sleep(2)
        if pending:
            raise TimeoutError(f"runs not finished after {timeout}s: {sorted(pending)}\n{self.log_tail('scheduler')}")
        return states

    def clear_and_rerun(self, dag_id: str, run_id: str, task_id: str, timeout: float = 300) -> str:
        """Clear one task instance of a finished run, as a user would in the UI, and wait
        for the run to finish again; returns its new state."""
        resp = self.api(
            "POST",
            f"/api/v2/dags/{dag_id}/clearTaskInstances",
            json={"dag_run_id": run_id, "task_ids": [task_id], "dry_run": False, "only_failed": False},
        )
        if resp.status_code != 200:
            raise RuntimeError(f"clear {dag_id}/{run_id}/{task_id}: {resp.status_code} {resp.text}")
        # The clear queues the run again in the same request: it is no longer finished.
        state = self.run_state(dag_id, run_id)
        if state in FINISHED:
            raise RuntimeError(f"clearing {task_id} left {dag_id}/{run_id} {state}")
        return self.wait_runs([(dag_id, run_id)], timeout)[(dag_id, run_id)]

    def find_runs(self, dag_id: str) -> list[dict]:
        resp = self.api("GET", f"/api/v2/dags/{dag_id}/dagRuns", params={"order_by": "-start_date"})
        resp.raise_for_status()
        return resp.json()["dag_runs"]

    def run_examples(self, timeout: float = 900) -> dict[tuple[str, str], str]:
        """Trigger every example DAG (the Asset consumer follows its producer) and wait."""
        self.wait_dags((*EXAMPLE_DAG_IDS, "sales_consumer"))
        self.api("PATCH", "/api/v2/dags/sales_consumer", json={"is_paused": False}).raise_for_status()
        runs = [(dag_id, self.trigger(dag_id)) for dag_id in EXAMPLE_DAG_IDS]
        states = self.wait_runs(runs, timeout=timeout)
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            consumer = [r for r in self.find_runs("sales_consumer") if r["state"] in FINISHED]
            if consumer:
                states[("sales_consumer", consumer[0]["dag_run_id"])] = consumer[0]["state"]
                break
            time.sleep(2)
        else:
            raise TimeoutError("the Asset-scheduled sales_consumer never ran")
        return states

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.home, ignore_errors=True)
