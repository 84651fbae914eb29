"""``ddtrack`` command line: install (create/upgrade side tables), sync (ingest records),
cleanup (retention) and status (does tracking work here?).

Every command fails with one line that says what to do and a non-zero exit code, never a
traceback: before it starts, a command checks the databases it needs
(:mod:`ddtrack.queries.status`), and :class:`_Group` turns any error left into one line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from typing import Any

import click
from sqlalchemy.exc import SQLAlchemyError

from ddtrack import __version__, conf
from ddtrack.queries import status as health


def _store_url(conn: str | None) -> str:
    url = conn or conf.store_url()
    if not url:
        raise click.ClickException(
            "no database configured: set [database] sql_alchemy_conn (Airflow's metastore) "
            "or [ddtrack] sql_alchemy_conn, or pass --conn"
        )
    return url


def _needs(name: str, params: dict[str, Any]) -> tuple[bool, bool]:
    """(needs Airflow's metastore, needs ddtrack's tables at the code's revision) of a command.

    Where ddtrack's tables live in the metastore, a command that writes or reads them checks
    the metastore first: "run `airflow db migrate`" comes before "run `ddtrack install`".
    """
    in_metastore = not params.get("conn") and not conf.sql_alchemy_conn()
    needs_store = name in ("sync", "cleanup")
    needs_metastore = name == "sync" or bool(params.get("orphans"))
    if name in ("sync", "cleanup", "install"):
        needs_metastore = needs_metastore or in_metastore
    return needs_metastore, needs_store


def _preflight(name: str, params: dict[str, Any]) -> None:
    """Check what a command needs before it starts, so that it fails with one clear line."""
    needs_metastore, needs_store = _needs(name, params)
    problems = []
    if needs_metastore:
        problems.append(health.metastore_problem(health.metastore_state(conf.metastore_url())))
    if needs_store and not any(problems):
        problems.append(health.store_problem(health.store_state(params.get("conn") or conf.store_url())))
    problem = next((p for p in problems if p), None)
    if problem:
        raise click.ClickException(problem)
    dag_id = params.get("dag_id")
    if dag_id is not None:
        from ddtrack.queries import Sources, dag_exists

        sources = Sources(store_url=params.get("conn") or conf.store_url(), metastore_url=conf.metastore_url())
        if not dag_exists(sources, dag_id, allowed=None):
            raise click.BadParameter(
                f"no run of a DAG {dag_id!r} in Airflow's metastore or ddtrack's tables "
                "(`airflow dags list` shows the ids)",
                param_hint="--dag-id",
            )


def _database_error(exc: SQLAlchemyError) -> str:
    """One line for a database error no check foresaw (a database that went away meanwhile)."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    cause = health.error_cause(exc)
    if "ddtrack_" in text and any(s in text for s in ("no such table", "does not exist", "doesn't exist")):
        return f"ddtrack's tables are missing ({cause}): run `ddtrack install`"
    if any(s in text for s in ("no such table", "does not exist", "doesn't exist")):
        return f"Airflow's metastore is not migrated ({cause}): run `airflow db migrate`"
    if any(s in text for s in ("timeout", "timed out", "canceling statement", "interrupted")):
        return f"a database did not answer in time ({cause}): check that it runs, then try again"
    return f"a database refused the command ({cause}): check that it runs and the connection settings"


class _Checked(click.Command):
    """A command that checks the databases it needs before it starts."""

    def invoke(self, ctx: click.Context) -> Any:
        _preflight(ctx.info_name or self.name or "", ctx.params)
        return super().invoke(ctx)


class _Group(click.Group):
    """ddtrack's commands: any error becomes one line and exit code 1, never a traceback
    (``DDTRACK_TRACEBACK=1`` shows the traceback of an unexpected one)."""

    command_class = _Checked

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except SQLAlchemyError as exc:
            raise click.ClickException(_database_error(exc)) from None
        except Exception as exc:
            if isinstance(exc, ValueError) and str(exc).startswith("[ddtrack]"):  # conf.py: a malformed option
                raise click.ClickException(f"{exc}: fix it in airflow.cfg or its AIRFLOW__DDTRACK__ variable") from None
            if os.environ.get("DDTRACK_TRACEBACK"):
                raise
            first = (str(exc).strip().splitlines() or [""])[0]
            raise click.ClickException(
                f"unexpected {type(exc).__name__}: {first} (DDTRACK_TRACEBACK=1 shows where)"
            ) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddtrack")
def main() -> None:
    """ddtrack: data tracking for Apache Airflow 3."""


@main.command()
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables (default: [ddtrack] sql_alchemy_conn, else the metastore).")
def install(conn: str | None) -> None:
    """Create or upgrade ddtrack's side tables and check that Airflow sees the plugin."""
    from ddtrack.store.schema import upgrade

    url = _store_url(conn)
    click.echo(f"ddtrack {__version__}: side tables at {health.safe_url(url)}")
    try:
        report = upgrade(url)
    except Exception as exc:
        raise click.ClickException(f"could not create ddtrack's tables: {health.error_cause(exc)}") from exc
    if report.changed:
        click.echo(f"  schema upgraded {report.before or 'nothing'} -> {report.after} ({', '.join(report.applied)})")
    else:
        click.echo(f"  schema already at {report.after}: nothing to do")
    click.echo(f"  tables: {', '.join(report.tables)}")
    plugin = health.plugin_state()
    if not plugin.loaded:
        click.secho(
            f"  ! Airflow does not load the ddtrack plugin ({plugin.detail}): "
            "install ddtrack into Airflow's own environment",
            fg="yellow",
            err=True,
        )
        sys.exit(1)
    click.echo("  Airflow sees the ddtrack plugin (entry point airflow.plugins)")


@main.command()
@click.option("--dag-id", help="Only this DAG.")
@click.option("--since", type=click.DateTime(), help="Only records pushed since (UTC).")
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables.")
def sync(dag_id: str | None, since: dt.datetime | None, conn: str | None) -> None:
    """Store spooled records, then every ddtrack record still in Airflow's XCom table (idempotent)."""
    from ddtrack.store.ingest import count_records, ingest_records, iter_records

    metastore = conf.metastore_url()
    if not metastore:
        raise click.ClickException("Airflow's metastore is not configured ([database] sql_alchemy_conn)")
    store = _store_url(conn)
    since_utc = since.replace(tzinfo=dt.timezone.utc) if since else None
    _sync_spool(store, metastore)
    total = count_records(metastore, dag_id=dag_id, since=since_utc)
    with click.progressbar(length=total, label=f"Ingesting {total} records", file=sys.stderr) as bar:
        records = iter_records(metastore, dag_id=dag_id, since=since_utc)
        report = ingest_records(store, records, metastore_url=metastore, progress=bar.update)
    click.echo(f"{report.written} written, {report.unchanged} unchanged, {report.failed} failed")
    if report.unreachable:
        click.secho("  ! ddtrack's database is unavailable: the remaining records wait in XCom", fg="red", err=True)
    for err in report.errors[:20]:
        click.secho(f"  ! {err}", fg="red", err=True)
    if report.failed:
        sys.exit(1)


def _sync_spool(store: str, metastore: str) -> None:
    """Store the spool's records and say what is left there: waiting, or dead letters."""
    from ddtrack.server import spool

    drained = spool.drain(store, metastore)
    if drained.reclaimed:
        click.echo(f"spool: {drained.reclaimed} record(s) left claimed by a stopped process were put back")
    if drained.stored or drained.waiting:
        click.echo(f"spool: {drained.stored} record(s) stored, {spool.pending()} still waiting")
    dead = spool.dead_letters()
    if dead:
        click.secho(
            f"spool: {len(dead)} record(s) could not be stored and wait in {dead[0].parent} "
            "(see the warnings in the logs; move a file back to the spool folder to retry it)",
            fg="yellow",
            err=True,
        )


@main.command()
@click.option("--older-than", "older_than", help="Delete tries that started longer ago than this (e.g. 90d, 12h, 2w).")
@click.option("--orphans", is_flag=True, help="Delete tries whose DAG run no longer exists in Airflow.")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables.")
def cleanup(older_than: str | None, orphans: bool, dry_run: bool, conn: str | None) -> None:
    """Delete old records (default: [ddtrack] retention_days) and orphans, in small batches."""
    from ddtrack.store import retention

    store = _store_url(conn)
    if not older_than and not orphans:
        days = conf.retention_days()
        if days <= 0:
            raise click.UsageError("give --older-than AGE and/or --orphans (or set [ddtrack] retention_days)")
        older_than = f"{days}d"
    reports = []
    if older_than:
        try:
            age = retention.parse_age(older_than)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--older-than") from exc
        cutoff = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - age
        total = retention.count_older_than(store, cutoff)
        with click.progressbar(length=total, label=f"Tries older than {older_than}", file=sys.stderr) as bar:
            reports.append(retention.delete_older_than(store, age, dry_run=dry_run, progress=bar.update))
    if orphans:
        metastore = conf.metastore_url()
        if not metastore:
            raise click.ClickException("--orphans needs Airflow's metastore ([database] sql_alchemy_conn)")
        reports.append(retention.delete_orphans(store, metastore, dry_run=dry_run))
    verb = "would delete" if dry_run else "deleted"
    for report in reports:
        click.echo(f"{verb}: " + ", ".join(f"{n} {what}" for what, n in report.deleted.items()))



@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
def status(as_json: bool) -> None:
    """Does tracking work here? Exit code 0 when healthy, 1 when something needs action."""
    from ddtrack.queries import default_sources

    report = health.deployment_status(default_sources())
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_status(report)
    sys.exit(0 if report.healthy else 1)


def _print_status(report: health.DeploymentStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="ddtrack status", show_header=False, title_justify="left")
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for label, value in health.summary_lines(report):
        table.add_row(label, value)
    console = Console(soft_wrap=False)
    console.print(table, markup=False)
    if report.healthy:
        click.secho("healthy: tracking works", fg="green")
    for problem in report.problems:
        click.secho(f"! {problem}", fg="red")



if __name__ == "__main__":
    main()
