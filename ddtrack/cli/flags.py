"""Commands to flag a bad output version, list its downstream suspects and review them.

The CLI is a trusted caller (``editable=None``, as ``ddtrack baseline pin``): whoever holds
the database credentials may flag any DAG. Who flagged or reviewed is kept: ``--user``,
default the operating-system user. ``--json`` prints the query layer's FlagInfo / Suspect.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
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
    working,
)


def _user_option(fn):
    return click.option("--user", default=getpass.getuser, show_default="the OS user",
                        help="Who flags or reviews (kept with the note).")(fn)


def _version_args(fn):
    for decorator in reversed((
        click.argument("dag"), click.argument("run"), click.argument("task"),
        click.argument("output", required=False),
        click.option("--note", required=True, help="Why (kept with who and when)."),
    )):
        fn = decorator(fn)
    return fn


def _on_version(action: Callable[..., Any], dag: str, run: str, task: str, output: str | None, note: str,
                user: str) -> tuple[Any, Any]:
    """(the version named on the command line, what ``action`` - flag or review - made of it)."""
    sources = configured_sources()
    version = find_version_or_exit(sources, dag, run, task, output)
    with known_ids():
        return version, action(sources, version.output_id, note, user, editable=None)


@main.command(epilog=TRUSTED)
@_version_args
@_user_option
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def flag(dag: str, run: str, task: str, output: str | None, note: str, user: str, as_json: bool) -> None:
    """Flag an output version as bad: every version downstream of it becomes a suspect until reviewed."""
    from ddtrack.queries.flags import flag_version

    version, info = _on_version(flag_version, dag, run, task, output, note, user)
    if as_json:
        print_json(info)
    else:
        click.echo(f"flagged {dag}.{task}.{version.name} of run {run!r} (flag {info.id}, by {info.flagged_by}): "
                   "`ddtrack suspects` lists what is downstream")


@main.command(epilog=TRUSTED)
@_version_args
@_user_option
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def review(dag: str, run: str, task: str, output: str | None, note: str, user: str, as_json: bool) -> None:
    """Clear a suspect version (or close the flag, when it is the flagged version itself)."""
    from ddtrack.queries.flags import review_version

    version, info = _on_version(review_version, dag, run, task, output, note, user)
    if info is None:
        raise click.ClickException(
            f"{dag}.{task}.{version.name} of run {run!r} is neither flagged nor a suspect: nothing to review"
        )
    if as_json:
        print_json(info)
    else:
        click.echo(f"reviewed {dag}.{task}.{version.name} of run {run!r} under flag {info.id} by {user}")


@main.command(epilog=TRUSTED)
@click.option("--limit", type=click.IntRange(1, 5000), default=500, show_default=True, help="At most this many.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def suspects(limit: int, as_json: bool) -> None:
    """Every version downstream of an open flag that nobody reviewed under that flag yet."""
    from ddtrack.queries.flags import suspects as find

    with working("finding the versions downstream of open flags"):
        rows = find(configured_sources(), allowed=None, limit=limit)
    if as_json:
        print_json(rows)
        return
    print_table(
        "suspects", ("DAG", "run", "task", "output", "started", "hops", "flagged", "flagged run", "note", "by"),
        ((s.version.dag_id, s.version.run_id, s.version.task_id, s.version.name, s.version.started_at, s.hops,
          f"{s.flag.dag_id}.{s.flag.task_id}.{s.flag.output_name}", s.flag.run_id, s.flag.note, s.flag.flagged_by)
         for s in rows),
        optional=("started", "by", "hops", "flagged run", "task"),
    )
