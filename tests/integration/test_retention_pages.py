"""Orphan cleanup pages through the tries by keyset: every page boundary (inside a DAG,
between DAGs) keeps exactly the runs Airflow still has."""

from __future__ import annotations

import sqlalchemy as sa
from helpers import task_runs
from records import make_record

from ddtrack.store import retention
from ddtrack.store.airflow_tables import DAG_RUN
from ddtrack.store.ingest import ingest_records


def test_orphans_are_found_page_by_page(installed_store, tmp_path, monkeypatch):
    runs = [(dag, f"run_{i:02d}") for dag in ("dag_a", "dag_b") for i in range(10)]
    assert ingest_records(installed_store, [make_record(dag_id=d, run_id=r) for d, r in runs]).written == 20
    kept = runs[::3]  # Airflow still has these runs
    metastore = f"sqlite:///{tmp_path / 'metastore.db'}"
    engine = sa.create_engine(metastore)
    DAG_RUN.create(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(DAG_RUN), [{"dag_id": d, "run_id": r} for d, r in kept])
    engine.dispose()
    pages: list[int] = []
    monkeypatch.setattr(retention, "BATCH", 3)  # pages of 3 runs: 7 pages, one across the two DAGs

    report = retention.delete_orphans(installed_store, metastore, progress=pages.append)

    assert report.total_tries == len(runs) - len(kept)
    assert all(0 < n <= 3 for n in pages)
    left = {(r.dag_id, r.run_id) for d in ("dag_a", "dag_b") for r in task_runs(installed_store, d)}
    assert left == set(kept)
