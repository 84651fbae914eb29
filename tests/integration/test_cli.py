"""``ddtrack install`` and ``ddtrack sync`` as a user runs them (subprocesses, real Airflow config)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

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


@pytest.mark.usefixtures("airflow_home")
def test_sync_reports_progress_and_counts():
    proc = run(["sync"])
    assert proc.returncode == 0, proc.stderr
    assert "written" in proc.stdout and "Ingesting" in proc.stderr
