"""Demo: a local Airflow 3 with ddtrack's views populated by the example DAGs.

    .venv/bin/python tests/dev_tools/run_webserver.py            # http://127.0.0.1:8080
    .venv/bin/python tests/dev_tools/run_webserver.py --port 8099 --home /tmp/ddtrack-demo

Creates a temporary AIRFLOW_HOME (SQLite metastore, SimpleAuthManager), migrates it, runs
``ddtrack install``, starts the api-server, scheduler and dag-processor on 127.0.0.1
(:class:`tests.dev_tools.airflow_local.LocalAirflow`, the harness the tests use), runs every
example DAG through Airflow's REST API (titanic three times, so history has a shape, and
the quality check, which fails, twice; drifting_sales three times on stable data, then once
drifted, so home flags it; titanic_report once, after titanic's first run, so that its
report crosses two DAGs and is stale after titanic's next runs; nothing is flagged), then
prints the URL and the logins. Ctrl-C stops everything.
The browser tests and the Docker image run this same code.

Each step says what it does and how long it took; the runs of the example DAGs show their
progress. A step that fails prints one line and the log to read, and the demo exits 1.
Port 8080 in use: the demo takes a free port and says which (``--port`` picks one).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

if not (3, 10) <= sys.version_info[:2] <= (3, 12):
    sys.exit(f"ddtrack's demo needs Python 3.10, 3.11 or 3.12; this is {sys.version.split()[0]} ({sys.executable}).")

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dev_tools.airflow_local import (  # noqa: E402
    BIN,
    EXAMPLE_DAG_IDS,
    EXAMPLE_DAGS,
    FINISHED,
    USERS,
    LocalAirflow,
    free_port,
)

# Logins of the demo. "outsider" is a user the auth manager lets read no DAG at all.
DEMO_USERS = {**USERS, "outsider": "outsider"}
DEMO_ROLES = "admin:admin,viewer:viewer,outsider:"
DEFAULT_PORT = 8080
EXTRA_TITANIC_RUNS = 2
EXTRA_QUALITY_CHECK_RUNS = 1  # the quality check always fails: its history shows failures
EXPECTED_TO_FAIL = {"quality_check"}
DRIFT_STABLE_RUNS = 3  # drifting_sales: stable runs, then one with {"drift": true} (its error check fails it)
REPORT_DAG = "titanic_report"  # reads titanic's and sales_producer's outputs: a trace crosses two DAGs
DRIFT_ENV = {"AIRFLOW__DDTRACK__ANOMALY_MIN_HISTORY": str(DRIFT_STABLE_RUNS)}  # flag after the stable runs
ALERTS_LOG = "ddtrack-alerts.log"  # where the demo's FileNotifier delivers alerts (in AIRFLOW_HOME)


def alert_env(home: Path) -> dict[str, str]:
    """Alerts delivered to a file, so a new user sees one arrive with nothing to set up."""
    channel = {"name": "demo-file", "notifier": "ddtrack.notifiers.FileNotifier",
               "kwargs": {"path": str(home / ALERTS_LOG)}}
    return {"AIRFLOW__DDTRACK__ALERT_NOTIFIERS": json.dumps([channel])}


class DemoFailed(RuntimeError):
    """A step of the demo failed: what, why (one line) and the log that says more."""

    def __init__(self, step: str, cause: str, log: Path | str) -> None:
        super().__init__(f"{step} failed: {cause}\n  log: {log}")


@dataclass
class DemoAirflow(LocalAirflow):
    """The harness, with the api-server bound to ``host`` (0.0.0.0 inside a container only),
    and the output of each command kept in a log of its own."""

    host: str = "127.0.0.1"

    def run_cli(self, argv: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        log = self.home / "logs" / f"{'-'.join(argv[:2])}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(
            [str(BIN / argv[0]), *argv[1:]], env=self.env, capture_output=True, text=True, timeout=timeout
        )
        log.write_text(proc.stdout + proc.stderr)
        if proc.returncode != 0:
            lines = [line for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
            raise DemoFailed(f"`{' '.join(argv)}`", lines[-1] if lines else f"exit code {proc.returncode}", log)
        return proc

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

    def check_alive(self) -> None:
        for name, proc in self.processes.items():
            if proc.poll() is not None:
                log = self.home / "logs" / f"{name.replace(' ', '_')}.out"
                raise DemoFailed(f"airflow {name}", f"exited with code {proc.returncode}", log)


@contextlib.contextmanager
def step(what: str, log: Path | str, quiet: bool = False) -> Iterator[None]:
    """Say what the demo does and how long it took; turn any error into one DemoFailed."""
    started = time.monotonic()
    if not quiet:
        print(f"==> {what}…", flush=True)
    try:
        yield
    except DemoFailed:
        raise
    except Exception as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DemoFailed(what, f"{type(exc).__name__}: {first}", log) from exc
    if not quiet:
        print(f"    done in {time.monotonic() - started:.0f} s", flush=True)


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
    home: Path,
    port: int | None = None,
    host: str = "127.0.0.1",
    extra_dags: list[Path] | None = None,
    examples: bool = True,
    quiet: bool = True,
) -> LocalAirflow:
    """Set up and start the deployment, run the example DAGs; returns the running harness.

    ``extra_dags`` are DAG files added to the example DAGs and run once each. ``quiet``
    (the tests) prints nothing; the demo's command line shows each step.
    """
    extra_dags = list(extra_dags or [])
    airflow = DemoAirflow(
        home=home,
        host=host,
        port=port or free_port(),
        dags_folder=_dags_folder(home, extra_dags),
        extra_env={"AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": DEMO_ROLES, **DRIFT_ENV, **alert_env(home)},
    )
    logs = home / "logs"
    with step("migrating Airflow's metastore and installing ddtrack's tables", logs, quiet):
        airflow.setup()
    (home / "passwords.json").write_text(json.dumps(DEMO_USERS))
    try:
        with step(f"starting the api-server (port {airflow.port}), scheduler and dag-processor", logs, quiet):
            airflow.start()
        if examples:
            run_examples(airflow, extra_dags, quiet)
    except BaseException:
        airflow.stop()
        raise
    return airflow


def run_examples(airflow: LocalAirflow, extra_dags: list[Path], quiet: bool) -> None:
    """Run every example DAG (then more titanic and quality-check runs), showing progress."""
    logs = airflow.home / "logs"
    with step("waiting for the dag-processor to parse the example DAGs", logs / "dag-processor.out", quiet):
        airflow.wait_dags(
            (*EXAMPLE_DAG_IDS, "sales_consumer", "drifting_sales", "warehouse", REPORT_DAG, *(p.stem for p in extra_dags))
        )
        airflow.api("PATCH", "/api/v2/dags/sales_consumer", json={"is_paused": False}).raise_for_status()
    with step("running the example DAGs", logs, quiet):
        started = time.monotonic()
        runs = [(dag_id, trigger(airflow, dag_id)) for dag_id in EXAMPLE_DAG_IDS]
        runs += [("drifting_sales", trigger(airflow, "drifting_sales")) for _ in range(DRIFT_STABLE_RUNS)]
        runs.append(("warehouse", trigger(airflow, "warehouse")))  # a SQL task tracked where its table lives
        wait_with_progress(airflow, runs, quiet, started)
        consumer = wait_consumer(airflow)
        # The report reads titanic's and sales_producer's files: after them, before titanic runs
        # again (so that its report is stale, "model_input changed").
        report = (REPORT_DAG, trigger(airflow, REPORT_DAG))
        wait_with_progress(airflow, [report], quiet, started)
        extra = [("titanic", trigger(airflow, "titanic")) for _ in range(EXTRA_TITANIC_RUNS)]
        extra += [("quality_check", trigger(airflow, "quality_check")) for _ in range(EXTRA_QUALITY_CHECK_RUNS)]
        extra += [(path.stem, trigger(airflow, path.stem)) for path in extra_dags]
        drifted = ("drifting_sales", trigger(airflow, "drifting_sales", conf={"drift": True}))
        wait_with_progress(airflow, [*extra, drifted], quiet, started)
        check_outcome(airflow, [*runs, consumer, report, *extra])  # the drifted run fails on its error check
    with step("`ddtrack sync` (the listener has ingested each run as it ended; this is the safety net)", logs, quiet):
        airflow.run_cli(["ddtrack", "sync"])


def trigger(airflow: LocalAirflow, dag_id: str, attempts: int = 5, conf: dict | None = None) -> str:
    """Trigger a run; retried, since a SQLite metastore is briefly locked while tasks run."""
    for attempt in range(attempts):
        try:
            return airflow.trigger(dag_id, conf)
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            time.sleep(3)
    raise AssertionError("unreachable")


def _task_counts(airflow: LocalAirflow, dag_id: str, run_id: str) -> tuple[int, int]:
    """(finished, all) task instances of a run, mapped ones counted each."""
    try:
        resp = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 1000})
        tis = resp.json()["task_instances"] if resp.status_code == 200 else []
    except Exception:  # a busy api-server: the next poll tells
        return 0, 0
    done = sum(ti["state"] in {*FINISHED, "skipped", "upstream_failed"} for ti in tis)
    return done, len(tis)


def wait_with_progress(
    airflow: LocalAirflow, runs: list[tuple[str, str]], quiet: bool, started: float, timeout: float = 900
) -> dict[tuple[str, str], str]:
    """Wait for ``runs`` to finish, printing a line (seconds since ``started``) whenever one moves on."""
    states: dict[tuple[str, str], str] = {}
    last_line = ""
    while len(states) < len(runs):
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"runs not finished after {timeout:.0f} s: {[r for r in runs if r not in states]}")
        airflow.check_alive()
        parts = []
        for key in runs:
            if key not in states:
                state = airflow.run_state(*key)
                if state in FINISHED:
                    states[key] = state
            done, total = _task_counts(airflow, *key) if key not in states else (1, 1)
            parts.append(f"{key[0]} {states.get(key) or f'{done}/{total} tasks'}")
        line = ", ".join(parts)
        if not quiet and line != last_line:
            print(f"    [{time.monotonic() - started:4.0f} s] {line}", flush=True)
            last_line = line
        if len(states) < len(runs):
            time.sleep(2)
    return states


def wait_consumer(airflow: LocalAirflow, timeout: float = 180) -> tuple[str, str]:
    """The run of ``sales_consumer`` that the producer's Asset event scheduled."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = airflow.find_runs("sales_consumer")
        if runs:
            key = ("sales_consumer", runs[0]["dag_run_id"])
            airflow.wait_runs([key])
            return key
        time.sleep(2)
    raise TimeoutError("the Asset-scheduled sales_consumer never ran")


def task_log(home: Path, ti: dict) -> Path:
    """Where Airflow wrote a task try's log (its default ``log_filename_template``)."""
    mapped = f"map_index={ti['map_index']}/" if ti.get("map_index", -1) >= 0 else ""
    return (
        home / "logs" / f"dag_id={ti['dag_id']}" / f"run_id={ti['dag_run_id']}" / f"task_id={ti['task_id']}"
        / f"{mapped}attempt={ti['try_number']}.log"
    )


def check_outcome(airflow: LocalAirflow, runs: list[tuple[str, str]]) -> None:
    """A run that failed and should not have: name its failed task and that try's log."""
    for dag_id, run_id in runs:
        if dag_id in EXPECTED_TO_FAIL or airflow.run_state(dag_id, run_id) != "failed":
            continue
        resp = airflow.api("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"state": "failed"})
        failed = resp.json().get("task_instances", []) if resp.status_code == 200 else []
        if failed:
            ti = failed[0]
            raise DemoFailed(f"DAG {dag_id}", f"task {ti['task_id']} failed", task_log(airflow.home, ti))
        raise DemoFailed(f"DAG {dag_id}", f"run {run_id} failed", airflow.home / "logs" / "scheduler.out")


def token_for(airflow: LocalAirflow, user: str) -> str:
    """A JWT for any demo user (the harness knows admin and viewer only)."""
    import httpx

    resp = httpx.post(
        f"{airflow.base_url}/auth/token", json={"username": user, "password": DEMO_USERS[user]}, timeout=30
    )
    resp.raise_for_status()
    return resp.json()["access_token"]


def port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def choose_port(host: str, asked: int | None) -> int:
    """``asked`` if given (and free); else 8080, or any free port when 8080 is taken."""
    if asked is not None:
        if not port_free(host, asked):
            sys.exit(f"ddtrack demo: port {asked} is in use: pass another one (--port N), or stop what uses it.")
        return asked
    if port_free(host, DEFAULT_PORT):
        return DEFAULT_PORT
    port = free_port()
    print(f"ddtrack demo: port {DEFAULT_PORT} is in use, using {port} instead (--port N picks one).", flush=True)
    return port


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    env_port = os.environ.get("DDTRACK_DEMO_PORT")
    parser.add_argument("--port", type=int, default=int(env_port) if env_port else None, help="default 8080, or a free one")
    parser.add_argument(
        "--home", type=Path, help="AIRFLOW_HOME to create (default: a new temporary directory)"
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 only inside a container)"
    )
    parser.add_argument(
        "--no-examples", action="store_true", help="start Airflow without running the example DAGs (quicker)"
    )
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="ddtrack-demo-"))
    port = choose_port(args.host, args.port)
    print(f"ddtrack demo: AIRFLOW_HOME={home} (the first run takes a few minutes)", flush=True)
    started = time.monotonic()
    try:
        airflow = make_demo(home, port, args.host, examples=not args.no_examples, quiet=False)
    except DemoFailed as exc:
        print(f"\nddtrack demo: {exc}", file=sys.stderr, flush=True)
        return 1
    url = f"http://127.0.0.1:{airflow.port}"
    print(
        "\n"
        f"  Ready in {time.monotonic() - started:.0f} s.\n"
        f"  Airflow with ddtrack:  {url}/\n"
        f"  ddtrack's Data page:    {url}/plugin/ddtrack  (menu entry 'Data'; a 'Data' tab on DAG, run, task pages)\n"
        f"  Log in as admin/admin (or viewer/viewer; outsider/outsider may read no DAG)\n"
        f"  Alerts delivered (drift, anomalies, failed checks): {home / ALERTS_LOG}\n"
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
    except DemoFailed as exc:
        print(f"\nddtrack demo: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        airflow.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
