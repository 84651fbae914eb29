"""``ddtrack alerts``: what needs attention, where it was delivered, and acting on it.

``ddtrack alerts`` lists drifted columns, anomalies and checks that did not pass, newest
first, with the channels each went to; ``--pending`` lists deliveries not sent yet (pending,
retrying, failed). ``ddtrack alerts ack ID`` acknowledges an alert (its sends not yet made are
dropped); ``ddtrack alerts mute DAG TASK OUTPUT --for 1d`` holds an output's alerts.
Like every command, these read and act on every DAG (a trusted operator tool).
"""

from __future__ import annotations

import datetime as dt
import getpass
from typing import Any

import click

from ddtrack.cli import _Checked, _preflight, main
from ddtrack.cli.common import (
    COLUMN_JSON_HELP,
    TRUSTED,
    WIDE,
    WIDE_HELP,
    configured_sources,
    print_json,
    print_table,
    require_dag,
)


class Since(click.ParamType):
    """An age back from now (``24h``, ``7d``) or an ISO 8601 time (UTC unless it says)."""

    name = "TIME"

    def convert(self, value: Any, param, ctx) -> dt.datetime:
        from ddtrack.queries.sources import utc
        from ddtrack.store.retention import parse_age

        if isinstance(value, dt.datetime):
            return value
        try:
            return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - parse_age(value)
        except ValueError:
            pass
        try:
            parsed = utc(dt.datetime.fromisoformat(value))
        except ValueError:
            parsed = None
        if parsed is None:
            self.fail(f"not a time: {value!r} (use an age such as 24h or 7d, or ISO 8601 such as 2026-11-27T09:00)")
        return parsed


class _AlertsGroup(click.Group):
    """A group that is also a command: ``ddtrack alerts [options]`` lists; its subcommands act."""

    command_class = _Checked


@main.group(cls=_AlertsGroup, invoke_without_command=True, epilog=TRUSTED)
@click.option("--dag", help="Only this DAG.")
@click.option("--since", type=Since(), help="Only tries started since: an age (24h, 7d) or an ISO time (UTC).")
@click.option("--limit", type=click.IntRange(1, 1000), default=200, show_default=True, help="At most this many rows.")
@click.option("--pending", is_flag=True, help="Deliveries not sent yet: pending, retrying, failed.")
@click.option("--json", "as_json", is_flag=True, help=COLUMN_JSON_HELP)
@click.option("--wide", is_flag=True, help=WIDE_HELP)
@click.pass_context
def alerts(ctx: click.Context, dag: str | None, since: dt.datetime | None, limit: int, pending: bool, as_json: bool,
           wide: bool) -> None:
    """Drifted columns, anomalies and checks that did not pass, newest first, and where each
    was delivered. Each row has a status (warn or fail); anomalies have anomaly: true."""
    if ctx.invoked_subcommand is not None:
        return
    ctx.meta[WIDE] = wide
    _preflight("alerts", {})
    sources = configured_sources()
    if dag is not None:
        require_dag(sources, dag)
    if pending:
        _print_pending(sources, dag, limit, as_json)
        return
    from ddtrack.queries.alerts import alerts as find_alerts
    from ddtrack.queries.deliveries import with_deliveries

    rows = with_deliveries(sources, None, find_alerts(sources, None, dag_id=dag, since=since, limit=limit))
    if as_json:
        print_json(rows)
        return
    print_table(
        "alerts", ("started", "DAG", "run", "task", "output", "column", "kind", "status", "detail", "sent"),
        ((r["started_at"], r["dag_id"], r["run_id"], r["task_id"], r["output"], r["column"], r["kind"],
          r["status"], r["detail"], _sent(r["deliveries"])) for r in rows),
        optional=("started", "kind", "sent", "output", "task"),
    )


def _sent(deliveries: list[dict[str, Any]]) -> str:
    """'mail 12-06 20:31, slack failed' for a table cell; '' when no channel took the alert."""
    parts = []
    for d in deliveries:
        when = d["sent_at"].strftime("%m-%d %H:%M") if d["state"] == "sent" and d["sent_at"] else d["state"]
        parts.append(f"{d['channel']} {when}")
    if deliveries and deliveries[0].get("acked_at"):
        parts.append(f"acked by {deliveries[0]['acked_by']}")
    return ", ".join(parts)


def _print_pending(sources: Any, dag: str | None, limit: int, as_json: bool) -> None:
    from ddtrack.queries.deliveries import pending

    rows = pending(sources, None, limit=limit, dag_id=dag)
    if as_json:
        print_json(rows)
        return
    print_table(
        "alerts not delivered yet",
        ("id", "channel", "state", "attempts", "DAG", "run", "task", "output", "column", "kind", "error"),
        ((r["id"], r["channel"], r["state"], r["attempts"], r["dag_id"], r["run_id"], r["task_id"], r["output"],
          r["column"], r["kind"], r["error"]) for r in rows),
        optional=("attempts", "kind", "output", "task", "column"),
    )


@alerts.command("ack", epilog=TRUSTED)
@click.argument("alert_id", type=int)
@click.option("--by", "user", default=None, help="Who acknowledges (default: your login name).")
def ack(alert_id: int, user: str | None) -> None:
    """Acknowledge alert ALERT_ID (the id `ddtrack alerts --pending` shows): its sends not
    made yet are dropped, and the pages say who acknowledged it."""
    from ddtrack.queries.deliveries import acknowledge

    try:
        alert = acknowledge(configured_sources(), alert_id, user or getpass.getuser(), editable=None)
    except LookupError as exc:
        raise click.ClickException(f"{exc} (`ddtrack alerts --pending` lists ids)") from None
    click.echo(f"acknowledged alert {alert_id}: {alert['kind']} of {alert['dag_id']}.{alert['task_id']}"
               + (f".{alert['output']}" if alert["output"] else "") + (f" column {alert['column']}" if alert["column"] else ""))


@alerts.command("mute", epilog=TRUSTED)
@click.argument("dag")
@click.argument("task")
@click.argument("output")
@click.option("--for", "duration", default="1d", show_default=True, help="How long: 30m, 12h, 1d, 2w.")
@click.option("--off", is_flag=True, help="Unmute instead.")
@click.option("--by", "user", default=None, help="Who mutes (default: your login name).")
def mute(dag: str, task: str, output: str, duration: str, off: bool, user: str | None) -> None:
    """Hold the alerts of DAG's TASK OUTPUT (not delivered) for a while, or --off."""
    from ddtrack.duration import parse_seconds
    from ddtrack.queries.deliveries import mute_output

    sources = configured_sources()
    require_dag(sources, dag)
    until = None
    if not off:
        try:
            seconds = parse_seconds(duration, what="--for")
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--for") from None
        until = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=seconds)
    mute_output(sources, dag, task, output, until, user or getpass.getuser(), editable=None)
    click.echo(f"unmuted {dag}.{task}.{output}" if off else
               f"muted {dag}.{task}.{output} until {until:%Y-%m-%d %H:%M} UTC")
