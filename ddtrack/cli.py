"""``ddtrack`` command line: install (create/upgrade side tables), sync (ingest records)."""

from __future__ import annotations

import datetime as dt
import sys

import click

from ddtrack import __version__, conf


def _store_url(conn: str | None) -> str:
    url = conn or conf.store_url()
    if not url:
        raise click.ClickException(
            "no database configured: set [database] sql_alchemy_conn (Airflow's metastore) "
            "or [ddtrack] sql_alchemy_conn, or pass --conn"
        )
    return url


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddtrack")
def main() -> None:
    """ddtrack: data tracking for Apache Airflow 3."""


@main.command()
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables (default: [ddtrack] sql_alchemy_conn, else the metastore).")
def install(conn: str | None) -> None:
    """Create or upgrade ddtrack's side tables and check that Airflow sees the plugin."""
    from ddtrack.store.schema import upgrade

    url = _store_url(conn)
    click.echo(f"ddtrack {__version__}: side tables at {_safe(url)}")
    try:
        report = upgrade(url)
    except Exception as exc:
        raise click.ClickException(f"could not create ddtrack's tables: {type(exc).__name__}: {exc}") from exc
    if report.changed:
        click.echo(f"  schema upgraded {report.before or 'nothing'} -> {report.after} ({', '.join(report.applied)})")
    else:
        click.echo(f"  schema already at {report.after}: nothing to do")
    click.echo(f"  tables: {', '.join(report.tables)}")
    problems = _plugin_problems()
    if problems:
        for p in problems:
            click.secho(f"  ! {p}", fg="yellow", err=True)
        sys.exit(1)
    click.echo("  Airflow sees the ddtrack plugin (entry point airflow.plugins)")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparsable URL>"


def _plugin_problems() -> list[str]:
    """Why Airflow would not load the plugin, if it would not."""
    from importlib.metadata import entry_points

    problems = []
    if not any(ep.value.startswith("ddtrack.") for ep in entry_points(group="airflow.plugins")):
        problems.append("no airflow.plugins entry point for ddtrack: reinstall with `pip install ddtrack`")
        return problems
    try:
        from airflow import plugins_manager

        plugins, errors = plugins_manager._get_plugins()
        if not any(getattr(p, "name", None) == "ddtrack" for p in plugins):
            detail = "; ".join(f"{k}: {v}" for k, v in errors.items() if "ddtrack" in k or "ddtrack" in str(v))
            problems.append(f"Airflow did not load the ddtrack plugin {detail}".strip())
    except Exception as exc:
        problems.append(f"could not ask Airflow for its plugins: {exc}")
    return problems


@main.command()
@click.option("--dag-id", help="Only this DAG.")
@click.option("--since", type=click.DateTime(), help="Only records pushed since (UTC).")
@click.option("--conn", help="SQLAlchemy URL of ddtrack's tables.")
def sync(dag_id: str | None, since: dt.datetime | None, conn: str | None) -> None:
    """Ingest every ddtrack record still in Airflow's XCom table (idempotent)."""
    from ddtrack.store.ingest import ingest_records, read_records

    metastore = conf.metastore_url()
    if not metastore:
        raise click.ClickException("Airflow's metastore is not configured ([database] sql_alchemy_conn)")
    store = _store_url(conn)
    since_utc = since.replace(tzinfo=dt.timezone.utc) if since else None
    from ddtrack.server import spool

    if spool.pending():
        click.echo(f"{spool.drain(store, metastore)} spooled record(s) ingested, {spool.pending()} still waiting")
    records = read_records(metastore, dag_id=dag_id, since=since_utc)
    with click.progressbar(length=len(records), label=f"Ingesting {len(records)} records", file=sys.stderr) as bar:
        report = ingest_records(store, records, metastore_url=metastore, progress=bar.update)
    click.echo(f"{report.written} written, {report.unchanged} unchanged, {report.failed} failed")
    for err in report.errors[:20]:
        click.secho(f"  ! {err}", fg="red", err=True)
    if report.failed:
        sys.exit(1)


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


if __name__ == "__main__":
    main()
