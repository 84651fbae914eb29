"""ddtrack's database goes silent on a real deployment; the user's retries must not notice.

As observed in issue 11: LocalExecutor, PostgreSQL metastore, ddtrack's tables in a second
PostgreSQL database reached through a proxy that then accepts connections and stops
answering. The task SDK keeps Airflow's default ``[workers] execution_api_timeout`` (5 s),
and the worker reaches the api-server through a second proxy that times every start
request (``PATCH /execution/task-instances/{id}/run``) from the worker's side.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest
from dev_tools.airflow_local import (
    REPO,
    LocalAirflow,
    create_postgres_database,
    dags_folder_with,
    drop_database,
    free_port,
)
from dev_tools.tcp_proxy import TcpProxy
from helpers import task_runs, wait_for

from ddtrack.store.engine import dispose_all

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]

_START = re.compile(r"^PATCH /execution/task-instances/[0-9a-f-]+/run ")
DAG = "fails_twice"


def session_threads(pid: int) -> int:
    """Threads of every process in the session ``pid`` leads (the api-server and its workers)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[3]) == pid:  # field 6 of stat: the session id
                total += int(fields[17])  # field 20: num_threads
        except (OSError, IndexError, ValueError):
            continue
    return total


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    metastore, store = create_postgres_database(), create_postgres_database()
    store_proxy = TcpProxy(5432).start()
    starts: list[float] = []
    api_port = free_port()
    api_proxy = TcpProxy(api_port, on_request=lambda line, s: starts.append(s) if _START.match(line) else None).start()
    airflow = LocalAirflow(
        home=home,
        port=api_port,
        metastore_url=metastore,
        store_url=store.replace("127.0.0.1:5432", f"127.0.0.1:{store_proxy.port}"),
        dags_folder=dags_folder_with(home, REPO / "tests" / "integration" / "dags" / "silent_store_cases.py"),
        extra_env={
            # Airflow's default: a start slower than this is sent again, then fails the task.
            "AIRFLOW__WORKERS__EXECUTION_API_TIMEOUT": "5.0",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_proxy.port}/execution/",
            "AIRFLOW__DDTRACK__STRICT": "False",
        },
    )
    airflow.store_proxy, airflow.starts, airflow.store = store_proxy, starts, store
    try:
        airflow.setup()
        airflow.start()
        airflow.wait_dags([DAG])
        # Airflow's own first execution-API request is slow (it builds its routes): not ours to time.
        import httpx

        httpx.get(f"http://127.0.0.1:{api_proxy.port}/execution/health", timeout=120)
        yield airflow
    finally:
        airflow.stop()
        store_proxy.stop()
        api_proxy.stop()
        dispose_all()
        drop_database(metastore)
        drop_database(store)


def _run(airflow: LocalAirflow) -> tuple[str, str, list[float]]:
    airflow.starts.clear()
    run_id = airflow.trigger(DAG)
    state = airflow.wait_runs([(DAG, run_id)], timeout=600)[(DAG, run_id)]
    return run_id, state, list(airflow.starts)


def _spooled(airflow: LocalAirflow) -> list[Path]:
    """Records waiting in the api-server's spool (``.claimed`` while a drain tries one)."""
    folder = airflow.home / "ddtrack_spool"
    return [*folder.glob("*.json"), *folder.glob("*.claimed")]


def _tries(airflow: LocalAirflow, run_id: str) -> list[tuple[int, str]]:
    try:
        return [(r.try_number, r.state) for r in task_runs(airflow.store, DAG, run_id)]
    except Exception:  # noqa: BLE001 - not reachable yet
        return []


def test_a_silent_store_does_not_fail_or_slow_the_retries(deployment):
    airflow = deployment
    api_pid = airflow.processes["api-server"].pid

    # Baseline: the same DAG while ddtrack's database answers.
    base_run, base_state, base_starts = _run(airflow)
    assert base_state == "success"
    assert wait_for(lambda: [t for t, _ in _tries(airflow, base_run)] == [1, 2, 3], 240, "baseline tries stored")

    assert wait_for(lambda: not _spooled(airflow), 120, "baseline spool drained")
    threads_before = session_threads(api_pid)
    airflow.store_proxy.silent()
    run_id, state, silent_starts = _run(airflow)
    threads_after = session_threads(api_pid)
    spooled = _spooled(airflow)
    airflow.store_proxy.forward()

    overhead = max(silent_starts) - statistics.median(base_starts)
    print(
        f"\nstart requests, baseline (s): {[round(s, 3) for s in base_starts]}"
        f"\nstart requests, silent store (s): {[round(s, 3) for s in silent_starts]}"
        f"\nworst overhead over the baseline median: {overhead:.3f} s"
        f"\napi-server threads: {threads_before} before, {threads_after} after the silent run"
        f"\nspooled while silent: {len(spooled)}"
    )
    assert state == "success"
    assert len(silent_starts) == 3  # one start per try: the SDK never had to send one again
    assert "Duplicate start request" not in (airflow.home / "logs" / "api-server.out").read_text(errors="replace")
    assert overhead <= 0.5
    assert threads_after <= threads_before + 3
    assert len(spooled) == 2  # tries 1 and 2, copied before their retries cleared them

    # Nothing is lost once the database answers again: the spool and the listener's retries.
    expected = [(1, "failed"), (2, "failed"), (3, "success")]
    assert wait_for(lambda: _tries(airflow, run_id) == expected, 300, "all three tries stored", every=2)
    assert wait_for(lambda: not _spooled(airflow), 120, "spool drained")
    airflow.check_alive()
