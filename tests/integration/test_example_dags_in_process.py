"""The example DAGs through dag.test(): quick checks of what lands in the side tables.

dag.test() keeps ORM access in task code and runs listeners outside the scheduler loop;
test_scheduler.py repeats the important checks on a real deployment.
"""

from __future__ import annotations

import os

import pytest
from helpers import columns, lineage, outputs, run_in_process, task_runs


@pytest.fixture(scope="module")
def dagbag(airflow_home):
    from airflow.dag_processing.dagbag import DagBag
    bag = DagBag(os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    assert not bag.import_errors, bag.import_errors
    return bag


@pytest.fixture(scope="module")
def titanic_run(dagbag, metastore_url):
    return run_in_process(dagbag.get_dag("titanic"), metastore_url)


def test_titanic_outputs_are_profiled(titanic_run, metastore_url):
    outs = outputs(metastore_url, "titanic", titanic_run.run_id)
    assert set(outs) == {
        ("load_passengers", "return_value"),
        ("features", "return_value"),
        ("features", "model_input"),
        ("train_model", "return_value"),
    }
    raw = outs[("load_passengers", "return_value")]
    assert (raw.kind, raw.rows, raw.n_columns) == ("pandas", 891, 9)
    age = columns(raw)["age"]
    assert age.count + age.nulls == 891 and age.nulls > 0
    assert sum(age.stats["histogram"]["counts"]) == age.count
    assert outs[("features", "model_input")].uri.startswith("file://")
    assert outs[("train_model", "return_value")].kind == "dict"


def test_pii_column_has_no_values(titanic_run, metastore_url):
    name = columns(outputs(metastore_url, "titanic", titanic_run.run_id)[("load_passengers", "return_value")])["name"]
    assert name.count == 891 and name.n_distinct is not None
    assert not {"top_values", "min", "max", "quantiles", "histogram"} & set(name.stats or {})


def test_titanic_lineage_and_runs(titanic_run, metastore_url):
    runs = {r.task_id: r for r in task_runs(metastore_url, "titanic", titanic_run.run_id)}
    assert set(runs) == {"load_passengers", "features", "train_model"}
    assert all(r.state == "success" and r.code_hash and r.duration_s >= 0 for r in runs.values())
    edges = {(e.task_id, e.kind, e.upstream_task_id or e.uri) for e in lineage(metastore_url, "titanic")}
    assert ("features", "task", "load_passengers") in edges
    assert ("train_model", "task", "features") in edges
    assert ("features", "uri", "s3://example-bucket/fares.parquet") in edges


def test_task_result_is_unchanged(titanic_run):
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        row = session.scalars(
            select(XComModel).filter_by(
                dag_id="titanic", run_id=titanic_run.run_id, task_id="train_model", key="return_value"
            )
        ).one()
        result = XComModel.deserialize_value(row)
    assert result["n_train"] == 891 and result["groups"] == 6 and 0.5 < result["accuracy"] <= 1


def test_mapped_task_records_every_index(dagbag, metastore_url):
    run = run_in_process(dagbag.get_dag("mapped_batches"), metastore_url)
    runs = [r for r in task_runs(metastore_url, "mapped_batches", run.run_id) if r.task_id == "load_day"]
    assert [r.map_index for r in runs] == [0, 1, 2, 3]
    outs = outputs(metastore_url, "mapped_batches", run.run_id)
    total = sum(200 + 50 * d for d in (1, 2, 3, 4))
    assert outs[("combine", "return_value")].rows == total
    # four log_output batches of one name: one output whose profile is the merged whole
    load = outs[("combine", "warehouse_load")]
    assert load.rows == total and load.detail["batches"] == 4
    assert load.uri == "warehouse://analytics.sales_daily"


def test_mapped_whole_equals_the_profile_of_the_combined_frame(dagbag, metastore_url):
    """Merging the four map indexes' profiles gives the combined frame's exact counts, min,
    max, mean and std; quantiles are within the sketches' 1/128 rank error."""
    import pandas as pd
    from _demo_data import sales

    from ddtrack import queries

    run = run_in_process(dagbag.get_dag("mapped_batches"), metastore_url)
    whole = queries.mapped_whole(queries.Sources(metastore_url, metastore_url), "mapped_batches", run.run_id, "load_day", allowed=None)
    assert [p.map_index for p in whole.parts] == [0, 1, 2, 3]
    (merged,) = whole.outputs
    frame = pd.concat([sales(d, n=200 + 50 * d) for d in (1, 2, 3, 4)], ignore_index=True)
    assert merged.rows == len(frame) and whole.parts_per_output == {"return_value": 4}
    cols = {c.name: c for c in merged.columns}
    for name in frame.select_dtypes("number").columns:
        s, c = frame[name], cols[name]
        assert c.count == s.count() and c.nulls == s.isna().sum()
        assert c.stats["min"] == pytest.approx(s.min()) and c.stats["max"] == pytest.approx(s.max())
        assert c.mean == pytest.approx(s.mean()) and c.std == pytest.approx(s.std())
        median, values, slack = c.stats["quantiles"]["0.5"], s.dropna(), 1 / 128 + 1 / s.count()
        assert (values < median).mean() - slack <= 0.5 <= (values <= median).mean() + slack


def test_failed_task_is_recorded_with_its_error(dagbag, metastore_url):
    run = run_in_process(dagbag.get_dag("quality_check"), metastore_url)
    runs = [r for r in task_runs(metastore_url, "quality_check", run.run_id) if r.task_id == "check_no_missing_ages"]
    assert runs and all(r.state == "failed" for r in runs)
    assert runs[-1].error_type == "DataQualityError" and "passengers have no age" in runs[-1].error_message
