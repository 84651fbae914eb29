"""The query layer: every question a page or a command asks, answered with plain data.

Views and the CLI get data only through this package. One module per question family
(``home``, ``search``, ``lineage``, ``runs``, ``tasks``, ``instances``, ``mapped``, ``compare``,
``trends``, ``alerts``, ``baseline``; ``queries.alerts.alerts`` is not re-exported: the name is the module); the
result types live in :mod:`~ddtrack.queries.types`, the pure graph algorithms in
:mod:`~ddtrack.queries.graph`, and the one rule of authorization in
:mod:`~ddtrack.queries.access`. Nothing here knows of Dash. Every query is bounded and
reads an index: ``benchmarks/views_speed.py`` prints their plans.

Every query that can return a DAG's id, or a task id, run id or output name of a DAG,
takes the caller's readable DAGs as ``allowed`` and filters in SQL through
:mod:`~ddtrack.queries.access`; a query that can return a DAG's name and does not take
``allowed`` is a bug. A write takes the DAGs the caller may edit (``editable``) instead.
A configured metastore that does not answer raises
:class:`~ddtrack.queries.sources.MetastoreUnavailable` instead of an empty result.
"""

from ddtrack.queries.alerts import alert_counts, attention, checks_of, instance_alerts
from ddtrack.queries.baseline import pin_baseline, pins_of, unpin_baseline
from ddtrack.queries.catalog import catalog_column, catalog_output, catalog_uri, history, inspect, recent
from ddtrack.queries.column_lineage import UnknownColumn, column_neighbours, columns_of_version, trace_column
from ddtrack.queries.compare import compare_runs, output_comparison
from ddtrack.queries.flags import flag_version, flags_of, open_flags, review_version, suspects
from ddtrack.queries.freshness import freshness_counts, overdue_outputs, stale_outputs
from ddtrack.queries.graph import layers, neighbours
from ddtrack.queries.home import tracked_dags
from ddtrack.queries.instances import diff_outputs, task_instance
from ddtrack.queries.lineage import dag_exists, lineage_graph, linked_dags, output_node_id, task_node_id
from ddtrack.queries.mapped import mapped_whole
from ddtrack.queries.path import path
from ddtrack.queries.pii import pii_report
from ddtrack.queries.runs import dag_runs, run_detail
from ddtrack.queries.search import search
from ddtrack.queries.sources import (
    DEFAULT_HISTORY,
    MAX_HISTORY,
    MetastoreUnavailable,
    Sources,
    default_sources,
)
from ddtrack.queries.tags import by_tag
from ddtrack.queries.tasks import task_history
from ddtrack.queries.trace import UnknownNode, impact, trace
from ddtrack.queries.trends import (
    ColumnTrend,
    DriftHeatmap,
    TrendPoint,
    column_trend,
    drift_heatmap,
    run_drift,
    trend_choices,
)
from ddtrack.queries.types import (
    ColumnAcross,
    ColumnChange,
    ColumnComparison,
    ColumnDetail,
    ColumnNode,
    ColumnTrace,
    ColumnUse,
    ConsumerTask,
    DagRunRow,
    DagSummary,
    DatasetSummary,
    FlagInfo,
    GraphEdge,
    GraphNode,
    InstanceDetail,
    LineageGraph,
    MappedPart,
    MappedWhole,
    OutputCatalogPage,
    OutputComparison,
    OutputDetail,
    OutputDiff,
    PiiColumn,
    PiiReport,
    PreviousRun,
    RunComparison,
    RunDetail,
    RunTask,
    SearchHit,
    StaleInput,
    StaleOutput,
    Suspect,
    TagHit,
    TaskComparison,
    TaskHistoryRow,
    TraceEdge,
    TraceNode,
    TraceResult,
    TryRef,
    UriPage,
    VersionRef,
)
from ddtrack.queries.versions import InputUse, UnknownVersion, find_version, resolve_inputs, version_of

__all__ = [
    "ColumnChange",
    "ColumnComparison",
    "ColumnDetail",
    "ColumnTrend",
    "DEFAULT_HISTORY",
    "DagRunRow",
    "DagSummary",
    "DriftHeatmap",
    "GraphEdge",
    "GraphNode",
    "InstanceDetail",
    "LineageGraph",
    "MAX_HISTORY",
    "MappedPart",
    "MappedWhole",
    "MetastoreUnavailable",
    "OutputComparison",
    "OutputDetail",
    "OutputDiff",
    "PreviousRun",
    "RunComparison",
    "RunDetail",
    "RunTask",
    "SearchHit",
    "Sources",
    "TaskComparison",
    "TaskHistoryRow",
    "TrendPoint",
    "TryRef",
    "alert_counts",
    "attention",
    "checks_of",
    "column_trend",
    "compare_runs",
    "dag_exists",
    "dag_runs",
    "default_sources",
    "diff_outputs",
    "drift_heatmap",
    "instance_alerts",
    "layers",
    "lineage_graph",
    "linked_dags",
    "mapped_whole",
    "neighbours",
    "output_comparison",
    "output_node_id",
    "pin_baseline",
    "pins_of",
    "run_detail",
    "run_drift",
    "search",
    "task_history",
    "task_instance",
    "task_node_id",
    "tracked_dags",
    "trend_choices",
    "unpin_baseline",
]

# catalog
__all__ += [
    "ColumnAcross",
    "ColumnUse",
    "ConsumerTask",
    "DatasetSummary",
    "OutputCatalogPage",
    "StaleInput",
    "StaleOutput",
    "TagHit",
    "UriPage",
    "by_tag",
    "catalog_column",
    "catalog_output",
    "catalog_uri",
    "freshness_counts",
    "history",
    "inspect",
    "overdue_outputs",
    "recent",
    "stale_outputs",
]

# trace
__all__ += [
    "FlagInfo",
    "InputUse",
    "PiiReport",
    "Suspect",
    "TraceEdge",
    "TraceNode",
    "TraceResult",
    "UnknownNode",
    "UnknownVersion",
    "VersionRef",
    "find_version",
    "flag_version",
    "flags_of",
    "impact",
    "open_flags",
    "path",
    "pii_report",
    "resolve_inputs",
    "review_version",
    "suspects",
    "trace",
    "version_of",
]

# column lineage
__all__ += [
    "ColumnNode",
    "ColumnTrace",
    "PiiColumn",
    "UnknownColumn",
    "column_neighbours",
    "columns_of_version",
    "trace_column",
]
