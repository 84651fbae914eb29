"""``ddtrack runs``: a DAG's runs, or one run's task instances, with state, times and tries.

The same questions as the DAG and run pages (:func:`ddtrack.queries.dag_runs`,
:func:`ddtrack.queries.run_detail`), with ``allowed=None`` as every command. Runs Airflow
no longer has (``airflow db clean``) are told from ddtrack's own records and marked
``kept``: ddtrack keeps that history until its own ``retention_days``.
"""

from __future__ import annotations

import click

from ddtrack.cli import main
from ddtrack.cli.common import (
    JSON_HELP,
    TRUSTED,
    cell,
    configured_sources,
    print_json,
    print_table,
    require_dag,
)

KEPT = "kept: Airflow no longer has the run (airflow db clean); its state, times and tries are ddtrack's records"


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run", required=False)
@click.option("-n", "limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many runs.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
def runs(dag: str, run: str | None, limit: int, as_json: bool) -> None:
    """DAG's newest runs, newest first, with state, times and tries; with RUN, that run's
    task instances. Runs Airflow has forgotten are kept by ddtrack and marked so."""
    from ddtrack.queries import dag_runs, run_detail

    sources = configured_sources()
    require_dag(sources, dag)
    if run is None:
        rows = dag_runs(sources, dag, limit=limit, allowed=None)
        if as_json:
            print_json(rows)
            return
        print_table(
            f"{dag}: the {limit} newest runs",
            ("run", "state", "started", "ended", "duration (s)", "tries", "failed tries", "kept"),
            ((r.run_id, r.state, r.start, r.end, r.duration_s, r.tracked_tasks, r.failed_tasks, r.kept_by_ddtrack)
             for r in rows),
            optional=("ended", "failed tries"),
        )
        if any(r.kept_by_ddtrack for r in rows):
            click.echo(KEPT)
        return
    detail = run_detail(sources, dag, run, allowed=None)
    if detail is None:
        raise click.ClickException(f"unknown run {run!r} of DAG {dag!r}")
    if as_json:
        print_json(detail)
        return
    print_table(
        f"{dag} {run}: {detail.state or 'unknown'}, {cell(detail.start) or '?'} to {cell(detail.end) or '?'}"
        + (" (kept by ddtrack)" if detail.kept_by_ddtrack else ""),
        ("task", "map index", "state", "try", "started", "ended", "tracked outputs"),
        ((t.task_id, t.map_index if t.map_index >= 0 else None, t.state, t.try_number, t.start, t.end,
          [name for name, _ in t.outputs]) for t in detail.tasks),
        optional=("ended", "map index", "tracked outputs"),
    )
    if detail.kept_by_ddtrack:
        click.echo(KEPT)
