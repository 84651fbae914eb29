"""Integrity errors during ingest, on SQLite, PostgreSQL and MariaDB: only the expected
duplicate of a try counts as "unchanged"; any other one is logged, tried again, and
reported as a failure."""

from __future__ import annotations

import copy
import logging

from helpers import task_runs
from records import make_record
from sqlalchemy import false

from ddtrack.store import ingest


def test_a_concurrent_insert_of_the_same_try_counts_as_unchanged(installed_store, monkeypatch, caplog):
    record = make_record(dag_id="dag_race")
    assert ingest.ingest_records(installed_store, [record]).written == 1
    # Another ingest won the race: this one does not see the row and inserts it again.
    monkeypatch.setattr(ingest, "_key_filter", lambda _record: false())
    with caplog.at_level(logging.WARNING, logger="ddtrack.ingest"):
        report = ingest.ingest_records(installed_store, [record])
    assert (report.written, report.unchanged, report.failed) == (0, 1, 0), report.errors
    assert "trying again" not in caplog.text
    assert len(task_runs(installed_store, "dag_race")) == 1


def test_any_other_integrity_error_is_logged_retried_and_failed(installed_store, caplog):
    record = make_record(dag_id="dag_twin_outputs")
    record["outputs"].append(copy.deepcopy(record["outputs"][0]))  # two outputs of one name
    with caplog.at_level(logging.WARNING, logger="ddtrack.ingest"):
        report = ingest.ingest_records(installed_store, [record, make_record(dag_id="dag_fine")])
    assert (report.written, report.unchanged, report.failed, report.unreachable) == (1, 0, 1, 0)
    assert "IntegrityError" in report.errors[0]
    assert caplog.text.count("hit an integrity error, trying again") == ingest._INTEGRITY_ATTEMPTS - 1
    assert task_runs(installed_store, "dag_twin_outputs") == []
    assert len(task_runs(installed_store, "dag_fine")) == 1
