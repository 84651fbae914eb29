"""``@track``, ``log_output`` and ``log_input``: what runs inside the user's task.

This code runs on the user's hot path, inside tasks that cannot reach the metastore.
It profiles outputs, gathers lineage and timing, and pushes one bounded JSON record per
try through XCom (key ``ddtrack``). Any failure of its own logs one warning and leaves
the task and its return value untouched, unless ``[ddtrack] strict`` is on.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar, overload

from ddtrack import conf
from ddtrack.checks import Check, CheckFailed, evaluate, failing
from ddtrack.duration import parse_seconds
from ddtrack.record import (
    ERROR_LIMIT,
    SOURCE_LIMIT,
    XCOM_KEY,
    bound_size,
    code_hash,
    cut,
    new_record,
    to_json_safe,
)

if TYPE_CHECKING:  # the profile package loads numpy: only when a task profiles
    from ddtrack.profile.exact import OutputEvidence

log = logging.getLogger("ddtrack")

F = TypeVar("F", bound=Callable[..., Any])

RETURN_VALUE = "return_value"
_FRAME_KINDS = ("pandas", "polars", "pyarrow")


class TrackingError(RuntimeError):
    """Raised for tracking failures in strict mode; a warning otherwise."""


def _fail_softly(what: str, exc: BaseException) -> None:
    """The one place a tracking failure is handled: warn, or raise in strict mode."""
    if conf.strict():
        raise TrackingError(f"ddtrack could not {what}: {type(exc).__name__}: {exc}") from exc
    log.warning(
        "ddtrack could not %s (%s: %s); the task goes on unchanged.", what, type(exc).__name__, exc
    )


# ---------------------------------------------------------------------------
# The record being built for the running try
# ---------------------------------------------------------------------------


class _TryRecorder:
    """Collects one task try's record and pushes it through XCom."""

    def __init__(self, context: Mapping[str, Any], tracked: bool) -> None:
        ti = context["ti"]
        self.ti = ti
        self.context = context
        self.record = new_record(
            dag_id=ti.dag_id,
            run_id=ti.run_id,
            task_id=ti.task_id,
            map_index=int(getattr(ti, "map_index", -1) if getattr(ti, "map_index", None) is not None else -1),
            try_number=int(getattr(ti, "try_number", 1) or 1),
            tracked=tracked,
        )
        self.record["started_at"] = _now_iso()
        self.record["upstream_task_ids"] = sorted(getattr(context.get("task"), "upstream_task_ids", ()) or ())
        self.record["inputs"].extend(_task_inputs(context))
        self._batches: dict[str, _Batches] = {}
        # Checks declared for each output name (on @track or log_output), judged at push.
        self._checks: dict[str, list[Check]] = {}
        # What the data said for checks the profile cannot decide (unique, values_in), per
        # output; None once gathering it broke (its checks then fall back on the profile).
        self._exact: dict[str, OutputEvidence | None] = {}
        # The same for outputs an engine holds (a SQL table): its answers, per output.
        self._engine_evidence: dict[str, dict[Check, Any]] = {}
        # Outputs with a batch profiled where it lives (evidence of memory batches then covers only part).
        self._in_place: set[str] = set()
        # Declared column lineage: log_output's per output, @track's for the others; and
        # what the SQL of a tracked operator said (ddtrack.column_lineage).
        self._declared_columns: dict[str, dict[str, tuple[str, ...]]] = {}
        self.default_columns: dict[str, tuple[str, ...]] = {}
        self.sql_columns: dict[str, dict[str, list[tuple[int, str]]]] = {}
        self._t0 = time.perf_counter()

    @property
    def key(self) -> tuple:
        r = self.record
        return (r["dag_id"], r["run_id"], r["task_id"], r["map_index"], r["try_number"])

    def add_output(
        self, obj: Any, name: str, uri: str | None, tags: Mapping[str, Any] | None,
        fresh_within_s: int | None = None, **opts,
    ) -> None:
        """Profile ``obj`` as output ``name``; a name seen before adds a batch to that output."""
        from ddtrack.profile import profile

        name = cut(name, 250)
        in_place = _profile_in_place(obj, opts)
        if in_place is None:
            profiled = profile(obj, strict=conf.strict(), **self._profiler_asks(name), **opts)
            prof = profiled.to_dict()
            self._note_column_errors(name, prof)
            self._gather_evidence(name, obj, prof, profiled.distinct)
        else:  # data an engine holds (a SQL table, ...): profiled there, checks asked there
            prof, uri = in_place.profile, uri or in_place.uri
            self._note_column_errors(name, prof)
            self._ask_engine(name, in_place)
            self._in_place.add(name)
        output = next((o for o in self.record["outputs"] if o["name"] == name), None)
        if output is None:
            self.record["outputs"].append(
                {
                    "name": name,
                    "uri": cut(uri, 700) if uri else None,
                    "tags": to_json_safe(dict(tags or {})),
                    "profile": prof,
                }
            )
            self._batches[name] = _Batches(prof)
            if fresh_within_s is not None:
                self.record["outputs"][-1]["fresh_within_s"] = fresh_within_s
            return
        self._batches[name].add(prof)
        output["batches"] = self._batches[name].count
        output["uri"] = output["uri"] or (cut(uri, 700) if uri else None)
        output["tags"].update(to_json_safe(dict(tags or {})))
        if fresh_within_s is not None:
            output["fresh_within_s"] = fresh_within_s

    def _ask_engine(self, name: str, in_place: Any) -> None:
        """The output's checks that need values, answered by the engine holding the data
        (``ddtrack.engines``).  A second batch of such an output cannot be compared with the
        first on the engine, and an engine that fails to answer leaves the checks
        undecidable: either way they say why (and an error-severity check fails closed)."""
        from ddtrack.checks import Evidence, Unique, ValuesIn

        asked = [c for c in self._checks.get(name, ()) if isinstance(c, Unique | ValuesIn)]
        if not asked or in_place.evidence is None:
            return
        if name in self._engine_evidence or any(o["name"] == name for o in self.record["outputs"]):
            why = "its batches are profiled where they live and cannot be compared with each other"
            self._engine_evidence[name] = {c: Evidence(problem=why) for c in asked}
            return
        try:
            self._engine_evidence[name] = dict(in_place.evidence(asked))
        except Exception as exc:
            why = cut(f"the engine could not answer it ({type(exc).__name__}: {exc})", 300)
            self._engine_evidence[name] = {c: Evidence(problem=why) for c in asked}
            _fail_softly(f"check output {name!r} on its engine", exc)

    def _profiler_asks(self, name: str) -> dict[str, set[str]]:
        """What the output's checks need from the profiler: the distinct values of string
        columns (``values_in``) and exact distinct counts (``unique``)."""
        from ddtrack.profile.exact import wanted_distinct, wanted_exact

        checks = self._checks.get(name, ())
        return {"keep_distinct": wanted_distinct(checks), "exact_distinct": wanted_exact(checks)}

    def _gather_evidence(
        self, name: str, obj: Any, prof: Mapping[str, Any], distinct: Mapping[str, Any] | None = None
    ) -> None:
        """Read this batch's data for the output's checks that need values, while the task
        holds it.  A failure here drops the output's evidence: its checks are then judged
        on the profile alone, which says "cannot be evaluated" rather than pass wrongly."""
        if name in self._exact and self._exact[name] is None:
            return
        try:
            from ddtrack.profile.exact import OutputEvidence

            # Every batch counts, with checks or not: a check declared on a later batch
            # must know it has not seen the earlier ones.
            gathered = self._exact.setdefault(name, OutputEvidence(conf.check_memory_mb() * 2**20))
            gathered.add(obj, prof, self._checks.get(name, ()), distinct)
        except Exception as exc:
            self._exact[name] = None
            _fail_softly(f"read output {name!r} for its data checks", exc)

    def _note_column_errors(self, name: str, prof: Mapping[str, Any]) -> None:
        """Columns that failed to profile (kind "error") are in the profile; say so once in
        the task's log and the record's warnings too, so the failure is seen, not swallowed."""
        failed = [c for c in prof.get("columns") or [] if c.get("kind") == "error"]
        if not failed:
            return
        first = "; ".join(f"{c['name']!r}: {c.get('error')}" for c in failed[:3])
        more = f" and {len(failed) - 3} more" if len(failed) > 3 else ""
        message = cut(f"output {name!r}: {len(failed)} column(s) could not be profiled: {first}{more}", 1000)
        self.record["warnings"].append(message)
        log.warning("ddtrack: %s", message)

    def add_input(self, name: str | None, uri: str | None, columns: list[str] | None = None) -> None:
        # Lineage keeps an input's name, URI and column names: nothing of the data is read.
        item = {"kind": "uri", "name": cut(name, 250) if name else None, "uri": uri}
        if columns is not None:
            item["columns"] = columns
        self.record["inputs"].append(item)

    def declare_columns(self, name: str, declared: Mapping[str, tuple[str, ...]]) -> None:
        """``log_output(column_lineage=...)`` for output ``name`` (a later batch adds to it)."""
        if declared:
            self._declared_columns.setdefault(cut(name, 250), {}).update(declared)

    def note_arguments(self, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """The columns of the frames the task function was handed from upstream tasks, on
        the inputs they came through (what column lineage infers from)."""
        from ddtrack.column_lineage import argument_columns

        original = _original_task(self.context)
        if original is None:
            return
        found = argument_columns(
            fn, getattr(original, "op_args", None) or (), getattr(original, "op_kwargs", None) or {}, args, kwargs,
            lambda value: list(_iter_references(value)),
        )
        for task_id, key, param, columns in found:
            for item in self.record["inputs"]:
                if item.get("kind") == "task" and (item.get("task_id"), item.get("name")) == (task_id, key):
                    item["columns"], item["param"] = columns, cut(param, 250)

    def _add_column_lineage(self) -> None:
        """Each output's column lineage (declared, from SQL, inferred by name), and a
        warning with the try for each declaration that names nothing."""
        from ddtrack.column_lineage import derive

        outputs = self.record["outputs"]
        columns = {o["name"]: _profile_columns(o.get("profile") or {}) for o in outputs}
        lineage, warnings = derive(columns, self.record["inputs"], self._declared_columns, self.default_columns,
                                   self.sql_columns)
        for output in outputs:
            output["column_lineage"] = lineage.get(output["name"], [])
        for message in warnings:
            self.record["warnings"].append(cut(message, 500))
            log.warning("ddtrack: %s", message)

    def finish(self, error: BaseException | None) -> None:
        r = self.record
        r["ended_at"] = _now_iso()
        r["duration_s"] = round(time.perf_counter() - self._t0, 6)
        r["state"] = "failed" if error is not None else "success"
        if error is not None:
            r["error"] = {"type": type(error).__qualname__, "message": cut(str(error), ERROR_LIMIT)}

    def add_checks(self, default_output: str, checks: Sequence[Check]) -> None:
        """Declare ``checks`` for the output they name, else for ``default_output``."""
        for check in checks:
            declared = self._checks.setdefault(cut(check.output or default_output, 250), [])
            if check not in declared:  # log_output called again for the next batch
                declared.append(check)

    def push(self) -> list[dict[str, Any]]:
        """Push the record (whole profiles, check results); return the checks that fail the
        task, also when the record could not be sent."""
        for output in self.record["outputs"]:
            batches = self._batches.get(output["name"])
            if batches is not None and batches.count > 1:
                output["profile"] = to_json_safe(batches.merged())
        try:
            self._add_column_lineage()
        except Exception as exc:
            _fail_softly("work out the outputs' column lineage", exc)
        failed = self._judge_checks()
        try:
            record = bound_size(self._json_safe(), conf.max_record_bytes())
            self.ti.xcom_push(key=XCOM_KEY, value=record)
        except Exception as exc:
            _fail_softly("send this task's record to Airflow", exc)
        return failed

    def _judge_checks(self) -> list[dict[str, Any]]:
        """Judge the declared checks on the outputs' final profiles and on what the data
        said; results go in the record.  Failed checks and checks of severity "error" that
        could not be evaluated (a bug here included: a gate that cannot look stays closed)
        mark the try failed, and the task fails on them after the push."""
        if not self._checks:
            return []
        try:
            results = self._evaluate()
        except Exception as exc:
            log.warning("ddtrack could not evaluate the data checks (%s: %s)", type(exc).__name__, exc)
            why = cut(f"{type(exc).__name__}: {exc}", 300)
            results = [r for name, checks in self._checks.items() for r in _unevaluated(name, checks, why)]
            for output in self.record["outputs"]:
                output.pop("checks", None)
            self.record["checks"] = results
        for result in results:
            if result["status"] in ("warn", "error"):
                log.warning("ddtrack data check %s: %s", result["status"], result["message"])
        failed = failing(results)
        if failed and self.record["error"] is None:
            error = CheckFailed(failed)
            self.record["state"] = "failed"
            self.record["error"] = {"type": type(error).__qualname__, "message": cut(str(error), ERROR_LIMIT)}
        return failed

    def _evaluate(self) -> list[dict[str, Any]]:
        outputs = {o["name"]: o for o in self.record["outputs"]}
        results, missing = [], []
        for name, checks in self._checks.items():
            output = outputs.get(name)
            if output is None:
                if self.record["error"] is None:  # a failed task may not have reached it
                    missing.extend(_unevaluated(name, checks, f"the task recorded no output {name!r}"))
                continue
            output["checks"] = evaluate(output["profile"], checks, name, self._evidence_of(name, checks))
            results.extend(output["checks"])
        if missing:
            self.record["checks"] = missing
        return results + missing

    def _evidence_of(self, name: str, checks: list[Check]) -> Mapping[Check, Any] | None:
        """What the data said for the output's checks that need values: gathered in memory,
        answered by its engine, or, for batches of both kinds, that they cannot be compared."""
        from ddtrack.checks import Evidence, Unique, ValuesIn

        gathered = self._exact.get(name)
        if name not in self._in_place:
            return gathered.evidence() if gathered is not None else None
        if name in self._exact:
            why = "its batches were read partly in memory and partly where they live, and cannot be compared"
            return {c: Evidence(problem=why) for c in checks if isinstance(c, Unique | ValuesIn)}
        return self._engine_evidence.get(name)

    def _json_safe(self) -> dict[str, Any]:
        """The record with every user-supplied value made JSON-safe.  Profiles are left as
        they are: ``Profile.to_dict`` returns parsed JSON, and merged batches were made safe
        above, so walking them again would only cost time (~1 ms per 20 columns)."""

        def output(o: dict[str, Any]) -> dict[str, Any]:
            return {k: v if k == "profile" else to_json_safe(v) for k, v in o.items()}

        return {k: [output(o) for o in v] if k == "outputs" else to_json_safe(v) for k, v in self.record.items()}


def _profile_columns(profile: Mapping[str, Any]) -> list[str] | None:
    """An output's column names (the schema outlives profiles cut for size), or None."""
    schema = profile.get("schema") or profile.get("columns")
    if not schema:
        return None
    return [str(c.get("name") if isinstance(c, Mapping) else c) for c in schema]


def _profile_in_place(obj: Any, opts: Mapping[str, Any]) -> Any:
    """The engine's profile of ``obj`` (``ddtrack.engines``), or None: profile it in memory."""
    from ddtrack.engines import profile_in_place

    return profile_in_place(obj, pii=opts.get("pii", ()), sample=opts.get("sample", 0), strict=conf.strict())


def _unevaluated(name: str, checks: Sequence[Check], why: str) -> list[dict[str, Any]]:
    """Results of checks that could not be evaluated at all (an output the task never
    recorded, a bug in evaluation): status "error", never a silent pass."""
    return [
        {
            "check": c.name, "output": name, "column": getattr(c, "column", None), "severity": c.severity,
            "status": "error", "value": None, "bound": None,
            "message": f"output {name!r}: {c.name}{_on_column(c)} could not be evaluated: {why}",
        }
        for c in checks
    ]


def _on_column(check: Check) -> str:
    column = getattr(check, "column", None)
    return f" on column {column!r}" if column else ""


def _checks_argument(checks: Any, where: str) -> tuple[Check, ...]:
    """``checks=`` validated where it is written: a list of ``ddtrack.checks`` checks."""
    if checks is None:
        return ()
    if isinstance(checks, (str, bytes, Mapping, Check)) or not isinstance(checks, Iterable):
        raise TypeError(
            f"{where}(checks=...) takes a list of checks made by ddtrack.checks "
            f"(rows_between, null_pct_at_most, unique, values_in, min_max, columns), not {checks!r:.100}"
        )
    items = tuple(checks)
    for item in items:
        if not isinstance(item, Check):
            raise TypeError(
                f"{where}(checks=...): {item!r:.100} is not a check; make checks with ddtrack.checks "
                "(rows_between, null_pct_at_most, unique, values_in, min_max, columns)"
            )
    return items


class _Batches:
    """Profiles of the batches logged under one output name, merged into one for the whole.

    Up to 64 partial profiles are kept; the 65th collapses them into one.  Merging all
    parts at once keeps quantiles to one merge level of error (1/128 of the rank) for up
    to 64 batches, two levels up to 4,096, ...; memory stays bounded and the work linear.
    """

    KEEP = 64

    def __init__(self, first: dict[str, Any]) -> None:
        self.parts = [first]
        self.count = 1

    def add(self, prof: dict[str, Any]) -> None:
        from ddtrack.profile import merge_profiles

        if len(self.parts) >= self.KEEP:
            self.parts = [merge_profiles(self.parts)]
        self.parts.append(prof)
        self.count += 1

    def merged(self) -> dict[str, Any]:
        from ddtrack.profile import merge_profiles

        return merge_profiles(self.parts)


_current: contextvars.ContextVar[_TryRecorder | None] = contextvars.ContextVar("ddtrack_current", default=None)
# Records of untracked tasks that call log_output/log_input, per try (each call re-pushes).
_untracked: dict[tuple, _TryRecorder] = {}


def _now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat()


def _airflow_context() -> Mapping[str, Any] | None:
    """The running task's context, or None outside a running Airflow task."""
    try:
        from airflow.sdk import get_current_context

        return get_current_context()
    except Exception:
        return None


# ---------------------------------------------------------------------------
# Lineage read from the task itself
# ---------------------------------------------------------------------------


def _iter_references(value: Any, depth: int = 0) -> Iterator[tuple[str, str]]:
    """(task_id, xcom key) of every XComArg inside an operator argument."""
    if depth > 5:
        return
    refs = getattr(value, "iter_references", None)
    if callable(refs) and not isinstance(value, type):
        for operator, key in refs():
            yield operator.task_id, key
        return
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _iter_references(v, depth + 1)
    elif isinstance(value, (list, tuple, set)):
        for v in value:
            yield from _iter_references(v, depth + 1)


def _original_task(context: Mapping[str, Any]) -> Any:
    """The operator as the DAG holds it, before templates were rendered (arguments still
    XComArgs), or None."""
    task, dag = context.get("task"), context.get("dag")
    return getattr(dag, "task_dict", {}).get(getattr(task, "task_id", None)) if dag else None


def _task_inputs(context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Upstream task outputs the task's arguments come from, and its Asset inlets/outlets.

    The DAG object holds the operator before templates were rendered, so its arguments
    still are XComArgs that name the upstream task and XCom key they read.
    """
    task = context.get("task")
    dag = context.get("dag")
    inputs: list[dict[str, Any]] = []
    original = getattr(dag, "task_dict", {}).get(getattr(task, "task_id", None)) if dag else None
    seen: set[tuple[str, str]] = set()
    if original is not None:
        for attr in ("op_args", "op_kwargs", "op_kwargs_expand_input", "expand_input", "partial_kwargs"):
            for task_id, key in _iter_references(getattr(original, attr, None)):
                if (task_id, key) not in seen:
                    seen.add((task_id, key))
                    inputs.append({"kind": "task", "task_id": task_id, "name": key, "uri": None})
    for direction, attr in (("input", "inlets"), ("output", "outlets")):
        for asset in getattr(task, attr, None) or []:
            uri = getattr(asset, "uri", None)
            if uri:
                inputs.append({"kind": "asset", "direction": direction, "name": getattr(asset, "name", None), "uri": uri})
    return inputs


# ---------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------


@overload
def track(fn: F) -> F: ...


@overload
def track(
    fn: None = None,
    *,
    name: str = RETURN_VALUE,
    uri: str | None = None,
    tags: Mapping[str, Any] | None = None,
    pii: Iterable[str] = (),
    sample: int = 0,
    checks: Sequence[Check] = (),
    fresh_within: str | int | dt.timedelta | None = None,
    pii_free: bool = False,
    column_lineage: Mapping[str, str | Sequence[str]] | None = None,
) -> Callable[[F], F]: ...


def track(
    fn: Any = None,
    *,
    name: str = RETURN_VALUE,
    uri: str | None = None,
    tags: Mapping[str, Any] | None = None,
    pii: Iterable[str] = (),
    sample: int = 0,
    checks: Sequence[Check] = (),
    fresh_within: str | int | dt.timedelta | None = None,
    pii_free: bool = False,
    outputs: Sequence[Any] = (),
    inputs: Sequence[Any] = (),
    column_lineage: Mapping[str, str | Sequence[str]] | None = None,
) -> Any:
    """Record every run of a task function: its output's profile, lineage, timing and errors.

    Use it under ``@task`` (or on a PythonOperator's ``python_callable``)::

        @task
        @track(tags={"team": "data-eng"}, pii=["name"])
        def load_passengers() -> pd.DataFrame: ...

    ``name``/``uri`` name the return value's output; ``tags`` label the run; columns in
    ``pii`` never have values stored; ``sample=N`` stores the first N rows.

    ``checks`` (made by :mod:`ddtrack.checks`) are judged on the fresh profile of the return
    value, or of the ``log_output`` they name with ``output=``; their results are recorded,
    and a failed check of severity "error" fails the task after its record is pushed.

    ``fresh_within`` ("30m", "12h", "1d", "2w", seconds or a timedelta) is how often a
    successful version of the outputs is expected: past it they show as overdue (default
    ``[ddtrack] default_fresh_within``). ``pii_free=True`` declares that the outputs hold no
    PII even when the inputs do (e.g. aggregates), so PII-derived stops at this task.
    A bad value raises ValueError here, when the DAG is parsed.

    ``column_lineage={"greeting": ["name"]}`` declares which input columns an output column
    comes from (``column`` with one input, else ``input_name.column``), e.g. for a rename;
    it replaces inference by name for those columns (:mod:`ddtrack.column_lineage`). A bad
    type raises TypeError here; a name that matches nothing is a warning recorded with the try.

    Any operator can be tracked too, e.g. a SQL operator whose work is a table::

        track(SQLExecuteQueryOperator(task_id="daily", conn_id="warehouse", sql=...),
              outputs=[Table("mart.daily", conn_id="warehouse")],
              inputs=[Table("raw.orders", conn_id="warehouse")])

    Once its ``execute`` succeeds, each of ``outputs`` is profiled where it lives and
    recorded as the task's output (named ``schema.table``); ``inputs`` (references or URIs)
    are its lineage; checks without ``output=`` are about the first output.  The operator
    does and returns exactly what it did (see :mod:`ddtrack.operators`).
    """
    if _is_operator_or_xcomarg(fn):
        return _track_operator(fn, outputs, inputs, name=name, uri=uri, tags=tags, pii=pii, sample=sample,
                               checks=checks, fresh_within=fresh_within, pii_free=pii_free,
                               column_lineage=column_lineage)
    if outputs or inputs:
        raise TypeError("track(outputs=, inputs=) is for operators; in a task function, record "
                        "tables with log_output(Table(...)) and log_input(...)")
    options = _Options(
        name=name, uri=uri, tags=dict(tags or {}), pii=tuple(pii), sample=int(sample),
        checks=_checks_argument(checks, "track"),
        fresh_within_s=_fresh_within_argument(fresh_within), pii_free=bool(pii_free),
        column_lineage=_column_lineage_argument(column_lineage, "track"),
    )
    if fn is None:
        return lambda f: _decorate(f, options)
    return _decorate(fn, options)


def _track_operator(operator: Any, outputs: Sequence[Any], inputs: Sequence[Any], **kwargs: Any) -> Any:
    """``track(operator, outputs=..., inputs=...)``, checked where the DAG is written."""
    from ddtrack.operators import output_name, wrap

    if type(operator).__name__ == "PlainXComArg" or not hasattr(operator, "task_id"):
        raise TypeError(f"track() wraps an operator or decorates a task function, not {type(operator).__name__}")
    outputs, inputs = list(outputs or ()), list(inputs or ())
    checks = _checks_argument(kwargs["checks"], "track")
    if not outputs and any(c.output is None for c in checks):
        raise TypeError(f"track({operator.task_id!r}): checks without output= need outputs= to be about")
    options = _Options(
        name=output_name(outputs[0]) if outputs else kwargs["name"], uri=kwargs["uri"], tags=dict(kwargs["tags"] or {}),
        pii=tuple(kwargs["pii"]), sample=int(kwargs["sample"]), checks=checks,
        fresh_within_s=_fresh_within_argument(kwargs["fresh_within"]), pii_free=bool(kwargs["pii_free"]),
        column_lineage=_column_lineage_argument(kwargs["column_lineage"], "track"),
    )
    return wrap(operator, options, outputs, inputs)


class _Options:
    __slots__ = ("name", "uri", "tags", "pii", "sample", "checks", "fresh_within_s", "pii_free", "column_lineage")

    def __init__(
        self, *, name: str, uri: str | None, tags: dict, pii: tuple, sample: int, checks: tuple,
        fresh_within_s: int | None, pii_free: bool, column_lineage: dict | None = None,
    ) -> None:
        self.name, self.uri, self.tags, self.pii, self.sample = name, uri, tags, pii, sample
        self.checks, self.fresh_within_s, self.pii_free = checks, fresh_within_s, pii_free
        self.column_lineage = column_lineage or {}


def _column_lineage_argument(value: Any, where: str) -> dict[str, tuple[str, ...]]:
    """``column_lineage=`` checked where it is written (TypeError for a bad type)."""
    from ddtrack.column_lineage import declaration_argument

    return declaration_argument(value, where)


def _fresh_within_argument(value: str | int | dt.timedelta | None) -> int | None:
    """``fresh_within=`` in seconds; a bad value is the caller's mistake, raised at once."""
    return None if value is None else parse_seconds(value, what="fresh_within")


def _decorate(fn: Any, options: _Options) -> Any:
    if _is_task_decorator(fn):
        # @track stacked above @task: track the function inside and keep the task decorator.
        import attr

        return attr.evolve(fn, function=_decorate(fn.function, options))
    if _is_operator_or_xcomarg(fn):  # @track(...) above an operator: track(operator, ...) instead
        raise TypeError(
            "@track(...) decorates a task's Python function, under @task:\n"
            "    @task\n    @track\n    def my_task(): ...\n"
            f"but it was given {type(fn).__name__} {getattr(fn, 'task_id', '')!r}. "
            "Wrap an operator with track(operator, outputs=[...]); for a PythonOperator use "
            "python_callable=track(my_function)."
        )
    if not callable(fn):
        raise TypeError(f"@track decorates functions; got {type(fn).__name__}")
    if getattr(fn, "__ddtrack_tracked__", False):
        return fn
    if inspect.iscoroutinefunction(fn):
        raise TypeError("@track does not support async task functions yet; track a synchronous function.")

    source, function_name = _source_of(fn)

    @functools.wraps(fn)
    def tracked(*args: Any, **kwargs: Any) -> Any:
        recorder = _start(options, source, function_name)
        if recorder is not None:
            _note_arguments(recorder, fn, args, kwargs)
        token = _current.set(recorder) if recorder is not None else None
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            _end(recorder, options, error=exc)
            raise
        finally:
            if token is not None:
                _current.reset(token)
        _end(recorder, options, result=result)
        return _for_airflow(result) if recorder is not None else result

    tracked.__ddtrack_tracked__ = True  # type: ignore[attr-defined]
    return tracked


def _for_airflow(result: Any) -> Any:
    """What a tracked task returns to Airflow: its result, except a query bound to the task's
    process (a Spark DataFrame, a polars LazyFrame, a DuckDB relation), which Airflow cannot
    store as an XCom and would fail the task on: None then (its profile is in the record)."""
    try:
        from ddtrack.engines import bound_to_task

        if not bound_to_task(result):
            return result
    except Exception:  # noqa: BLE001 - when in doubt, hand Airflow the result as it is
        return result
    log.info("ddtrack: the task returned a %s, which cannot be an XCom; it returns None to Airflow "
             "(the output's profile is recorded).", type(result).__name__)
    return None


def _note_arguments(recorder: _TryRecorder, fn: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
    try:
        recorder.note_arguments(fn, args, kwargs)
    except Exception as exc:
        _fail_softly("read the columns of the task's inputs", exc)


def _is_task_decorator(obj: Any) -> bool:
    return hasattr(obj, "function") and hasattr(obj, "operator_class") and callable(obj)


def _is_operator_or_xcomarg(obj: Any) -> bool:
    for module, name in (("airflow.sdk", "BaseOperator"), ("airflow.sdk", "XComArg")):
        try:
            cls = getattr(__import__(module, fromlist=[name]), name)
        except Exception:
            continue
        if isinstance(obj, cls):
            return True
    return type(obj).__name__ in ("MappedOperator", "PlainXComArg")


def _source_of(fn: Callable) -> tuple[str | None, str]:
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', getattr(fn, '__name__', '?'))}"
    try:
        return cut(inspect.getsource(inspect.unwrap(fn)), SOURCE_LIMIT), name
    except (OSError, TypeError):
        return None, name


def _start(options: _Options, source: str | None, function_name: str) -> _TryRecorder | None:
    context = _airflow_context()
    if context is None:
        return None  # called outside a running task (a unit test, a notebook): run untracked
    try:
        recorder = _TryRecorder(context, tracked=True)
        recorder.record["function"] = cut(function_name, 250)
        recorder.record["source"] = source
        recorder.record["code_hash"] = code_hash(source) if source else None
        recorder.record["tags"] = to_json_safe(options.tags)
        if options.pii_free:
            recorder.record["pii_free"] = True
        recorder.default_columns = dict(getattr(options, "column_lineage", None) or {})
        recorder.add_checks(options.name, [c for c in options.checks if c.output is not None])
        return recorder
    except Exception as exc:
        _fail_softly("start recording this task", exc)
        return None


def _end(recorder: _TryRecorder | None, options: _Options, *, result: Any = None, error: BaseException | None = None) -> None:
    """Profile the result, push the record; then fail the task if a data check failed."""
    if recorder is None:
        return
    try:
        if error is None:
            _add_result(recorder, result, options)
    except Exception as exc:
        recorder.record["warnings"].append(cut(f"profiling failed: {type(exc).__name__}: {exc}", 500))
        _fail_softly("profile the task's return value", exc)
    _close(recorder, error)


def _close(recorder: _TryRecorder, error: BaseException | None) -> None:
    """Finish and push the record, publish it; then fail the task if a data check failed."""
    failed: list[dict[str, Any]] = []
    try:
        recorder.finish(error)
        failed = recorder.push()
    except Exception as exc:
        _fail_softly("send this task's record to Airflow", exc)
    _publish(recorder)
    if failed and error is None:
        raise CheckFailed(failed)


def _publish(recorder: _TryRecorder) -> None:
    """The finished record to Airflow's asset events and OpenLineage (``ddtrack.integrations``)."""
    from ddtrack import integrations

    for what, exc in integrations.publish(recorder.context, recorder.record):
        _fail_softly(what, exc)


def _add_result(recorder: _TryRecorder, result: Any, options: _Options) -> None:
    opts = {"pii": options.pii, "sample": options.sample, "fresh_within_s": options.fresh_within_s}
    if options.fresh_within_s is not None:  # log_output calls without a window of their own
        for output in recorder.record["outputs"]:
            output.setdefault("fresh_within_s", options.fresh_within_s)
    # Checks are declared before profiling: if it fails, they report "could not be evaluated".
    if result is None and recorder.record["outputs"]:
        recorder.add_checks(options.name, _return_value_checks(options))
        return  # the task logged its outputs itself and returns nothing
    frames = _frame_values(result)
    if frames:
        # multiple_outputs style {"train": df, "test": df}: one output per frame.
        for key, value in frames.items():
            recorder.add_checks(f"{options.name}.{key}", _return_value_checks(options))
            recorder.add_output(value, f"{options.name}.{key}", None, None, **opts)
        return
    recorder.add_checks(options.name, _return_value_checks(options))
    recorder.add_output(result, options.name, options.uri, None, **opts)


def _return_value_checks(options: _Options) -> list[Check]:
    return [c for c in options.checks if c.output is None]


def _frame_values(result: Any) -> dict[str, Any]:
    if not isinstance(result, Mapping) or not result:
        return {}
    if all(_is_frame(v) for v in result.values()):
        return {str(k): v for k, v in result.items()}
    return {}


def _is_frame(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.split(".")[0] in _FRAME_KINDS and hasattr(obj, "columns")


def _recorder_for_log_call() -> _TryRecorder | None:
    recorder = _current.get()
    if recorder is not None:
        return recorder
    context = _airflow_context()
    if context is None:
        return None
    probe = _TryRecorder(context, tracked=False)
    recorder = _untracked.setdefault(probe.key, probe)
    return recorder


def log_output(
    obj: Any,
    name: str,
    uri: str | None = None,
    tags: Mapping[str, Any] | None = None,
    *,
    pii: Iterable[str] = (),
    sample: int = 0,
    checks: Sequence[Check] = (),
    fresh_within: str | int | dt.timedelta | None = None,
    column_lineage: Mapping[str, str | Sequence[str]] | None = None,
) -> None:
    """Record an extra output of the running task (tracked or not), e.g. a file it wrote.

    Several calls with the same ``name`` are batches of one output: their profiles are
    merged into one for the whole (counts and sums exact, sketches merged) and the
    output records how many batches it had.

    ``checks`` (made by :mod:`ddtrack.checks`) are judged on the output's whole profile when
    the record is pushed (a tracked task's end; at once in an untracked task); a failed
    check of severity "error" then fails the task.

    ``fresh_within`` is how often a successful version of this output is expected, as in
    :func:`track` (a bad value raises ValueError).

    ``column_lineage`` declares where this output's columns come from, as in :func:`track`.
    """
    declared = _checks_argument(checks, "log_output")
    columns_declared = _column_lineage_argument(column_lineage, "log_output")
    fresh_within_s = _fresh_within_argument(fresh_within)
    failed: list[dict[str, Any]] = []
    try:
        recorder = _recorder_for_log_call()
        if recorder is None:
            log.info("ddtrack.log_output(%r) outside a running Airflow task: nothing recorded.", name)
            return
        recorder.add_checks(cut(name, 250), declared)  # first: add_output reads the data these checks need
        recorder.declare_columns(name, columns_declared)
        recorder.add_output(obj, name, uri, tags, pii=tuple(pii), sample=int(sample), fresh_within_s=fresh_within_s)
        failed = _push_if_untracked(recorder)
    except Exception as exc:
        _fail_softly(f"record output {name!r}", exc)
    if failed:
        raise CheckFailed(failed)


def log_input(obj_or_uri: Any, name: str | None = None, uri: str | None = None) -> None:
    """Record an external input of the running task: a URI, or an object read from ``uri``.

    Only the name, URI and, of a frame, its column names are kept (for lineage and column
    lineage); the object itself is not profiled, so this costs nothing inside the task.
    """
    try:
        recorder = _recorder_for_log_call()
        if recorder is None:
            log.info("ddtrack.log_input(%r) outside a running Airflow task: nothing recorded.", name)
            return
        if isinstance(obj_or_uri, str) and uri is None:
            recorder.add_input(name or obj_or_uri, obj_or_uri)
        else:
            from ddtrack.column_lineage import frame_columns

            recorder.add_input(name, uri, frame_columns(obj_or_uri))
        _push_if_untracked(recorder)  # a failed check already failed the log_output that declared it
    except Exception as exc:
        _fail_softly(f"record input {name or obj_or_uri!r}", exc)


def _push_if_untracked(recorder: _TryRecorder) -> list[dict[str, Any]]:
    """An untracked task has no end hook: re-push the whole record after each call.
    Returns the checks that failed (a tracked task's are judged at its end)."""
    if recorder.record["tracked"]:
        return []
    # The task's own outcome is unknown here; ingest takes it from Airflow's task instance.
    recorder.record["ended_at"] = _now_iso()
    return recorder.push()
