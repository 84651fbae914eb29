"""Any two runs of a DAG side by side: tasks' timing, every tracked output's data, and code.

Answered from what is stored (the profiles), never from the data again.  Run ``a`` is
"before", run ``b`` "after".  Both runs' task instances come from :func:`run_detail`
(Airflow's metastore where configured, else the side tables), each output from the
task's newest try (a mapped task: the merged whole of its map indexes,
:func:`mapped_whole`).  Statistics are compared for every column (cheap); the histograms
on common bins, top-value shifts and drift measures only for the columns shown in detail,
so a 10,000-column output stays bounded.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select

from ddtrack.profile.drift import column_drift, common_bins, top_value_shift
from ddtrack.queries.access import Allowed, may_read, one_dag
from ddtrack.queries.mapped import mapped_whole
from ddtrack.queries.outputs import outputs_of
from ddtrack.queries.runs import run_detail
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.types import (
    ColumnComparison,
    ColumnDetail,
    OutputComparison,
    OutputDetail,
    RunComparison,
    RunDetail,
    RunTask,
    TaskComparison,
)
from ddtrack.store.models import Source, TaskRun
from ddtrack.store.profiles import column_profile

MAX_DETAIL = 6  # columns of an output compared in detail with the page (two runs per chart); others on demand
MAX_DIFF_LINES = 2000  # a code diff longer than this is cut (and says so)
STATS = ("count", "nulls", "null_pct", "distinct", "mean", "std", "min", "max", "p50")
_SEVERITY = ("failed", "upstream_failed", "up_for_retry", "running", "queued", "scheduled")


def compare_runs(
    sources: Sources,
    allowed: Allowed,
    dag_id: str,
    run_a: str,
    run_b: str,
    *,
    detail: int = MAX_DETAIL,
) -> RunComparison | None:
    """Two runs of ``dag_id`` compared; None when either run is unknown or the caller may
    not read the DAG.  The first ``detail`` columns of each output get bins, top values and
    drift (:func:`output_comparison` gives any other columns' on demand)."""
    if not may_read(dag_id, allowed):
        return None
    da = run_detail(sources, dag_id, run_a, allowed=allowed)
    db = run_detail(sources, dag_id, run_b, allowed=allowed)
    if da is None or db is None:
        return None
    tasks = _compare_tasks(da, db)
    outputs_a, outputs_b, code = _read_outputs(sources, allowed, dag_id, run_a, run_b)
    diffs = {t: _code_diff(ha, hb, sa, sb, run_a, run_b) for t, (ha, hb, sa, sb) in code.items()}
    for t in tasks:
        t.code_diff = diffs.get(t.task_id)
    outputs = [
        _compare_output(key, outputs_a.get(key), outputs_b.get(key), diffs.get(key[0]), detail)
        for key in _union(outputs_a, outputs_b)
    ]
    return RunComparison(dag_id, run_a, run_b, tasks, outputs, da.state, db.state, _start(da), _start(db))


def output_comparison(
    sources: Sources,
    allowed: Allowed,
    dag_id: str,
    run_a: str,
    run_b: str,
    task_id: str,
    output: str,
    columns: Sequence[str] = (),
) -> OutputComparison | None:
    """One output of one task in both runs, with the named ``columns`` in detail (the
    compare page's column picker and grid); None when neither run has it for the caller."""
    if not may_read(dag_id, allowed):
        return None
    outputs_a, outputs_b, _ = _read_outputs(sources, allowed, dag_id, run_a, run_b, task_id)
    key = (task_id, output)
    if key not in outputs_a and key not in outputs_b:
        return None
    result = _compare_output(key, outputs_a.get(key), outputs_b.get(key), None, 0)
    wanted = set(columns)
    for c in result.columns:
        if c.name in wanted:
            _add_detail(c, outputs_a.get(key), outputs_b.get(key))
    return result


# -- tasks ---------------------------------------------------------------------------------


def _start(d: RunDetail) -> dt.datetime | None:
    """Where a run's time axis starts: the run's start, or its first task's."""
    starts = [t.start for t in d.tasks if t.start] + ([d.start] if d.start else [])
    return min(starts) if starts else None


def _per_task(d: RunDetail) -> dict[str, list[RunTask]]:
    by_task: dict[str, list[RunTask]] = {}
    for t in d.tasks:
        by_task.setdefault(t.task_id, []).append(t)
    return by_task


def _span(group: list[RunTask] | None, t0: dt.datetime | None) -> tuple[Any, ...]:
    """State, start, end, duration and offset of a task's instances taken together."""
    if not group:
        return None, None, None, None, None
    states = Counter(t.state for t in group)
    state = next((s for s in _SEVERITY if s in states), states.most_common(1)[0][0])
    starts = [t.start for t in group if t.start]
    ends = [t.end for t in group if t.end]
    start, end = (min(starts) if starts else None), (max(ends) if ends else None)
    duration = (end - start).total_seconds() if start and end else None
    offset = (start - t0).total_seconds() if start and t0 else None
    return state, start, end, duration, offset


def _compare_tasks(da: RunDetail, db: RunDetail) -> list[TaskComparison]:
    ta, tb = _per_task(da), _per_task(db)
    t0a, t0b = _start(da), _start(db)
    result = []
    for task_id in _union(ta, tb):
        sa, start_a, end_a, dur_a, off_a = _span(ta.get(task_id), t0a)
        sb, start_b, end_b, dur_b, off_b = _span(tb.get(task_id), t0b)
        change = dur_b - dur_a if dur_a is not None and dur_b is not None else None
        result.append(
            TaskComparison(task_id, sa, sb, start_a, end_a, start_b, end_b, dur_a, dur_b, change, off_a, off_b)
        )
    # in the order they ran ("after" run first, then "before" for tasks only it has)
    inf = float("inf")
    return sorted(result, key=lambda t: (t.offset_b if t.offset_b is not None else inf, t.offset_a or 0.0))


def _union(a: Iterable, b: Iterable) -> list:
    """Keys of both, ``b``'s order first, then those only ``a`` has."""
    return list(dict.fromkeys([*b, *a]))


# -- outputs -------------------------------------------------------------------------------

OutputsByKey = dict[tuple[str, str], tuple[OutputDetail, bool]]


def _read_outputs(
    sources: Sources, allowed: Allowed, dag_id: str, run_a: str, run_b: str, task_id: str | None = None
) -> tuple[OutputsByKey, OutputsByKey, dict[str, tuple[str | None, str | None, str | None, str | None]]]:
    """Each run's outputs by (task, name) from the newest try of each task instance (a mapped
    task's merged whole, marked True), and per task both code hashes and, where they
    differ, both sources."""
    run = TaskRun.__table__
    query = select(run.c.id, run.c.run_id, run.c.task_id, run.c.map_index, run.c.code_hash).where(
        one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id.in_([run_a, run_b])
    )
    if task_id is not None:
        query = query.where(run.c.task_id == task_id)
    with store_conn(sources) as conn:
        newest: dict[tuple[str, str, int], Any] = {}
        for t in conn.execute(query.order_by(run.c.try_number)):
            newest[(t.run_id, t.task_id, t.map_index)] = t  # the last try wins
        single = [t.id for t in newest.values() if t.map_index < 0]
        details = outputs_of(conn, single) if single else {}
        hashes: dict[str, list[str | None]] = {}
        for (run_id, task, _), t in newest.items():
            pair = hashes.setdefault(task, [None, None])
            pair[0 if run_id == run_a else 1] = pair[0 if run_id == run_a else 1] or t.code_hash
            if run_a == run_b:
                pair[1] = pair[0]
        changed = {h for a, b in hashes.values() if a and b and a != b for h in (a, b)}
        texts = {}
        if changed:
            src = Source.__table__
            texts = dict(conn.execute(select(src.c.code_hash, src.c.source).where(src.c.code_hash.in_(changed))).all())
    code = {task: (a, b, texts.get(a), texts.get(b)) for task, (a, b) in hashes.items()}
    by_run: dict[str, OutputsByKey] = {run_a: {}, run_b: {}}
    mapped = set()
    for (run_id, task, map_index), t in newest.items():
        if map_index >= 0:
            mapped.add((run_id, task))
            continue
        for o in details.get(t.id, []):
            by_run[run_id][(task, o.name)] = (o, False)
    for run_id, task in sorted(mapped):
        whole = mapped_whole(sources, dag_id, run_id, task, allowed=allowed)
        for o in whole.outputs if whole else []:
            by_run[run_id].setdefault((task, o.name), (o, True))
    return by_run[run_a], by_run[run_b], code


def _code_diff(
    hash_a: str | None, hash_b: str | None, source_a: str | None, source_b: str | None, run_a: str, run_b: str
) -> str | None:
    """The unified diff of the two sources when the code hash changed (None when it did not,
    or when either run recorded no code)."""
    if not hash_a or not hash_b or hash_a == hash_b:
        return None
    if source_a is None or source_b is None:
        return f"The code changed (sha256 {hash_a[:12]}… → {hash_b[:12]}…); a source was not recorded.\n"
    lines = list(
        difflib.unified_diff(
            source_a.splitlines(keepends=True), source_b.splitlines(keepends=True), fromfile=run_a, tofile=run_b
        )
    )
    cut = lines[:MAX_DIFF_LINES]
    text = "".join(line if line.endswith("\n") else line + "\n" for line in cut)
    if len(lines) > len(cut):
        text += f"… {len(lines) - len(cut):,} more lines of diff\n"
    return text


def _compare_output(
    key: tuple[str, str],
    a: tuple[OutputDetail, bool] | None,
    b: tuple[OutputDetail, bool] | None,
    code_diff: str | None,
    detail: int,
) -> OutputComparison:
    oa, ob = (a[0] if a else None), (b[0] if b else None)
    cols_a = {c.name: c for c in (oa.columns if oa else [])}
    cols_b = {c.name: c for c in (ob.columns if ob else [])}
    both = oa is not None and ob is not None
    added = [n for n in cols_b if n not in cols_a] if both else []
    removed = [n for n in cols_a if n not in cols_b] if both else []
    retyped = [(n, cols_a[n].dtype, c.dtype) for n, c in cols_b.items() if n in cols_a and cols_a[n].dtype != c.dtype]
    flags = {**dict.fromkeys(added, "added"), **dict.fromkeys(removed, "removed"), **{r[0]: "retyped" for r in retyped}}
    columns = []
    for name in _union(cols_a, cols_b):
        ca, cb = cols_a.get(name), cols_b.get(name)
        sa, sb = _stats(ca), _stats(cb)
        kind = (cb or ca).kind  # type: ignore[union-attr]
        columns.append(ColumnComparison(name, kind, sa, sb, _changes(sa, sb), change=flags.get(name, "same")))
    for c in columns[:detail]:
        _add_detail(c, a, b)
    return OutputComparison(
        key[0], key[1], oa.rows if oa else None, ob.rows if ob else None, added, removed, retyped, columns,
        code_diff, bool((a and a[1]) or (b and b[1])), oa is not None, ob is not None, min(detail, len(columns)),
    )


def _add_detail(c: ColumnComparison, a: tuple[OutputDetail, bool] | None, b: tuple[OutputDetail, bool] | None) -> None:
    """Common bins, top-value shift and drift of one column present in both runs."""
    ca = next((x for x in (a[0].columns if a else []) if x.name == c.name), None)
    cb = next((x for x in (b[0].columns if b else []) if x.name == c.name), None)
    if ca is None or cb is None:
        return
    pa, pb = column_profile(ca), column_profile(cb)
    c.bins = common_bins(pa, pb)
    c.top_values = top_value_shift(pa, pb) if c.bins is None else []
    c.drift = column_drift(pa, pb)


def _stats(c: ColumnDetail | None) -> dict[str, Any]:
    if c is None:
        return {}
    q = c.stats.get("quantiles") or {}
    median = next((v for k, v in q.items() if _is_half(k)), None)
    values = (c.count, c.nulls, c.null_pct, c.n_distinct, c.mean, c.std, c.stats.get("min"), c.stats.get("max"), median)
    return {"dtype": c.dtype, **dict(zip(STATS, values, strict=True)), "distinct_estimated": c.distinct_estimated}


def _is_half(key: Any) -> bool:
    try:
        return float(key) == 0.5
    except (TypeError, ValueError):
        return False


def _number(v: Any) -> float | None:
    return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _changes(sa: dict[str, Any], sb: dict[str, Any]) -> dict[str, float | None]:
    """b - a of each numeric statistic (None where either side lacks it)."""
    result: dict[str, float | None] = {}
    for k in STATS:
        va, vb = _number(sa.get(k)), _number(sb.get(k))
        result[k] = vb - va if va is not None and vb is not None else None
    return result
