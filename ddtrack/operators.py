"""``track(operator, outputs=[...], inputs=[...])``: record what any operator wrote, where it lives.

SQL operators, dbt and the like hold no data in Python: their work is a table in a
warehouse.  Wrapped by :func:`ddtrack.track`, such an operator runs exactly as before; once
its ``execute`` has returned, each declared output (a :class:`ddtrack.Table`, or anything
``ddtrack.engines`` can profile where it lives) is profiled in place and recorded as the
task's output, with the declared inputs as its lineage, the checks and freshness window as
for ``@track``, and the record pushed through XCom as a tracked task's. The SQL it ran
(``sql``) gives the outputs' column lineage (``ddtrack.column_lineage.sql_lineage``).

How it wraps: the operator instance gets a subclass of its own class (same name and module,
so Airflow shows and serialises it as before) whose ``execute`` calls the class's own
``execute`` and then records.  A subclass rather than a patched attribute, because Airflow
runs a copy of the operator with its templates rendered: the method must bind to that copy.
The operator's result is returned untouched, and its exceptions propagate untouched (the
failed try is still recorded).  A profile that fails or times out logs one warning (or
raises under ``[ddtrack] strict``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ddtrack import decorator
from ddtrack.record import cut


def output_name(obj: Any) -> str:
    """The name an output is recorded under: a table's ``schema.name``, else its text."""
    return getattr(obj, "qualified_name", None) or str(obj)


def wrap(operator: Any, options: Any, outputs: Sequence[Any], inputs: Sequence[Any]) -> Any:
    """Make ``operator`` record its run; returns the same operator (its class swapped)."""
    if type(operator).__name__ == "MappedOperator":
        raise TypeError(
            "track(operator) wraps a plain operator; for a mapped one (.partial().expand()) wrap the "
            "operator inside: track(MyOperator.partial(...)) is not supported yet"
        )
    if getattr(operator, "__ddtrack_outputs__", None) is not None:
        return operator
    cls = type(operator)

    def execute(self: Any, context: Any) -> Any:
        recorder = _start(self, options)
        token = decorator._current.set(recorder) if recorder is not None else None
        try:
            result = super(tracked, self).execute(context)
        except BaseException as exc:
            decorator._end(recorder, options, error=exc)
            raise
        finally:
            if token is not None:
                decorator._current.reset(token)
        if recorder is not None:
            _record_outputs(recorder, self, options)
            decorator._close(recorder, None)
        return result

    tracked = type(cls.__name__, (cls,), {"execute": execute, "__module__": cls.__module__,
                                           "__qualname__": cls.__qualname__})
    operator.__class__ = tracked
    operator.__ddtrack_outputs__ = tuple(outputs)
    operator.__ddtrack_inputs__ = tuple(inputs)
    return operator


def _start(operator: Any, options: Any) -> Any:
    """The try's recorder with the operator's inputs and checks declared (None on failure)."""
    sql = getattr(operator, "sql", None)
    source = cut(sql, decorator.SOURCE_LIMIT) if isinstance(sql, str) else None
    name = f"{type(operator).__module__}.{type(operator).__qualname__}"
    recorder = decorator._start(options, source, name)
    if recorder is None:
        return None
    try:
        from ddtrack.engines import uri_of

        for obj in operator.__ddtrack_inputs__:
            uri = obj if isinstance(obj, str) else uri_of(obj)
            recorder.add_input(output_name(obj), uri)
        recorder.add_checks(options.name, decorator._return_value_checks(options))  # the first output's
    except Exception as exc:
        decorator._fail_softly("record the operator's inputs", exc)
    return recorder


def _record_outputs(recorder: Any, operator: Any, options: Any) -> None:
    opts = {"pii": options.pii, "sample": options.sample, "fresh_within_s": options.fresh_within_s}
    for obj in operator.__ddtrack_outputs__:
        name = output_name(obj)
        try:
            recorder.add_output(obj, name, None, None, **opts)
        except Exception as exc:
            recorder.record["warnings"].append(cut(f"output {name!r}: profiling failed: {type(exc).__name__}: {exc}", 500))
            decorator._fail_softly(f"profile output {name!r}", exc)
    _record_sql_lineage(recorder, operator)


def _record_sql_lineage(recorder: Any, operator: Any) -> None:
    """The outputs' column lineage from the SQL the operator ran (its rendered ``sql``),
    parsed by sqlglot (:func:`ddtrack.column_lineage.sql_lineage`); it goes in the record
    with the declared and inferred lineage when the record is pushed."""
    sql = getattr(operator, "sql", None)
    if not sql or not isinstance(sql, (str, list, tuple)):
        return
    try:
        from ddtrack.column_lineage import sql_lineage

        outputs = recorder.record["outputs"]
        columns = {o["name"]: decorator._profile_columns(o.get("profile") or {}) for o in outputs}
        recorder.sql_columns = sql_lineage(sql, columns, recorder.record["inputs"])
    except Exception as exc:
        decorator._fail_softly("parse the operator's SQL for its column lineage", exc)
