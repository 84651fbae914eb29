"""OpenLineage out: the example DAGs run through dag.test() with Airflow's OpenLineage
provider and its file transport; every event is rebuilt with the OpenLineage client's own
classes, and the facets' values are checked against ddtrack's stored profiles.

Each DAG runs in its own process (the provider reads its configuration once per process).
test_ecosystem_deployment.py does the same on a real scheduler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from helpers import columns, outputs

REPO = Path(__file__).resolve().parents[2]
DAGS = ("titanic", "sales_producer", "sales_consumer", "ax_producer")

RUN_DAG = textwrap.dedent(
    """
    import json, sys
    sys.path[:0] = [sys.argv[1] + "/tests", sys.argv[1] + "/tests/dags", sys.argv[1] + "/tests/integration"]
    from helpers import load_dag, run_in_process
    run = run_in_process(load_dag(sys.argv[2]), sys.argv[3])
    print(json.dumps({"run_id": run.run_id, "state": str(run.state)}))
    """
)


def run_with_file_transport(dag_id: str, metastore_url: str, events: Path) -> dict:
    env = {
        **os.environ,
        "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps({"type": "file", "log_file_path": str(events), "append": True}),
        "AIRFLOW__OPENLINEAGE__NAMESPACE": "ddtrack-tests",
        "AIRFLOW__DDTRACK__STRICT": "True",
    }
    proc = subprocess.run(
        [sys.executable, "-c", RUN_DAG, str(REPO), dag_id, metastore_url],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    assert "ddtrack could not" not in proc.stdout + proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def ol_runs(airflow_home, metastore_url, tmp_path_factory):
    events = tmp_path_factory.mktemp("openlineage") / "events.jsonl"
    runs = {dag_id: run_with_file_transport(dag_id, metastore_url, events) for dag_id in DAGS}
    assert all(r["state"].endswith("success") for r in runs.values()), runs
    return runs, [json.loads(line) for line in events.read_text().splitlines()]


# -- the OpenLineage client's classes ------------------------------------------------------


def _facet(cls, data: dict, **nested):
    """A facet object of the client's class ``cls`` built from its JSON; nested attrs
    classes given by field name. Round-trips to the same JSON, or the event was not valid."""
    fields = {k: v for k, v in data.items() if not k.startswith("_")}
    for key, build in nested.items():
        if key in fields:
            fields[key] = build(fields[key])
    facet = cls(**fields, producer=data["_producer"]) if "_producer" in data else cls(**fields)
    assert data.get("_schemaURL", facet._schemaURL) == facet._schemaURL
    return facet


def parse_event(event: dict):
    """The event as the client's ``RunEvent``, its datasets and ddtrack's facets as the
    client's classes; asserts the client serialises it back to the same facets."""
    from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
    from openlineage.client.facet_v2 import column_lineage_dataset as cl
    from openlineage.client.facet_v2 import data_quality_metrics_dataset as dq
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqi
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats
    from openlineage.client.facet_v2 import schema_dataset
    from openlineage.client.serde import Serde

    from ddtrack.integrations.openlineage import facet_class

    def schema(d):
        return _facet(schema_dataset.SchemaDatasetFacet, d, fields=lambda fs: [schema_dataset.SchemaDatasetFacetFields(**f) for f in fs])

    def metrics(cls, column_cls):
        return lambda d: _facet(cls, d, columnMetrics=lambda cm: {k: column_cls(**v) for k, v in cm.items()})

    def input_field(f):
        return cl.InputField(**{**f, "transformations": [cl.Transformation(**t) for t in f.get("transformations", [])]})

    def column_lineage(d):
        return _facet(cl.ColumnLineageDatasetFacet, d, fields=lambda fs: {
            k: cl.Fields(**{**v, "inputFields": [input_field(f) for f in v["inputFields"]]}) for k, v in fs.items()
        }, dataset=lambda fs: [input_field(f) for f in fs])

    dataset_facets = {"schema": schema, "dataQualityMetrics": metrics(dq.DataQualityMetricsDatasetFacet, dq.ColumnMetrics),
                      "ddtrack": lambda d: _facet(facet_class(), d), "columnLineage": column_lineage}
    known = {
        "facets": dataset_facets,
        "outputFacets": {"outputStatistics": lambda d: _facet(stats.OutputStatisticsOutputDatasetFacet, d)},
        "inputFacets": {"dataQualityMetrics": metrics(dqi.DataQualityMetricsInputDatasetFacet, dqi.ColumnMetrics)},
    }

    def dataset(cls, d):
        parts = {group: {k: known[group][k](v) for k, v in (d.get(group) or {}).items() if k in known[group]} for group in known}
        if cls is InputDataset:
            parts.pop("outputFacets")
        else:
            parts.pop("inputFacets")
        built = cls(namespace=d["namespace"], name=d["name"], **parts)
        for group, facets in parts.items():
            for key, facet in facets.items():
                assert Serde.to_dict(facet) == d[group][key], (d["name"], key)
        return built

    return RunEvent(
        eventType=RunState(event["eventType"]),
        eventTime=event["eventTime"],
        run=Run(runId=event["run"]["runId"]),
        job=Job(namespace=event["job"]["namespace"], name=event["job"]["name"]),
        producer=event["producer"],
        inputs=[dataset(InputDataset, d) for d in event.get("inputs") or []],
        outputs=[dataset(OutputDataset, d) for d in event.get("outputs") or []],
    )


def complete(events: list[dict], job: str) -> dict:
    found = [e for e in events if e["job"]["name"] == job and e["eventType"] == "COMPLETE"]
    assert len(found) == 1, (job, [e["job"]["name"] for e in events])
    return found[0]


def by_name(datasets: list[dict]) -> dict[tuple[str, str], dict]:
    return {(d["namespace"], d["name"]): d for d in datasets}


# -- tests -----------------------------------------------------------------------------------


def test_every_event_is_valid_for_the_client(ol_runs):
    _, events = ol_runs
    parsed = [parse_event(e) for e in events]
    assert len(parsed) == len(events) >= 2 * 8  # START + COMPLETE of the 8 tasks, and the DAGs'
    with_ddtrack = [d for e in parsed for d in e.outputs if "ddtrack" in (d.facets or {})]
    assert len(with_ddtrack) >= 7


def test_outputs_carry_the_standard_column_lineage_facet(ol_runs):
    """titanic's features: columns handed over from load_passengers (inferred by name), each
    with the input dataset's field, as the spec's ColumnLineageDatasetFacet (1-2-0); every
    event's facet round-trips through the client's classes (test_every_event_is_valid...)."""
    _, events = ol_runs
    features = by_name(complete(events, "titanic.features")["outputs"])
    facet = features[("ddtrack://ddtrack-tests", "titanic/features/return_value")]["facets"]["columnLineage"]
    assert facet["_schemaURL"].endswith("/1-2-0/ColumnLineageDatasetFacet.json#/$defs/ColumnLineageDatasetFacet")
    (age,) = facet["fields"]["age"]["inputFields"]
    assert (age["namespace"], age["name"], age["field"]) == ("ddtrack://ddtrack-tests", "titanic/load_passengers/return_value", "age")
    assert age["transformations"] == [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False,
                                       "description": "same name as the input column (ddtrack inference)"}]
    assert "name" not in facet["fields"] and "is_female" not in facet["fields"]  # dropped, and made here


def test_tracked_tasks_list_their_outputs_and_inputs(ol_runs, metastore_url):
    _, events = ol_runs
    data = Path(os.environ["DDTRACK_DEMO_DATA"])
    features = complete(events, "titanic.features")
    assert set(by_name(features["outputs"])) == {
        ("file", str(data / "model_input.parquet")),
        ("ddtrack://ddtrack-tests", "titanic/features/return_value"),
    }
    assert set(by_name(features["inputs"])) == {
        ("ddtrack://ddtrack-tests", "titanic/load_passengers/return_value"),
        ("s3://example-bucket", "fares.parquet"),
    }
    daily = ("file", str(data / "daily_sales.parquet"))
    assert set(by_name(complete(events, "sales_producer.write_daily_sales")["outputs"])) == {daily}
    assert daily in by_name(complete(events, "sales_consumer.store_totals")["inputs"])  # log_input + Asset inlet, once
    orders = complete(events, "ax_producer.write_orders")
    assert set(by_name(orders["outputs"])) == {("file", "/tmp/ddtrack-ax/orders.parquet"), ("s3://ax-bucket", "customers.parquet")}
    assert set(by_name(orders["inputs"])) == {("postgres://shop-db:5432", "shop.public.orders")}
    # The untracked task keeps what the provider gives it (its Asset outlet), no ddtrack facet.
    untracked = complete(events, "ax_producer.untracked")
    assert [("ddtrack" in (d.get("facets") or {})) for d in untracked["outputs"]] == [False]


def test_output_facets_match_the_stored_profile(ol_runs, metastore_url):
    runs, events = ol_runs
    checked = 0
    for event in events:
        if event["eventType"] != "COMPLETE" or "." not in event["job"]["name"]:
            continue
        dag_id = event["job"]["name"].split(".")[0]
        stored_outputs = outputs(metastore_url, dag_id, runs[dag_id]["run_id"])
        for dataset in event.get("outputs") or []:
            facet = (dataset.get("facets") or {}).get("ddtrack")
            if facet is None:
                continue
            stored = stored_outputs[(facet["taskId"], facet["outputName"])]
            check_dataset(dataset, stored)
            checked += 1
    assert checked >= 7


def check_dataset(dataset: dict, stored) -> None:
    facets, out_facets = dataset["facets"], dataset.get("outputFacets") or {}
    ddtrack = facets["ddtrack"]
    assert (ddtrack.get("rows"), ddtrack.get("columns"), ddtrack.get("schemaFingerprint")) == (
        stored.rows, stored.n_columns, stored.schema_fingerprint
    )
    assert ddtrack["link"].startswith("/ddtrack/ti?dag_id=")
    if stored.schema:
        assert [(f["name"], f["type"]) for f in facets["schema"]["fields"]] == [(c["name"], c["dtype"]) for c in stored.schema]
    if stored.rows is None:
        return
    assert out_facets["outputStatistics"]["rowCount"] == stored.rows
    assert out_facets["outputStatistics"].get("size") == stored.memory_bytes
    metrics = facets["dataQualityMetrics"]
    assert metrics["rowCount"] == stored.rows and metrics.get("bytes") == stored.memory_bytes
    stored_columns = columns(stored)
    assert set(metrics["columnMetrics"]) == set(stored_columns)
    for name, m in metrics["columnMetrics"].items():
        c = stored_columns[name]
        assert (m.get("nullCount"), m.get("distinctCount"), m.get("count")) == (c.nulls, c.n_distinct, c.count), name
        stats = c.stats or {}
        if c.kind in ("int", "float") and "min" in stats:
            assert (m["min"], m["max"]) == (stats["min"], stats["max"]), name
            assert m.get("quantiles", {}) == (stats.get("quantiles") or {}), name
        else:
            assert not {"min", "max"} & set(m) and not m.get("quantiles"), name


def test_pii_columns_give_counts_only(ol_runs):
    _, events = ol_runs
    load = complete(events, "titanic.load_passengers")["outputs"][0]
    name = load["facets"]["dataQualityMetrics"]["columnMetrics"]["name"]
    assert set(name) <= {"nullCount", "distinctCount", "count", "quantiles"} and not name.get("quantiles")
    assert load["facets"]["ddtrack"]["piiColumns"] == 1
    assert "Smith" not in json.dumps(complete(events, "titanic.load_passengers"))


def test_inputs_carry_the_producers_profile(ol_runs, metastore_url):
    runs, events = ol_runs
    summarize = complete(events, "ax_producer.summarize")
    (orders,) = summarize["inputs"]
    assert (orders["namespace"], orders["name"]) == ("file", "/tmp/ddtrack-ax/orders.parquet")  # as its producer named it
    stored = outputs(metastore_url, "ax_producer", runs["ax_producer"]["run_id"])[("write_orders", "return_value")]
    metrics = orders["inputFacets"]["dataQualityMetrics"]
    assert metrics["rowCount"] == stored.rows == 40
    assert metrics["columnMetrics"]["discount"]["nullCount"] == columns(stored)["discount"].nulls == 10
    assert "min" not in metrics["columnMetrics"]["email"]  # PII


BLOCK_OPENLINEAGE = textwrap.dedent(
    """
    import importlib.abc, json, sys

    class NotInstalled(importlib.abc.MetaPathFinder):
        # As if neither the provider nor the client were installed.
        def find_spec(self, name, path=None, target=None):
            if name == "openlineage" or name.startswith(("openlineage.", "airflow.providers.openlineage")):
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    def without_openlineage(distributions):
        # ... and no distribution of them either (Airflow discovers providers by their metadata).
        def filtered(**kwargs):
            for dist in distributions(**kwargs):
                name = (dist.metadata["Name"] or "").lower().replace("_", "-")
                if not name.startswith(("apache-airflow-providers-openlineage", "openlineage")):
                    yield dist
        return filtered

    if sys.argv[4] == "absent":
        import importlib.metadata, importlib_metadata
        sys.meta_path.insert(0, NotInstalled())
        for module in (importlib.metadata, importlib_metadata):
            module.distributions = without_openlineage(module.distributions)
    sys.path[:0] = [sys.argv[1] + "/tests", sys.argv[1] + "/tests/dags", sys.argv[1] + "/tests/integration"]
    from helpers import load_dag, run_in_process
    dag = load_dag(sys.argv[2])
    run = run_in_process(dag, sys.argv[3])
    print(json.dumps({
        "state": str(run.state),
        "ol_modules": sorted(m for m in sys.modules if m == "openlineage" or m.startswith("openlineage.")),
        "provider_modules": sorted(m for m in sys.modules if m.startswith("airflow.providers.openlineage")),
        "methods": [t.task_id for t in dag.tasks if "get_openlineage_facets_on_complete" in vars(t)],
    }))
    """
)


@pytest.mark.parametrize("provider", ["absent", "installed-not-configured"])
def test_without_an_openlineage_transport_nothing_changes(provider, airflow_home, metastore_url):
    env = {k: v for k, v in os.environ.items() if "OPENLINEAGE" not in k}
    env["AIRFLOW__DDTRACK__STRICT"] = "True"
    proc = subprocess.run(
        [sys.executable, "-c", BLOCK_OPENLINEAGE, str(REPO), "ax_producer", metastore_url, provider],
        env=env, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    facts = json.loads(proc.stdout.strip().splitlines()[-1])
    assert facts["state"].endswith("success")
    assert facts["methods"] == []  # no operator was given an OpenLineage method
    assert facts["ol_modules"] == []  # the OpenLineage client was never imported
    if provider == "absent":
        assert facts["provider_modules"] == []
