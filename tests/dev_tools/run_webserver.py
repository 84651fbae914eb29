"""Demo: a local Airflow 3 with ddtrack's views populated by the example DAGs.

    .venv/bin/python tests/dev_tools/run_webserver.py            # http://127.0.0.1:8080
    .venv/bin/python tests/dev_tools/run_webserver.py --port 8099 --home /tmp/ddtrack-demo

Creates a temporary AIRFLOW_HOME (SQLite metastore, SimpleAuthManager), migrates it, runs
``ddtrack install``, starts the api-server, scheduler and dag-processor on 127.0.0.1
(:class:`tests.dev_tools.airflow_local.LocalAirflow`, the harness the tests use), runs every
example DAG through Airflow's REST API (titanic three times, so history has a shape, and
the failing quality check), then prints the URL and the logins. Ctrl-C stops everything.
The browser tests and the Docker image run this same code.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev_tools.airflow_local import USERS, LocalAirflow, free_port  # noqa: E402

# Logins of the demo. "outsider" is a user the auth manager lets read no DAG at all.
DEMO_USERS = {**USERS, "outsider": "outsider"}
DEMO_ROLES = "admin:admin,viewer:viewer,outsider:"
EXTRA_TITANIC_RUNS = 2


def make_demo(home: Path, port: int | None = None, host: str = "127.0.0.1") -> LocalAirflow:
    """Set up and start the deployment, run the example DAGs; returns the running harness."""
    airflow = LocalAirflow(
        home=home,
        port=port or free_port(),
        extra_env={"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": DEMO_ROLES},
    )
    airflow.setup()
    (home / "passwords.json").write_text(json.dumps(DEMO_USERS))
    if host != "127.0.0.1":  # inside a container only: the port is published by Docker
        airflow.extra_env["AIRFLOW__API__HOST"] = host
    airflow.start()
    try:
        airflow.run_examples()
        extra = [("titanic", airflow.trigger("titanic")) for _ in range(EXTRA_TITANIC_RUNS)]
        airflow.wait_runs(extra)
        # The listener ingests each run as it ends; `ddtrack sync` is the documented safety net.
        airflow.run_cli(["ddtrack", "sync"])
    except BaseException:
        airflow.stop()
        raise
    return airflow


def token_for(airflow: LocalAirflow, user: str) -> str:
    """A JWT for any demo user (the harness knows admin and viewer only)."""
    import httpx

    resp = httpx.post(f"{airflow.base_url}/auth/token", json={"username": user, "password": DEMO_USERS[user]}, timeout=30)
    resp.raise_for_status()
    return resp.json()["access_token"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=int(os.environ.get("DDTRACK_DEMO_PORT", "8080")))
    parser.add_argument("--home", type=Path, help="AIRFLOW_HOME to create (default: a new temporary directory)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (0.0.0.0 only inside a container)")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="ddtrack-demo-"))
    print(f"ddtrack demo: AIRFLOW_HOME={home}; setting up Airflow and running the example DAGs (a few minutes)…", flush=True)
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
