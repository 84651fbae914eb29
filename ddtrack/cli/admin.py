"""Commands that set up and keep ddtrack: install, sync, cleanup and status."""

from __future__ import annotations

import datetime as dt
import json
import sys
from typing import TYPE_CHECKING

import click

from ddtrack import __version__, conf
from ddtrack.cli import main
from ddtrack.cli.common import store_url

if TYPE_CHECKING:  # the query layer is imported when a command runs, never for --help
    from ddtrack.queries.status import DeploymentStatus


@main.command()
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables (default: [ddtrack] sql_alchemy_conn, else the metastore).")
def install(conn: str | None) -> None:
    """Create or upgrade ddtrack's side tables and check that Airflow sees the plugin."""
    from ddtrack.integrations.airflow_compat import pandas_problem, unsupported_reason
    from ddtrack.queries import status as health
    from ddtrack.store.schema import upgrade

    refused = unsupported_reason()
    if refused:
        raise click.ClickException(refused)
    if pandas_problem():
        click.secho(f"  ! {pandas_problem()}", fg="yellow", err=True)
    url = store_url(conn)
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
    store = store_url(conn)
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
    _deliver_alerts(store, metastore)
    if report.failed:
        sys.exit(1)


def _deliver_alerts(store: str, metastore: str) -> None:
    """Deliver what the outbox holds, as the scheduler's ingest thread does, waiting for the
    sends (each bounded by ``[ddtrack] alert_send_timeout``)."""
    if not conf.alert_notifiers().strip():
        return
    from ddtrack.server import notify

    notify.sweep_freshness(store)
    sent = notify.deliverer.deliver(store, metastore, wait_s=conf.alert_send_timeout() + 5)
    for error in notify.deliverer.config_errors:
        click.secho(f"  ! {error}", fg="red", err=True)
    if sent.digests or sent.waiting:
        click.echo(f"alerts: {sent.sent} sent in {sent.digests} message(s), {sent.failed} failed, "
                   f"{sent.waiting} waiting for their run to finish")


def _sync_spool(store: str, metastore: str) -> None:
    """Store the spool's records and say what is left there: waiting, or dead letters."""
    from ddtrack.server import spool
    from ddtrack.store.spool_folder import dead_letters, pending

    drained = spool.drain(store, metastore)
    if drained.reclaimed:
        click.echo(f"spool: {drained.reclaimed} record(s) left claimed by a stopped process were put back")
    if drained.stored or drained.waiting:
        click.echo(f"spool: {drained.stored} record(s) stored, {pending()} still waiting")
    dead = dead_letters()
    if dead:
        click.secho(
            f"spool: {len(dead)} record(s) could not be stored and wait in {dead[0].parent} "
            "(see the warnings in the logs; move a file back to the spool folder to retry it)",
            fg="yellow",
            err=True,
        )


@main.command()
@click.option("--older-than", "older_than", help="Delete tries that started longer ago than this (e.g. 90d, 12h, 2w).")
@click.option("--orphans", is_flag=True, help="Delete tries whose DAG run no longer exists in Airflow "
              "(after `airflow db clean`); kept unless asked.")
@click.option("--dry-run", is_flag=True, help="Only report what would be deleted.")
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables.")
def cleanup(older_than: str | None, orphans: bool, dry_run: bool, conn: str | None) -> None:
    """Delete old records (default: [ddtrack] retention_days) and, with --orphans, those of
    runs Airflow deleted, in small batches. Without --orphans ddtrack keeps the history of
    runs Airflow forgot."""
    from ddtrack.store import retention

    store = store_url(conn)
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
    from ddtrack.queries import status as health

    report = health.deployment_status(default_sources())
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
    else:
        _print_status(report)
    sys.exit(0 if report.healthy else 1)


def _print_status(report: DeploymentStatus) -> None:
    from rich.console import Console
    from rich.table import Table

    from ddtrack.queries import status as health

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
