"""Across runs in the store, on SQLite, PostgreSQL and MariaDB: drift, anomalies and check
results written at ingest with each try, pinned baselines, idempotent re-ingest, a failing
drift computation that does not lose the try, and retention of the new rows."""

from __future__ import annotations

import datetime as dt
import logging

import numpy as np
import pandas as pd
import pytest
from records import changed, make_record
from sqlalchemy import func, select, text

from ddtrack import checks
from ddtrack.profile import profile
from ddtrack.store import across_runs, baseline, retention
from ddtrack.store.engine import session_factory
from ddtrack.store.ingest import ingest_records
from ddtrack.store.models import Anomaly, CheckResult, Drift, Output, TaskRun

T0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=30)


def sales(seed: int, rows: int = 1000, shift: float = 0.0, null_share: float = 0.0, cities=("Paris", "Oslo", "Lima")) -> pd.DataFrame:
    """One run of a stable random process (new seed each run); ``shift``, ``null_share`` and
    ``cities`` change it on purpose."""
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + shift, 15, rows)
    amount[rng.random(rows) < null_share] = np.nan
    return pd.DataFrame(
        {"amount": amount, "qty": rng.poisson(4, rows), "city": rng.choice(list(cities), rows),
         "day": pd.Timestamp("2026-01-01") + pd.to_timedelta(rng.integers(0, 86400, rows), unit="s")}
    )


def run_record(i: int, data: pd.DataFrame | None = None, **kwargs) -> dict:
    return make_record(run_id=f"run_{i:02d}", started=T0 + dt.timedelta(hours=i), data=sales(i) if data is None else data, **kwargs)


def ingest(url: str, records: list[dict]) -> None:
    report = ingest_records(url, records)
    assert report.failed == 0, report.errors


def rows_of(url: str, model, **where) -> list:
    with session_factory(url)() as s:
        query = select(model).where(*(getattr(model, k) == v for k, v in where.items())).order_by(model.id)
        return list(s.scalars(query))


def count(url: str, model) -> int:
    with session_factory(url)() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_drift_against_the_previous_successful_try(installed_store):
    failed = run_record(2, data=sales(2, shift=80), state="failed")
    drifted = run_record(3, data=sales(3, shift=30, null_share=0.3, cities=("Paris", "Oslo", "Rome")))
    ingest(installed_store, [run_record(0), run_record(1), failed, drifted])

    assert rows_of(installed_store, Drift, run_id="run_00") == []  # no baseline yet
    stable = rows_of(installed_store, Drift, run_id="run_01")
    assert {d.column_name for d in stable} == {"amount", "qty", "city", "day"}
    assert not any(d.drifted for d in stable), [(d.column_name, d.reasons) for d in stable]
    assert {d.baseline_run_id for d in stable} == {"run_00"}
    assert all(d.psi is not None and d.psi < 0.2 for d in stable if d.column_name != "day")
    assert rows_of(installed_store, Drift, run_id="run_02") == []  # a failed try is not judged

    after = {d.column_name: d for d in rows_of(installed_store, Drift, run_id="run_03")}
    assert {d.baseline_run_id for d in after.values()} == {"run_01"}  # the failed try is no baseline
    assert after["amount"].drifted and after["amount"].psi >= 0.2 and after["amount"].ks >= 0.2
    assert after["amount"].null_rate_change == pytest.approx(30, abs=4)
    assert after["city"].drifted and after["city"].new_categories == ["Rome"]
    assert after["city"].vanished_categories == ["Lima"]
    assert not after["qty"].drifted and not after["day"].drifted
    assert any("PSI" in r for r in after["amount"].reasons)
    with session_factory(installed_store)() as s:
        output_id = s.scalar(select(Output.id).where(Output.run_id == "run_03"))
    assert {d.output_id for d in after.values()} == {output_id}


def test_anomalies_flag_only_values_outside_their_history(installed_store):
    history = [run_record(i, data=sales(i, rows=1000 + 10 * i)) for i in range(10)]
    odd = run_record(10, data=sales(10, rows=5000, null_share=0.3))
    odd["duration_s"] = 300.0
    ingest(installed_store, [*history, odd])

    assert rows_of(installed_store, Anomaly, run_id="run_09") == []  # stable data: no alarm
    flagged = {(a.metric, a.column_name): a for a in rows_of(installed_store, Anomaly, run_id="run_10")}
    assert {("rows", None), ("null_pct", "amount"), ("duration_s", None)} <= set(flagged)
    rows = flagged[("rows", None)]
    assert rows.value == 5000 and rows.low <= rows.median <= rows.high < 5000
    assert rows.output_name == "return_value" and flagged[("duration_s", None)].output_name is None
    assert ("mean", "qty") not in flagged  # an unchanged column stays quiet


def test_too_little_history_flags_nothing(installed_store, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__ANOMALY_MIN_HISTORY", "20")
    ingest(installed_store, [*(run_record(i) for i in range(10)), run_record(10, data=sales(10, rows=5000))])
    assert count(installed_store, Anomaly) == 0


def test_thresholds_come_from_the_configuration(installed_store, monkeypatch):
    monkeypatch.setenv("AIRFLOW__DDTRACK__DRIFT_PSI", "50")
    monkeypatch.setenv("AIRFLOW__DDTRACK__DRIFT_KS", "1.1")
    monkeypatch.setenv("AIRFLOW__DDTRACK__DRIFT_WASSERSTEIN", "100")
    monkeypatch.setenv("AIRFLOW__DDTRACK__DRIFT_JS", "1")
    monkeypatch.setenv("AIRFLOW__DDTRACK__DRIFT_NULL_RATE", "100")
    ingest(installed_store, [run_record(0), run_record(1, data=sales(1, shift=30))])
    amount = rows_of(installed_store, Drift, run_id="run_01", column_name="amount")[0]
    assert amount.psi >= 0.2 and not amount.drifted


def test_a_pinned_run_is_the_baseline_until_unpinned(installed_store):
    ingest(installed_store, [run_record(i) for i in range(3)])
    baseline.pin(installed_store, "dag_a", "load", "run_00", by="alice")
    assert [(p["run_id"], p["output_name"], p["pinned_by"]) for p in baseline.pinned(installed_store, "dag_a")] == [
        ("run_00", "", "alice")
    ]
    ingest(installed_store, [run_record(3)])
    assert {d.baseline_run_id for d in rows_of(installed_store, Drift, run_id="run_03")} == {"run_00"}

    baseline.pin(installed_store, "dag_a", "load", "run_01", output_name="return_value")  # per output wins
    ingest(installed_store, [run_record(4)])
    assert {d.baseline_run_id for d in rows_of(installed_store, Drift, run_id="run_04")} == {"run_01"}

    assert baseline.unpin(installed_store, "dag_a", "load", "return_value")
    assert baseline.unpin(installed_store, "dag_a", "load")
    assert not baseline.unpin(installed_store, "dag_a", "load")
    ingest(installed_store, [run_record(5)])
    assert {d.baseline_run_id for d in rows_of(installed_store, Drift, run_id="run_05")} == {"run_04"}
    assert baseline.pinned(installed_store, "dag_a") == []


def test_pinning_an_unknown_run_or_output_says_which(installed_store):
    ingest(installed_store, [run_record(0)])
    with pytest.raises(baseline.UnknownRun, match="'nope'"):
        baseline.pin(installed_store, "dag_a", "load", "nope")
    with pytest.raises(baseline.UnknownRun, match="'other'"):
        baseline.pin(installed_store, "dag_a", "load", "run_00", output_name="other")
    baseline.pin(installed_store, "dag_a", "load", "run_00")
    baseline.pin(installed_store, "dag_a", "load", "run_00", by="bob")  # again: replaced, not duplicated
    assert [p["pinned_by"] for p in baseline.pinned(installed_store, "dag_a", "load")] == ["bob"]


def checked(record: dict, data: pd.DataFrame) -> list[dict]:
    declared = [
        checks.rows_between(10, None),
        checks.null_pct_at_most("amount", 5),
        checks.values_in("city", ["Paris", "Oslo"], severity="warn"),
        checks.min_max("nope", 0, 1),
    ]
    results = checks.evaluate(profile(data).to_dict(), declared, "return_value")
    record["outputs"][0]["checks"] = results
    return results


def test_check_results_are_stored_with_the_try(installed_store):
    data = sales(1, null_share=0.3)
    record = run_record(1, data=data, state="failed")
    record["error"] = {"type": "CheckFailed", "message": "1 data check failed"}
    results = checked(record, data)
    ingest(installed_store, [run_record(0), record])

    stored = rows_of(installed_store, CheckResult, run_id="run_01")
    assert [(r.check_name, r.column_name, r.status) for r in stored] == [
        ("rows_between", None, "pass"), ("null_pct_at_most", "amount", "fail"),
        ("values_in", "city", "warn"), ("min_max", "nope", "error"),
    ]
    failed = stored[1]
    assert failed.value == results[1]["value"] and failed.bound == 5 and "amount" in failed.message
    assert (failed.dag_id, failed.task_id, failed.severity, failed.output_name) == ("dag_a", "load", "error", "return_value")
    # Failed by a data check: its outputs are whole, so its drift is judged too.
    assert rows_of(installed_store, Drift, run_id="run_01", column_name="amount")[0].drifted


def test_reingest_keeps_one_copy_and_a_changed_record_replaces_its_rows(installed_store):
    records = [run_record(i, data=sales(i, rows=1000 + 10 * i)) for i in range(10)]
    records.append(run_record(10, data=sales(10, rows=5000, shift=30)))
    checked(records[-1], sales(10, rows=5000, shift=30))
    ingest(installed_store, records)
    counts = [count(installed_store, m) for m in (Drift, Anomaly, CheckResult)]
    assert min(counts) > 0
    again = ingest_records(installed_store, records)
    assert (again.written, again.unchanged) == (0, 11)
    assert [count(installed_store, m) for m in (Drift, Anomaly, CheckResult)] == counts
    ingest(installed_store, [changed(records[-1], duration_s=3.5)])  # rewritten: not added
    assert [count(installed_store, m) for m in (Drift, Anomaly, CheckResult)] == counts


def test_a_failing_drift_computation_does_not_lose_the_try(installed_store, monkeypatch, caplog):
    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("bug in drift")

    monkeypatch.setattr(across_runs, "output_drift", broken)
    with caplog.at_level(logging.WARNING, logger="ddtrack.ingest"):
        ingest(installed_store, [run_record(0), run_record(1)])
    assert count(installed_store, TaskRun) == 2 and count(installed_store, Output) == 2
    assert count(installed_store, Drift) == 0
    assert "could not compute drift and anomalies of dag_a/run_01/load" in caplog.text
    assert "bug in drift" in caplog.text


def test_a_failing_drift_query_does_not_lose_the_try(installed_store, monkeypatch):
    """A statement that fails inside the transaction (PostgreSQL aborts it) is rolled back
    to a savepoint: the try and its check results are still stored."""
    def bad_query(session, *_args):
        session.execute(text("SELECT no_such_column FROM ddtrack_drift"))

    monkeypatch.setattr(across_runs, "_pinned", bad_query)
    record = run_record(1)
    checked(record, sales(1))
    ingest(installed_store, [run_record(0), record])
    assert count(installed_store, TaskRun) == 2 and count(installed_store, Drift) == 0
    assert len(rows_of(installed_store, CheckResult, run_id="run_01")) == 4


def test_retention_deletes_the_rows_of_old_tries(installed_store):
    now = dt.datetime.now(dt.timezone.utc)
    records = [make_record(run_id=f"old_{i}", started=now - dt.timedelta(days=200 - i), data=sales(i)) for i in range(10)]
    records[-1]["duration_s"] = 900.0
    checked(records[-1], sales(9))
    ingest(installed_store, records)
    assert min(count(installed_store, m) for m in (Drift, Anomaly, CheckResult)) > 0
    retention.delete_older_than(installed_store, dt.timedelta(days=90))
    assert [count(installed_store, m) for m in (TaskRun, Drift, Anomaly, CheckResult)] == [0, 0, 0, 0]
