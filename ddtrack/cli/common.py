"""What every command shares: the databases, the checks of ids given on the command line,
and the output (JSON, or a table fitted to the terminal).

Commands import from here, never from a sibling command. Like the command modules, this
one imports only click at import time: ``ddtrack --help`` must not pay for SQLAlchemy,
Airflow or rich (the query layer and rich are imported inside the functions).

Tables (:func:`print_table`) print whole when they fit. When stdout is a terminal that is
too narrow, run ids become short labels (``sched 11-27 09:00``), the columns a command
marks optional are hidden in its order, long cells wrap inside their column, and one line
says what was hidden; ``--wide`` prints every column whole. When stdout is not a terminal
(a pipe, a file), nothing is ever wrapped or hidden.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import re
import sys
import textwrap
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import click

TRUSTED = "Reads every DAG: the CLI is a trusted operator tool (no per-user filtering, unlike the views)."
JSON_HELP = "Print JSON (the keys are listed in the README's CLI section) instead of a table."
COLUMN_JSON_HELP = "Print JSON (every row about a column has a 'column' key) instead of a table."
WIDE_HELP = "Print every column whole, full run ids, even wider than the terminal."
# ctx.meta key of --wide (every command with --json has it: see ddtrack.cli._Checked).
WIDE = "ddtrack.wide"


# -- databases and ids ----------------------------------------------------------------------


def configured_sources() -> Any:
    """The configured databases (``[ddtrack] sql_alchemy_conn`` and Airflow's metastore)."""
    from ddtrack.queries import default_sources

    return default_sources()


def store_url(conn: str | None) -> str:
    """Where ddtrack's tables are: ``--conn``, else the configured ones; one line if nowhere."""
    from ddtrack import conf

    url = conn or conf.store_url()
    if not url:
        raise click.ClickException(
            "no database configured: set [database] sql_alchemy_conn (Airflow's metastore) "
            "or [ddtrack] sql_alchemy_conn, or pass --conn"
        )
    return url


def require_dag(sources: Any, dag_id: str) -> None:
    """Exit 1 with one line naming ``dag_id`` when neither Airflow nor ddtrack knows it."""
    from ddtrack.queries import dag_exists

    if not dag_exists(sources, dag_id, allowed=None):
        raise click.ClickException(f"unknown DAG {dag_id!r}: no run of it in Airflow's metastore or ddtrack's tables")


def require_run(sources: Any, dag_id: str, run_id: str, what: str = "run") -> None:
    """Exit 1 with one line naming ``run_id`` when DAG ``dag_id`` has no such run."""
    from ddtrack.queries.runs import run_detail

    if run_detail(sources, dag_id, run_id, allowed=None) is None:
        raise click.ClickException(f"unknown {what} {run_id!r} of DAG {dag_id!r}")


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
    require_run(sources, dag, run)
    named = f"output {output!r} of task" if output else "tracked output of task"
    return click.ClickException(f"no {named} {task!r} in run {run!r} of DAG {dag!r}")


def find_version_or_exit(sources: Any, dag: str, run: str, task: str, output: str | None) -> Any:
    """The version named on the command line, or one line naming the unknown id and exit code 1."""
    from ddtrack.queries.versions import find_version

    require_dag(sources, dag)
    with known_ids():
        version = find_version(sources, dag, run, task, output, allowed=None)
    if version is None:
        raise no_output(sources, dag, run, task, output)
    return version


def split_tag(tag: str) -> tuple[str, str | None]:
    """``KEY`` or ``KEY=VALUE`` (a usage error when the key is empty)."""
    key, sep, value = tag.partition("=")
    if not key.strip():
        raise click.BadParameter(f"{tag!r} has no key: use KEY or KEY=VALUE", param_hint="TAG")
    return key.strip(), (value.strip() if sep else None)


@contextmanager
def working(what: str) -> Iterator[None]:
    """A spinner on stderr while a long query runs (nothing when stderr is not a terminal)."""
    from rich.console import Console

    with Console(stderr=True).status(what, spinner="dots"):
        yield


# -- JSON -------------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """A query result as JSON-ready data: dataclasses become objects with their field names,
    times ISO 8601 with their UTC offset (stored times are naive UTC: say so)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def print_json(value: Any) -> None:
    click.echo(json.dumps(plain(value), default=str, indent=2))


# -- tables -------------------------------------------------------------------------------------

# Cells of these columns are run ids: short labels when the terminal is too narrow.
RUN_HEADERS = frozenset({"run", "flagged run", "baseline"})
# Free text: wraps between words, and takes the room the other columns leave.
TEXT_HEADERS = frozenset({"detail", "why", "message", "note", "URI", "output / URI", "PII columns", "derived from"})
ID_MIN = 10  # a narrowed id column is at least this wide (its cells fold onto more lines)
LABEL_MIN = 20  # times and short run labels stay whole up to this width
TEXT_MIN = 16
_GAP = 2  # spaces between two columns

_RUN_ID = re.compile(
    r"^(?P<kind>[a-z_]+?)__(?P<date>\d{4}-\d{2}-\d{2})T(?P<hm>\d{2}:\d{2})(?P<s>:\d{2})?(?P<frac>\.\d+)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?(?P<rest>.*)$"
)
_RUN_KINDS = {"scheduled": "sched", "manual": "manual", "backfill": "backfill", "asset_triggered": "asset",
              "dataset_triggered": "asset"}


def cell(value: Any) -> str:
    """A value as a table cell: text, never markup."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, (list, tuple)):
        return ", ".join(cell(v) for v in value)
    return str(value)


def short_run(run_id: str, this_year: int | None = None) -> str:
    """A run id as a short label: ``scheduled__2026-11-27T09:00:00+00:00`` is ``sched 11-27 09:00``
    (the year shown when it is not this one, seconds when not zero); other ids are kept."""
    m = _RUN_ID.match(run_id)
    if m is None:
        return run_id
    year = this_year or dt.date.today().year
    date = m["date"] if int(m["date"][:4]) != year else m["date"][5:]
    seconds = m["s"] if m["s"] and (m["s"] != ":00" or m["frac"]) else ""
    kind = _RUN_KINDS.get(m["kind"], m["kind"])
    return f"{kind} {date} {m['hm']}{seconds}" + ("…" if m["rest"] else "")


def _width(text: str) -> int:
    from rich.cells import cell_len

    return max((cell_len(line) for line in text.splitlines()), default=0)


def fit_widths(
    headers: Sequence[str], rows: list[list[str]], width: int, optional: Sequence[str] = ()
) -> tuple[list[int], dict[int, int]]:
    """(the columns shown, by index, and the width of each) for a table at most ``width``
    wide: ``optional`` columns are hidden in their order until the other columns fit whole
    next to the free text at its least width (or none is left to hide); then each column
    starts at its least width and the room left is shared out, none beyond its natural width."""
    natural = [max([_width(h), *(_width(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def least(i: int) -> int:
        if headers[i] in TEXT_HEADERS:
            return min(natural[i], TEXT_MIN)
        if any(" " in r[i] for r in rows):  # times, run labels, "a → b": whole up to LABEL_MIN
            return min(natural[i], max(LABEL_MIN, _width(headers[i])))
        return min(natural[i], max(ID_MIN, _width(headers[i])))  # ids fold onto more lines

    def whole(i: int) -> int:  # ids and labels whole, free text at its least
        return least(i) if headers[i] in TEXT_HEADERS else natural[i]

    shown = list(range(len(headers)))
    hide = [headers.index(h) for h in optional if h in headers]
    while sum(whole(i) for i in shown) + _GAP * (len(shown) - 1) > width and hide:
        shown.remove(hide.pop(0))
    start = whole if sum(whole(i) for i in shown) + _GAP * (len(shown) - 1) <= width else least
    widths = {i: start(i) for i in shown}
    room = width - sum(widths.values()) - _GAP * (len(shown) - 1)
    wanting = [i for i in shown if widths[i] < natural[i]]
    while room > 0 and wanting:  # water-filling: an equal share each, none beyond its natural width
        share = max(1, room // len(wanting))
        for i in list(wanting):
            extra = min(share, natural[i] - widths[i], room)
            widths[i] += extra
            room -= extra
            if widths[i] >= natural[i]:
                wanting.remove(i)
            if room <= 0:
                break
    return shown, widths


def _wide() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx and ctx.meta.get(WIDE))  # meta is shared by a command's contexts


def print_table(title: str, headers: Sequence[str], rows: Iterable[Sequence[Any]], optional: Sequence[str] = ()) -> None:
    """A table for people; column names and values are data, printed as text (no markup).

    Whole when it fits, when stdout is not a terminal, or with ``--wide``; else fitted to the
    terminal: short run labels, then ``optional`` columns hidden in their order (a line
    says which), long cells wrapped inside their column."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    cells = [[cell(v) for v in row] for row in rows]
    if not cells:
        click.echo(f"{title}: none")
        return
    terminal = sys.stdout.isatty() and not _wide()
    width = Console().width if terminal else 0
    shown, widths = list(range(len(headers))), {}
    natural = sum(max([_width(h), *(_width(r[i]) for r in cells)]) for i, h in enumerate(headers))
    notes = []
    if terminal and natural + _GAP * (len(headers) - 1) > width:
        runs = [i for i, h in enumerate(headers) if h in RUN_HEADERS]
        for row in cells:
            for i in runs:
                row[i] = short_run(row[i])
        if runs:
            notes.append("runs as short labels")
        shown, widths = fit_widths(headers, cells, width, optional)
        hidden = [h for i, h in enumerate(headers) if i not in shown]
        if hidden:
            notes.append(f"hidden to fit {width} columns: {', '.join(hidden)}")
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True, padding=(0, 1))
    for i in shown:
        if widths:
            table.add_column(headers[i], width=widths[i], overflow="fold")
        else:
            table.add_column(headers[i], no_wrap=True, overflow="ignore")
    for row in cells:
        table.add_row(*(row[i] for i in shown))
    if terminal:
        Console(soft_wrap=False).print(table, markup=False, highlight=False)
    else:  # rendered at its natural width, then printed without rich's padding to the right
        out = Console(file=io.StringIO(), width=natural + 3 * len(headers) + _width(title) + 8, color_system=None)
        out.print(table, markup=False, highlight=False)
        click.echo("\n".join(line.rstrip() for line in out.file.getvalue().splitlines()))
    if notes:  # on the terminal only, wrapped to it
        click.echo(textwrap.fill(f"({'; '.join(notes)}: --wide shows all, --json has everything)", width))


def change(a: Any, b: Any) -> str:
    """``a → b`` when they differ, else one of them."""
    return f"{cell(a)} → {cell(b)}" if a != b else cell(a)
