"""Ingest reads XCom records a page at a time by keyset (dag, run, task, map index): every
record is read exactly once, whatever the page boundaries."""

from __future__ import annotations

import json

import sqlalchemy as sa
from records import make_record

from ddtrack.record import XCOM_KEY
from ddtrack.store import ingest
from ddtrack.store.airflow_tables import XCOM


def test_pages_read_every_record_once(tmp_path, monkeypatch):
    metastore = f"sqlite:///{tmp_path / 'metastore.db'}"
    engine = sa.create_engine(metastore)
    XCOM.create(engine)
    keys = [
        (dag, run, task, i)
        for dag in ("dag_a", "dag_b")
        for run in ("run_1", "run_2")
        for task in ("t1", "t2")
        for i in (-1, 0, 1, 10)
    ]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(XCOM),
            [
                {"dag_id": d, "run_id": r, "task_id": t, "map_index": i, "key": XCOM_KEY,
                 "value": json.dumps(make_record(dag_id=d, run_id=r, task_id=t, map_index=i))}
                for d, r, t, i in keys
            ]
            + [{"dag_id": "dag_a", "run_id": "run_1", "task_id": "t1", "map_index": -1, "key": "return_value", "value": "1"}],
        )
    engine.dispose()

    def read(**where) -> list[tuple]:
        return [(r["dag_id"], r["run_id"], r["task_id"], r["map_index"]) for r in ingest.iter_records(metastore, page=3, **where)]

    assert read() == sorted(keys)
    assert read(dag_id="dag_b", run_id="run_1") == [k for k in sorted(keys) if k[:2] == ("dag_b", "run_1")]
    assert ingest.count_records(metastore) == len(keys)
