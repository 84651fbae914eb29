"""Build real ddtrack records (as the decorator would push them) for store tests."""

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
) -> dict[str, Any]:
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
                "profile": profile(frame(rows), pii=["email"]).to_dict(),
            }
        ],
    )
    return to_json_safe(record)


def changed(record: dict[str, Any], **updates: Any) -> dict[str, Any]:
    new = copy.deepcopy(record)
    new.update(updates)
    return new
