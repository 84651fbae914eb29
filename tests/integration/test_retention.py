"""Retention: old records deleted in batches while ingest keeps writing; orphans of DAG
runs removed by ``airflow db clean``."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time

import pytest
from records import make_record
from sqlalchemy import func, select

from ddtrack.store import retention
from ddtrack.store.engine import session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import CatalogEntry, ColumnLineage, ColumnProfile, Output, StaleCount, TaskRun

NOW = dt.datetime.now(dt.timezone.utc)


def count(url: str, model) -> int:
    with session_factory(url)() as s:
        return s.scalar(select(func.count()).select_from(model))


def seed(url: str, old: int, recent: int) -> None:
    def record(run_id: str, age_days: int) -> dict:
        made = make_record(run_id=run_id, started=NOW - dt.timedelta(days=age_days),
                           inputs=[{"kind": "uri", "name": "src", "uri": "file:///data/src.parquet", "columns": None}])
        made["outputs"][0]["column_lineage"] = [["id", 0, "id", "declared"], ["email", 0, "mail", "declared"]]
        return made

    records = [record(f"old_{i}", 200 + i) for i in range(old)] + [record(f"new_{i}", i) for i in range(recent)]
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
    assert report.deleted == {"task tries": 3, "outputs": 3, "column profiles": 12, "lineage edges": 3,
                              "column lineage edges": 6, "tags": 6}
    assert count(installed_store, TaskRun) == 5 and count(installed_store, ColumnLineage) == 10
    report = retention.delete_older_than(installed_store, dt.timedelta(days=90))
    assert report.deleted["column lineage edges"] == 6 and count(installed_store, ColumnLineage) == 4


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


@pytest.fixture
def housekeeping_env(installed_store, metastore_url, monkeypatch):
    """The ingest thread's configuration: ddtrack's tables at ``installed_store``, Airflow's
    session metastore (where the records' DAG runs do not exist: Airflow forgot them)."""
    monkeypatch.setenv("AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN", installed_store)
    return installed_store


def housekeeping_lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "ddtrack.ingest" and "housekeeping" in r.getMessage()]


# The pass's logic on SQLite; the lease's race (test_housekeeping_by_two_workers...) on every backend.
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def due_worker():
    from ddtrack.server.ingest_worker import IngestWorker

    worker = IngestWorker()
    worker._housekeeping_due = 0
    return worker


@sqlite_only
@pytest.mark.parametrize(
    "settings,left,said",
    [
        # the default: nothing deleted, nothing asked, nothing logged
        ({}, 5, None),
        # runs Airflow forgot are kept; age still deletes
        ({"RETENTION_DAYS": "90"}, 3, ["older than 90 days: 2 task tries", "kept (follow_airflow_deletes off)"]),
        # only when asked, runs Airflow forgot go too
        ({"FOLLOW_AIRFLOW_DELETES": "True"}, 0, ["retention_days = 0", "runs Airflow deleted: 5 task tries"]),
    ],
)
def test_the_ingest_threads_housekeeping(housekeeping_env, caplog, monkeypatch, settings, left, said):
    """Every record's DAG run is gone from Airflow (as after ``airflow db clean``): what the
    housekeeping deletes follows ddtrack's own settings, and one line says what it did and
    how long it took."""
    seed(housekeeping_env, old=2, recent=3)
    for option, value in settings.items():
        monkeypatch.setenv(f"AIRFLOW__DDTRACK__{option}", value)
    caplog.set_level("INFO", logger="ddtrack.ingest")
    due_worker()._housekeep_if_due()
    assert count(housekeeping_env, TaskRun) == left
    lines = housekeeping_lines(caplog)
    if said is None:
        assert lines == []
    else:
        (line,) = lines
        assert all(part in line for part in said) and "took" in line, line


def test_housekeeping_by_two_workers_at_once_runs_once(housekeeping_env, caplog, monkeypatch):
    """Two ingest threads (two schedulers, or a scheduler and an api-server) due at the same
    moment: one takes the lease and does the pass, the other leaves it, and neither does it
    again within the interval."""
    seed(housekeeping_env, old=5, recent=1)
    monkeypatch.setenv("AIRFLOW__DDTRACK__RETENTION_DAYS", "90")
    caplog.set_level("INFO", logger="ddtrack.ingest")
    workers = [due_worker(), due_worker()]
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def housekeep(worker) -> None:
        try:
            start.wait()
            worker._housekeep_if_due()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=housekeep, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    (line,) = housekeeping_lines(caplog)
    assert "older than 90 days: 5 task tries" in line
    assert count(housekeeping_env, TaskRun) == 1
    seed(housekeeping_env, old=2, recent=0)  # more old records, within the same interval
    for worker in workers:
        worker._housekeeping_due = 0
        worker._housekeep_if_due()
    assert len(housekeeping_lines(caplog)) == 1 and count(housekeeping_env, TaskRun) == 3


@sqlite_only
def test_a_backlog_is_deleted_in_short_passes_by_the_lease_holder(housekeeping_env, caplog, monkeypatch):
    """A pass on the ingest thread stops at its small time budget; the process holding the
    lease goes on with the rest soon after, while others still leave it alone."""
    from ddtrack.server import ingest_worker
    from ddtrack.store import retention

    seed(housekeeping_env, old=5, recent=1)
    monkeypatch.setenv("AIRFLOW__DDTRACK__RETENTION_DAYS", "90")
    monkeypatch.setattr(retention, "BATCH", 2)
    monkeypatch.setattr(ingest_worker, "HOUSEKEEPING_BUDGET_S", 0)  # one batch per pass
    caplog.set_level("INFO", logger="ddtrack.ingest")
    holder, other = due_worker(), due_worker()
    holder._housekeep_if_due()
    assert count(housekeeping_env, TaskRun) == 4 and "more left" in housekeeping_lines(caplog)[0]
    assert holder._housekeeping_due - time.monotonic() <= ingest_worker.HOUSEKEEPING_RESUME_S
    other._housekeep_if_due()  # the lease is the holder's
    assert count(housekeeping_env, TaskRun) == 4
    for _ in range(5):
        holder._housekeeping_due = 0
        holder._housekeep_if_due()
    assert count(housekeeping_env, TaskRun) == 1
    holder._housekeeping_due = 0
    holder._housekeep_if_due()  # done: no pass again within the interval
    assert not holder._housekeeping_left and "more left" not in housekeeping_lines(caplog)[-1]


@sqlite_only
def test_a_lease_is_taken_once_until_it_expires(installed_store):
    from ddtrack.store import lease

    assert lease.take(installed_store, "work", 3600, holder="a")
    assert not lease.take(installed_store, "work", 3600, holder="b")
    assert lease.take(installed_store, "other", 0, holder="b")  # another lease is its own
    assert lease.take(installed_store, "other", 3600, holder="c")  # expired at once: taken again


@sqlite_only
def test_a_failed_stale_refresh_is_said_once_then_retried_later(store_url, monkeypatch, request):
    """A store not upgraded yet: the ingest thread's refresh of the stale counts fails with
    one warning (not one a minute), waits STALE_RETRY_S, and works once the tables exist."""
    from ddtrack.server import ingest_worker
    from ddtrack.store.schema import upgrade

    monkeypatch.setenv("AIRFLOW__DDTRACK__SQL_ALCHEMY_CONN", store_url)
    # A handler on the logger itself: Airflow, imported by the first refresh, may reconfigure the root's.
    said = Said(level=logging.DEBUG)
    logger = logging.getLogger("ddtrack.ingest")
    logger.addHandler(said)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    request.addfinalizer(lambda: logger.removeHandler(said))
    worker = ingest_worker.IngestWorker()

    def refresh_now() -> list[logging.LogRecord]:
        said.records.clear()
        worker._stale_due = 0
        before = time.monotonic()
        worker._refresh_stale_counts_if_due()
        assert worker._stale_due >= before  # the next try is scheduled, not left due
        return [r for r in said.records if "stale counts" in r.getMessage()]

    first, again = refresh_now(), refresh_now()
    assert [r.levelname for r in first] == ["WARNING"] and "tried again in 60 s" in first[0].getMessage()
    assert [r.levelname for r in again] == ["DEBUG"]
    assert worker._stale_due - time.monotonic() > ingest_worker.STALE_REFRESH_S  # the retry's longer wait
    upgrade(store_url)
    seed(store_url, old=0, recent=1)
    assert refresh_now() == [] and worker._stale_problem == ""
    with session_factory(store_url)() as s:
        assert s.scalar(select(func.count()).select_from(StaleCount)) == 1  # the seeded DAG, counted


class Said(logging.Handler):
    """The records a logger handled."""

    def __init__(self, level: int) -> None:
        super().__init__(level)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
