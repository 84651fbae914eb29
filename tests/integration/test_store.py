"""ddtrack's side tables on SQLite, PostgreSQL and MariaDB: schema, ingest, idempotency."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from records import changed, make_record
from sqlalchemy import func, inspect, select

from ddtrack.store.engine import get_engine, session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import Base, ColumnProfile, Lineage, Output, Source, Tag, TaskRun
from ddtrack.store.schema import VERSION_TABLE, head_revision, upgrade


def count(url: str, model) -> int:
    with session_factory(url)() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_install_creates_tables_and_is_idempotent(store_url):
    first = upgrade(store_url)
    assert first.before is None and first.after == head_revision() and first.changed
    assert {"ddtrack_task_run", "ddtrack_output", "ddtrack_column", "ddtrack_lineage", "ddtrack_tag"} <= set(first.tables)
    second = upgrade(store_url)
    assert not second.changed and second.applied == []


def test_models_match_the_migrations(installed_store):
    """The ORM models and the Alembic history describe the same schema."""
    with get_engine(installed_store).connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": False, "version_table": VERSION_TABLE})
        diff = [
            d
            for d in compare_metadata(ctx, Base.metadata)
            if not (isinstance(d, tuple) and d[0] == "remove_table" and not d[1].name.startswith("ddtrack_"))
        ]
    assert diff == []


def test_concurrent_installs_from_separate_processes(store_url):
    """Two `ddtrack install` processes at once (e.g. two pods starting): both succeed."""
    import subprocess
    import sys
    from pathlib import Path

    ddtrack = str(Path(sys.executable).parent / "ddtrack")
    procs = [
        subprocess.Popen([ddtrack, "install", "--conn", store_url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [err[-2000:] for _, err in results]
    outputs = [out for out, _ in results]
    assert sum("schema upgraded nothing" in out for out in outputs) == 1  # one did the work
    assert sum("nothing to do" in out for out in outputs) == 1  # the other waited, then found it done
    assert "ddtrack_task_run" in inspect(get_engine(store_url)).get_table_names()


def test_ingest_writes_normalised_rows(installed_store):
    record = make_record(inputs=[{"kind": "task", "task_id": "extract", "name": "return_value"}], output_uri="file:///x")
    report = ingest_records(installed_store, [record])
    assert (report.written, report.failed) == (1, 0)
    with session_factory(installed_store)() as s:
        run = s.scalars(select(TaskRun)).one()
        assert (run.dag_id, run.task_id, run.state, run.try_number) == ("dag_a", "load", "success", 1)
        out = s.scalars(select(Output)).one()
        assert (out.rows, out.n_columns, out.dag_id, out.uri) == (100, 4, "dag_a", "file:///x")
        cols = {c.name: c for c in s.scalars(select(ColumnProfile))}
        assert set(cols) == {"id", "amount", "email", "city"}
        assert cols["id"].n_distinct == 100 and cols["id"].nulls == 0
        hist = cols["amount"].stats["histogram"]
        assert sum(hist["counts"]) == cols["amount"].count
        # PII: counts only, never values.
        assert "top_values" not in cols["email"].stats and "min" not in cols["email"].stats
        edges = {(r.kind, r.direction, r.upstream_task_id, r.uri) for r in s.scalars(select(Lineage))}
        assert ("task", "input", "extract", None) in edges and ("uri", "output", None, "file:///x") in edges
        assert {(t.key, t.value, t.output_name) for t in s.scalars(select(Tag))} == {
            ("team", "data-eng", None),
            ("stage", "raw", "return_value"),
        }
        assert s.scalars(select(Source)).one().source.startswith("def load")


def test_ingest_twice_creates_no_duplicates(installed_store):
    records = [make_record(run_id=f"run_{i}") for i in range(3)]
    ingest_records(installed_store, records)
    again = ingest_records(installed_store, records)
    assert (again.written, again.unchanged) == (0, 3)
    assert count(installed_store, TaskRun) == 3
    assert count(installed_store, Output) == 3
    assert count(installed_store, ColumnProfile) == 12


def test_changed_record_replaces_its_rows_and_tries_are_kept(installed_store):
    first = make_record()
    ingest_records(installed_store, [first])
    ingest_records(installed_store, [changed(first, state="failed")])
    ingest_records(installed_store, [make_record(try_number=2)])
    with session_factory(installed_store)() as s:
        states = s.execute(select(TaskRun.try_number, TaskRun.state).order_by(TaskRun.try_number)).all()
    assert [tuple(r) for r in states] == [(1, "failed"), (2, "success")]
    assert count(installed_store, Output) == 2
    assert count(installed_store, ColumnProfile) == 8


def test_mapped_whole_is_merged_once_until_a_try_changes(installed_store):
    """The merged whole of a mapped task is kept while its tries stay the same; a new try
    of one map index (or a changed record) makes the next call merge again."""
    from ddtrack import queries

    sources = queries.Sources(installed_store, installed_store)
    ingest_records(installed_store, [make_record(map_index=i, rows=100 + i) for i in range(3)])
    first = queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
    assert first.outputs[0].rows == 303 and [p.map_index for p in first.parts] == [0, 1, 2]
    assert queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None) is first
    ingest_records(installed_store, [make_record(map_index=1, try_number=2, rows=50)])
    second = queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None)
    assert second is not first and second.outputs[0].rows == 100 + 50 + 102
    assert [(p.map_index, p.try_number) for p in second.parts] == [(0, 1), (1, 2), (2, 1)]
    ingest_records(installed_store, [changed(make_record(map_index=0, rows=100), state="failed")])
    assert [p.state for p in queries.mapped_whole(sources, "dag_a", "run_1", "load", allowed=None).parts][0] == "failed"


def test_in_transaction_retries_deadlocks_only(installed_store):
    """A deadlock (what InnoDB/PostgreSQL report to the loser) is tried again; any other
    database error goes straight to the caller."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from ddtrack.store.engine import in_transaction

    calls = []

    def deadlocks_once(session):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE ...", {}, Exception("Deadlock found when trying to get lock"))
        return session.execute(text("SELECT 1")).scalar()

    assert in_transaction(session_factory(installed_store), deadlocks_once) == 1 and len(calls) == 2

    def broken(session):
        calls.append(1)
        raise OperationalError("SELECT ...", {}, Exception("no such table: nope"))

    calls.clear()
    with pytest.raises(OperationalError):
        in_transaction(session_factory(installed_store), broken)
    assert len(calls) == 1


def test_concurrent_ingest_of_the_same_records_keeps_one_copy(installed_store):
    records = [make_record(run_id=f"run_{i}", task_id=f"t{j}") for i in range(5) for j in range(4)]
    errors: list[BaseException] = []

    def ingest():
        try:
            report = ingest_records(installed_store, records)
            assert report.failed == 0, report.errors
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=ingest) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert count(installed_store, TaskRun) == 20
    assert count(installed_store, Output) == 20


def test_a_bad_record_does_not_block_the_others(installed_store):
    bad = make_record(run_id="bad")
    bad["outputs"][0]["profile"]["columns"][0]["count"] = "not a number"
    report = ingest_records(installed_store, [bad, make_record(run_id="good")])
    assert report.written == 1 and report.failed == 1
    assert "bad" in report.errors[0]


@pytest.mark.parametrize("wide", [2_000])
def test_wide_output_ingests(installed_store, wide):
    import pandas as pd

    from ddtrack.profile import profile

    record = make_record()
    df = pd.DataFrame({f"c{i}": range(10) for i in range(wide)})
    record["outputs"][0]["profile"] = profile(df).to_dict()
    report = ingest_records(installed_store, [record])
    assert report.failed == 0, report.errors
    assert count(installed_store, ColumnProfile) == wide


def test_upgrade_from_the_first_schema_keeps_data_and_catalogues_it(store_url, monkeypatch):
    """A store written by ddtrack's first schema (0001) upgrades to head with its rows intact."""
    import ddtrack.store.ingest as ingest_module
    from ddtrack.store.models import CatalogEntry

    upgrade(store_url, "0001")
    assert "ddtrack_catalog" not in inspect(get_engine(store_url)).get_table_names()
    # Write the way 0001-era ingest did: no catalog, no datasets yet.
    monkeypatch.setattr(ingest_module, "insert_ignore", lambda session, rows: None)
    monkeypatch.setattr(ingest_module, "record_outputs", lambda *args, **kwargs: None)
    monkeypatch.setattr(ingest_module, "mark_stale", lambda *args, **kwargs: None)
    with session_factory(store_url)() as s, s.begin():
        ingest_module.write_record(s, make_record(run_id="old"))
    monkeypatch.undo()
    report = upgrade(store_url)
    assert report.before == "0001" and report.after == head_revision() and "0002" in report.applied
    assert count(store_url, TaskRun) == 1 and count(store_url, ColumnProfile) == 4
    with session_factory(store_url)() as s:
        texts = {(e.kind, e.text) for e in s.scalars(select(CatalogEntry))}
    assert {
        ("dag", "dag_a"),
        ("task", "load"),
        ("output", "return_value"),
        ("column", "email"),
        ("tag", "team=data-eng"),
        ("tag", "stage=raw"),
    } <= texts


def test_ingest_keeps_the_catalog_distinct(installed_store):
    from ddtrack.store.models import CatalogEntry

    ingest_records(installed_store, [make_record(run_id=f"r{i}") for i in range(5)])
    with session_factory(installed_store)() as s:
        entries = list(s.scalars(select(CatalogEntry)))
    # dag, task, output, 4 columns, 2 tags: the same for every run
    assert len(entries) == 9
