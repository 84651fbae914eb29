"""``ddtrack install`` and ``ddtrack sync`` as a user runs them (subprocesses, real Airflow config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import load_dag, pushed_hashes, stored_hashes, sync_counts
from records import run_in_process

from ddtrack.store.schema import head_revision

DDTRACK = str(Path(sys.executable).parent / "ddtrack")


def run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([DDTRACK, *args], capture_output=True, text=True, env={**os.environ, **env}, timeout=300)


def test_install_reports_then_is_idempotent(store_url, airflow_home):
    first = run(["install", "--conn", store_url])
    assert first.returncode == 0, first.stderr
    head = head_revision()
    assert f"schema upgraded nothing -> {head}" in first.stdout
    assert "ddtrack_task_run" in first.stdout and "Airflow sees the ddtrack plugin" in first.stdout
    second = run(["install", "--conn", store_url])
    assert second.returncode == 0 and f"already at {head}: nothing to do" in second.stdout


def test_install_uses_the_ddtrack_setting(tmp_path, airflow_home):
    url = f"sqlite:///{tmp_path / 'own.db'}"
    proc = run(["install"], AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN=url)
    assert proc.returncode == 0, proc.stderr
    assert str(tmp_path / "own.db") in proc.stdout


def test_install_explains_an_unreachable_database(airflow_home):
    proc = run(["install", "--conn", "postgresql+psycopg2://nobody@127.0.0.1:1/none"])
    assert proc.returncode != 0
    assert "could not create ddtrack's tables" in proc.stderr and "Traceback" not in proc.stderr


def test_sync_reports_exact_counts_and_stores_what_was_pushed(tmp_path, metastore_url):
    """Every record pushed for the DAG is written once, with the pushed record's hash; a
    second sync writes nothing and counts them all unchanged."""
    run_in_process(load_dag("deco_orders"), metastore_url)
    pushed = pushed_hashes(metastore_url, "deco_orders")
    assert len(pushed) >= 3  # below, above and classic of each run in the metastore
    store = f"sqlite:///{tmp_path / 'own.db'}"
    assert run(["install", "--conn", store]).returncode == 0
    first = run(["sync", "--dag-id", "deco_orders", "--conn", store])
    assert first.returncode == 0, first.stderr
    assert sync_counts(first.stdout) == (len(pushed), 0, 0) and "Ingesting" in first.stderr
    assert stored_hashes(store, "deco_orders") == pushed
    again = run(["sync", "--dag-id", "deco_orders", "--conn", store])
    assert again.returncode == 0, again.stderr
    assert sync_counts(again.stdout) == (0, len(pushed), 0)
    assert stored_hashes(store, "deco_orders") == pushed
