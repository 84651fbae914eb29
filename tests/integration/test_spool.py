"""The spool: dead letters, stale claims, and what ``ddtrack sync`` says about them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import task_runs
from records import make_record

from ddtrack.server import spool
from ddtrack.store import spool_folder


@pytest.fixture
def spool_dir(monkeypatch, tmp_path) -> Path:
    folder = tmp_path / "spool"
    monkeypatch.setenv("AIRFLOW__DDTRACK__SPOOL_DIR", str(folder))
    return folder


def _malformed(dag_id: str = "dag_bad") -> dict:
    record = make_record(dag_id=dag_id)
    record["outputs"][0]["profile"]["rows"] = "many"  # the database would never take it
    return record


def _claimed(folder: Path, record: dict, age_s: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"left-by-a-crash-{age_s:.0f}.claimed"
    path.write_text(json.dumps(record))
    then = time.time() - age_s
    os.utime(path, (then, then))
    return path


def test_a_record_the_database_refuses_goes_to_dead_letters_and_the_rest_is_stored(installed_store, spool_dir):
    spool.put([_malformed(), make_record(dag_id="dag_good")])
    report = spool.drain(installed_store)
    assert (report.stored, report.dead, report.waiting) == (1, 1, False)
    assert [r.dag_id for r in task_runs(installed_store, "dag_good")] == ["dag_good"]
    (dead,) = spool_folder.dead_letters()
    assert dead.parent == spool_dir / "dead"
    assert json.loads(dead.read_text())["dag_id"] == "dag_bad"
    assert spool_folder.pending() == 0


def test_an_unavailable_database_keeps_records_waiting_not_dead(spool_dir, tmp_path):
    unavailable = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'ddtrack.db'}"
    spool.put([make_record(dag_id="a"), make_record(dag_id="b")])
    report = spool.drain(unavailable)
    assert (report.stored, report.dead, report.waiting) == (0, 0, True)
    assert spool_folder.pending() == 2
    assert spool_folder.dead_letters() == []


def test_stale_claims_are_put_back_and_fresh_ones_left_alone(installed_store, spool_dir):
    stale = _claimed(spool_dir, make_record(dag_id="dag_stale"), age_s=spool.CLAIM_TIMEOUT_S + 60)
    fresh = _claimed(spool_dir, make_record(dag_id="dag_fresh"), age_s=5)  # another process is storing it
    report = spool.drain(installed_store)
    assert (report.reclaimed, report.stored) == (1, 1)
    assert not stale.exists()
    assert [r.dag_id for r in task_runs(installed_store, "dag_stale")] == ["dag_stale"]
    assert fresh.exists()
    assert task_runs(installed_store, "dag_fresh") == []


def test_sync_reports_reclaimed_stored_and_dead_letters(airflow_home, tmp_path):
    """The spool is the ``ddtrack sync`` process's alone: this test process may run an ingest
    thread (started by earlier in-process tests) that would drain a spool it knew of first."""
    spool_dir = tmp_path / "spool"
    _claimed(spool_dir, make_record(dag_id="dag_stale_sync"), age_s=spool.CLAIM_TIMEOUT_S + 60)
    (spool_dir / "malformed.json").write_text(json.dumps(_malformed("dag_bad_sync")))
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "ddtrack"), "sync"],
        capture_output=True,
        text=True,
        env={**os.environ, "AIRFLOW__DDTRACK__SPOOL_DIR": str(spool_dir)},
        timeout=300,
    )
    out = proc.stdout + proc.stderr
    assert "spool: 1 record(s) left claimed by a stopped process were put back" in out, out
    assert "spool: 1 record(s) stored, 0 still waiting" in out, out
    assert f"spool: 1 record(s) could not be stored and wait in {spool_dir / 'dead'}" in out, out
