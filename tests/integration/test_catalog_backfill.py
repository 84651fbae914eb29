"""The catalog backfill (migration 0002, and the benchmarks' bulk fills) writes exactly the
entries ingest writes for the same rows, on every store backend."""

from __future__ import annotations

import sqlalchemy as sa
from records import make_record

from ddtrack.store import catalog
from ddtrack.store.engine import get_engine
from ddtrack.store.ingest import ingest_records


def _entries(url: str) -> set[tuple]:
    with get_engine(url).connect() as conn:
        return set(conn.execute(sa.text("SELECT entry_hash, kind, dag_id, task_id, output_name, text FROM ddtrack_catalog")))


def test_backfill_writes_what_ingest_writes(installed_store):
    records = [make_record("dag_a", f"run_{i}", task) for i in range(2) for task in ("load", "clean")]
    records.append(make_record("dag_b", "run_1", "load"))
    assert ingest_records(installed_store, records).failed == 0
    written = _entries(installed_store)
    assert {kind for _, kind, *_ in written} == {"dag", "task", "output", "column", "tag"}
    with get_engine(installed_store).begin() as conn:
        conn.execute(sa.text("DELETE FROM ddtrack_catalog"))
        assert catalog.backfill(conn) == len(written)
    assert _entries(installed_store) == written
