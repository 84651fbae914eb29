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


def test_malformed_column_lineage_is_skipped_not_an_ingest_failure(installed_store):
    """A record is written by task code: column-lineage edges of the wrong shape (a task on
    another ddtrack version, a hand-made XCom) are skipped; the try and its good edge stay."""
    import sqlalchemy as sa

    from ddtrack.store.engine import session_factory
    from ddtrack.store.models import ColumnLineage

    record = make_record(dag_id="dag_odd_edges", inputs=[
        {"kind": "uri", "name": "src", "uri": "file:///data/src.parquet", "columns": None},
    ])
    record["outputs"][0]["column_lineage"] = [
        ["id", 0, "id", "declared"], ["short"], "text", ["x", "0", "y", "declared"], ["b", True, "c", "declared"],
        ["z", 9, "w", "declared"], None,
    ]
    report = ingest.ingest_records(installed_store, [record])
    assert (report.written, report.failed) == (1, 0), report.errors
    with session_factory(installed_store)() as session:
        edges = session.execute(sa.select(ColumnLineage.column_name, ColumnLineage.input_column)
                                .where(ColumnLineage.dag_id == "dag_odd_edges")).all()
    assert [tuple(e) for e in edges] == [("id", "id")]
