"""Commands that walk lineage across DAGs: trace (upstream), impact (downstream) and path.

They return exact versions (run ids, start times, code hashes), through shared URIs and
Assets, with the same query layer as the trace page (``allowed=None``: a trusted tool).
``--json`` prints the query layer's TraceResult: ``direction``, ``root``, ``nodes``,
``edges``, ``depth``, ``truncated``, ``hidden``. With ``--column COL``, trace and impact
follow one column instead (:mod:`ddtrack.queries.column_lineage`), and ``--json`` prints
``direction``, ``root`` and ``columns`` (each with ``dag_id``, ``task_id``, ``output``,
``column``, ``hops``), ``edges``, ``depth``, ``truncated``, ``hidden``.
"""

from __future__ import annotations

from typing import Any

import click

from ddtrack.cli import main
from ddtrack.cli.common import (
    JSON_HELP,
    TRUSTED,
    configured_sources,
    find_version_or_exit,
    known_ids,
    print_json,
    print_table,
    split_tag,
    working,
)

DEPTH = click.IntRange(1, 50)


def _node_name(node: Any) -> str:
    if node.kind == "version" and node.version is not None:
        return node.version.name
    if node.kind == "external":
        return node.uri or node.label
    return node.label


def print_graph(title: str, result: Any) -> None:
    """Versions and external inputs by hops from the root (a try is its version's run, task and
    code: the JSON has the tries too), then a line about what the walk left out."""
    shown = [n for n in result.nodes if n.kind != "try"]
    nodes = sorted(shown, key=lambda n: (n.depth, n.kind != "version", n.dag_id or "", n.task_id or ""))
    print_table(
        title, ("hops", "kind", "DAG", "run", "task", "output / URI", "started", "code", "PII", "suspect"),
        ((n.depth, n.kind, n.dag_id, n.run_id, n.task_id, _node_name(n), n.started_at, (n.code_hash or "")[:12],
          n.pii, n.suspect) for n in nodes),
        optional=("code", "started", "suspect", "PII", "kind", "hops"),
    )
    notes = []
    if result.hidden:
        notes.append(f"{result.hidden} node(s) in DAGs you cannot read")
    if result.truncated:
        notes.append(f"cut at {result.depth} hops or the node cap: raise --depth to see further")
    if notes:
        click.echo("; ".join(notes))


def _one_output(positional: str | None, option: str | None) -> str | None:
    if positional is not None and option is not None and positional != option:
        raise click.UsageError(f"two outputs given: {positional!r} and --output {option!r}")
    return option or positional


def column_answer(result: Any) -> dict[str, Any]:
    """A column trace as ``--json`` prints it: the root column, then every column found
    (each with dag_id, task_id, output, column and hops), the edges and what was cut."""
    root = next(c for c in result.columns if c.id == result.root)

    def plain(c: Any) -> dict[str, Any]:
        return {"dag_id": c.dag_id, "task_id": c.task_id, "output": c.output, "column": c.column, "hops": c.hops,
                "kind": c.kind, "run_id": c.run_id, "output_id": c.output_id, "started_at": c.started_at,
                "uri": c.uri, "how": c.how}

    return {
        "direction": result.direction, "root": plain(root),
        "columns": [plain(c) for c in result.columns if c.id != result.root and c.kind != "hidden"],
        "edges": [{"source": s, "target": t, "how": how} for s, t, how in result.edges],
        "depth": result.depth, "truncated": result.truncated, "hidden": result.hidden,
    }


def _column_walk(sources: Any, version: Any, column: str, *, upstream: bool, depth: int, as_json: bool) -> None:
    """``trace``/``impact`` with ``--column``: columns instead of output versions."""
    from ddtrack.queries.column_lineage import UnknownColumn, trace_column

    where = f"{version.dag_id}.{version.task_id}.{version.name}.{column} in {version.run_id}"
    with working(f"following {where} {'upstream' if upstream else 'downstream'}"):
        try:
            result = trace_column(sources, version.output_id, column, allowed=None, upstream=upstream, depth=depth)
        except UnknownColumn:
            raise click.ClickException(
                f"unknown column {column!r}: output {version.dag_id}.{version.task_id}.{version.name} has no such column"
            ) from None
    answer = column_answer(result)
    if as_json:
        print_json(answer)
        return
    print_table(
        f"{'upstream' if upstream else 'downstream'} of {where}", ("hops", "DAG", "run", "task", "output / URI", "column", "how"),
        ((c["hops"], c["dag_id"], c["run_id"], c["task_id"], c["output"] or c["uri"], c["column"], c["how"])
         for c in answer["columns"]),
        optional=("how", "hops"),
    )
    notes = [f"{result.hidden} column(s) in DAGs you cannot read"] if result.hidden else []
    if result.truncated:
        notes.append(f"cut at {depth} hops or the node cap: raise --depth to see further")
    if notes:
        click.echo("; ".join(notes))


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run")
@click.argument("task")
@click.argument("output", required=False)
@click.option("--output", "output_option", metavar="NAME", help="The output (the same as OUTPUT).")
@click.option("--column", metavar="COL", help="Follow this column of the output: the columns it comes from.")
@click.option("--depth", type=DEPTH, default=10, show_default=True, help="At most this many hops upstream.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def trace(dag: str, run: str, task: str, output: str | None, output_option: str | None, column: str | None,
          depth: int, as_json: bool) -> None:
    """Where an output version came from: the tries, code, inputs and external URIs that made it,
    across DAGs through shared URIs and Assets (OUTPUT: default return_value, else the task's first output
    by name). With --column, the columns it comes from instead, across tasks and DAGs."""
    from ddtrack.queries.trace import trace as walk

    sources = configured_sources()
    version = find_version_or_exit(sources, dag, run, task, _one_output(output, output_option))
    if column is not None:
        _column_walk(sources, version, column, upstream=True, depth=depth, as_json=as_json)
        return
    with working(f"tracing {dag}.{task}.{version.name} upstream"):
        result = walk(sources, version.output_id, allowed=None, depth=depth)
    if as_json:
        print_json(result)
    else:
        print_graph(f"upstream of {dag}.{task}.{version.name} in {run}", result)


@main.command(epilog=TRUSTED)
@click.argument("dag", required=False)
@click.argument("run", required=False)
@click.argument("task", required=False)
@click.argument("output", required=False)
@click.option("--output", "output_option", metavar="NAME", help="The output (the same as OUTPUT).")
@click.option("--column", metavar="COL", help="Follow this column of the output: the columns derived from it.")
@click.option("--uri", help="Start from this URI (an external input, or any output's URI) instead.")
@click.option("--tag", "tag", metavar="KEY[=VALUE]", help="Start from every output with this tag instead.")
@click.option("--depth", type=DEPTH, default=10, show_default=True, help="At most this many hops downstream.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def impact(dag: str | None, run: str | None, task: str | None, output: str | None, output_option: str | None,
           column: str | None, uri: str | None, tag: str | None, depth: int, as_json: bool) -> None:
    """Everything that consumed an output version (DAG RUN TASK [OUTPUT]), a URI (--uri) or the
    outputs with a tag (--tag), across DAGs, with the exact versions. With --column, the columns
    derived from that column of the output instead."""
    from ddtrack.queries.trace import impact as walk

    output = _one_output(output, output_option)
    given = [dag is not None, uri is not None, tag is not None]
    if sum(given) != 1:
        raise click.UsageError("give DAG RUN TASK [OUTPUT], or --uri URI, or --tag KEY[=VALUE] (one of them)")
    if dag is not None and task is None:
        raise click.UsageError("give DAG RUN TASK [OUTPUT]: RUN and TASK are missing" if run is None
                               else "give DAG RUN TASK [OUTPUT]: TASK is missing")
    if column is not None and dag is None:
        raise click.UsageError("--column follows a column of an output: give DAG RUN TASK [OUTPUT]")
    sources = configured_sources()
    if column is not None:
        version = find_version_or_exit(sources, dag, run, task, output)
        _column_walk(sources, version, column, upstream=False, depth=depth, as_json=as_json)
        return
    if tag is not None:
        split_tag(tag)
        start, what = {"tag": tag}, f"outputs tagged {tag}"
    elif uri is not None:
        start, what = {"uri": uri}, uri
    else:
        version = find_version_or_exit(sources, dag, run, task, output)
        start, what = {"output_id": version.output_id}, f"{dag}.{task}.{version.name} in {run}"
    with working(f"finding what consumed {what}"), known_ids():
        result = walk(sources, allowed=None, depth=depth, **start)
    if uri is not None and len(result.nodes) <= 1:
        raise click.ClickException(f"unknown URI {uri!r}: no output, input or Asset of any tracked task has it")
    if tag is not None and not result.nodes:
        raise click.ClickException(f"no output is tagged {tag!r}")
    if as_json:
        print_json(result)
    else:
        print_graph(f"downstream of {what}", result)


@main.command(epilog=TRUSTED)
@click.argument("source", metavar="FROM")
@click.argument("target", metavar="TO")
@click.option("--depth", type=click.IntRange(1, 50), default=20, show_default=True, help="At most this many hops.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def path(source: str, target: str, depth: int, as_json: bool) -> None:
    """What lies between FROM and TO at output level: the shortest chain downstream from FROM
    (or from TO, when FROM is downstream of it). Each is a task (dag.task), an output
    (dag.task.output), a column (output.column or dag.task.output.column, e.g. passengers.age)
    or a URI."""
    from ddtrack.queries.path import path as between

    with working(f"finding a path from {source} to {target}"), known_ids():
        result = between(configured_sources(), source, target, allowed=None, max_depth=depth)
    if result is None:
        raise click.ClickException(f"no path from {source!r} to {target!r} within {depth} hops")
    if as_json:
        print_json(result)
        return
    nodes = sorted(result.nodes, key=lambda n: n.depth)
    print_table(f"from {source} to {target}", ("hops", "kind", "DAG", "task", "name"),
                 ((n.depth, n.kind, n.dag_id, n.task_id, n.label) for n in nodes))
