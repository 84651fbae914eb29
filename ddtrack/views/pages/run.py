"""Run page: one DAG run's tasks, as a waterfall and a table, with their tracked outputs.

Both are grouped by task, a page of tasks at a time: a mapped task is one bar and one row
(instances, states, shortest and longest duration) that expands to its instances, a page at
a time, so a 1,000-instance fan-out never sends 1,000 bars or rows to the browser.
URL: ``run?dag_id=&run_id=[&tpage=N][&task=T&ipage=M]``.
"""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from ddtrack import queries
from ddtrack.queries.runs import TaskSummary, summarize_tasks, task_instances
from ddtrack.views import figures
from ddtrack.views.common import (
    airflow_href,
    breadcrumbs,
    card,
    empty_state,
    fmt_duration,
    fmt_number,
    fmt_time,
    href,
    kept_by_ddtrack,
    link,
    not_found,
    page_header,
    pager,
    state_badge,
    top_link,
)
from ddtrack.views.context import PageContext
from ddtrack.views.pages.compare import compare_with


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, run_id = params.get("dag_id", ""), params.get("run_id", "")
    if not ctx.can_read(dag_id):
        return not_found("DAG", dag_id)
    detail = queries.run_detail(ctx.sources, dag_id, run_id, allowed=ctx.allowed)
    if detail is None:
        return not_found("run", run_id)
    from urllib.parse import quote

    header = page_header(
        run_id,
        [
            "Run of ",
            link(dag_id, href("dag", dag_id=dag_id)),
            " · ",
            state_badge(detail.state),
            f" · started {fmt_time(detail.start)}",
            *([" · ", kept_by_ddtrack()] if detail.kept_by_ddtrack else []),
        ],
        breadcrumbs(("Data", href("")), (dag_id, href("dag", dag_id=dag_id)), (run_id, None)),
        href("run", dag_id=dag_id, run_id=run_id),
        extra=[]  # Airflow has no page for a run it forgot
        if detail.kept_by_ddtrack
        else [
            top_link(
                "Open in Airflow",
                airflow_href(f"/dags/{quote(dag_id, safe='')}/runs/{quote(run_id, safe='')}"),
            )
        ],
    )
    tracked = [t for t in detail.tasks if t.tracked]
    summaries = summarize_tasks(detail.tasks)
    pages = max(1, -(-len(summaries) // TASKS_PER_PAGE))
    page = min(_number(params.get("tpage")), pages)
    shown = summaries[(page - 1) * TASKS_PER_PAGE : page * TASKS_PER_PAGE]
    expanded = params.get("task", "")
    link_to = _linker(dag_id, run_id, page, expanded, _number(params.get("ipage")))
    body: list[Any] = [
        compare_with(ctx, dag_id, run_id),
        card(
            "Waterfall",
            dcc.Graph(figure=figures.waterfall(shown), config=figures.graph_config(), id="run-waterfall"),
        ),
    ]
    if not tracked:
        body.append(
            empty_state(
                "This run has no tracked outputs.",
                "Add @track to the DAG's task functions; the next run records their outputs.",
            )
        )
    tasks_card = [_table(dag_id, run_id, shown, link_to, expanded)]
    if pages > 1:
        tasks_card.append(pager(f"Tasks {(page - 1) * TASKS_PER_PAGE + 1:,}–{(page - 1) * TASKS_PER_PAGE + len(shown):,} "
                                 f"of {len(summaries):,}", page, pages, lambda n: link_to(tpage=n), "pages of tasks"))
    body.append(card("Tasks", tasks_card, id="run-tasks"))
    if expanded:
        body.append(_instances(dag_id, run_id, detail.tasks, expanded, _number(params.get("ipage")), link_to))
    return html.Div([header, *body])


TASKS_PER_PAGE = 100
INSTANCES_PER_PAGE = 50


def _number(value: str | None) -> int:
    """A 1-based page number from the URL; anything else is the first page."""
    if not (value and value.isascii() and value.isdigit()):  # "²".isdigit() holds too
        return 1
    return max(1, min(int(value[:7]), 1_000_000))


def _linker(dag_id: str, run_id: str, page: int, task: str, ipage: int) -> Any:
    """URLs of this page with some of its paging changed (shareable, no callback)."""

    def link_to(**changes: Any) -> str:
        params = {"tpage": page, "task": task or None, "ipage": ipage, **changes}
        params = {k: v for k, v in params.items() if v not in (None, "", 1)}
        return href("run", dag_id=dag_id, run_id=run_id, **params)

    return link_to


def _outputs_text(outputs: dict[str, int | None], tracked: bool) -> str:
    text = ", ".join(f"{name} ({fmt_number(rows)} rows)" if rows is not None else name for name, rows in outputs.items())
    return text or ("–" if tracked else "not tracked")


def _table(dag_id: str, run_id: str, tasks: list[TaskSummary], link_to: Any, expanded: str) -> html.Table:
    """One row per task; a mapped task's row counts its instances and links to them."""
    rows = []
    for t in tasks:
        if t.mapped:
            opened = t.task_id == expanded
            name: Any = [
                link(t.task_id, link_to(task=None if opened else t.task_id, ipage=None)),
                html.Span(f" {t.instances:,} instances{' ▾' if opened else ' ▸'}", className="dd-muted"),
            ]
        elif t.tracked:
            name = link(t.task_id, href("ti", dag_id=dag_id, run_id=run_id, task_id=t.task_id, map_index=-1))
        else:
            name = html.Span(t.task_id, className="dd-muted", title="not tracked")
        states = [html.Span([state_badge(s), f" {n:,}" if t.mapped else ""], className="dd-state-count")
                  for s, n in t.states.items()]
        duration = (
            f"{fmt_duration(t.min_duration_s)} – {fmt_duration(t.max_duration_s)}"
            if t.mapped and t.min_duration_s != t.max_duration_s
            else fmt_duration(t.max_duration_s)
        )
        rows.append(
            html.Tr(
                [
                    html.Td(name),
                    html.Td(states),
                    html.Td(str(t.tries), className="dd-num", title="the highest try number of its instances"),
                    html.Td(fmt_time(t.start)),
                    html.Td(duration, className="dd-num"),
                    html.Td(_outputs_text(t.outputs, bool(t.tracked))),
                ]
            )
        )
    return html.Table(
        [
            html.Thead(html.Tr([html.Th(h) for h in ("Task", "State", "Tries", "Started", "Duration", "Tracked outputs")])),
            html.Tbody(rows),
        ],
        className="dd-table",
    )


def _instances(dag_id: str, run_id: str, tasks: list[queries.RunTask], task_id: str, ipage: int, link_to: Any) -> Any:
    """One page of a task's instances, by map index, each linking to its own page."""
    shown, total = task_instances(tasks, task_id, ipage, INSTANCES_PER_PAGE)
    if not total:
        return card(f"Instances of {task_id}", empty_state(f"This run has no task {task_id!r}.", "Pick a task in the table."))
    pages = max(1, -(-total // INSTANCES_PER_PAGE))
    rows = []
    for t in shown:
        url = href("ti", dag_id=dag_id, run_id=run_id, task_id=t.task_id, map_index=t.map_index)
        duration = (t.end - t.start).total_seconds() if t.start and t.end else None
        rows.append(
            html.Tr(
                [
                    html.Td(link(f"[{t.map_index}]", url) if t.tracked else html.Span(f"[{t.map_index}]", className="dd-muted")),
                    html.Td(state_badge(t.state)),
                    html.Td(str(t.try_number), className="dd-num"),
                    html.Td(fmt_time(t.start)),
                    html.Td(fmt_duration(duration), className="dd-num"),
                    html.Td(_outputs_text(dict(t.outputs), t.tracked)),
                ]
            )
        )
    first = (min(ipage, pages) - 1) * INSTANCES_PER_PAGE + 1
    merged = href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index="all")
    body = [
        link("All instances' outputs, merged", merged) if any(t.tracked for t in tasks if t.task_id == task_id) else "",
        html.Table(
            [
                html.Thead(html.Tr([html.Th(h) for h in ("Map index", "State", "Try", "Started", "Duration", "Tracked outputs")])),
                html.Tbody(rows),
            ],
            className="dd-table",
        ),
        pager(f"Instances {first:,}–{first + len(shown) - 1:,} of {total:,}", min(ipage, pages), pages,
               lambda n: link_to(ipage=n), f"pages of {task_id}'s instances"),
    ]
    return card(f"Instances of {task_id}", body, id="run-instances")
