"""Column lineage of a try: which input columns each output column comes from.

Worked out in the task, where both sides' columns are known: the outputs' profiles name
their columns, and the inputs' columns are read from what the task was handed (a frame
returned by an upstream task, a frame given to ``log_input``) or from the SQL a tracked
operator ran. Three sources, strongest first:

* **declared**: ``@track(column_lineage={"greeting": ["name"]})`` or the same argument on
  ``log_output``. Keys are output columns; values are input columns, ``column`` when the
  task has one input, else ``input_name.column`` (an input is named by the task's parameter
  it arrived through, its upstream task id, its ``log_input`` name, or its URI). A
  declaration replaces inference for its column. A name that matches nothing is a warning
  recorded with the try, never a failure: the type is checked when the DAG is parsed.
* **sql**: the lineage sqlglot finds in the statement of ``track(operator, ...)``.
* **inferred**: an output column whose name is a column of an input derives from it.

The result goes in the record: each output gets ``column_lineage``, a list of
``[output column, input index, input column, how]`` (the index is the input's position in
``record["inputs"]``), and each input whose columns were known gets ``columns``. Pure:
no Airflow, no database.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

Declaration = dict[str, tuple[str, ...]]

MAX_COLUMNS = 10_000  # columns of one input kept in the record (a profile keeps as many)
DECLARED, SQL, INFERRED = "declared", "sql", "inferred"
_FRAME_MODULES = ("pandas", "polars", "pyarrow")


def declaration_argument(value: Any, where: str) -> Declaration:
    """``column_lineage=`` checked where it is written (the DAG's parse): a mapping of output
    column to one input column or a list of them, all strings. Raises TypeError otherwise."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{where}(column_lineage=...) maps output columns to input columns, e.g. "
            f"{{'greeting': ['name']}}, not {value!r:.100}"
        )
    checked: Declaration = {}
    for key, sources in value.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"{where}(column_lineage=...): output column {key!r:.100} is not a column name")
        items = (sources,) if isinstance(sources, str) else sources
        if not isinstance(items, (list, tuple)) or not all(isinstance(s, str) and s for s in items):
            raise TypeError(
                f"{where}(column_lineage=...): {key!r} must map to an input column or a list of them "
                f"('column' or 'input_name.column'), not {sources!r:.100}"
            )
        checked[key] = tuple(items)
    return checked


def frame_columns(obj: Any) -> list[str] | None:
    """The column names of a pandas, polars or pyarrow frame (or lazy frame), else None.
    Reads only the schema: nothing of the data."""
    module = (type(obj).__module__ or "").split(".")[0]
    if module not in _FRAME_MODULES:
        return None
    names = getattr(obj, "column_names", None) if module == "pyarrow" else None
    if names is None:
        names = _lazy_columns(obj) if type(obj).__name__ == "LazyFrame" else getattr(obj, "columns", None)
    if names is None or isinstance(names, str):
        return None
    return [str(n) for n in list(names)[:MAX_COLUMNS]]


def _lazy_columns(obj: Any) -> Any:
    schema = obj.collect_schema() if hasattr(obj, "collect_schema") else None
    return None if schema is None else schema.names()


def argument_columns(
    fn: Callable[..., Any], planned_args: Sequence[Any], planned_kwargs: Mapping[str, Any],
    args: Sequence[Any], kwargs: Mapping[str, Any], references: Callable[[Any], list[tuple[str, str]]],
) -> list[tuple[str, str, str, list[str]]]:
    """``(upstream task id, XCom key, parameter, columns)`` of each frame the task function
    was handed from an upstream task: the operator's arguments as written in the DAG
    (``planned_*``: XComArgs, found by ``references``) bound to the function's parameters,
    next to the values it was called with."""
    try:
        signature = inspect.signature(fn)
        planned = signature.bind_partial(*planned_args, **planned_kwargs).arguments
        actual = signature.bind_partial(*args, **kwargs).arguments
    except (TypeError, ValueError):
        return []
    found = []
    for param, written in planned.items():
        refs = references(written)
        if len(refs) != 1 or param not in actual:
            continue
        columns = frame_columns(actual[param])
        if columns is not None:
            found.append((refs[0][0], refs[0][1], param, columns))
    return found


# -- deriving -------------------------------------------------------------------------------


def _reads(inputs: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indexes of the inputs the task read (an Asset outlet is among the inputs, but written)."""
    return [i for i, item in enumerate(inputs) if item.get("direction", "input") == "input"]


def input_names(item: Mapping[str, Any]) -> list[str]:
    """What a declaration may call an input: the parameter it arrived through, its
    upstream task (and ``task.output`` for a named output), its name, its URI."""
    names = [item.get("param"), item.get("task_id")]
    if item.get("kind") == "task" and item.get("name") not in (None, "return_value"):
        names.append(f"{item.get('task_id')}.{item['name']}")
    if item.get("kind") != "task":
        names += [item.get("name"), item.get("uri")]
    return [n for n in names if n]


def _resolve(ref: str, inputs: Sequence[Mapping[str, Any]], reads: list[int]) -> tuple[int, str] | None:
    """The (input index, column) a declared ``ref`` names, or None."""
    best: tuple[int, str] | None = None
    longest = -1
    for i in reads:
        for name in input_names(inputs[i]):
            if ref.startswith(name + ".") and len(name) > longest:
                column = ref[len(name) + 1 :]
                known = inputs[i].get("columns")
                if known is None or column in known:
                    best, longest = (i, column), len(name)
    if best is not None:
        return best
    if len(reads) == 1:
        known = inputs[reads[0]].get("columns")
        if known is None or ref in known:
            return reads[0], ref
    return None


def derive(
    output_columns: Mapping[str, Sequence[str] | None],
    inputs: Sequence[Mapping[str, Any]],
    declared: Mapping[str, Declaration],
    default: Declaration | None = None,
    sql: Mapping[str, Mapping[str, list[tuple[int, str]]]] | None = None,
) -> tuple[dict[str, list[list[Any]]], list[str]]:
    """The column lineage of each output, and warnings about declarations that name nothing.

    ``output_columns``: each output's columns (None: not a frame). ``declared``: each
    output's own declaration (``log_output``); ``default`` (``@track``'s) applies to every
    output without one. ``sql``: edges found in SQL, ``output -> column -> [(input, column)]``."""
    reads = _reads(inputs)
    by_name: dict[str, list[int]] = {}
    for i in reads:
        for column in inputs[i].get("columns") or ():
            by_name.setdefault(column, []).append(i)
    lineage: dict[str, list[list[Any]]] = {}
    warnings: list[str] = []
    default_unused = set(default or ())
    for output, columns in output_columns.items():
        own = output in declared
        mapping = declared[output] if own else (default or {})
        known = set(columns) if columns is not None else None
        edges: list[list[Any]] = []
        for out_col, refs in mapping.items():
            if known is not None and out_col not in known:
                if own:
                    warnings.append(f"column_lineage of output {output!r}: it has no column {out_col!r}")
                continue
            default_unused.discard(out_col)
            for ref in refs:
                found = _resolve(ref, inputs, reads)
                if found is None:
                    warnings.append(
                        f"column_lineage of output {output!r}, column {out_col!r}: no input column {ref!r} "
                        f"(inputs: {', '.join(_described(inputs, reads)) or 'none'})"
                    )
                else:
                    edges.append([out_col, found[0], found[1], DECLARED])
        declared_here = set(mapping) if known is None else set(mapping) & known
        from_sql = (sql or {}).get(output, {})
        for out_col, sources in from_sql.items():
            if out_col not in declared_here:
                edges += [[out_col, i, col, SQL] for i, col in sources]
        for out_col in columns or ():
            if out_col in declared_here or out_col in from_sql:
                continue
            edges += [[out_col, i, out_col, INFERRED] for i in by_name.get(out_col, ())]
        lineage[output] = edges
    for out_col in sorted(default_unused):
        warnings.append(f"column_lineage of @track: no output has a column {out_col!r}")
    return lineage, list(dict.fromkeys(warnings))


def _described(inputs: Sequence[Mapping[str, Any]], reads: Iterable[int]) -> list[str]:
    return [(input_names(inputs[i]) or ["?"])[0] for i in reads]


def known_inputs(inputs: Sequence[Mapping[str, Any]], lineage: Mapping[str, list[list[Any]]]) -> set[int]:
    """Inputs whose column lineage is complete: their columns were known, or a declaration
    or the SQL names them (what follows them column by column; the others whole)."""
    known = {i for i, item in enumerate(inputs) if isinstance(item, Mapping) and item.get("columns") is not None}
    for edges in lineage.values():
        known |= {e[1] for e in edges if well_formed(e) and e[3] != INFERRED}
    return known


def well_formed(edge: Any) -> bool:
    """Whether ``edge`` (read back from a record, which a task may have written badly) is
    ``[output column, input position, input column, how]``."""
    return isinstance(edge, list) and len(edge) == 4 and isinstance(edge[1], int) and not isinstance(edge[1], bool)


# -- SQL ------------------------------------------------------------------------------------


def sql_lineage(
    sql: str | Sequence[str], output_columns: Mapping[str, Sequence[str] | None], inputs: Sequence[Mapping[str, Any]],
) -> dict[str, dict[str, list[tuple[int, str]]]]:
    """Column lineage of the tables a SQL script writes (``CREATE TABLE ... AS SELECT``,
    ``INSERT INTO ... SELECT``) among ``output_columns`` (named ``schema.table`` or
    ``table``), from the inputs it reads (``inputs`` named the same way), parsed by sqlglot.
    A column sqlglot cannot place (an ambiguous unqualified name in a join, ``COUNT(*)``)
    gets no edge: then inference by name still applies to it."""
    import sqlglot
    from sqlglot import exp

    scripts = [sql] if isinstance(sql, str) else list(sql)
    found: dict[str, dict[str, list[tuple[int, str]]]] = {}
    for script in scripts:
        for statement in sqlglot.parse(script):
            if not isinstance(statement, (exp.Create, exp.Insert)) or not isinstance(statement.expression, exp.Query):
                continue
            target = statement.this if isinstance(statement.this, exp.Table) else statement.this.find(exp.Table)
            output = _table_match(target, output_columns) if target is not None else None
            if output is None:
                continue
            named = [c.name for c in statement.this.expressions] if isinstance(statement.this, exp.Schema) else []
            sources_of = _SelectLineage(statement.expression, inputs)
            for position, select in enumerate(statement.expression.selects):
                column = named[position] if position < len(named) else select.alias_or_name
                sources = sources_of(select.alias_or_name)
                if column and sources:
                    found.setdefault(output, {})[column] = sources
    return found


def _table_match(table: Any, names: Iterable[str]) -> str | None:
    """Which of ``names`` (``schema.table`` or ``table``) is the parsed ``table``."""
    full = ".".join(p for p in (table.db, table.name) if p).lower()
    candidates = [n for n in names if n.lower() == full]
    if not candidates:
        candidates = [n for n in names if n.lower().split(".")[-1] == table.name.lower()]
    return candidates[0] if len(candidates) == 1 else None


class _SelectLineage:
    """(input index, column) of every table column a select column of ``query`` is made of.

    The query is qualified and scoped once, for all its columns: sqlglot's ``lineage`` does
    both (and copies the query) on every call, which made a wide SELECT quadratic."""

    def __init__(self, query: Any, inputs: Sequence[Mapping[str, Any]]) -> None:
        from sqlglot import exp
        from sqlglot.optimizer.qualify import qualify
        from sqlglot.optimizer.scope import build_scope

        self.tables = list(query.find_all(exp.Table))
        self.by_name = {_input_key(item): i for i, item in enumerate(inputs) if item.get("name")}
        try:
            self.query = qualify(query.copy(), validate_qualify_columns=False, identify=False)
            self.scope = build_scope(self.query)
        except Exception:  # noqa: BLE001 - sqlglot cannot follow it: no edges, inference still applies
            self.scope = None

    def __call__(self, column: str) -> list[tuple[int, str]]:
        from sqlglot import exp
        from sqlglot.lineage import lineage

        if not column or self.scope is None:
            return []
        try:
            node = lineage(column, self.query, None, scope=self.scope, trim_selects=False, copy=False)
        except Exception:  # noqa: BLE001 - sqlglot cannot follow it: no edge, inference still applies
            return []
        sources = []
        for leaf in node.walk():
            if leaf.downstream:
                continue
            if isinstance(leaf.source, exp.Table):
                table = leaf.source
            elif isinstance(leaf.source, exp.Placeholder) and len(self.tables) == 1:  # unqualified, one table read
                table = self.tables[0]
            else:  # COUNT(*), a literal, an ambiguous name in a join
                continue
            index = _table_match(table, self.by_name)
            if index is not None:
                sources.append((self.by_name[index], leaf.name.split(".")[-1]))
        return sorted(set(sources))


def _input_key(item: Mapping[str, Any]) -> str:
    return str(item["name"])
