"""Commands about outputs across DAGs: recent, history, inspect, tag, pii, search and stale.

Like every command, they ask the query layer (the same functions as the catalog pages) with
``allowed=None``: the CLI is a trusted operator tool. ``--json`` prints the query layer's
dataclasses as objects with the same keys (times in ISO 8601 with their UTC offset);
without it, a table.
Long answers show a spinner on stderr while they run, never on stdout.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from ddtrack.cli import main
from ddtrack.cli.across_runs import TRUSTED, _print_json, _print_table, _require_dag, _require_run, _sources
from ddtrack.duration import format_seconds

JSON_HELP = "Print JSON (the keys are listed in the README's CLI section) instead of a table."
SEARCH_KINDS = ("dag", "task", "output", "column", "tag", "uri")


def plain(value: Any) -> Any:
    """A query result as JSON-ready data: dataclasses become objects with their field names."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):  # stored times are UTC: say so
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
    return value


def print_json(value: Any) -> None:
    _print_json(plain(value))


@contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner on stderr while a long query runs (nothing when stderr is not a terminal)."""
    from rich.console import Console

    with Console(stderr=True).status(what, spinner="dots"):
        yield


@contextmanager
def known_ids() -> Iterator[None]:
    """The query layer's "unknown id" errors (and refused edits) as one line and exit code 1."""
    try:
        yield
    except (KeyError, IndexError):
        raise
    except (LookupError, PermissionError) as exc:
        raise click.ClickException(str(exc)) from None


def no_output(sources: Any, dag: str, run: str, task: str, output: str | None) -> click.ClickException:
    """The error when TASK of RUN has no (such) tracked output; exits first naming an unknown run."""
    _require_run(sources, dag, run)
    named = f"output {output!r} of task" if output else "tracked output of task"
    return click.ClickException(f"no {named} {task!r} in run {run!r} of DAG {dag!r}")


def _versions_table(title: str, versions: list) -> None:
    _print_table(
        title, ("started", "DAG", "run", "task", "output", "rows", "schema", "state", "code"),
        ((v.started_at, v.dag_id, v.run_id, v.task_id, v.name, v.rows, (v.schema_fingerprint or "")[:12], v.state,
          (v.code_hash or "")[:12]) for v in versions),
    )


# -- recent, history, inspect -----------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("n", type=click.IntRange(1, 1000), default=20)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def recent(n: int, as_json: bool) -> None:
    """The N newest output versions of every DAG (default 20), newest first."""
    from ddtrack.queries.catalog import recent as recent_versions

    versions = recent_versions(_sources(), n, allowed=None)
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

    sources = _sources()
    _require_dag(sources, dag)
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

    sources = _sources()
    _require_dag(sources, dag)
    with known_ids():
        details = inspect_outputs(sources, dag, run, task, allowed=None, output=output)
    if not details:
        raise no_output(sources, dag, run, task, output)
    if as_json:
        print_json(details)
        return
    _print_table(
        f"{dag} {run} {task}: outputs", ("output", "kind", "rows", "columns", "schema", "URI"),
        ((d.name, d.kind, d.rows, d.n_columns, (d.schema_fingerprint or "")[:12], d.uri) for d in details),
    )
    for d in details:
        _print_table(
            f"{d.name}: columns", ("column", "type", "kind", "count", "null %", "distinct", "mean", "std"),
            ((c.name, c.dtype, c.kind, c.count, c.null_pct, c.n_distinct, c.mean, c.std) for c in d.columns),
        )


# -- tag, pii, search ---------------------------------------------------------------------------


def split_tag(tag: str) -> tuple[str, str | None]:
    """``KEY`` or ``KEY=VALUE`` (a usage error when the key is empty)."""
    key, sep, value = tag.partition("=")
    if not key.strip():
        raise click.BadParameter(f"{tag!r} has no key: use KEY or KEY=VALUE", param_hint="TAG")
    return key.strip(), (value.strip() if sep else None)


@main.command(epilog=TRUSTED)
@click.argument("tag", metavar="KEY[=VALUE]")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def tag(tag: str, as_json: bool) -> None:
    """Everything tagged KEY (any value) or KEY=VALUE: tags of tasks (@track(tags=...)), of outputs
    (log_output(tags=...)) and Airflow's DAG tags ("k:v" or "k=v"; a plain tag is its own key)."""
    from ddtrack.queries.tags import by_tag

    key, value = split_tag(tag)
    hits = by_tag(_sources(), key, value, allowed=None)
    if as_json:
        print_json(hits)
        return
    _print_table(f"tagged {tag}", ("kind", "DAG", "task", "output", "key", "value", "from"),
                 ((h.kind, h.dag_id, h.task_id, h.output_name, h.key, h.value, h.source) for h in hits))


@main.command(epilog=TRUSTED)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def pii(as_json: bool) -> None:
    """Every PII output (a column named in pii=) and every output derived from one downstream,
    across DAGs; a task declared @track(pii_free=True) ends the chain."""
    from ddtrack.queries.pii import pii_report

    with working("finding PII outputs and their consumers"):
        report = pii_report(_sources(), allowed=None)
    if as_json:
        print_json({
            "pii_outputs": report.pii_outputs,
            "derived": [{"output": out, "via": via} for out, via in report.derived],
            "hidden": report.hidden,
        })
        return
    _print_table(
        "PII outputs", ("DAG", "task", "output", "PII columns", "versions", "last seen", "URI"),
        ((d.dag_id, d.task_id, d.name, d.pii_columns, d.n_versions, d.last_seen_at, d.uri) for d in report.pii_outputs),
    )
    _print_table(
        "PII-derived outputs", ("DAG", "task", "output", "derived from", "last seen"),
        ((d.dag_id, d.task_id, d.name, via, d.last_seen_at) for d, via in report.derived),
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
    hits = find(_sources(), text, None, limit=limit, kinds=list(kinds) or None)
    if as_json:
        print_json(hits)
        return
    _print_table(f"search {text!r}", ("kind", "name", "DAG", "task", "detail"),
                 ((h.kind, h.label, h.dag_id, h.task_id, h.detail) for h in hits))


# -- stale --------------------------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.option("--dag", help="Only this DAG's outputs.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def stale(dag: str | None, as_json: bool) -> None:
    """Stale outputs (an input has a newer version they did not use, with the reason) and
    overdue ones (no successful version within their fresh_within window)."""
    from ddtrack.queries.freshness import overdue_outputs, stale_outputs

    sources = _sources()
    if dag is not None:
        _require_dag(sources, dag)
    with working("finding stale and overdue outputs"):
        stale_rows = stale_outputs(sources, allowed=None, dag_id=dag)
        overdue = overdue_outputs(sources, allowed=None, dag_id=dag)
    if as_json:
        print_json({"stale": stale_rows, "overdue": overdue})
        return
    _print_table("stale outputs", ("DAG", "task", "output", "run", "started", "why"),
                 ((s.dag_id, s.task_id, s.name, s.run_id, s.started_at, s.reason) for s in stale_rows))
    _print_table(
        "overdue outputs", ("DAG", "task", "output", "expected within", "last success"),
        ((d.dag_id, d.task_id, d.name, format_seconds(d.fresh_within_s), d.last_success_at)
         for d in overdue),
    )
