"""Commands across runs: compare, drift, checks, and pinning a drift baseline (alerts: :mod:`ddtrack.cli.alerts`).

They ask the same query layer as the views (:mod:`ddtrack.queries`), with ``allowed=None``:
the CLI is a trusted operator tool, run by whoever holds the deployment's database
credentials, so it sees every DAG. ``--json`` prints the rows the query layer returns (every
row about a column has a ``column`` key); without it, a table.
"""

from __future__ import annotations

import getpass
from typing import Any

import click

from ddtrack.cli import main
from ddtrack.cli.common import (
    COLUMN_JSON_HELP,
    TRUSTED,
    change,
    configured_sources,
    print_json,
    print_table,
    require_dag,
    require_run,
)

# -- compare -------------------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help=COLUMN_JSON_HELP)
def compare(dag: str, run_a: str, run_b: str, as_json: bool) -> None:
    """Two runs of DAG side by side: tasks' durations, and per output and column both runs' statistics."""
    from ddtrack.queries.compare import compare_runs

    sources = configured_sources()
    require_dag(sources, dag)
    result = compare_runs(sources, None, dag, run_a, run_b)
    if result is None:
        require_run(sources, dag, run_a)
        require_run(sources, dag, run_b)
        raise click.ClickException(f"runs {run_a!r} and {run_b!r} of DAG {dag!r} cannot be compared")
    tasks = [_task_row(t) for t in result.tasks]
    outputs = [_output_row(o) for o in result.outputs]
    columns = [_column_row(o, c) for o in result.outputs for c in o.columns]
    if as_json:
        print_json({"dag_id": dag, "run_a": run_a, "run_b": run_b, "tasks": tasks, "outputs": outputs,
                     "columns": columns})
        return
    print_table(
        f"{dag}: {run_a} (a) → {run_b} (b), tasks", ("task", "state", "duration a (s)", "duration b (s)", "change (s)"),
        ((t["task_id"], change(t["state_a"], t["state_b"]), t["duration_a"], t["duration_b"], t["change_s"])
         for t in tasks),
    )
    print_table(
        "outputs", ("task", "output", "rows", "added", "removed", "retyped", "code changed"),
        ((o["task_id"], o["output"], change(o["rows_a"], o["rows_b"]), o["added"], o["removed"],
          [f"{c} {a}→{b}" for c, a, b in o["retyped"]], o["code_changed"]) for o in outputs),
        optional=("code changed", "retyped"),
    )
    print_table(
        "columns", ("task", "output", "column", "kind", "null %", "distinct", "mean", "min", "max", "PSI"),
        ((c["task_id"], c["output"], c["column"], c["kind"],
          *(change(c["a"].get(s), c["b"].get(s)) for s in ("null_pct", "distinct", "mean", "min", "max")),
          c["psi"]) for c in columns),
        optional=("task", "output", "kind", "min", "max", "distinct"),
    )


def _task_row(t) -> dict[str, Any]:
    return {"task_id": t.task_id, "state_a": t.state_a, "state_b": t.state_b, "duration_a": t.duration_a,
            "duration_b": t.duration_b, "change_s": t.change_s}


def _output_row(o) -> dict[str, Any]:
    return {"task_id": o.task_id, "output": o.name, "rows_a": o.rows_a, "rows_b": o.rows_b, "added": o.added,
            "removed": o.removed, "retyped": o.retyped, "code_changed": o.code_diff is not None,
            "in_a": o.in_a, "in_b": o.in_b}


def _column_row(o, c) -> dict[str, Any]:
    drift = c.drift or {}
    return {"task_id": o.task_id, "output": o.name, "column": c.name, "kind": c.kind, "change": c.change,
            "a": c.stats_a, "b": c.stats_b, "changes": c.changes, "psi": drift.get("psi"),
            "drifted": drift.get("drifted")}


# -- drift ---------------------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run")
@click.option("--baseline", metavar="RUN", help="Compare with this run now (default: the drift stored at ingest, "
              "against the pinned or previous successful try).")
@click.option("--json", "as_json", is_flag=True, help=COLUMN_JSON_HELP)
def drift(dag: str, run: str, baseline: str | None, as_json: bool) -> None:
    """Drift of every output column of RUN: PSI, KS distance, null-rate change, and whether it drifted."""
    from ddtrack.queries.trends import run_drift

    sources = configured_sources()
    require_dag(sources, dag)
    rows = run_drift(sources, None, dag, run, baseline_run=baseline)
    if rows is None:
        require_run(sources, dag, run)
        if baseline is not None:
            require_run(sources, dag, baseline, "baseline run")
            raise click.ClickException(
                f"run {run!r} or baseline run {baseline!r} of DAG {dag!r} has no successful tracked try"
            )
        raise click.ClickException(f"run {run!r} of DAG {dag!r} has no tracked try in ddtrack's tables")
    if as_json:
        print_json(rows)
        return
    print_table(
        f"{dag} {run}: drift" + (f" against {baseline}" if baseline else ""),
        ("task", "output", "column", "PSI", "KS", "null % change", "distinct change", "drifted", "baseline", "why"),
        ((r["task_id"], r["output"], r["column"], r["psi"], r["ks"], r["null_rate_change"], r["distinct_change"],
          r["drifted"], r["baseline_run_id"], "; ".join(r["reasons"])) for r in rows),
        optional=("baseline", "distinct change", "task", "KS", "output"),
    )


# -- alerts and checks ---------------------------------------------------------------------


@main.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("run", required=False)
@click.option("--json", "as_json", is_flag=True, help=COLUMN_JSON_HELP)
def checks(dag: str, run: str | None, as_json: bool) -> None:
    """Results of the checks declared with @track(checks=...) of DAG (of one RUN), newest first."""
    from ddtrack.queries.alerts import checks_of

    sources = configured_sources()
    require_dag(sources, dag)
    if run is not None:
        require_run(sources, dag, run)
    rows = checks_of(sources, None, dag, run_id=run)
    if as_json:
        print_json(rows)
        return
    print_table(
        f"{dag}: checks" + (f" of {run}" if run else ""),
        ("run", "task", "try", "output", "column", "check", "severity", "status", "value", "bound", "message"),
        ((r["run_id"], r["task_id"], r["try_number"], r["output"], r["column"], r["check"], r["severity"],
          r["status"], r["value"], r["bound"], r["message"]) for r in rows),
        optional=("try", "severity", "output", "bound", "value", "task"),
    )


# -- baseline ------------------------------------------------------------------------------


@main.group(epilog=TRUSTED)
def baseline() -> None:
    """Pin or unpin the run a task's drift is measured against (default: its previous successful try)."""


@baseline.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("task")
@click.argument("run")
@click.option("--output", default="", help="Only this output of the task (default: all its outputs).")
@click.option("--json", "as_json", is_flag=True, help="Print the pin as JSON.")
def pin(dag: str, task: str, run: str, output: str, as_json: bool) -> None:
    """Measure TASK's drift against RUN from now on."""
    from ddtrack.queries.baseline import pin_baseline
    from ddtrack.store.baseline import UnknownRun

    sources = configured_sources()
    require_dag(sources, dag)
    try:
        pin_baseline(sources, None, dag, task, run, output, by=f"cli:{getpass.getuser()}")
    except UnknownRun as exc:
        raise click.ClickException(str(exc)) from None
    _report_pin(dag, task, output, run, True, as_json)


@baseline.command(epilog=TRUSTED)
@click.argument("dag")
@click.argument("task")
@click.argument("run", required=False)
@click.option("--output", default="", help="The output the pin was for (default: the pin of all outputs).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def unpin(dag: str, task: str, run: str | None, output: str, as_json: bool) -> None:
    """Measure TASK's drift against its previous successful try again (RUN, if given, must be the pinned one)."""
    from ddtrack.queries.baseline import pins_of, unpin_baseline

    sources = configured_sources()
    require_dag(sources, dag)
    pins = [p for p in pins_of(sources, None, dag, task) if (p.get("output_name") or "") == output]
    if not pins:
        raise click.ClickException(f"no baseline pinned for task {task!r} of DAG {dag!r}" + _for_output(output))
    if run is not None and pins[0].get("run_id") != run:
        raise click.ClickException(f"the baseline of task {task!r} is run {pins[0].get('run_id')!r}, not {run!r}")
    unpin_baseline(sources, None, dag, task, output)
    _report_pin(dag, task, output, pins[0].get("run_id"), False, as_json)


def _for_output(output: str) -> str:
    return f" (output {output!r})" if output else ""


def _report_pin(dag: str, task: str, output: str, run: str | None, pinned: bool, as_json: bool) -> None:
    if as_json:
        print_json({"dag_id": dag, "task_id": task, "output": output, "run_id": run, "pinned": pinned})
    elif pinned:
        click.echo(f"pinned run {run!r} as the baseline of task {task!r} of DAG {dag!r}" + _for_output(output))
    else:
        click.echo(f"unpinned run {run!r}: task {task!r} of DAG {dag!r} is measured against its previous "
                   "successful try again" + _for_output(output))
