"""Demo: a local Airflow 3 with ddtrack's views populated by the example DAGs.

    .venv/bin/python tests/dev_tools/run_webserver.py            # http://127.0.0.1:8080
    .venv/bin/python tests/dev_tools/run_webserver.py --port 8099 --home /tmp/ddtrack-demo

Creates a temporary AIRFLOW_HOME (SQLite metastore, SimpleAuthManager), migrates it, runs
``ddtrack install``, starts the api-server, scheduler and dag-processor on 127.0.0.1
(:class:`tests.dev_tools.airflow_local.LocalAirflow`, the harness the tests use), runs every
example DAG through Airflow's REST API (titanic three times, so history has a shape, and
the quality check, which fails, twice), then prints the URL and the logins. Ctrl-C stops everything.
The browser tests and the Docker image run this same code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev_tools.airflow_local import BIN, EXAMPLE_DAGS, USERS, LocalAirflow, free_port  # noqa: E402

# Logins of the demo. "outsider" is a user the auth manager lets read no DAG at all.
DEMO_USERS = {**USERS, "outsider": "outsider"}
DEMO_ROLES = "admin:admin,viewer:viewer,outsider:"
EXTRA_TITANIC_RUNS = 2
EXTRA_QUALITY_CHECK_RUNS = 1  # the quality check always fails: its history shows failures


@dataclass
class DemoAirflow(LocalAirflow):
    """The harness, with the api-server bound to ``host`` (0.0.0.0 inside a container only)."""

    host: str = "127.0.0.1"

    def start_component(
        self, name: str, argv: list[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        if name != "api-server" or self.host == "127.0.0.1":
            super().start_component(name, argv, env)
            return
        log = open(self.home / "logs" / "api-server.out", "ab")  # noqa: SIM115
        self.processes[name] = subprocess.Popen(
            [str(BIN / "airflow"), "api-server", "-H", self.host, "-p", str(self.port)],
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _dags_folder(home: Path, extra_dags: list[Path]) -> Path:
    """The example DAGs, plus ``extra_dags`` (the browser tests add a DAG of their own)."""
    if not extra_dags:
        return EXAMPLE_DAGS
    folder = home / "dags"
    folder.mkdir(parents=True, exist_ok=True)
    for source in [*EXAMPLE_DAGS.glob("*.py"), *extra_dags]:
        target = folder / source.name
        if not target.exists():
            target.symlink_to(source.resolve())
    return folder


def make_demo(
    home: Path, port: int | None = None, host: str = "127.0.0.1", extra_dags: list[Path] | None = None
) -> LocalAirflow:
    """Set up and start the deployment, run the example DAGs; returns the running harness.

    ``extra_dags`` are DAG files added to the example DAGs and run once each.
    """
    extra_dags = list(extra_dags or [])
    airflow = DemoAirflow(
        home=home,
        host=host,
        port=port or free_port(),
        dags_folder=_dags_folder(home, extra_dags),
        extra_env={"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": DEMO_ROLES},
    )
    airflow.setup()
    (home / "passwords.json").write_text(json.dumps(DEMO_USERS))
    airflow.start()
    try:
        airflow.run_examples()
        extra = [("titanic", trigger(airflow, "titanic")) for _ in range(EXTRA_TITANIC_RUNS)]
        extra += [("quality_check", trigger(airflow, "quality_check")) for _ in range(EXTRA_QUALITY_CHECK_RUNS)]
        airflow.wait_runs(extra)
        if extra_dags:
            added = [path.stem for path in extra_dags]
            airflow.wait_dags(added)
            airflow.wait_runs([(dag_id, trigger(airflow, dag_id)) for dag_id in added])
        # The listener ingests each run as it ends; `ddtrack sync` is the documented safety net.
        airflow.run_cli(["ddtrack", "sync"])
    except BaseException:
        airflow.stop()
        raise
    return airflow


def trigger(airflow: LocalAirflow, dag_id: str, attempts: int = 5) -> str:
    """Trigger a run; retried, since a SQLite metastore is briefly locked while tasks run."""
    for attempt in range(attempts):
        try:
            return airflow.trigger(dag_id)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def token_for(airflow: LocalAirflow, user: str) -> str:
    """A JWT for any demo user (the harness knows admin and viewer only)."""
    import httpx

    resp = httpx.post(
        f"{airflow.base_url}/auth/token", json={"username": user, "password": DEMO_USERS[user]}, timeout=30
    )
    resp.raise_for_status()
    return resp.json()["access_token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("DDTRACK_DEMO_PORT", "8080")))
    parser.add_argument(
        "--home", type=Path, help="AIRFLOW_HOME to create (default: a new temporary directory)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 only inside a container)"
    )
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="ddtrack-demo-"))
    print(
        f"ddtrack demo: AIRFLOW_HOME={home}; setting up Airflow and running the example DAGs (a few minutes)…",
        flush=True,
    )
    airflow = make_demo(home, args.port, args.host)
    url = f"http://127.0.0.1:{airflow.port}"
    print(
        "\n"
        f"  Airflow with ddtrack:  {url}/\n"
        f"  ddtrack's Data page:    {url}/plugin/ddtrack  (menu entry 'Data'; a 'Data' tab on DAG, run, task pages)\n"
        f"  Log in as admin/admin (or viewer/viewer; outsider/outsider may read no DAG)\n"
        f"  Logs: {home / 'logs'}   Ctrl-C stops everything.\n",
        flush=True,
    )
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    try:
        while not stop["now"]:
            airflow.check_alive()
            time.sleep(2)
    except KeyboardInterrupt:
        pass
    finally:
        airflow.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
