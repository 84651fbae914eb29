"""ddtrack's outputs and inputs as OpenLineage datasets, through Airflow's own provider.

No second emitter: the provider (apache-airflow-providers-openlineage) already sends a
START and a COMPLETE/FAIL event for every task. When its listener extracts a task's
lineage, an operator that has ``get_openlineage_facets_on_complete`` is asked for it (the
provider's ``DefaultExtractor``; ``@task`` operators have no extractor of their own). So,
at the end of a tracked try, :func:`attach` gives the running operator object that method,
bound to the finished record. The listener runs in the same worker process (or a fork of
it), after the task, and turns the returned datasets into the event.

Inside the task this costs one ``setattr``: the datasets and facets are built only when the
provider asks. It happens only when the provider's listener is loaded in this process, i.e.
the provider is installed and a transport is configured; otherwise nothing here runs and
nothing from ``openlineage`` is imported.

Facets (the client's own classes): ``schema``, ``dataQualityMetrics`` (rowCount, bytes,
per column nullCount, distinctCount, count, and min/max/quantiles of numeric non-PII
columns) and the custom ``ddtrack`` facet (profile summary, link path) on each output,
with ``outputStatistics`` (rowCount, size = in-memory bytes) as its output facet. Inputs
are upstream task outputs (named as their producer named them, with ``schema`` and the
``dataQualityMetrics`` input facet from the producer's profile), ``log_input`` URIs and
Asset inlets (datasets only: ddtrack does not profile what a task reads). Each output's
dataset also carries the standard ``columnLineage`` facet from its column lineage
(:mod:`ddtrack.column_lineage`): each column with the input fields it comes from.

Limit: a ``PythonOperator(python_callable=track(f))`` has the provider's PythonExtractor,
which does not ask the operator, so its events stay as the provider makes them.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

METHOD = "get_openlineage_facets_on_complete"
# Imported by the provider's plugin only when OpenLineage is installed and enabled.
_LISTENER_MODULE = "airflow.providers.openlineage.plugins.listener"
FACET_KEY = "ddtrack"
# The facet's schema identifier (a URN: ddtrack publishes no schema server of its own).
SCHEMA_URL = "urn:ddtrack:facets:DdtrackDatasetFacet:1-0-0"
NUMERIC_KINDS = ("int", "float")
MAX_UPSTREAM = 10


def provider_active() -> bool:
    """True when Airflow's OpenLineage listener is loaded in this process."""
    return _LISTENER_MODULE in sys.modules


def attach(context: Mapping[str, Any], record: Mapping[str, Any]) -> bool:
    """Give the running operator ``get_openlineage_facets_on_complete`` for this try's record
    (the provider falls back to it on failure too). Returns whether it did."""
    if not provider_active():
        return False
    task = context.get("task")
    if task is None:
        return False
    previous = getattr(task, METHOD, None)
    previous = getattr(previous, "__ddtrack_previous__", previous)  # an earlier try's, replaced
    key = _try_key(record)
    upstream = upstream_records(context, record)

    def get_openlineage_facets_on_complete(task_instance: Any = None) -> Any:
        lineage = previous(task_instance) if callable(previous) else None
        if task_instance is not None and _try_key(task_instance) != key:
            return lineage or _empty_lineage()  # a later try that did not reach its end
        return operator_lineage(record, getattr(task, "outlets", None) or [], lineage, upstream)

    get_openlineage_facets_on_complete.__ddtrack_previous__ = previous  # type: ignore[attr-defined]
    setattr(task, METHOD, get_openlineage_facets_on_complete)
    return True


def upstream_records(context: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, tuple[dict, list]]:
    """Upstream task id -> (its ddtrack record, its outlets), for the upstream tasks whose
    outputs this try reads: so that an input is named as its producer named it, and carries
    the producer's profile. One XCom read per upstream task (at most :data:`MAX_UPSTREAM`),
    done here, in the task, because the provider's listener runs in a fork of it. A mapped
    upstream gives its first index's record (names), without profile (several versions)."""
    from ddtrack.record import XCOM_KEY, is_record

    task_ids = list(dict.fromkeys(i["task_id"] for i in record.get("inputs") or [] if i.get("kind") == "task"))
    dag, ti = context.get("dag"), context.get("ti")
    found: dict[str, tuple[dict, list]] = {}
    for task_id in task_ids[:MAX_UPSTREAM]:
        value = ti.xcom_pull(task_ids=task_id, key=XCOM_KEY)
        if not isinstance(value, Mapping) and isinstance(value, Iterable) and not isinstance(value, (str, bytes)):
            records = [v for v in value if is_record(v)]
            if len(records) > 1:
                value = dict(records[0], outputs=[{**o, "profile": None} for o in records[0]["outputs"]])
            else:
                value = records[0] if records else None
        if is_record(value):
            operator = getattr(dag, "task_dict", {}).get(task_id)
            found[task_id] = (value, list(getattr(operator, "outlets", None) or []))
    return found


def _try_key(obj: Any) -> tuple:
    get = obj.get if isinstance(obj, Mapping) else functools.partial(getattr, obj)
    map_index = get("map_index")
    return (get("dag_id"), get("run_id"), get("task_id"), -1 if map_index is None else int(map_index), int(get("try_number") or 1))


def _empty_lineage() -> Any:
    from airflow.providers.openlineage.extractors import OperatorLineage

    return OperatorLineage()


def operator_lineage(
    record: Mapping[str, Any], outlets: list[Any], merge_with: Any = None, upstream: Mapping[str, tuple] | None = None
) -> Any:
    """The provider's ``OperatorLineage`` for a try: its outputs and inputs, with facets."""
    from airflow.providers.openlineage.extractors import OperatorLineage
    from openlineage.client.event_v2 import InputDataset, OutputDataset

    outputs: dict[tuple[str, str], Any] = {}
    ids, unmatched = output_ids(record, outlets)
    read = {i: found[0] for i, item in enumerate(record.get("inputs") or []) if (found := input_id(record, item, upstream or {}))}
    for output in record.get("outputs") or []:
        namespace, name = ids[output["name"]]
        facets = dataset_facets(record, output) | column_lineage_facet(output, read)
        outputs[(namespace, name)] = OutputDataset(
            namespace=namespace, name=name, facets=facets, outputFacets=output_facets(output)
        )
    for ref in unmatched:
        outputs.setdefault(ref, OutputDataset(namespace=ref[0], name=ref[1]))
    inputs: dict[tuple[str, str], Any] = {}
    for ref, producer in input_ids(record, upstream or {}):
        if ref not in inputs:
            profile = (producer or {}).get("profile") or {}
            inputs[ref] = InputDataset(
                namespace=ref[0], name=ref[1], facets=_schema_facet(profile), inputFacets=_input_metrics(profile)
            )
    lineage = OperatorLineage(inputs=list(inputs.values()), outputs=list(outputs.values()))
    if merge_with is not None:
        lineage.inputs[:0] = [d for d in merge_with.inputs if (d.namespace, d.name) not in inputs]
        lineage.outputs[:0] = [d for d in merge_with.outputs if (d.namespace, d.name) not in outputs]
        lineage.run_facets.update(merge_with.run_facets)
        lineage.job_facets.update(merge_with.job_facets)
    return lineage


def output_ids(record: Mapping[str, Any], outlets: list[Any]) -> tuple[dict[str, tuple[str, str]], list[tuple[str, str]]]:
    """(output name -> (namespace, name)), and the Asset outlets no output stands for.

    An output without a URI of its own takes the URI of the Asset outlet it stands for
    (the same match as the asset events' summary), so that ddtrack's statistics land on
    the dataset Airflow's provider names for that Asset."""
    from ddtrack.integrations.asset_events import matching_output

    outputs = record.get("outputs") or []
    asset_uri: dict[str, str] = {}
    unmatched: list[tuple[str, str]] = []
    for asset in outlets:
        uri = getattr(asset, "uri", None)
        if not uri or getattr(asset, "name", None) is None:
            continue
        output = matching_output(outputs, asset) if outputs else None
        if output is not None and not output.get("uri"):
            asset_uri.setdefault(output["name"], uri)
        elif output is None or output.get("uri") != uri:
            unmatched.extend(filter(None, [uri_dataset_id(uri)]))
    ids = {o["name"]: dataset_id(record, o, asset_uri.get(o["name"])) for o in outputs}
    return ids, [ref for ref in unmatched if ref not in ids.values()]


@functools.cache
def _namespace() -> str:
    from airflow.providers.openlineage import conf

    return f"ddtrack://{conf.namespace()}"


def dataset_id(record: Mapping[str, Any], output: Mapping[str, Any], asset_uri: str | None = None) -> tuple[str, str]:
    """(namespace, name) of an output: from its URI (or its Asset's) when it has one, else
    ddtrack's namespace and ``dag/task/output``."""
    for uri in (output.get("uri"), asset_uri):
        found = uri_dataset_id(uri) if uri else None
        if found:
            return found
    return _namespace(), f"{record['dag_id']}/{record['task_id']}/{output['name']}"


def uri_dataset_id(uri: str) -> tuple[str, str] | None:
    """(namespace, name) of a URI: as the provider names the Asset of that URI (its
    converters for file, postgres, ...), else by OpenLineage's naming (scheme://authority, path)."""
    try:
        from airflow.providers.openlineage.utils.utils import translate_airflow_asset
        from airflow.sdk import Asset

        dataset = translate_airflow_asset(Asset(uri=uri), None)
        if dataset is not None:
            return dataset.namespace, dataset.name
    except Exception:  # not a URI Airflow accepts for an Asset: name it below
        pass
    parts = urlsplit(uri)
    if not parts.scheme:
        return None
    if parts.netloc:
        return f"{parts.scheme}://{parts.netloc}", parts.path.lstrip("/") or "/"
    return parts.scheme, parts.path or uri


def input_ids(record: Mapping[str, Any], upstream: Mapping[str, tuple]) -> list[tuple[tuple[str, str], Any]]:
    """((namespace, name), the producer's output or None) of each input: upstream task
    outputs (named as their producer named them), ``log_input`` URIs, Asset inlets."""
    inputs = (input_id(record, item, upstream) for item in record.get("inputs") or [])
    return [found for found in inputs if found is not None]


def input_id(record: Mapping[str, Any], item: Mapping[str, Any], upstream: Mapping[str, tuple]) -> tuple[tuple[str, str], Any] | None:
    """((namespace, name), the producer's output or None) of one of the record's inputs; None
    for an Asset outlet (among the outputs) or an input named by nothing."""
    if item.get("kind") == "task":
        key = item.get("name") or "return_value"
        producer, outlets = upstream.get(item["task_id"], (None, []))
        output = next((o for o in (producer or {}).get("outputs") or [] if o["name"] == key), None)
        if output is not None:
            return output_ids(producer, outlets)[0][key], output
        return (_namespace(), f"{record['dag_id']}/{item['task_id']}/{key}"), None
    if item.get("kind") == "asset" and item.get("direction") == "output":
        return None  # an outlet: among the outputs
    if item.get("uri"):
        return uri_dataset_id(item["uri"]) or (_namespace(), str(item["uri"])), None
    if item.get("name"):
        return (_namespace(), f"{record['dag_id']}/{record['task_id']}/input/{item['name']}"), None
    return None


# How each kind of column lineage edge is told in OpenLineage's terms (DIRECT transformations).
_SUBTYPE = {"inferred": "IDENTITY", "declared": "TRANSFORMATION", "sql": "TRANSFORMATION"}
_DESCRIBED = {
    "inferred": "same name as the input column (ddtrack inference)",
    "declared": "declared in column_lineage=",
    "sql": "parsed from the task's SQL",
}


def column_lineage_facet(output: Mapping[str, Any], inputs: Mapping[int, tuple[str, str]]) -> dict[str, Any]:
    """The standard ``columnLineage`` facet of an output from its column lineage: each column
    with the input datasets' fields it comes from (``inputs``: the record's input index ->
    its dataset). Empty when the output has none."""
    edges = [e for e in output.get("column_lineage") or [] if len(e) == 4 and e[1] in inputs]
    if not edges:
        return {}
    from openlineage.client.facet_v2 import column_lineage_dataset as cl

    fields: dict[str, list[Any]] = {}
    for column, index, source, how in edges:
        namespace, name = inputs[index]
        transformation = cl.Transformation(type="DIRECT", subtype=_SUBTYPE.get(how, "TRANSFORMATION"),
                                           description=_DESCRIBED.get(how), masking=False)
        fields.setdefault(str(column), []).append(
            cl.InputField(namespace=namespace, name=name, field=str(source), transformations=[transformation])
        )
    return {"columnLineage": cl.ColumnLineageDatasetFacet(
        fields={column: cl.Fields(inputFields=found) for column, found in fields.items()}
    )}


def dataset_facets(record: Mapping[str, Any], output: Mapping[str, Any]) -> dict[str, Any]:
    """``schema``, ``dataQualityMetrics`` and ``ddtrack`` of one output."""
    from openlineage.client.facet_v2 import data_quality_metrics_dataset as dq

    profile = output.get("profile") or {}
    facets = _schema_facet(profile)
    if profile.get("columns") or profile.get("rows") is not None:
        facets["dataQualityMetrics"] = dq.DataQualityMetricsDatasetFacet(
            rowCount=profile.get("rows"), bytes=profile.get("memory_bytes"), columnMetrics=_column_metrics(profile, dq.ColumnMetrics)
        )
    facets[FACET_KEY] = ddtrack_facet(record, output)
    return facets


def _schema_facet(profile: Mapping[str, Any]) -> dict[str, Any]:
    from openlineage.client.facet_v2 import schema_dataset

    if not profile.get("schema"):
        return {}
    fields = [
        schema_dataset.SchemaDatasetFacetFields(name=str(c["name"]), type=str(c.get("dtype")), ordinal_position=i + 1)
        for i, c in enumerate(profile["schema"])
    ]
    return {"schema": schema_dataset.SchemaDatasetFacet(fields=fields)}


def _input_metrics(profile: Mapping[str, Any]) -> dict[str, Any]:
    """``dataQualityMetrics`` as an input facet, where the spec places it for inputs."""
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqi

    if not profile.get("columns") and profile.get("rows") is None:
        return {}
    facet = dqi.DataQualityMetricsInputDatasetFacet(
        rowCount=profile.get("rows"), bytes=profile.get("memory_bytes"), columnMetrics=_column_metrics(profile, dqi.ColumnMetrics)
    )
    return {"dataQualityMetrics": facet}


def _column_metrics(profile: Mapping[str, Any], cls: type) -> dict[str, Any]:
    pii = set(profile.get("pii") or [])
    return {
        str(c["name"]): cls(**column_metrics(c, c["name"] in pii))
        for c in profile.get("columns") or []
        if c.get("kind") != "error"
    }


def column_metrics(column: Mapping[str, Any], pii: bool) -> dict[str, Any]:
    """One column's metrics: counts for every column; min, max and quantiles only for
    numeric columns that are not PII (the spec types them as numbers)."""
    metrics: dict[str, Any] = {
        "nullCount": _int(column.get("nulls")),
        "distinctCount": _int(column.get("distinct")),
        "count": _number(column.get("count")),
    }
    if pii or column.get("kind") not in NUMERIC_KINDS:
        return metrics
    metrics["min"] = _number(column.get("min"))
    metrics["max"] = _number(column.get("max"))
    quantiles = column.get("quantiles") or {}
    metrics["quantiles"] = {str(q): v for q, v in quantiles.items() if _number(v) is not None} or None
    return metrics


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def output_facets(output: Mapping[str, Any]) -> dict[str, Any]:
    """``outputStatistics``: the rows written and the frame's in-memory size."""
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    profile = output.get("profile") or {}
    if profile.get("rows") is None and profile.get("memory_bytes") is None:
        return {}
    return {"outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=profile.get("rows"), size=profile.get("memory_bytes"))}


def ddtrack_facet(record: Mapping[str, Any], output: Mapping[str, Any]) -> Any:
    """The custom ``ddtrack`` facet: the asset events' summary plus where it came from."""
    from ddtrack.integrations.asset_events import link_path, summary

    s = summary(output, link_path(record), n_outputs=len(record.get("outputs") or []))
    profile = output.get("profile") or {}
    return facet_class()(
        outputName=output.get("name"),
        dagId=record["dag_id"],
        taskId=record["task_id"],
        runId=record["run_id"],
        mapIndex=record["map_index"],
        tryNumber=record["try_number"],
        kind=profile.get("kind"),
        rows=s["rows"],
        columns=s["columns"],
        schemaFingerprint=s["schema"],
        nullPctMax=s["null_pct_max"],
        nullPctMaxColumn=s["null_pct_max_column"],
        piiColumns=s["pii_columns"],
        batches=int(output.get("batches") or 1),
        truncated=bool(profile.get("truncated")),
        link=s["link"],
    )


@functools.cache
def facet_class() -> type:
    """``DdtrackDatasetFacet``, a subclass of the client's ``DatasetFacet`` (made on first use,
    so that importing this module never imports ``openlineage``)."""
    import attr
    from openlineage.client.facet_v2 import DatasetFacet

    @attr.define
    class DdtrackDatasetFacet(DatasetFacet):
        """ddtrack's profile summary of a dataset written by a tracked Airflow task."""

        outputName: str | None = attr.field(default=None)  # noqa: N815
        dagId: str | None = attr.field(default=None)  # noqa: N815
        taskId: str | None = attr.field(default=None)  # noqa: N815
        runId: str | None = attr.field(default=None)  # noqa: N815
        mapIndex: int | None = attr.field(default=None)  # noqa: N815
        tryNumber: int | None = attr.field(default=None)  # noqa: N815
        kind: str | None = attr.field(default=None)
        rows: int | None = attr.field(default=None)
        columns: int | None = attr.field(default=None)
        schemaFingerprint: str | None = attr.field(default=None)  # noqa: N815
        nullPctMax: float | None = attr.field(default=None)  # noqa: N815
        nullPctMaxColumn: str | None = attr.field(default=None)  # noqa: N815
        piiColumns: int | None = attr.field(default=None)  # noqa: N815
        batches: int | None = attr.field(default=None)
        truncated: bool | None = attr.field(default=None)
        link: str | None = attr.field(default=None)

        @staticmethod
        def _get_schema() -> str:
            return SCHEMA_URL

    return DdtrackDatasetFacet
