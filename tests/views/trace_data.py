"""Records of three DAGs joined through a URI and an Asset, for the trace, impact, path,
PII and flag tests (ingested through the real ingest into each store backend).

``ingest_a``: ``load`` reads the external ``s3://ext/fares.parquet`` and writes
``file:///data/raw.parquet`` (its ``email`` column is PII, tagged ``source=manifest``);
``clean`` reads ``load``'s output in the same run and has the Asset ``asset://clean`` as
an outlet. ``model_b``: ``features`` reads the Asset and writes
``file:///data/features.parquet``; ``train`` reads ``features`` and declares ``pii_free``.
``report_c``: ``report`` reads ``file:///data/features.parquet``. Each DAG runs twice,
in the order a, b, c, a, b, c, an hour apart, so the first report run used the first
versions upstream. ``loop``: 15 runs, each reading the URI the one before wrote, and a
run whose two tasks read each other's output (a cycle in recorded data).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
from records import frame, make_record

T0 = dt.datetime(2026, 5, 1, 6, 0, tzinfo=dt.timezone.utc)
FARES = "s3://ext/fares.parquet"
RAW = "file:///data/raw.parquet"
ASSET = "asset://clean"
FEATURES = "file:///data/features.parquet"
LOOP = "file:///data/loop.parquet"
LOOP_RUNS = 15


def _record(dag_id: str, run_id: str, task_id: str, hours: float, *, inputs=(), uri=None, pii=False, tags=None,
            data: pd.DataFrame | None = None, **extra: Any) -> dict[str, Any]:
    record = make_record(
        dag_id, run_id, task_id, started=T0 + dt.timedelta(hours=hours), inputs=list(inputs), output_uri=uri,
        data=frame(50) if data is None else data,
    )
    output = record["outputs"][0]
    if not pii:
        output["profile"]["pii"] = []
    output["tags"] = tags or {}
    record.update(extra)
    return record


def _task(task_id: str, name: str = "return_value") -> dict[str, str]:
    return {"kind": "task", "task_id": task_id, "name": name}


def chain_records() -> list[dict[str, Any]]:
    records = []
    for n in (1, 2):
        base = (n - 1) * 3
        records += [
            _record("ingest_a", f"a_run_{n}", "load", base, inputs=[{"kind": "uri", "uri": FARES, "name": "fares"}],
                    uri=RAW, pii=True, tags={"source": "manifest"}),
            _record("ingest_a", f"a_run_{n}", "clean", base + 0.5,
                    inputs=[_task("load"), {"kind": "asset", "direction": "output", "uri": ASSET, "name": "clean"}]),
            _record("model_b", f"model_run_{n}", "features", base + 1,
                    inputs=[{"kind": "asset", "uri": ASSET, "name": "clean"}], uri=FEATURES),
            _record("model_b", f"model_run_{n}", "train", base + 1.5, inputs=[_task("features")],
                    data=frame(50).drop(columns=["email"]), pii_free=True),
            _record("report_c", f"report_run_{n}", "report", base + 2,
                    inputs=[{"kind": "uri", "uri": FEATURES, "name": "features"}]),
        ]
    return records


def loop_records() -> list[dict[str, Any]]:
    records = [
        _record("loop", f"loop_{i:02d}", "step", 10 + i, inputs=[{"kind": "uri", "uri": LOOP, "name": "loop"}], uri=LOOP)
        for i in range(1, LOOP_RUNS + 1)
    ]
    records += [
        _record("loop", "cycle", "x", 40, inputs=[_task("y")]),
        _record("loop", "cycle", "y", 40.5, inputs=[_task("x")]),
    ]
    return records
