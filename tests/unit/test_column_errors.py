"""A column that fails to profile is seen: an error column in the pushed record and in the
store, a warning in the task's log, and an exception in strict mode."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pandas as pd
import pytest
from records import make_record
from sqlalchemy import select

from ddtrack import conf, decorator, track
from ddtrack.store.engine import dispose_all, session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import ColumnProfile
from ddtrack.store.schema import upgrade


@pytest.fixture
def pushed(monkeypatch) -> list[dict]:
    """Run tracked functions as if inside a task try; collects the records they push."""
    records: list[dict] = []
    ti = SimpleNamespace(
        dag_id="d", run_id="r", task_id="t", map_index=-1, try_number=1,
        xcom_push=lambda key, value: records.append(value),
    )
    monkeypatch.setattr(decorator, "_airflow_context", lambda: {"ti": ti})
    return records


@track
def produce() -> pd.DataFrame:
    return pd.DataFrame({"amount": [1.5, None, 2.5], "city": ["Oslo", "Lima", None]})


def test_the_task_goes_on_and_the_record_carries_the_error(broken_numbers, pushed, monkeypatch, caplog):
    monkeypatch.setattr(conf, "strict", lambda: False)
    with caplog.at_level(logging.WARNING, logger="ddtrack"):
        result = produce()
    assert list(result.columns) == ["amount", "city"]
    (record,) = pushed
    amount, city = record["outputs"][0]["profile"]["columns"]
    assert (amount["kind"], amount["error"], amount["count"], amount["nulls"]) == ("error", "RuntimeError: boom", 2, 1)
    assert city["kind"] == "string"
    expected = "output 'return_value': 1 column(s) could not be profiled: 'amount': RuntimeError: boom"
    assert record["warnings"] == [expected]
    assert expected in caplog.text


def test_strict_mode_raises(broken_numbers, pushed, monkeypatch):
    monkeypatch.setattr(conf, "strict", lambda: True)
    with pytest.raises(decorator.TrackingError, match="column 'amount' could not be profiled: RuntimeError: boom"):
        produce()


def test_the_store_keeps_the_error_in_the_column_stats(broken_numbers, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    upgrade(url)
    record = make_record()  # its "amount" column fails to profile
    assert ingest_records(url, [record]).failed == 0
    with session_factory(url)() as s:
        rows = {c.name: c for c in s.scalars(select(ColumnProfile))}
    dispose_all()
    assert (rows["amount"].kind, rows["amount"].count, rows["amount"].nulls) == ("error", 100, 0)
    assert rows["amount"].stats == {"error": "RuntimeError: boom"}
    assert rows["city"].kind == "string" and "error" not in rows["city"].stats
