"""Data checks declared in code, judged inside real task runs (dag.test()): a failed check of
severity error fails its task after the record is pushed, and the record and its check
results are stored; warnings only record; a bug in evaluation never fails the task."""

from __future__ import annotations

import pytest
from helpers import load_dag, run_in_process, task_runs
from sqlalchemy import select

from ddtrack import checks, decorator, log_output, track
from ddtrack.store.engine import session_factory
from ddtrack.store.models import CheckResult


def results(url: str, dag_id: str, run_id: str) -> dict[tuple[str, str, str | None], CheckResult]:
    with session_factory(url)() as s:
        rows = s.scalars(select(CheckResult).where(CheckResult.dag_id == dag_id, CheckResult.run_id == run_id))
        return {(r.output_name, r.check_name, r.column_name): r for r in rows}


def states(url: str, dag_id: str, run_id: str) -> dict[str, str]:
    from airflow.models import TaskInstance
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(select(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id))
        return {ti.task_id: str(ti.state) for ti in rows}


@pytest.fixture
def warnings(monkeypatch) -> list[str]:
    """ddtrack's warnings in the task (Airflow's task logging hides them from caplog)."""
    seen: list[str] = []
    monkeypatch.setattr(decorator.log, "warning", lambda msg, *args: seen.append(msg % args))
    return seen


def test_an_error_check_fails_its_task_and_the_record_is_stored(metastore_url, warnings):
    run = run_in_process(load_dag("checks_fail"), metastore_url)
    assert run.state == "failed"
    assert states(metastore_url, "checks_fail", run.run_id) == {"load": "failed", "after": "upstream_failed"}

    (record,) = task_runs(metastore_url, "checks_fail", run.run_id)
    assert (record.state, record.error_type) == ("failed", "CheckFailed")
    assert "output 'return_value'" in record.error_message and "'amount'" in record.error_message
    stored = results(metastore_url, "checks_fail", run.run_id)
    assert {k: r.status for k, r in stored.items()} == {
        ("return_value", "rows_between", None): "pass",
        ("return_value", "null_pct_at_most", "amount"): "fail",
        ("return_value", "values_in", "city"): "warn",
        ("rejects", "rows_between", None): "warn",  # routed by output= to the log_output
    }
    failed = stored[("return_value", "null_pct_at_most", "amount")]
    assert failed.value == pytest.approx(30) and failed.bound == 10
    assert "30" in failed.message and "10" in failed.message
    assert "ddtrack data check warn: output 'rejects': rows is 5, above the bound 3" in warnings  # not raised


def test_passing_and_warning_checks_leave_the_task_alone(metastore_url):
    run = run_in_process(load_dag("checks_pass"), metastore_url)
    assert run.state == "success"
    stored = results(metastore_url, "checks_pass", run.run_id)
    assert {r.status for r in stored.values()} == {"pass", "warn"}
    (record,) = task_runs(metastore_url, "checks_pass", run.run_id)
    assert (record.state, record.error_type) == ("success", None)


def test_a_check_on_log_output_fails_an_untracked_task(metastore_url):
    run = run_in_process(load_dag("checks_untracked"), metastore_url)
    assert states(metastore_url, "checks_untracked", run.run_id) == {"export": "failed"}
    ((key, result),) = results(metastore_url, "checks_untracked", run.run_id).items()
    assert key == ("export", "unique", "id") and result.status == "fail"


def test_checks_of_outputs_never_recorded_fail_closed(metastore_url):
    run = run_in_process(load_dag("checks_missing_output"), metastore_url)
    assert run.state == "failed"  # an error-severity check that cannot be evaluated is a closed gate
    stored = results(metastore_url, "checks_missing_output", run.run_id)
    assert {k: r.status for k, r in stored.items()} == {
        ("return_value", "rows_between", None): "error", ("typo", "unique", "id"): "error",
    }
    assert "recorded no output 'typo'" in stored[("typo", "unique", "id")].message
    (record,) = task_runs(metastore_url, "checks_missing_output", run.run_id)
    assert record.error_type == "CheckFailed"
    assert "cannot be evaluated: output 'typo': unique on column 'id' could not be evaluated" in record.error_message


def raising(exc: Exception):
    """A stand-in for one of ddtrack's functions that raises ``exc``."""

    def broken(*_args, **_kwargs):
        raise exc

    return broken


def test_a_bug_in_evaluation_fails_closed_naming_output_column_and_why(metastore_url, monkeypatch, warnings):
    monkeypatch.setattr(decorator, "evaluate", raising(ZeroDivisionError("bug in checks")))
    run = run_in_process(load_dag("checks_fail"), metastore_url)
    assert run.state == "failed"
    assert any("ddtrack could not evaluate the data checks (ZeroDivisionError: bug in checks)" in w for w in warnings)
    stored = results(metastore_url, "checks_fail", run.run_id)
    assert {r.status for r in stored.values()} == {"error"}
    message = stored[("return_value", "null_pct_at_most", "amount")].message
    assert message == ("output 'return_value': null_pct_at_most on column 'amount' could not be evaluated: "
                       "ZeroDivisionError: bug in checks")


def test_checks_the_profile_cannot_decide_are_judged_on_the_data(metastore_url):
    run = run_in_process(load_dag("checks_exact"), metastore_url)
    assert states(metastore_url, "checks_exact", run.run_id) == {"load": "failed"}
    stored = results(metastore_url, "checks_exact", run.run_id)
    unique, values_in = stored[("return_value", "unique", "id")], stored[("return_value", "values_in", "code")]
    assert (unique.status, unique.value) == ("fail", 1)
    assert unique.message.startswith("output 'return_value': column 'id' has 1 duplicate values (299999 distinct")
    assert (values_in.status, values_in.value) == ("fail", ["X999"])
    (record,) = task_runs(metastore_url, "checks_exact", run.run_id)
    assert "'id' has 1 duplicate" in record.error_message and "'X999'" in record.error_message


def test_an_error_check_on_an_unknown_column_fails_the_task_a_warning_only_records(metastore_url):
    run = run_in_process(load_dag("checks_unknown_column"), metastore_url)
    assert states(metastore_url, "checks_unknown_column", run.run_id) == {"gated": "failed", "warned": "success"}
    by_task = {r.task_id: r for r in task_runs(metastore_url, "checks_unknown_column", run.run_id)}
    assert "cannot be evaluated: output 'return_value': no column 'amount' (columns: 'id')" in (
        by_task["gated"].error_message)
    assert by_task["warned"].error_type is None


def test_unique_is_exact_across_batches(metastore_url):
    run = run_in_process(load_dag("checks_batches"), metastore_url)
    assert states(metastore_url, "checks_batches", run.run_id) == {"export": "failed"}
    stored = results(metastore_url, "checks_batches", run.run_id)
    result = stored[("export", "unique", "id")]
    assert (result.status, result.value) == ("fail", 1)
    assert "1 duplicate values (2999 distinct of 3000 non-null)" in result.message
    late = stored[("late", "unique", "id")]  # the first batch was not read for it: no silent pass
    assert late.status == "error" and "declared after earlier batches" in late.message


def test_a_failed_check_fails_the_task_even_when_the_record_cannot_be_pushed(metastore_url, monkeypatch, warnings):
    monkeypatch.setattr(decorator, "bound_size", raising(OSError("XCom is down")))
    run = run_in_process(load_dag("checks_exact"), metastore_url)
    assert states(metastore_url, "checks_exact", run.run_id) == {"load": "failed"}
    assert any("could not send this task's record to Airflow (OSError: XCom is down)" in w for w in warnings)
    assert task_runs(metastore_url, "checks_exact", run.run_id) == []  # nothing was pushed, the gate still held


@pytest.mark.parametrize(
    "bad", [checks.unique, "unique(id)", [checks.unique("id"), "rows > 0"], {"id": "unique"}, checks.unique("id")]
)
def test_a_malformed_checks_argument_is_refused_where_it_is_written(bad):
    with pytest.raises(TypeError, match=r"track\(checks=\.\.\.\).*ddtrack\.checks"):
        track(checks=bad)
    with pytest.raises(TypeError, match=r"log_output\(checks=\.\.\.\).*ddtrack\.checks"):
        log_output([1], name="x", checks=bad)
