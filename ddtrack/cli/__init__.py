"""``ddtrack`` command line: the group and the failure handling every command shares.

The commands live by topic: :mod:`ddtrack.cli.admin` (install, sync, cleanup, status) and
:mod:`ddtrack.cli.across_runs` (compare, drift, checks, baseline), :mod:`ddtrack.cli.alerts` (alerts,
their deliveries, ack, mute), and across DAGs
:mod:`ddtrack.cli.catalog` (recent, history, inspect, tag, pii, search, stale),
:mod:`ddtrack.cli.lineage` (trace, impact, path) and :mod:`ddtrack.cli.flags` (flag, review, suspects);
:mod:`ddtrack.cli.runs` (runs) lists a DAG's runs, those Airflow forgot included.

Every command fails with one line that says what to do and a non-zero exit code, never a
traceback: before it starts, a command checks the databases it needs
(:mod:`ddtrack.queries.status`), and :class:`_Group` turns any error left into one line.
What commands share (the databases, id checks, JSON and tables fitted to the terminal) is
in :mod:`ddtrack.cli.common`.

Importing the CLI imports click and the command modules only: SQLAlchemy, Airflow and the
query layer are imported when a command runs, so ``ddtrack --help`` starts at once.
"""

from __future__ import annotations

from typing import Any

import click

from ddtrack import __version__, conf
from ddtrack.cli.common import WIDE, WIDE_HELP

# Commands that read ddtrack's tables (checked at the code's revision before they start).
STORE_READERS = (
    "compare", "drift", "alerts", "checks", "pin", "unpin",
    "recent", "history", "inspect", "tag", "pii", "search", "stale", "trace", "impact", "path",
    "flag", "review", "suspects", "runs", "ack", "mute",
)


def _needs(name: str, params: dict[str, Any]) -> tuple[bool, bool]:
    """(needs Airflow's metastore, needs ddtrack's tables at the code's revision) of a command.

    Where ddtrack's tables live in the metastore, a command that writes or reads them checks
    the metastore first: "run `airflow db migrate`" comes before "run `ddtrack install`".
    """
    in_metastore = not params.get("conn") and not conf.sql_alchemy_conn()
    needs_store = name in ("sync", "cleanup", *STORE_READERS)
    needs_metastore = name == "sync" or bool(params.get("orphans"))
    if name in ("sync", "cleanup", "install"):
        needs_metastore = needs_metastore or in_metastore
    return needs_metastore, needs_store


def _preflight(name: str, params: dict[str, Any]) -> None:
    """Check what a command needs before it starts, so that it fails with one clear line."""
    from ddtrack.queries import status as health

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


def _database_error(exc: Exception) -> str:
    """One line for a database error no check foresaw (a database that went away meanwhile)."""
    from ddtrack.queries import status as health

    text = str(getattr(exc, "orig", None) or exc).lower()
    cause = health.error_cause(exc)
    if "ddtrack_" in text and any(s in text for s in ("no such table", "does not exist", "doesn't exist")):
        return f"ddtrack's tables are missing ({cause}): run `ddtrack install`"
    if any(s in text for s in ("no such table", "does not exist", "doesn't exist")):
        return f"Airflow's metastore is not migrated ({cause}): run `airflow db migrate`"
    if any(s in text for s in ("timeout", "timed out", "canceling statement", "interrupted")):
        return f"a database did not answer in time ({cause}): check that it runs, then try again"
    return f"a database refused the command ({cause}): check that it runs and the connection settings"


# Commands with --json that print no table: they get no --wide.
_NO_TABLE = ("status", "flag", "review")


class _Checked(click.Command):
    """A command that checks the databases it needs before it starts. A command that prints
    tables (it has ``--json``) also gets ``--wide``, read by :func:`ddtrack.cli.common.print_table`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.name not in _NO_TABLE and any(p.name == "as_json" for p in self.params):
            self.params.append(click.Option(["--wide"], is_flag=True, help=WIDE_HELP))

    def invoke(self, ctx: click.Context) -> Any:
        ctx.meta[WIDE] = bool(ctx.params.pop("wide", False))
        _preflight(ctx.info_name or self.name or "", ctx.params)
        return super().invoke(ctx)


def _one_line(exc: Exception) -> str:
    """The line an error no command handled becomes (SQLAlchemy is imported only now, when
    a command failed: it is never needed for ``--help``)."""
    from sqlalchemy.exc import SQLAlchemyError

    from ddtrack.queries.sources import MetastoreUnavailable

    if isinstance(exc, SQLAlchemyError):
        return _database_error(exc)
    if isinstance(exc, MetastoreUnavailable):  # the query layer's: the cause is logged above it
        return f"{exc}: check that it runs and is migrated (`airflow db migrate`)"
    if isinstance(exc, ValueError) and str(exc).startswith("[ddtrack]"):  # conf.py: a malformed option
        return f"{exc}: fix it in airflow.cfg or its AIRFLOW__DDTRACK__ variable"
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"unexpected {type(exc).__name__}: {first} (DDTRACK_TRACEBACK=1 shows where)"


class _Group(click.Group):
    """ddtrack's commands: any error becomes one line and exit code 1, never a traceback
    (``DDTRACK_TRACEBACK=1`` shows the traceback of an unexpected one)."""

    command_class = _Checked

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            line = _one_line(exc)
            if line.startswith("unexpected ") and conf.show_traceback():
                raise
            raise click.ClickException(line) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ddtrack")
def main() -> None:
    """ddtrack: data tracking for Apache Airflow 3.

    Every command reads every DAG: the CLI is a trusted operator tool (the views
    filter by the DAGs each user may read)."""


from ddtrack.cli import across_runs, admin, alerts, catalog, flags, lineage, runs  # noqa: E402,F401  (registers their commands on main)
