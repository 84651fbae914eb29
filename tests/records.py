"""Real ddtrack records for the tests and benchmarks: built as the decorator would push
them (to fill a store), or made by running a DAG in process and ingesting its run."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from ddtrack.profile import profile
from ddtrack.record import code_hash, new_record, to_json_safe

SOURCE = "def load():\n    return frame()\n"


def frame(rows: int = 100, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(rows),
            "amount": rng.normal(10, 2, rows),
            "email": [f"user{i}@example.com" for i in range(rows)],
            "city": rng.choice(["Paris", "Oslo", "Lima"], rows),
        }
    )


def make_record(
    dag_id: str = "dag_a",
    run_id: str = "run_1",
    task_id: str = "load",
    *,
    map_index: int = -1,
    try_number: int = 1,
    rows: int = 100,
    state: str = "success",
    started: dt.datetime | None = None,
    inputs: list[dict[str, Any]] | None = None,
    output_uri: str | None = None,
    data: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One try's record whose output is the profile of ``data`` (default: :func:`frame` of
    ``rows`` rows, its "email" column PII)."""
    record = new_record(
        dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index, try_number=try_number, tracked=True
    )
    started = started or dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    record.update(
        function="example.load",
        source=SOURCE,
        code_hash=code_hash(SOURCE),
        state=state,
        started_at=started.isoformat(),
        ended_at=(started + dt.timedelta(seconds=3)).isoformat(),
        duration_s=3.0,
        error={"type": "ValueError", "message": "bad"} if state == "failed" else None,
        tags={"team": "data-eng"},
        inputs=inputs or [],
        outputs=[
            {
                "name": "return_value",
                "uri": output_uri,
                "tags": {"stage": "raw"},
                "profile": profile(frame(rows) if data is None else data, pii=["email"]).to_dict(),
            }
        ],
    )
    return to_json_safe(record)


def run_in_process(dag, metastore_url: str, store_url: str | None = None) -> Any:
    """``dag.test()``, then an explicit ingest of the run into ``store_url`` (default: the
    metastore), as the listener's thread does when a run ends (it may lag behind)."""
    from ddtrack.server.ingest_worker import worker
    from ddtrack.store.ingest import ingest_run

    dag_run = dag.test()
    worker.wait_idle(60)
    report = ingest_run(metastore_url, store_url or metastore_url, dag.dag_id, dag_run.run_id)
    assert report.failed == 0, report.errors
    return dag_run


def changed(record: dict[str, Any], **updates: Any) -> dict[str, Any]:
    new = copy.deepcopy(record)
    new.update(updates)
    return new
