"""Task instance page, the heart: each output's profile, code, tags, lineage and diff."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from dash import html

from ddtrack import queries
from ddtrack.views import alerts, output
from ddtrack.views.alerts import instance_sections
from ddtrack.views.common import (
    airflow_href,
    card,
    empty_state,
    fmt_duration,
    fmt_number,
    fmt_time,
    href,
    link,
    not_found,
    page_header,
    state_badge,
    top_link,
)
from ddtrack.views.context import PageContext
from ddtrack.views.output import ALL_INDEXES, more_note, output_key, output_section, output_tabs, tag_chips
from ddtrack.views.pages import mapped
from ddtrack.views.pages.compare import compare_with


def _int(value: str | None, default: int | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, run_id, task_id = params.get("dag_id", ""), params.get("run_id", ""), params.get("task_id", "")
    map_index = _int(params.get("map_index"), -1)
    try_number = _int(params.get("try_number"), None)
    if not ctx.can_read(dag_id):
        return not_found("DAG", dag_id)
    if params.get("map_index") == ALL_INDEXES:
        return mapped.layout(ctx, dag_id, run_id, task_id)
    detail = queries.task_instance(ctx.sources, dag_id, run_id, task_id, map_index, try_number, allowed=ctx.allowed)
    name = task_id + (f" [{map_index}]" if map_index >= 0 else "")
    crumbs = mapped.crumbs(dag_id, run_id, name)
    if detail is None:
        header = page_header(
            name,
            f"Task instance of run {run_id}",
            crumbs,
            href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index),
        )
        return html.Div(
            [
                header,
                empty_state(
                    "This task instance has no tracked outputs.",
                    "Add @track under @task on the task's function (from ddtrack import track), or call "
                    "ddtrack.log_output(...) in it; its next run records its outputs here. "
                    "If it just finished, its record is ingested when the DAG run ends (or run `ddtrack sync`).",
                ),
                html.Div(link("History of this task →", href("task", dag_id=dag_id, task_id=task_id))),
            ]
        )
    page = _page(detail, crumbs, name)
    page.children[2:2] = instance_sections(ctx, detail)  # across runs (C2): drift/anomaly badges, Checks
    page.children.insert(2, compare_with(ctx, dag_id, run_id))  # C1: "compare with…" another run
    return page


def _page(d: queries.InstanceDetail, crumbs: Any, name: str) -> html.Div:
    ti_path = (
        f"/dags/{quote(d.dag_id, safe='')}/runs/{quote(d.run_id, safe='')}/tasks/{quote(d.task_id, safe='')}"
    )
    if d.map_index >= 0:
        ti_path += f"/mapped/{d.map_index}"
    header = page_header(
        name,
        [
            state_badge(d.state),
            f" try {d.try_number} · started {fmt_time(d.started_at)} · took {fmt_duration(d.duration_s)}",
        ],
        crumbs,
        _try_href(d, d.try_number),
        extra=[
            link("Task history", href("task", dag_id=d.dag_id, task_id=d.task_id)),
            top_link("Open in Airflow", airflow_href(ti_path)),
        ],
    )
    parts: list[Any] = [header, _pickers(d)]
    if d.error_type:
        parts.append(
            html.Div(
                [html.Strong(f"{d.error_type}: "), d.error_message or ""], className="dd-error", role="alert"
            )
        )
    for w in d.warnings:
        parts.append(html.Div(w, className="dd-warning"))
    if not d.outputs:
        parts.append(
            empty_state(
                "This try recorded no outputs.",
                "It failed before returning, or its function returned None without calling ddtrack.log_output(...).",
            )
        )
    else:
        sections = [_instance_output(d, o, i) for i, o in enumerate(d.outputs)]
        parts.append(output_tabs(sections, [o.name for o in d.outputs]))
    parts.append(html.Div([card("Lineage", _lineage(d)), card("Run", _run_facts(d))], className="dd-two"))
    parts.append(
        card(
            [
                "Code ",
                html.Span(
                    f"sha256 {d.code_hash[:12]}…" if d.code_hash else "",
                    className="dd-muted dd-mono",
                    title=d.code_hash or "",
                ),
            ],
            _code(d),
        )
    )
    return html.Div(parts)


def _try_href(d: queries.InstanceDetail, try_number: int, run_id: str | None = None) -> str:
    """Link to one try of this task instance (of another run of it when ``run_id`` is given)."""
    return href(
        "ti", dag_id=d.dag_id, run_id=run_id or d.run_id, task_id=d.task_id, map_index=d.map_index,
        try_number=try_number,
    )


def _pickers(d: queries.InstanceDetail) -> html.Div:
    tries = [
        link(
            f"try {t.try_number} ({t.state})",
            _try_href(d, t.try_number),
            className="dd-chip" + (" dd-chip-on" if t.try_number == d.try_number else ""),
        )
        for t in d.tries
    ]
    items: list[Any] = [html.Span("Tries: ", className="dd-muted"), *tries] if len(d.tries) > 1 else []
    if len(d.map_indexes) > 1:
        items += mapped.map_index_chips(d.dag_id, d.run_id, d.task_id, d.map_indexes, d.map_index)
    return html.Div(items, className="dd-pickers")


def _instance_output(d: queries.InstanceDetail, o: queries.OutputDetail, index: int) -> html.Div:
    diff = next((x for x in (d.previous.diffs if d.previous else []) if x.name == o.name), None)
    key = output_key(d.dag_id, d.run_id, d.task_id, d.map_index, d.try_number, o.name)
    return output_section(o, index, key, d.output_tags.get(o.name, {}), _diff(d, diff))


def _diff(d: queries.InstanceDetail, diff: queries.OutputDiff | None) -> Any:
    if d.previous is None:
        return html.Div("No earlier successful run of this task to compare with.", className="dd-muted")
    prev = d.previous
    intro = html.Div(
        [
            "Against ",
            link(
                prev.run_id,
                _try_href(d, prev.try_number, run_id=prev.run_id),
            ),
            f" (started {fmt_time(prev.started_at)}).",
        ],
        className="dd-muted",
    )
    if (
        diff is None
        or diff.rows_before is None
        and not any(c.change != "same" or c.null_pct_before is not None for c in diff.columns)
    ):
        return html.Div([intro, html.Div("That run had no output of this name.")])
    delta = (diff.rows_after or 0) - (diff.rows_before or 0)
    rows_line = html.Div(
        [
            html.Strong("Rows: "),
            f"{fmt_number(diff.rows_before)} → {fmt_number(diff.rows_after)} ",
            html.Span(
                f"({delta:+,})", className="dd-bad" if delta < 0 else "dd-good" if delta > 0 else "dd-muted"
            ),
        ]
    )
    schema_line = html.Div(
        [html.Strong("Schema: "), "changed" if diff.schema_changed else "unchanged"],
        className="dd-bad" if diff.schema_changed else "",
    )
    # Changed columns first; a wide output's diff is cut to its first rows.
    shown = sorted(diff.columns, key=lambda c: c.change == "same")[: output.MAX_TABLE_ROWS]
    rows = []
    for c in shown:
        rows.append(
            html.Tr(
                [
                    html.Td(c.name),
                    html.Td(c.change, className=f"dd-change-{c.change}"),
                    html.Td(
                        f"{c.dtype_before or '–'} → {c.dtype_after or '–'}"
                        if c.change == "type"
                        else (c.dtype_after or c.dtype_before or "")
                    ),
                    html.Td(_pair(c.null_pct_before, c.null_pct_after, "%", digits=2)),
                    html.Td(_pair(c.mean_before, c.mean_after, "")),
                ]
            )
        )
    table = html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th(h)
                        for h in (
                            "column",
                            "change",
                            "type",
                            "null rate before → after",
                            "mean before → after",
                        )
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="dd-table dd-diff",
    )
    more = more_note(len(shown), len(diff.columns), "columns compared (changed ones are listed first)")
    return html.Div([intro, rows_line, schema_line, table, *more])


def _pair(before: float | None, after: float | None, unit: str, digits: int = 4) -> str:
    if before is None and after is None:
        return "–"
    text = f"{fmt_number(before, digits)}{unit if before is not None else ''} → {fmt_number(after, digits)}{unit if after is not None else ''}"
    if before is not None and after is not None and before != after:
        text += f" ({after - before:+.4g})"
    return text


def _lineage(d: queries.InstanceDetail) -> html.Div:
    inputs = []
    for i in d.inputs:
        if i.get("kind") == "task" and i.get("upstream_task_id"):
            inputs.append(
                html.Li(
                    [
                        html.Span("task ", className="dd-kind"),
                        link(
                            f"{i['upstream_task_id']}.{i.get('upstream_output') or 'return_value'}",
                            href("ti", dag_id=d.dag_id, run_id=d.run_id, task_id=i["upstream_task_id"]),
                        ),
                    ]
                )
            )
        else:
            inputs.append(
                html.Li(
                    [
                        html.Span(f"{i.get('kind')} ", className="dd-kind"),
                        html.Span(str(i.get("name") or ""), className="dd-strong"),
                        " ",
                        html.Span(str(i.get("uri") or ""), className="dd-mono dd-wrap"),
                    ]
                )
            )
    consumers = []
    for c in d.consumers:
        url = (
            href("ti", dag_id=c["dag_id"], run_id=c["run_id"], task_id=c["task_id"])
            if c["via"] == "xcom"
            else href("task", dag_id=c["dag_id"], task_id=c["task_id"])
        )
        label = c["task_id"] if c["dag_id"] == d.dag_id else f"{c['dag_id']}.{c['task_id']}"
        consumers.append(
            html.Li(
                [
                    html.Span(f"{c['via']} ", className="dd-kind"),
                    link(label, url),
                    html.Span(f" reads {c.get('name') or 'return_value'}", className="dd-muted"),
                ]
            )
        )
    return html.Div(
        [
            html.H4("Upstream inputs"),
            html.Ul(inputs, className="dd-inputs")
            if inputs
            else html.Div(
                "None recorded (no XCom arguments, log_input or Asset inlets).", className="dd-muted"
            ),
            html.H4("Downstream consumers"),
            html.Ul(consumers, className="dd-consumers")
            if consumers
            else html.Div(
                "No task you can read reads this output (as recorded)."
                if d.hidden_consumers
                else "No task reads this output (as recorded).",
                className="dd-muted",
            ),
            *([_hidden_consumers(d.hidden_consumers)] if d.hidden_consumers else []),
        ]
    )


def _hidden_consumers(count: int) -> html.Div:
    """Readers in DAGs the user may not read: how many, nothing that names them."""
    text = "1 consumer in a DAG you cannot read" if count == 1 else f"{count} consumers in DAGs you cannot read"
    return html.Div(text, className="dd-muted dd-hidden-consumers")


def _run_facts(d: queries.InstanceDetail) -> html.Div:
    facts = [
        ("Function", _function_name(d.function)),
        ("Started", fmt_time(d.started_at)),
        ("Ended", fmt_time(d.ended_at)),
        ("Duration", fmt_duration(d.duration_s)),
        ("Tracked", "yes (@track)" if d.tracked else "log_output/log_input only"),
    ]
    rows = [html.Tr([html.Th(k, scope="row"), html.Td(v, className="dd-wrap")]) for k, v in facts]
    parts: list[Any] = [html.Table(html.Tbody(rows), className="dd-table dd-facts")]
    if d.tags:
        parts += [html.H4("Tags"), tag_chips(d.tags)]
    return html.Div(parts)


def _function_name(name: str | None) -> str:
    """The function's dotted name without the module prefix Airflow gives DAG files it loads."""
    if not name:
        return "–"
    return re.sub(r"unusual_prefix_[0-9a-f]+_", "", name)


def _code(d: queries.InstanceDetail) -> Any:
    if not d.source:
        return html.Div("No source recorded for this function.", className="dd-muted")
    return html.Pre(html.Code(d.source), className="dd-code")


def register(app) -> None:
    """The callbacks of this page: the describe grid and chart picker of each output, the map-index box,
    and acknowledging or muting alerts."""
    output.register(app)
    mapped.register(app)
    alerts.register(app)
