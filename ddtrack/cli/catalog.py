"""Commands about outputs across DAGs: recent, history, inspect, tag, pii, search and stale.

Like every command, they ask the query layer (the same functions as the catalog pages) with
``allowed=None``: the CLI is a trusted operator tool. ``--json`` prints the query layer's
dataclasses as objects with the same keys (times in ISO 8601 with their UTC offset);
without it, a table.
Long answers show a spinner on stderr while they run, never on stdout.
"""

from __future__ import annotations

import click

from ddtrack.cli import main
from ddtrack.cli.common import (
    JSON_HELP,
    TRUSTED,
    configured_sources,
    known_ids,
    no_output,
    print_json,
    print_table,
    require_dag,
    split_tag,
    working,
)
from ddtrack.duration import format_seconds

SEARCH_KINDS = ("dag", "task", "output", "column", "tag", "uri")


def _versions_table(title: str, versions: list) -> None:
    print_table(
        title, ("started", "DAG", "run", "task", "output", "rows", "schema", "state", "code"),
        ((v.started_at, v.dag_id, v.run_id, v.task_id, v.name, v.rows, (v.schema_fingerprint or "")[:12], v.state,
          (v.code_hash or "")[:12]) for v in versions),
        optional=("code", "schema", "started", "state", "rows"),
    )


# -- recent, history, inspect -----------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("n", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def recent(n: int, as_json: bool) -> None:
    """The N newest output versions of every DAG (default 20), newest first."""
    from ddtrack.queries.catalog import recent as recent_versions

    versions = recent_versions(configured_sources(), n, allowed=None)
    if as_json:
        print_json(versions)
    else:
        _versions_table(f"the {n} newest output versions", versions)


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("task")
@click.argument("n", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def history(dag: str, task: str, n: int, as_json: bool) -> None:
    """The N newest versions of TASK's outputs (default 20): one per run and output, newest first."""
    from ddtrack.queries.catalog import history as task_versions

    sources = configured_sources()
    require_dag(sources, dag)
    versions = task_versions(sources, dag, task, n, allowed=None)
    if not versions:
        raise click.ClickException(f"no tracked output of task {task!r} of DAG {dag!r}")
    if as_json:
        print_json(versions)
    else:
        _versions_table(f"{dag}.{task}: the {n} newest versions", versions)


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run")
@click.argument("task")
@click.option("--output", "output", metavar="NAME", help="Only this output of the task.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def inspect(dag: str, run: str, task: str, output: str | None, as_json: bool) -> None:
    """TASK's outputs in RUN: their size, schema and every column's statistics."""
    from ddtrack.queries.catalog import inspect as inspect_outputs

    sources = configured_sources()
    require_dag(sources, dag)
    with known_ids():
        details = inspect_outputs(sources, dag, run, task, allowed=None, output=output)
    if not details:
        raise no_output(sources, dag, run, task, output)
    if as_json:
        print_json(details)
        return
    print_table(
        f"{dag} {run} {task}: outputs", ("output", "kind", "rows", "columns", "schema", "URI"),
        ((d.name, d.kind, d.rows, d.n_columns, (d.schema_fingerprint or "")[:12], d.uri) for d in details),
        optional=("schema", "kind"),
    )
    for d in details:
        print_table(
            f"{d.name}: columns", ("column", "type", "kind", "count", "null %", "distinct", "mean", "std"),
            ((c.name, c.dtype, c.kind, c.count, c.null_pct, c.n_distinct, c.mean, c.std) for c in d.columns),
            optional=("std", "type"),
        )


# -- tag, pii, search ---------------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("tag", metavar="KEY[=VALUE]")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def tag(tag: str, as_json: bool) -> None:
    """Everything tagged KEY (any value) or KEY=VALUE: tags of tasks (@track(tags=...)), of outputs
    (log_output(tags=...)) and Airflow's DAG tags ("k:v" or "k=v"; a plain tag is its own key)."""
    from ddtrack.queries.tags import by_tag

    key, value = split_tag(tag)
    hits = by_tag(configured_sources(), key, value, allowed=None)
    if as_json:
        print_json(hits)
        return
    print_table(f"tagged {tag}", ("kind", "DAG", "task", "output", "key", "value", "from"),
                 ((h.kind, h.dag_id, h.task_id, h.output_name, h.key, h.value, h.source) for h in hits))


@main.command(epilog=TRUSTED)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def pii(as_json: bool) -> None:
    """Every PII output (a column named in pii=) and every output derived from one downstream,
    across DAGs, and every PII column, declared or derived: derivation follows column lineage
    (an output is PII-derived when one of its columns is); a task declared
    @track(pii_free=True) ends the chain."""
    from ddtrack.queries.pii import pii_report

    with working("finding PII outputs and their consumers"):
        report = pii_report(configured_sources(), allowed=None)
    if as_json:
        print_json({
            "pii_outputs": report.pii_outputs,
            "derived": [{"output": out, "via": via} for out, via in report.derived],
            "hidden": report.hidden,
            "columns": report.columns,
        })
        return
    print_table(
        "PII outputs", ("DAG", "task", "output", "PII columns", "versions", "last seen", "URI"),
        ((d.dag_id, d.task_id, d.name, d.pii_columns, d.n_versions, d.last_seen_at, d.uri) for d in report.pii_outputs),
        optional=("versions", "last seen", "URI"),
    )
    print_table(
        "PII-derived outputs", ("DAG", "task", "output", "derived from", "last seen"),
        ((d.dag_id, d.task_id, d.name, via, d.last_seen_at) for d, via in report.derived),
    )
    print_table(
        "PII columns", ("DAG", "task", "output", "column", "PII", "derived from"),
        ((c.dag_id, c.task_id, c.output, c.column, c.pii, c.via) for c in report.columns),
    )


@main.command(epilog=TRUSTED)
@click.argument("text")
@click.option("--kind", "kinds", type=click.Choice(SEARCH_KINDS), multiple=True,
              help="Only hits of this kind (repeat for several).")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True, help="At most this many hits.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def search(text: str, kinds: tuple[str, ...], limit: int, as_json: bool) -> None:
    """DAGs, tasks, outputs, columns, tags and URIs whose name holds TEXT, best match first."""
    from ddtrack.queries.search import search as find

    if len(text.strip()) < 2:
        raise click.BadParameter("give at least two characters", param_hint="TEXT")
    hits = find(configured_sources(), text, None, limit=limit, kinds=list(kinds) or None)
    if as_json:
        print_json(hits)
        return
    print_table(f"search {text!r}", ("kind", "name", "DAG", "task", "detail"),
                 ((h.kind, h.label, h.dag_id, h.task_id, h.detail) for h in hits))


# -- stale --------------------------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.option("--dag", help="Only this DAG's outputs.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def stale(dag: str | None, as_json: bool) -> None:
    """Stale outputs (an input has a newer version they did not use, with the reason) and
    overdue ones (no successful version within their fresh_within window)."""
    from ddtrack.queries.freshness import overdue_outputs, stale_outputs

    sources = configured_sources()
    if dag is not None:
        require_dag(sources, dag)
    with working("finding stale and overdue outputs"):
        stale_rows = stale_outputs(sources, allowed=None, dag_id=dag)
        overdue = overdue_outputs(sources, allowed=None, dag_id=dag)
    if as_json:
        print_json({"stale": stale_rows, "overdue": overdue})
        return
    print_table("stale outputs", ("DAG", "task", "output", "run", "started", "why"),
                 ((s.dag_id, s.task_id, s.name, s.run_id, s.started_at, s.reason) for s in stale_rows),
                optional=("started", "run"))
    print_table(
        "overdue outputs", ("DAG", "task", "output", "expected within", "last success"),
        ((d.dag_id, d.task_id, d.name, format_seconds(d.fresh_within_s), d.last_success_at)
         for d in overdue),
    )
