"""The example DAGs on a real Airflow 3 deployment: LocalExecutor, PostgreSQL metastore,
api-server, scheduler and dag-processor as separate processes, triggered through the
REST API. Task code here runs under the task SDK supervisor (no ORM access) and the
listener runs inside the scheduler loop: the two things dag.test() cannot show.

ddtrack's tables live in the metastore (PostgreSQL) here; test_load.py runs a deployment
with them in MariaDB (and one with them in a PostgreSQL database of their own), and
test_faults.py one with a separate PostgreSQL store.
"""

from __future__ import annotations

import pytest
from helpers import (
    columns,
    lineage,
    outputs,
    postgres_deployment,
    pushed_hashes,
    sync_counts,
    task_runs,
    wait_for,
)
from sqlalchemy import func, select

from ddtrack.store.engine import session_factory
from ddtrack.store.models import Output, TaskRun

pytestmark = [pytest.mark.scheduler, pytest.mark.postgres, pytest.mark.timeout(1500)]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    with postgres_deployment(tmp_path_factory.mktemp("airflow")) as airflow:
        airflow.states = airflow.run_examples()
        airflow.store = airflow.metastore_url
        yield airflow


def run_id_of(deployment, dag_id: str) -> str:
    return next(run_id for (d, run_id) in deployment.states if d == dag_id)


def test_runs_finish_and_the_scheduler_survives(deployment):
    by_dag = {dag_id: state for (dag_id, _), state in deployment.states.items()}
    assert by_dag == {
        "titanic": "success",
        "mapped_batches": "success",
        "sales_producer": "success",
        "sales_consumer": "success",
        "quality_check": "failed",
    }
    deployment.check_alive()
    assert "UNEXPECTED COMMIT" not in deployment.log_tail("scheduler", 10**7)


def test_every_tracked_try_reaches_the_side_tables_when_its_run_ends(deployment):
    store = deployment.store
    expected = {
        "titanic": {("load_passengers", -1, 1), ("features", -1, 1), ("train_model", -1, 1)},
        "mapped_batches": {("load_day", i, 1) for i in range(4)} | {("combine", -1, 1)},
        "sales_producer": {("write_daily_sales", -1, 1)},
        "sales_consumer": {("store_totals", -1, 1)},
        # retries=1: both tries kept, the first copied out before the retry cleared it
        "quality_check": {("extract", -1, 1), ("check_no_missing_ages", -1, 1), ("check_no_missing_ages", -1, 2)},
    }
    for dag_id, keys in expected.items():
        run_id = run_id_of(deployment, dag_id)
        got = wait_for(
            lambda dag_id=dag_id, run_id=run_id, keys=keys: (
                {(r.task_id, r.map_index, r.try_number) for r in task_runs(store, dag_id, run_id)} == keys
            ),
            what=f"{dag_id}'s records",
        )
        assert got


def test_profiles_are_complete_and_pii_is_withheld(deployment):
    outs = outputs(deployment.store, "titanic", run_id_of(deployment, "titanic"))
    raw = outs[("load_passengers", "return_value")]
    assert (raw.rows, raw.n_columns) == (891, 9)
    cols = columns(raw)
    fare = cols["fare"]
    assert sum(fare.stats["histogram"]["counts"]) == fare.count == 891
    assert set(fare.stats["quantiles"]) == {"0.01", "0.05", "0.25", "0.5", "0.75", "0.95", "0.99"}
    assert cols["embarked"].stats["top_values"][0]["value"] == "S"
    assert not {"top_values", "min", "max"} & set(cols["name"].stats or {})


def test_batches_and_map_indexes_merge_into_one_profile(deployment):
    """Under the real scheduler: combine's four log_output batches are one output, and the
    four map indexes of load_day merge into the whole the views show."""
    from ddtrack import queries

    run_id = run_id_of(deployment, "mapped_batches")
    total = sum(200 + 50 * d for d in (1, 2, 3, 4))
    load = outputs(deployment.store, "mapped_batches", run_id)[("combine", "warehouse_load")]
    assert load.rows == total and load.detail["batches"] == 4
    assert columns(load)["amount"].count == total
    sources = queries.Sources(deployment.store, deployment.metastore_url)
    whole = queries.mapped_whole(sources, "mapped_batches", run_id, "load_day", allowed=None)
    (merged,) = whole.outputs
    assert [p.map_index for p in whole.parts] == [0, 1, 2, 3] and merged.rows == total
    assert {c.name: c.count for c in merged.columns}["amount"] == total


def test_failed_tries_keep_their_error(deployment):
    runs = [
        r
        for r in task_runs(deployment.store, "quality_check", run_id_of(deployment, "quality_check"))
        if r.task_id == "check_no_missing_ages"
    ]
    assert [(r.try_number, r.state, r.error_type) for r in runs] == [
        (1, "failed", "DataQualityError"),
        (2, "failed", "DataQualityError"),
    ]
    assert "passengers have no age" in runs[0].error_message


def test_cross_dag_lineage_through_the_asset(deployment):
    produced = {e.uri for e in lineage(deployment.store, "sales_producer") if e.direction == "output"}
    consumed = {e.uri for e in lineage(deployment.store, "sales_consumer") if e.direction == "input"}
    assert produced & consumed and all(u.endswith("daily_sales.parquet") for u in produced & consumed)


def test_sync_after_the_listener_finds_nothing_new(deployment):
    proc = deployment.run_cli(["ddtrack", "sync"])
    pushed = sum(len(pushed_hashes(deployment.metastore_url, dag_id)) for dag_id, _ in deployment.states)
    assert sync_counts(proc.stdout) == (0, pushed, 0)


def test_cleared_task_keeps_both_tries(deployment):
    run_id = run_id_of(deployment, "titanic")
    assert deployment.clear_and_rerun("titanic", run_id, "load_passengers") == "success"
    tries = wait_for(
        lambda: [
            r.try_number for r in task_runs(deployment.store, "titanic", run_id) if r.task_id == "load_passengers"
        ]
        == [1, 2],
        what="both tries of load_passengers",
    )
    assert tries
    with session_factory(deployment.store)() as s:
        n = s.scalar(select(func.count()).select_from(Output).where(Output.task_id == "load_passengers"))
        states = set(s.scalars(select(TaskRun.state).where(TaskRun.task_id == "load_passengers")))
    assert n == 2 and states == {"success"}
