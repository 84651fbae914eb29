"""The plain results of the query layer: dataclasses a page, a command or a test can use."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class DagSummary:
    dag_id: str
    last_run_id: str | None = None
    last_state: str | None = None
    last_time: dt.datetime | None = None
    # The last run is one Airflow no longer has (``airflow db clean``): from ddtrack's records.
    last_kept_by_ddtrack: bool = False
    n_outputs: int = 0
    n_tasks: int = 0
    # (run start, total rows of the run's tracked outputs), oldest first.
    rows_by_run: list[tuple[dt.datetime | None, int]] = field(default_factory=list)


@dataclass
class SearchHit:
    kind: str  # "dag", "task", "output", "column", "tag", "uri"
    dag_id: str
    task_id: str | None
    label: str
    detail: str = ""
    # The page a hit opens ("dag", "task", "catalog/output", "catalog/column", "catalog/uri",
    # "tag") and its URL parameters: the views and the CLI link hits the same way.
    page: str = ""
    url_params: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)  # a 5,000-task DAG's graph holds 10,000 nodes and 25,000 edges: half the objects
class GraphNode:
    id: str
    kind: str  # "task", "output", "external", "dag", "hidden" (a count of unreadable DAGs' tasks)
    label: str
    dag_id: str
    task_id: str | None = None
    state: str | None = None
    rows: int | None = None
    tracked: bool = False
    uri: str | None = None
    group: str | None = None  # the innermost task group holding the task (or the output's task)
    hop: int = 0  # across DAGs: how many shared datasets away from the page's DAG


@dataclass(slots=True)
class GraphEdge:
    source: str
    target: str
    kind: str  # "dependency" (serialized DAG), "data" (side tables), "produces", "uri", "cross_dag"


@dataclass
class LineageGraph:
    dag_id: str
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    groups: dict[str, str | None] = field(default_factory=dict)  # task group -> its parent group
    hidden_dags: int = 0  # across DAGs: linked DAGs the caller may not read (only counted)

    def node(self, node_id: str) -> GraphNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass
class DagRunRow:
    run_id: str
    state: str | None
    run_type: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    duration_s: float | None
    tracked_tasks: int = 0
    failed_tasks: int = 0
    # Airflow no longer has this run (``airflow db clean``): its state, times and tries
    # come from ddtrack's own records of its tries.
    kept_by_ddtrack: bool = False


@dataclass
class TaskHistoryRow:
    run_id: str
    map_index: int
    try_number: int
    tries: int
    state: str
    started_at: dt.datetime | None
    duration_s: float | None
    rows: int | None
    null_pct: float | None
    schema_fingerprint: str | None
    schema_changed: bool = False
    error: str | None = None


@dataclass
class ColumnDetail:
    position: int
    name: str
    dtype: str
    kind: str
    count: int | None
    nulls: int | None
    null_pct: float | None
    n_distinct: int | None
    distinct_estimated: bool
    mean: float | None
    std: float | None
    zeros: int | None
    negatives: int | None
    infinities: int | None
    stats: dict[str, Any]


@dataclass
class OutputDetail:
    name: str
    uri: str | None
    kind: str
    type_name: str | None
    rows: int | None
    n_columns: int | None
    memory_bytes: int | None
    schema_fingerprint: str | None
    schema: list | None
    truncated: bool
    detail: dict[str, Any]
    columns: list[ColumnDetail]


@dataclass
class TryRef:
    try_number: int
    state: str


@dataclass
class InstanceDetail:
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    state: str
    tracked: bool
    function: str | None
    code_hash: str | None
    source: str | None
    started_at: dt.datetime | None
    ended_at: dt.datetime | None
    duration_s: float | None
    error_type: str | None
    error_message: str | None
    warnings: list[str]
    tags: dict[str, str]
    output_tags: dict[str, dict[str, str]]
    outputs: list[OutputDetail]
    inputs: list[dict[str, Any]]
    consumers: list[dict[str, Any]]
    tries: list[TryRef]
    map_indexes: list[int]
    previous: PreviousRun | None = None
    # Tasks of DAGs the user may not read that read these outputs: a count, never their names.
    hidden_consumers: int = 0


@dataclass
class ColumnChange:
    name: str
    change: str  # "added", "removed", "type", "same"
    null_pct_before: float | None = None
    null_pct_after: float | None = None
    mean_before: float | None = None
    mean_after: float | None = None
    dtype_before: str | None = None
    dtype_after: str | None = None


@dataclass
class OutputDiff:
    name: str
    rows_before: int | None
    rows_after: int | None
    schema_changed: bool
    columns: list[ColumnChange]


@dataclass
class PreviousRun:
    run_id: str
    try_number: int
    started_at: dt.datetime | None
    diffs: list[OutputDiff]


@dataclass
class MappedPart:
    """One map index of a mapped task, as merged into the whole (its newest try)."""

    map_index: int
    try_number: int
    state: str
    duration_s: float | None
    rows: dict[str, int | None]  # output name -> rows


@dataclass
class MappedWhole:
    """A mapped task's outputs over all its map indexes: one merged profile per output name."""

    dag_id: str
    run_id: str
    task_id: str
    parts: list[MappedPart]
    outputs: list[OutputDetail]
    parts_per_output: dict[str, int]


@dataclass
class RunTask:
    task_id: str
    map_index: int
    try_number: int
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    tracked: bool
    outputs: list[tuple[str, int | None]]


@dataclass
class RunDetail:
    dag_id: str
    run_id: str
    state: str | None
    start: dt.datetime | None
    end: dt.datetime | None
    tasks: list[RunTask]
    kept_by_ddtrack: bool = False  # as DagRunRow's: Airflow forgot the run, ddtrack kept it



@dataclass
class TaskComparison:
    """One task in two runs (a mapped task: its map indexes together), for the aligned waterfalls.

    ``offset_a``/``offset_b`` are seconds from each run's start, so both runs share one time axis."""

    task_id: str
    state_a: str | None
    state_b: str | None
    start_a: dt.datetime | None
    end_a: dt.datetime | None
    start_b: dt.datetime | None
    end_b: dt.datetime | None
    duration_a: float | None
    duration_b: float | None
    change_s: float | None  # duration b - duration a
    offset_a: float | None = None
    offset_b: float | None = None
    code_diff: str | None = None  # unified diff of the function's source when its code hash changed


@dataclass
class ColumnComparison:
    """One column of an output in both runs; ``bins``/``top_values``/``drift`` only for the
    columns shown in detail (the rest of a wide output: statistics only)."""

    name: str
    kind: str
    stats_a: dict[str, Any]
    stats_b: dict[str, Any]
    changes: dict[str, float | None]  # statistic -> b - a
    bins: tuple[list, list[int], list[int]] | None = None  # profile.drift.common_bins
    top_values: list[dict[str, Any]] = field(default_factory=list)  # profile.drift.top_value_shift
    drift: dict[str, Any] | None = None  # profile.drift.column_drift
    change: str = "same"  # "added", "removed", "retyped" or "same"


@dataclass
class OutputComparison:
    task_id: str
    name: str
    rows_a: int | None
    rows_b: int | None
    added: list[str]
    removed: list[str]
    retyped: list[tuple[str, str, str]]  # (column, dtype a, dtype b)
    columns: list[ColumnComparison]
    code_diff: str | None
    mapped: bool = False  # merged wholes of a mapped task's map indexes
    in_a: bool = True  # run a has this output
    in_b: bool = True
    detailed: int = 0  # how many of ``columns`` (the first ones) carry bins, top values and drift


@dataclass
class RunComparison:
    dag_id: str
    run_a: str
    run_b: str
    tasks: list[TaskComparison]
    outputs: list[OutputComparison]
    state_a: str | None = None
    state_b: str | None = None
    start_a: dt.datetime | None = None
    start_b: dt.datetime | None = None


# --- catalog (issue 13)


@dataclass
class DatasetSummary:
    """One output identity (dag, task, output name) across its versions: a catalog row."""

    dag_id: str
    task_id: str
    name: str
    uri: str | None = None
    n_versions: int = 0
    last_seen_at: dt.datetime | None = None
    last_success_at: dt.datetime | None = None
    latest_rows: int | None = None
    latest_fingerprint: str | None = None
    pii_columns: list[str] = field(default_factory=list)
    fresh_within_s: int | None = None
    overdue: bool = False
    stale_reason: str | None = None  # "fares.parquet changed 3 runs ago"
    open_flags: int = 0
    suspect: bool = False
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class ConsumerTask:
    """A task that reads an output: in the same run ("xcom"), or through its URI or Asset."""

    dag_id: str
    task_id: str
    via: str  # "xcom", "uri" or "asset"
    uri: str | None = None
    last_run_id: str | None = None


@dataclass
class OutputCatalogPage:
    """An output's catalog page: its versions (one per run, newest first, a page at a time),
    the columns of its newest version, who writes its URI and who reads it, and its flags.

    ``consumers`` are the outputs of the consuming tasks (``consumer_tasks``: the tasks
    themselves, also those without a tracked output); DAGs the caller may not read are only
    counted (``hidden_producers``, ``hidden_consumers``)."""

    dataset: DatasetSummary
    versions: list[VersionRef]
    n_versions: int
    columns: list[ColumnDetail]
    producers: list[VersionRef]  # newest version of each readable output written to the same URI
    consumers: list[DatasetSummary]
    hidden_consumers: int
    flags: list[FlagInfo]
    consumer_tasks: list[ConsumerTask] = field(default_factory=list)
    hidden_producers: int = 0
    page: int = 0
    page_size: int = 50

    @property
    def pages(self) -> int:
        return max(1, -(-self.n_versions // self.page_size))


@dataclass
class ColumnUse:
    """One output that has a column of a given name, with that column's newest statistics."""

    dataset: DatasetSummary
    column: ColumnDetail | None
    pii: bool = False


@dataclass
class ColumnAcross:
    """Every readable output with a column of this name; unreadable ones only counted."""

    column: str
    outputs: list[ColumnUse]
    hidden: int = 0
    truncated: bool = False


@dataclass
class UriPage:
    """A URI or Asset: the outputs written to it, the tasks that read it, its newest versions."""

    uri: str
    is_asset: bool
    producers: list[DatasetSummary]
    asset_producers: list[ConsumerTask]  # tasks with the Asset as an outlet (via "asset")
    consumers: list[ConsumerTask]
    versions: list[VersionRef]
    hidden_producers: int = 0
    hidden_consumers: int = 0


@dataclass
class TagHit:
    """Something tagged: a task's tag (``@track(tags=)``), an output's (``log_output(tags=)``)
    or an Airflow DAG tag ("k:v" / "k=v"; a plain tag is its own key with value None)."""

    kind: str  # "task", "output" or "dag"
    source: str  # "ddtrack" or "airflow"
    dag_id: str
    task_id: str | None
    output_name: str | None
    key: str
    value: str | None


@dataclass
class StaleInput:
    """An input of a stale version that has newer versions the version did not use."""

    label: str  # "fares.parquet" (a URI's last segment) or "dag.task.output"
    kind: str  # "task", "uri" or "asset"
    newer_versions: int
    uri: str | None = None
    upstream_task_id: str | None = None
    upstream_output: str | None = None


@dataclass
class StaleOutput:
    """The newest version of an output built from an input that has changed since."""

    dag_id: str
    task_id: str
    name: str
    run_id: str
    output_id: int
    started_at: dt.datetime | None
    reason: str  # "fares.parquet changed 3 runs ago"
    inputs: list[StaleInput] = field(default_factory=list)


# --- trace (issue 13)


@dataclass
class VersionRef:
    """One output version: one ``ddtrack_output`` row of the newest try of (dag, run, task, map index).

    Trace, impact, catalog, staleness and flags all name versions this way, so that a run id,
    a start time and a code hash travel with every answer instead of only "the latest"."""

    output_id: int
    dag_id: str
    task_id: str
    run_id: str
    name: str
    started_at: dt.datetime | None = None
    uri: str | None = None
    rows: int | None = None
    schema_fingerprint: str | None = None
    code_hash: str | None = None
    try_number: int | None = None
    state: str | None = None


@dataclass
class TraceNode:
    """A node of a trace, impact or path graph.

    ``id`` is ``"version:<output_id>"``, ``"try:<task_run_id>"``, ``"uri:<uri>"`` or
    ``"hidden:<n>"``; ``kind`` is ``"version"``, ``"try"``, ``"external"`` or ``"hidden"``
    (a node of a DAG the caller may not read: no DAG, task, run or name, only a label).
    Path results are at dataset level: ``"dataset:<dag>/<task>/<name>"`` and ``"task:<dag>/<task>"``
    nodes of kind ``"dataset"`` and ``"task"``."""

    id: str
    kind: str
    label: str
    depth: int
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    started_at: dt.datetime | None = None
    code_hash: str | None = None
    uri: str | None = None
    version: VersionRef | None = None
    pii: bool = False
    suspect: bool = False


@dataclass
class TraceEdge:
    source: str
    target: str  # always in data-flow direction (producer -> consumer)
    kind: str  # "produced" (try -> version), "read" (version/uri -> try)


@dataclass
class TraceResult:
    direction: str  # "upstream", "downstream" or "path"
    root: str  # node id
    nodes: list[TraceNode]
    edges: list[TraceEdge]
    depth: int  # the limit used
    truncated: bool = False  # the depth limit or the node cap cut the walk
    hidden: int = 0  # nodes in DAGs the caller may not read

    def node(self, node_id: str) -> TraceNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)


@dataclass
class FlagInfo:
    """An output version flagged as bad, and its review (``reviewed_at`` None = still open)."""

    id: int
    output_id: int
    dag_id: str
    task_id: str
    run_id: str
    output_name: str
    note: str
    flagged_by: str
    flagged_at: dt.datetime | None
    reviewed_by: str | None = None
    reviewed_at: dt.datetime | None = None
    review_note: str | None = None


@dataclass
class Suspect:
    """A version downstream of an open flag (``hops`` tries away), not yet reviewed under it."""

    version: VersionRef
    flag: FlagInfo
    hops: int
    reviewed: bool = False


@dataclass
class PiiReport:
    """Every readable PII output (a column named in ``pii=``) and every readable output
    derived from one (downstream of it, not through a task that declared ``pii_free``),
    with the PII outputs it derives from (``via``: "dag.task.output"); outputs of DAGs the
    caller may not read are only counted (``hidden``)."""

    pii_outputs: list[DatasetSummary]
    derived: list[tuple[DatasetSummary, list[str]]]
    hidden: int = 0
    # Every readable PII column: declared in ``pii=``, or derived from one along column lineage.
    columns: list[PiiColumn] = field(default_factory=list)


@dataclass
class PiiColumn:
    """A column holding PII: ``pii`` "declared" (named in ``pii=``) or "derived" (it comes,
    along column lineage, from a PII column; ``via`` names those, "dag.task.output.column").
    ``column`` is None for a derived output without columns (not a frame)."""

    dag_id: str
    task_id: str
    output: str
    column: str | None
    pii: str
    via: list[str] = field(default_factory=list)


@dataclass
class ColumnNode:
    """A column of an output version found by a column trace: ``kind`` "column", "external"
    (a column of a URI no tracked task wrote: ``uri``) or "hidden" (in a DAG the caller may
    not read: nothing but the id and ``hops``). ``how``: how the column it was reached from
    derives (declared, sql, inferred)."""

    id: str
    kind: str
    hops: int
    column: str | None = None
    dag_id: str | None = None
    task_id: str | None = None
    run_id: str | None = None
    output: str | None = None
    output_id: int | None = None
    started_at: dt.datetime | None = None
    uri: str | None = None
    how: str | None = None


@dataclass
class ColumnTrace:
    """Where a column of an output version comes from (``direction`` "upstream") or what
    derives from it ("downstream"), across tasks and DAGs: the columns found (the root
    first, then by hops) and the edges between them (source, target, how). ``hidden``
    counts the columns in DAGs the caller may not read."""

    direction: str
    root: str
    columns: list[ColumnNode]
    edges: list[tuple[str, str, str]]
    depth: int
    truncated: bool = False
    hidden: int = 0
