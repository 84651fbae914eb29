"""``ddtrack_dataset`` (one row per output identity) on SQLite, PostgreSQL and MariaDB:
kept true by ingest (new runs, retries, mapped parts, replaced records, concurrent
ingests), by retention, and filled by migration 0006 from stores written before it."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa
from records import changed, make_record
from sqlalchemy import select

from ddtrack.store import datasets, retention
from ddtrack.store.engine import get_engine, session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import CatalogEntry, Dataset, Flag, Output, Review, TaskRun
from ddtrack.store.schema import head_revision, upgrade

T0 = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
NAIVE_T0 = T0.replace(tzinfo=None)


def at(hours: int) -> dt.datetime:
    return T0 + dt.timedelta(hours=hours)


def dataset(url: str, task_id: str = "load", name: str = "return_value", dag_id: str = "dag_a") -> Dataset | None:
    with session_factory(url)() as s:
        return s.scalar(select(Dataset).where(Dataset.dag_id == dag_id, Dataset.task_id == task_id, Dataset.name == name))


def ingest(url: str, records: list[dict]) -> None:
    report = ingest_records(url, records)
    assert report.failed == 0, report.errors


def output_id(url: str, run_id: str, task_id: str = "load", map_index: int = -1, try_number: int = 1) -> int:
    with session_factory(url)() as s:
        return s.scalar(
            select(Output.id)
            .join(TaskRun, TaskRun.id == Output.task_run_id)
            .where(
                TaskRun.run_id == run_id,
                TaskRun.task_id == task_id,
                TaskRun.map_index == map_index,
                TaskRun.try_number == try_number,
            )
        )


def snapshot(url: str) -> list[tuple]:
    """Every dataset row's fields (not its id)."""
    with session_factory(url)() as s:
        rows = s.scalars(select(Dataset).order_by(Dataset.dag_id, Dataset.task_id, Dataset.name)).all()
        return [
            (
                d.dag_id, d.task_id, d.name, d.uri, d.kind, d.first_seen_at, d.last_seen_at, d.last_success_at,
                d.n_versions, d.latest_output_id, d.latest_rows, d.latest_fingerprint, sorted(d.pii_columns or []),
                bool(d.has_pii), bool(d.pii_free), d.fresh_within_s,
            )
            for d in rows
        ]


def test_ingest_keeps_one_dataset_per_output_with_its_versions(installed_store):
    ingest(
        installed_store,
        [
            make_record(run_id="r1", started=at(0), rows=10, output_uri="s3://b/old.parquet"),
            make_record(run_id="r2", started=at(1), rows=20, output_uri="s3://b/passengers.parquet"),
            make_record(run_id="r3", started=at(2), rows=30, state="failed"),
        ],
    )
    d = dataset(installed_store)
    assert d is not None and d.n_versions == 3
    assert d.first_seen_at == NAIVE_T0 and d.last_seen_at == NAIVE_T0 + dt.timedelta(hours=2)
    assert d.last_success_at == NAIVE_T0 + dt.timedelta(hours=1)  # r3 failed
    assert d.latest_output_id == output_id(installed_store, "r3") and d.latest_rows == 30
    assert d.uri == "s3://b/passengers.parquet"  # r3 wrote no URI: the newest seen stays
    assert d.kind == "pandas" and d.latest_fingerprint
    assert d.pii_columns == ["email"] and d.has_pii and not d.pii_free
    assert d.fresh_within_s is None


def test_an_older_try_ingested_late_does_not_become_the_latest(installed_store):
    ingest(installed_store, [make_record(run_id="new", started=at(5), rows=50)])
    ingest(installed_store, [make_record(run_id="old", started=at(1), rows=10)])
    d = dataset(installed_store)
    assert d.n_versions == 2 and d.latest_rows == 50 and d.latest_output_id == output_id(installed_store, "new")
    assert d.first_seen_at == NAIVE_T0 + dt.timedelta(hours=1)


def test_a_changed_record_of_the_same_try_is_not_a_new_version(installed_store):
    running = make_record(run_id="r1", started=at(0), state="running")
    ingest(installed_store, [running])
    d = dataset(installed_store)
    assert d.n_versions == 1 and d.last_success_at is None
    ingest(installed_store, [changed(running, state="success")])
    d = dataset(installed_store)
    assert d.n_versions == 1 and d.last_success_at == NAIVE_T0
    assert d.latest_output_id == output_id(installed_store, "r1")  # the rewritten row


def test_a_retry_is_the_same_version_and_its_output_the_latest(installed_store):
    ingest(installed_store, [make_record(run_id="r1", started=at(0), rows=5, state="failed")])
    ingest(installed_store, [make_record(run_id="r1", started=at(1), rows=7, try_number=2)])
    d = dataset(installed_store)
    assert d.n_versions == 1 and d.latest_rows == 7
    assert d.latest_output_id == output_id(installed_store, "r1", try_number=2)


def test_mapped_parts_are_one_version_with_their_rows_summed(installed_store):
    parts = [make_record(run_id="r1", map_index=i, rows=10 * (i + 1), started=at(0)) for i in range(3)]
    ingest(installed_store, parts)
    d = dataset(installed_store)
    assert d.n_versions == 1 and d.latest_rows == 60
    # A retry of part 1 replaces its rows in the sum; the earlier try no longer counts.
    ingest(installed_store, [make_record(run_id="r1", map_index=1, try_number=2, rows=25, started=at(0))])
    assert dataset(installed_store).latest_rows == 10 + 25 + 30


def test_an_output_dropped_by_a_changed_record_is_counted_again(installed_store):
    first = make_record(run_id="r1", started=at(0))
    ingest(installed_store, [make_record(run_id="r0", started=at(-1)), first])
    assert dataset(installed_store).n_versions == 2
    renamed = changed(first)
    renamed["outputs"][0]["name"] = "passengers"
    ingest(installed_store, [renamed])
    assert dataset(installed_store).n_versions == 1  # only r0 still has "return_value"
    assert dataset(installed_store, name="passengers").n_versions == 1


def test_flags_and_reviews_survive_a_rewrite_of_their_try(installed_store):
    """An untracked task's record grows with each log_output: a flag placed on the version
    ingested mid-run moves to the rewritten output of the same name, with its reviews;
    one on an output the new record lacks goes with it."""
    from ddtrack.store import flags

    def output_named(name: str, task_id: str = "load") -> int:
        with session_factory(installed_store)() as s:
            return s.scalar(select(Output.id).where(Output.task_id == task_id, Output.name == name))

    upstream = make_record(run_id="r1", started=at(0), state="running")
    upstream["outputs"].append(changed(upstream["outputs"][0], name="extra"))
    ingest(installed_store, [upstream, make_record(run_id="r1", task_id="report", started=at(1))])
    first = output_named("return_value")
    kept = flags.flag(installed_store, first, "bad rows", "ada")
    flags.flag(installed_store, output_named("extra"), "also bad", "ada")
    flags.clear(installed_store, output_named("return_value", "report"), [kept["id"]], "checked", "bob")

    grown = changed(upstream, state="success")
    grown["outputs"] = grown["outputs"][:1]
    ingest(installed_store, [grown])
    with session_factory(installed_store)() as s:
        assert s.scalar(select(Output.id).where(Output.id == first)) is None  # the try's rows were rewritten
        rewritten = output_named("return_value")
        assert [(f.id, f.output_id, f.note) for f in s.scalars(select(Flag))] == [(kept["id"], rewritten, "bad rows")]
        assert [(r.flag_id, r.note) for r in s.scalars(select(Review))] == [(kept["id"], "checked")]


def test_a_running_record_ingested_again_after_its_try_ended_takes_airflows_state(installed_store):
    """An untracked task's record says "running"; ingest asks Airflow. Ingested during the
    try and again, unchanged, after it succeeded, the try is a success (so is its dataset)."""
    from ddtrack.store.engine import in_transaction
    from ddtrack.store.ingest import write_record

    record = make_record(run_id="r1", started=at(0), state="running")
    make_session = session_factory(installed_store)
    assert in_transaction(make_session, lambda s: write_record(s, record, state="running"))
    assert dataset(installed_store).last_success_at is None
    assert in_transaction(make_session, lambda s: write_record(s, record, state="success"))
    assert not in_transaction(make_session, lambda s: write_record(s, record, state="success"))
    assert not in_transaction(make_session, lambda s: write_record(s, record))  # Airflow could not tell
    with make_session() as s:
        assert s.scalar(select(TaskRun.state)) == "success"
    assert dataset(installed_store).last_success_at == NAIVE_T0 and dataset(installed_store).n_versions == 1


def test_freshness_and_pii_free_come_from_the_record_or_the_default(installed_store, monkeypatch):
    declared = make_record(run_id="r1", task_id="daily")
    declared["outputs"][0]["fresh_within_s"] = 86400
    declared["pii_free"] = True
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "12h")
    ingest(installed_store, [declared, make_record(run_id="r1", task_id="hourly")])
    daily, hourly = dataset(installed_store, "daily"), dataset(installed_store, "hourly")
    assert daily.fresh_within_s == 86400 and daily.pii_free
    assert hourly.fresh_within_s == 12 * 3600 and not hourly.pii_free


def test_a_bad_default_window_is_ignored_not_fatal(installed_store, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__DEFAULT_FRESH_WITHIN", "soon")
    ingest(installed_store, [make_record()])
    assert dataset(installed_store).fresh_within_s is None


def test_uris_of_outputs_inputs_and_assets_are_catalogued(installed_store):
    record = make_record(
        output_uri="s3://b/passengers.parquet",
        inputs=[
            {"kind": "uri", "name": "fares", "uri": "s3://b/fares.csv"},
            {"kind": "asset", "direction": "output", "name": "titanic", "uri": "asset://titanic"},
            {"kind": "task", "task_id": "extract", "name": "return_value"},
        ],
    )
    ingest(installed_store, [record, changed(record, run_id="r2")])
    with session_factory(installed_store)() as s:
        uris = sorted((e.text, e.dag_id) for e in s.scalars(select(CatalogEntry).where(CatalogEntry.kind == "uri")))
    assert uris == [("asset://titanic", "dag_a"), ("s3://b/fares.csv", "dag_a"), ("s3://b/passengers.parquet", "dag_a")]


def test_retention_recomputes_datasets_and_deletes_those_left_empty(installed_store):
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)  # MariaDB keeps whole seconds
    old = [make_record(run_id=f"old{i}", started=now - dt.timedelta(days=200 + i), rows=i + 1) for i in range(3)]
    recent = [make_record(run_id=f"new{i}", started=now - dt.timedelta(days=i), rows=100 + i) for i in range(2)]
    gone = [make_record(run_id=f"old{i}", task_id="retired", started=now - dt.timedelta(days=300)) for i in range(2)]
    ingest(installed_store, old + recent + gone)
    assert dataset(installed_store).n_versions == 5
    retention.delete_older_than(installed_store, dt.timedelta(days=90))
    d = dataset(installed_store)
    assert d.n_versions == 2 and d.latest_rows == 100  # new0 is the newest
    assert d.first_seen_at == (now - dt.timedelta(days=1)).replace(tzinfo=None)
    assert d.latest_output_id == output_id(installed_store, "new0")
    assert dataset(installed_store, "retired") is None


def test_backfill_gives_what_ingest_keeps(installed_store):
    """The migration's set-based fill and ingest's row-by-row upsert agree, field by field."""
    records = [make_record(run_id=f"r{i}", started=at(i), rows=10 + i, state="failed" if i == 3 else "success") for i in range(4)]
    records += [make_record(run_id="r9", map_index=i, started=at(9), rows=i + 1, output_uri="file:///x") for i in range(3)]
    records += [make_record(run_id="r1", task_id="other", started=at(1))]
    records[-1]["outputs"][0]["fresh_within_s"] = 3600
    records[-1]["pii_free"] = True
    ingest(installed_store, records)
    kept = snapshot(installed_store)
    engine = get_engine(installed_store)
    with engine.begin() as conn:
        conn.execute(sa.delete(Dataset))
    with engine.begin() as conn:
        assert datasets.backfill(conn) == 2
    assert snapshot(installed_store) == kept


def test_upgrade_from_0005_fills_datasets_and_uri_entries(store_url, monkeypatch):
    import ddtrack.store.ingest as ingest_module

    upgrade(store_url, "0005")
    # Write the way 0005-era ingest did: no datasets, no URI catalog entries, no stale marks.
    monkeypatch.setattr(ingest_module, "record_outputs", lambda *a, **k: None)
    monkeypatch.setattr(ingest_module, "mark_stale", lambda *a, **k: None)
    monkeypatch.setattr(
        ingest_module, "entries_of_record", lambda r: (e for e in catalog_entries(r) if e["kind"] != "uri")
    )
    with session_factory(store_url)() as s, s.begin():
        for i in range(3):
            ingest_module.write_record(s, make_record(run_id=f"old{i}", started=at(i), output_uri="s3://b/p.parquet"))
    monkeypatch.undo()
    report = upgrade(store_url)
    assert report.before == "0005" and report.after == head_revision() and "0006" in report.applied
    d = dataset(store_url)
    assert d.n_versions == 3 and d.uri == "s3://b/p.parquet" and d.pii_columns == ["email"] and d.has_pii
    assert d.last_success_at == NAIVE_T0 + dt.timedelta(hours=2) and d.latest_rows == 100
    with session_factory(store_url)() as s:
        assert s.scalars(select(CatalogEntry.text).where(CatalogEntry.kind == "uri")).all() == ["s3://b/p.parquet"]


def catalog_entries(record):
    from ddtrack.store.catalog import entries_of_record

    return entries_of_record(record)


@pytest.mark.parametrize("mapped", [False, True], ids=["runs", "map-indexes"])
def test_concurrent_ingests_of_one_dataset_count_every_version(installed_store, mapped):
    """Two ingests at once (two listeners, a sync beside the scheduler) write versions of the
    same dataset, including its very first: every version is counted once."""
    if mapped:
        groups = [[make_record(run_id="r1", map_index=2 * i + g, rows=1, started=at(0)) for i in range(10)] for g in (0, 1)]
    else:
        groups = [[make_record(run_id=f"r{g}_{i}", started=at(i)) for i in range(10)] for g in (0, 1)]
    errors: list[BaseException] = []

    def run(records):
        try:
            ingest(installed_store, records)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(g,)) for g in groups]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    d = dataset(installed_store)
    assert d.n_versions == (1 if mapped else 20)
    if mapped:
        assert d.latest_rows == 20
    with session_factory(installed_store)() as s:
        assert s.scalar(select(sa.func.count()).select_from(Dataset)) == 1
