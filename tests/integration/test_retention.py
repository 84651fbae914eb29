"""Retention: old records deleted in batches while ingest keeps writing; orphans of DAG
runs removed by ``airflow db clean``."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from records import make_record
from sqlalchemy import func, select

from ddtrack.store import retention
from ddtrack.store.engine import session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import CatalogEntry, ColumnProfile, Output, TaskRun

NOW = dt.datetime.now(dt.timezone.utc)


def count(url: str, model) -> int:
    with session_factory(url)() as s:
        return s.scalar(select(func.count()).select_from(model))


def seed(url: str, old: int, recent: int) -> None:
    records = [make_record(run_id=f"old_{i}", started=NOW - dt.timedelta(days=200 + i)) for i in range(old)]
    records += [make_record(run_id=f"new_{i}", started=NOW - dt.timedelta(days=i)) for i in range(recent)]
    assert ingest_records(url, records).failed == 0


@pytest.mark.parametrize("text,expected", [("90d", dt.timedelta(days=90)), ("12h", dt.timedelta(hours=12)), ("2w", dt.timedelta(weeks=2))])
def test_parse_age(text, expected):
    assert retention.parse_age(text) == expected


def test_parse_age_rejects_nonsense():
    with pytest.raises(ValueError, match="not an age"):
        retention.parse_age("ninety days")


def test_dry_run_counts_and_deletes_nothing(installed_store):
    seed(installed_store, old=3, recent=2)
    report = retention.delete_older_than(installed_store, dt.timedelta(days=90), dry_run=True)
    assert report.deleted == {"task tries": 3, "outputs": 3, "column profiles": 12, "lineage edges": 0, "tags": 6}
    assert count(installed_store, TaskRun) == 5


def test_old_records_go_in_batches_while_ingest_keeps_writing(installed_store, monkeypatch):
    monkeypatch.setattr(retention, "BATCH", 7)
    seed(installed_store, old=30, recent=2)
    writer_errors: list[BaseException] = []

    def keep_writing():
        try:
            for i in range(10):
                report = ingest_records(installed_store, [make_record(run_id=f"live_{i}", started=NOW)])
                assert report.failed == 0, report.errors
        except BaseException as exc:  # noqa: BLE001
            writer_errors.append(exc)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    report = retention.delete_older_than(installed_store, dt.timedelta(days=90))
    writer.join()
    assert writer_errors == []
    assert report.total_tries == 30
    assert count(installed_store, TaskRun) == 12
    assert count(installed_store, Output) == 12 and count(installed_store, ColumnProfile) == 48


def test_catalog_forgets_dags_that_are_gone(installed_store):
    ingest_records(installed_store, [make_record(dag_id="gone", run_id="r", started=NOW - dt.timedelta(days=400))])
    ingest_records(installed_store, [make_record(dag_id="kept", run_id="r", started=NOW)])
    retention.delete_older_than(installed_store, dt.timedelta(days=90))
    with session_factory(installed_store)() as s:
        dags = set(s.scalars(select(CatalogEntry.dag_id)))
    assert dags == {"kept"}


@pytest.mark.scheduler
def test_airflow_db_clean_then_cleanup_orphans(tmp_path):
    """Real CLIs: a DAG run, `airflow db clean`, then `ddtrack cleanup --orphans`."""
    from dev_tools.airflow_local import LocalAirflow

    airflow = LocalAirflow(home=tmp_path / "airflow")
    airflow.setup()
    airflow.run_cli(["airflow", "dags", "reserialize"], timeout=300)
    airflow.run_cli(["airflow", "dags", "test", "titanic"], timeout=600)
    airflow.run_cli(["ddtrack", "sync"])
    store = airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    assert count(store, TaskRun) == 3
    dry = airflow.run_cli(["ddtrack", "cleanup", "--orphans", "--dry-run"])
    assert "would delete: 0 task tries" in dry.stdout
    future = (NOW + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    airflow.run_cli(
        ["airflow", "db", "clean", "--clean-before-timestamp", future, "--tables", "dag_run", "--skip-archive", "--yes"]
    )
    done = airflow.run_cli(["ddtrack", "cleanup", "--orphans"])
    assert "deleted: 3 task tries" in done.stdout
    assert count(store, TaskRun) == 0 and count(store, ColumnProfile) == 0


def test_cleanup_needs_an_age_or_orphans(airflow_home):
    import subprocess
    import sys
    from pathlib import Path

    proc = subprocess.run([str(Path(sys.executable).parent / "ddtrack"), "cleanup"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--older-than" in proc.stderr and "Traceback" not in proc.stderr


def test_the_ingest_thread_removes_orphans_by_itself(tmp_path, monkeypatch):
    """What the scheduler's ingest thread does hourly: runs gone from Airflow leave the views."""
    from dev_tools.airflow_local import LocalAirflow

    from ddtrack.server.ingest_worker import IngestWorker

    airflow = LocalAirflow(home=tmp_path / "airflow")
    airflow.setup()
    store = airflow.env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    ingest_records(store, [make_record(dag_id="long_gone", run_id="r1", started=NOW)])
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", store)
    worker = IngestWorker()
    worker._retention_due = 0
    worker._apply_retention_if_due()
    assert count(store, TaskRun) == 0
