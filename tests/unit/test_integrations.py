"""ddtrack.integrations on real profiles: the asset-event summary (bounded, no values) and
the OpenLineage facets' content. The end-to-end runs are in tests/integration."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ddtrack.integrations import asset_events, openlineage
from ddtrack.profile import profile
from ddtrack.record import new_record


def frame() -> pd.DataFrame:
    score = np.arange(10, dtype=float)
    score[:3] = np.nan
    return pd.DataFrame({"id": np.arange(10), "score": score, "email": [f"p{i}@secret.example" for i in range(10)]})


def record_with(*outputs: dict, state: str = "success") -> dict:
    record = new_record(dag_id="d", run_id="r 1", task_id="t", map_index=-1, try_number=1, tracked=True)
    record["state"] = state
    record["outputs"] = list(outputs)
    return record


def output(name: str = "return_value", uri: str | None = None, data: pd.DataFrame | None = None, pii=("email",)) -> dict:
    prof = profile(frame() if data is None else data, pii=pii, sample=5).to_dict()
    return {"name": name, "uri": uri, "tags": {}, "profile": prof}


def test_summary_holds_counts_and_names_only():
    s = asset_events.summary(output(), "/ddtrack/ti?x=1", n_outputs=1)
    assert s == {
        "output": "return_value", "rows": 10, "columns": 3, "schema": output()["profile"]["schema_fingerprint"],
        "null_pct_max": 30.0, "null_pct_max_column": "score", "pii_columns": 1, "outputs": 1, "link": "/ddtrack/ti?x=1",
    }
    assert "secret" not in json.dumps(s)  # no value, not even of the sample the profile holds


def test_summary_is_bounded_whatever_the_names():
    wide = pd.DataFrame({"é" * 5000 + str(i): [None, 1] for i in range(3)})
    s = asset_events.summary(output("n" * 100_000, data=wide, pii=()), "/ddtrack/ti?" + "q" * 5000)
    assert len(json.dumps(s, separators=(",", ":"), ensure_ascii=False).encode()) <= asset_events.MAX_BYTES
    assert s["link"] is None and s["rows"] == 2 and s["null_pct_max"] == 50.0
    assert s["output"].startswith("nnn") and len(s["null_pct_max_column"]) <= asset_events.NAME_LIMIT
    # Four-byte characters: names are cut further until it fits.
    emoji = pd.DataFrame({"\U0001F600" * 500: [None, 1]})
    s = asset_events.summary(output("\U0001F600" * 500, data=emoji, pii=()), None)
    assert len(json.dumps(s, separators=(",", ":"), ensure_ascii=False).encode()) <= asset_events.MAX_BYTES
    assert len(s["output"]) == len(s["null_pct_max_column"]) == 60


def test_outputs_match_assets_by_uri_then_name_then_return_value():
    from airflow.sdk import Asset

    outs = [output("a"), output("b", uri="s3://x/b"), output("return_value")]
    assert asset_events.matching_output(outs, Asset(name="any", uri="s3://x/b"))["name"] == "b"
    assert asset_events.matching_output(outs, Asset(name="a", uri="s3://x/zz"))["name"] == "a"
    assert asset_events.matching_output(outs, Asset(name="zz", uri="s3://x/zz"))["name"] == "return_value"
    assert asset_events.matching_output(outs[:2], Asset(name="zz", uri="s3://x/zz"))["name"] == "a"


def outlet_context(*outlets):
    from airflow.providers.standard.operators.python import PythonOperator
    from airflow.sdk.execution_time.context import OutletEventAccessors

    task = PythonOperator(task_id="t", python_callable=lambda: None, outlets=list(outlets))
    return {"task": task, "outlet_events": OutletEventAccessors()}


def test_annotate_keeps_the_users_extra_and_skips_aliases():
    from airflow.sdk import Asset, AssetAlias

    orders, alias = Asset(name="orders", uri="s3://x/orders"), AssetAlias(name="some-alias")
    context = outlet_context(orders, alias)
    context["outlet_events"][orders].extra["owner"] = "me"
    assert asset_events.annotate(context, record_with(output())) == 1
    extra = context["outlet_events"][orders].extra
    assert extra["owner"] == "me" and extra["ddtrack"]["rows"] == 10
    assert extra["ddtrack"]["link"] == "/ddtrack/ti?dag_id=d&run_id=r+1&task_id=t&map_index=-1&try_number=1"
    assert context["outlet_events"][alias].extra == {}


def test_annotate_leaves_failed_tries_alone():
    from airflow.sdk import Asset

    orders = Asset(name="orders", uri="s3://x/orders")
    context = outlet_context(orders)
    assert asset_events.annotate(context, record_with(output(), state="failed")) == 0
    assert context["outlet_events"][orders].extra == {}


def test_column_metrics_numbers_only_and_never_for_pii():
    cols = {c["name"]: c for c in output()["profile"]["columns"]}
    score = openlineage.column_metrics(cols["score"], pii=False)
    assert (score["nullCount"], score["count"], score["min"], score["max"]) == (3, 7.0, 3.0, 9.0)
    assert score["quantiles"]["0.5"] == pytest.approx(6.0)
    assert openlineage.column_metrics(cols["email"], pii=True) == {"nullCount": 0, "distinctCount": 10, "count": 10.0}
    assert openlineage.column_metrics(cols["score"], pii=True).keys() == {"nullCount", "distinctCount", "count"}
    strings = openlineage.column_metrics(output(pii=())["profile"]["columns"][2], pii=False)
    assert strings.keys() == {"nullCount", "distinctCount", "count"}  # the spec's min/max are numbers


def test_uris_are_named_by_openlineage_rules():
    assert openlineage.uri_dataset_id("s3://bucket/dir/f.parquet") == ("s3://bucket", "dir/f.parquet")
    assert openlineage.uri_dataset_id("file:///tmp/f.csv") == ("file", "/tmp/f.csv")
    assert openlineage.uri_dataset_id("just-a-name") is None


def test_facet_class_serialises_with_its_schema_url():
    from openlineage.client.serde import Serde

    facet = openlineage.ddtrack_facet(record_with(output()), output())
    data = Serde.to_dict(facet)
    assert data["_schemaURL"] == openlineage.SCHEMA_URL
    assert (data["rows"], data["columns"], data["piiColumns"], data["nullPctMaxColumn"]) == (10, 3, 1, "score")


def test_provider_is_inactive_without_a_transport():
    # The test session configures no OpenLineage transport: the provider's listener is not loaded.
    assert not openlineage.provider_active()
    assert openlineage.attach({"task": object()}, record_with(output())) is False
