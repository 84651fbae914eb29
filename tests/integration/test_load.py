"""Load: 200 mapped task tries (100 with the MariaDB store), each recording an output, on a
real deployment with many running at once. Zero lost or duplicated records, by count and by key, and each stored try
holds the very record its task pushed (same content hash), with ddtrack's tables on
PostgreSQL and on MariaDB; then `ddtrack sync` racing the automatic ingest.

``DDTRACK_LOAD_FANOUT`` sets the number of map indexes for both stores.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import sqlalchemy as sa
from dev_tools.airflow_local import (
    BIN,
    REPO,
    LocalAirflow,
    create_mariadb_database,
    create_postgres_database,
    dags_folder_with,
)
from helpers import postgres_deployment, pushed_hashes, stored_hashes, wait_for
from sqlalchemy import func, select

from ddtrack.store.engine import session_factory
from ddtrack.store.models import ColumnProfile, Output, TaskRun

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(2400)]

FANOUT = int(os.environ.get("DDTRACK_LOAD_FANOUT", "200"))
# The MariaDB store takes the same concurrent writes with fewer tries (CI's time).
FANOUT_MARIADB = int(os.environ.get("DDTRACK_LOAD_FANOUT", "100"))
LOAD_DAG = REPO / "tests" / "integration" / "dags" / "load_fanout.py"


@pytest.fixture(scope="module", params=["postgres", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def loaded(request, tmp_path_factory):
    home = tmp_path_factory.mktemp("airflow")
    store = create_mariadb_database() if request.param == "mariadb" else create_postgres_database()
    fanout = FANOUT_MARIADB if request.param == "mariadb" else FANOUT
    with postgres_deployment(
        home,
        store_url=store,
        drop=[store],
        dags_folder=dags_folder_with(home, LOAD_DAG),
        extra_env={
            "AIRFLOW__CORE__PARALLELISM": "48",
            "AIRFLOW__CORE__MAX_ACTIVE_TASKS_PER_DAG": "64",
            "AIRFLOW__SCHEDULER__MAX_TIS_PER_QUERY": "64",
            # Airflow starts a second, real try of a task in three ways, and ddtrack rightly records
            # it. The tests below check such tries against Airflow's own record, but the load is
            # what this module is about, so none of them should fire on a loaded small machine:
            # - a try queued longer than task_queued_timeout (default 600 s) is queued again;
            # - a scheduler whose own heartbeat is older than scheduler_health_check_threshold
            #   (default 30 s; one slow loop on a loaded 2-core machine) marks its job failed at
            #   the next orphan check and resets every try it had queued or started.
            "AIRFLOW__SCHEDULER__TASK_QUEUED_TIMEOUT": "3600",
            "AIRFLOW__SCHEDULER__SCHEDULER_HEALTH_CHECK_THRESHOLD": "900",
            # - a task process whose heartbeat is older than task_instance_heartbeat_timeout.
            "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "900",
            "DDTRACK_LOAD_FANOUT": str(fanout),
        },
    ) as airflow:
        airflow.wait_dags(["load_fanout"])
        run_id = airflow.trigger("load_fanout")
        started = time.monotonic()
        airflow.peak_running = _watch_running(airflow, run_id)
        stop = threading.Event()
        airflow.sync_exits = []
        syncing = threading.Thread(target=_sync_until, args=(airflow, stop, airflow.sync_exits), daemon=True)
        syncing.start()  # `ddtrack sync` races the listener and the capture middleware
        states = airflow.wait_runs([("load_fanout", run_id)], timeout=1800)
        airflow.elapsed = time.monotonic() - started
        stop.set()
        syncing.join(timeout=300)
        assert states[("load_fanout", run_id)] == "success"
        airflow.run_id = run_id
        airflow.store = store
        airflow.fanout = fanout
        airflow.last_try, airflow.started_tries = _airflow_tries(airflow.metastore_url, run_id)
        yield airflow


def _watch_running(airflow: LocalAirflow, run_id: str) -> list[int]:
    """Sample how many tries run at once while the run is going (reported, not asserted)."""
    peak = [0]

    def watch():
        while airflow.run_state("load_fanout", run_id) not in ("success", "failed"):
            resp = airflow.api(
                "GET", f"/api/v2/dags/load_fanout/dagRuns/{run_id}/taskInstances", params={"state": "running", "limit": 1}
            )
            if resp.status_code == 200:
                peak[0] = max(peak[0], resp.json()["total_entries"])
            time.sleep(1)

    threading.Thread(target=watch, daemon=True).start()
    return peak


def _sync_until(airflow: LocalAirflow, stop: threading.Event, exits: list[int]) -> None:
    while not stop.is_set():
        proc = subprocess.run([str(BIN / "ddtrack"), "sync"], env=airflow.env, capture_output=True, text=True)
        exits.append(proc.returncode)
        # Each sync is a whole Airflow-importing process: pause so it races ingest without starving the run.
        stop.wait(10)


def _keys(store: str, run_id: str) -> list[tuple]:
    with session_factory(store)() as s:
        return list(
            s.execute(
                select(TaskRun.map_index, TaskRun.try_number).where(
                    TaskRun.dag_id == "load_fanout", TaskRun.run_id == run_id, TaskRun.task_id == "record"
                )
            )
        )


def _airflow_tries(metastore_url: str, run_id: str) -> tuple[dict[int, int], set[tuple[int, int]]]:
    """Airflow's own account, read with plain SQL: each map index's last try, and every
    (map index, try) it started (task_instance and task_instance_history)."""
    params = {"run_id": run_id}
    where = "WHERE dag_id = 'load_fanout' AND task_id = 'record' AND run_id = :run_id"
    engine = sa.create_engine(metastore_url)
    try:
        with engine.connect() as conn:
            last = dict(conn.execute(sa.text(f"SELECT map_index, try_number FROM task_instance {where}"), params).all())
            earlier = conn.execute(sa.text(f"SELECT map_index, try_number FROM task_instance_history {where}"), params)
            started = set(last.items()) | {tuple(row) for row in earlier}
    finally:
        engine.dispose()
    return last, started


_RESTART_WORDS = ("orphaned TaskInstances", "SchedulerJob instances as failed", "queued state for longer", "without a heartbeat")


def _restarts(airflow: LocalAirflow) -> str:
    """The tries Airflow started again and the scheduler's own words for why (the settings
    above keep them away; if one comes, the test checks it and says so)."""
    again = sorted(i for i, t in airflow.last_try.items() if t > 1)
    if not again:
        return "Airflow started every map index once"
    lines = airflow.log_tail("scheduler", chars=50_000_000).splitlines()
    reasons = [ln for ln in lines if any(w in ln for w in _RESTART_WORDS)]
    return f"Airflow started {len(again)} map indexes again ({again[:10]}...); scheduler log:\n" + "\n".join(reasons[-10:])


def test_no_record_lost_or_duplicated(loaded):
    """Each try Airflow finished is stored once, and no stored try is one Airflow never started.

    A try Airflow restarted (see ``_restarts``) may be stored too if its task pushed its record
    first: that is a real try, kept as such."""
    last = set(loaded.last_try.items())
    wait_for(lambda: last <= set(_keys(loaded.store, loaded.run_id)), timeout=120, what=f"{loaded.fanout} stored tries", every=2)
    keys = _keys(loaded.store, loaded.run_id)
    assert len(keys) == len(set(keys))  # no try twice
    assert sorted(loaded.last_try) == list(range(loaded.fanout))
    assert set(keys) <= loaded.started_tries, _restarts(loaded)  # none invented
    with session_factory(loaded.store)() as s:
        outputs = s.execute(
            select(Output.rows, TaskRun.map_index, TaskRun.try_number).join(TaskRun).where(TaskRun.run_id == loaded.run_id)
        ).all()
        columns = s.execute(
            select(TaskRun.map_index, TaskRun.try_number, func.count())
            .select_from(ColumnProfile)
            .join(Output)
            .join(TaskRun)
            .where(Output.run_id == loaded.run_id)
            .group_by(TaskRun.map_index, TaskRun.try_number)
        ).all()
    finished = sorted((o.rows, o.map_index) for o in outputs if (o.map_index, o.try_number) in last)
    assert finished == [(100 + i, i) for i in range(loaded.fanout)]
    assert {(i, t): n for i, t, n in columns if (i, t) in last} == {k: 2 for k in last}
    assert loaded.sync_exits and set(loaded.sync_exits) == {0}
    print(
        f"\n{loaded.fanout} mapped tries finished in {loaded.elapsed:.0f}s, peak {loaded.peak_running[0]} running at once, "
        f"{len(loaded.sync_exits)} concurrent `ddtrack sync` runs; {_restarts(loaded)}"
    )


def test_each_stored_try_holds_the_record_its_task_pushed(loaded):
    """The unique key already rules out duplicates; this checks the content: each map index's
    last try, whose record is still in XCom, is stored with that record's hash."""
    pushed = pushed_hashes(loaded.metastore_url, "load_fanout", loaded.run_id)
    assert len(pushed) == loaded.fanout
    stored = stored_hashes(loaded.store, "load_fanout", loaded.run_id)
    assert {key: stored.get(key) for key in pushed} == pushed


def test_concurrent_sync_and_automatic_ingest_keep_one_copy(loaded):
    """Three `ddtrack sync` processes at once over the same records: still one row per key,
    every last try there and none Airflow never started."""
    procs = [
        subprocess.Popen([str(BIN / "ddtrack"), "sync"], env=loaded.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    results = [p.communicate(timeout=600) for p in procs]
    assert all(p.returncode == 0 for p in procs), [r[1][-2000:] for r in results]
    keys = _keys(loaded.store, loaded.run_id)
    assert len(keys) == len(set(keys))
    assert set(loaded.last_try.items()) <= set(keys) <= loaded.started_tries, _restarts(loaded)
