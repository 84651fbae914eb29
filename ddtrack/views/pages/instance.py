"""Task instance page, the heart: each output's profile, code, tags, lineage and diff."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from dash import dcc, html

from ddtrack import queries
from ddtrack.views import figures
from ddtrack.views.common import (
    airflow_href,
    breadcrumbs,
    card,
    empty_state,
    fmt_bytes,
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

MAX_CHARTS = 40
BASE_STATS = (
    "dtype",
    "kind",
    "count",
    "nulls",
    "null %",
    "distinct",
    "mean",
    "std",
    "min",
    "max",
    "zeros",
    "negatives",
    "infinities",
)


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
        return _whole_layout(ctx, dag_id, run_id, task_id)
    detail = queries.task_instance(ctx.sources, dag_id, run_id, task_id, map_index, try_number)
    name = task_id + (f" [{map_index}]" if map_index >= 0 else "")
    crumbs = _crumbs(dag_id, run_id, name)
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
    return _page(detail, crumbs, name)


def _crumbs(dag_id: str, run_id: str, name: str) -> Any:
    return breadcrumbs(
        ("Data", href("")),
        (dag_id, href("dag", dag_id=dag_id)),
        (run_id, href("run", dag_id=dag_id, run_id=run_id)),
        (name, None),
    )


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
        parts.append(_output_tabs([_instance_output(d, o) for o in d.outputs], [o.name for o in d.outputs]))
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
        items += _map_index_chips(d.dag_id, d.run_id, d.task_id, d.map_indexes, d.map_index)
    return html.Div(items, className="dd-pickers")


ALL_INDEXES = "all"


def _map_index_chips(dag_id: str, run_id: str, task_id: str, indexes: list[int], current: int | str) -> list[Any]:
    """Links to the merged whole of a mapped task and to each of its map indexes."""
    def chip(label: str, value: int | str) -> Any:
        return link(
            label,
            href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=value),
            className="dd-chip" + (" dd-chip-on" if value == current else ""),
        )

    return [
        html.Span(" Mapped instances: ", className="dd-muted"),
        chip(f"all {len(indexes)} (merged)", ALL_INDEXES),
        *[chip(str(m), m) for m in indexes[:100]],
    ]


def _whole_layout(ctx: PageContext, dag_id: str, run_id: str, task_id: str) -> Any:
    """The merged whole of a mapped task: one profile per output over every map index."""
    whole = queries.mapped_whole(ctx.sources, dag_id, run_id, task_id)
    name = f"{task_id} [all]"
    crumbs = _crumbs(dag_id, run_id, name)
    share = href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=ALL_INDEXES)
    if whole is None:
        return html.Div(
            [
                page_header(name, f"Mapped task of run {run_id}", crumbs, share),
                empty_state(
                    "This task has no tracked mapped instances in this run.",
                    "The merged view is for tasks created with .expand(...): each map index's outputs are merged here.",
                ),
            ]
        )
    indexes = [p.map_index for p in whole.parts]
    states = sorted({p.state for p in whole.parts})
    header = page_header(
        name,
        f"{len(indexes)} mapped instances merged (newest try of each; {', '.join(states)})",
        crumbs,
        share,
        extra=[link("Task history", href("task", dag_id=dag_id, task_id=task_id))],
    )
    parts: list[Any] = [
        header,
        html.Div(_map_index_chips(dag_id, run_id, task_id, indexes, ALL_INDEXES), className="dd-pickers"),
        card(
            "Each map index",
            dcc.Graph(figure=figures.rows_per_index(whole.parts), config=figures.graph_config()),
        ),
    ]
    if not whole.outputs:
        parts.append(empty_state("No outputs recorded.", "The mapped instances recorded no outputs."))
    else:
        sections = [
            _output_section(
                o,
                {},
                None,
                f"Merged from {whole.parts_per_output[o.name]:,} of {len(indexes):,} map indexes "
                "(counts and sums exact; quantiles, histograms and distinct counts from the parts' sketches).",
            )
            for o in whole.outputs
        ]
        parts.append(_output_tabs(sections, [o.name for o in whole.outputs]))
    return html.Div(parts)


def _output_tabs(sections: list[Any], names: list[str]) -> Any:
    """One output as is; several as tabs named after them."""
    if len(sections) == 1:
        return sections[0]
    return dcc.Tabs(
        [dcc.Tab(s, label=n, value=f"out-{i}") for i, (s, n) in enumerate(zip(sections, names, strict=True))],
        value="out-0",
        className="dd-tabs",
    )


def _instance_output(d: queries.InstanceDetail, o: queries.OutputDetail) -> html.Div:
    diff = next((x for x in (d.previous.diffs if d.previous else []) if x.name == o.name), None)
    return _output_section(o, d.output_tags.get(o.name, {}), _diff(d, diff))


def _output_section(
    o: queries.OutputDetail, tags: dict[str, str], comparison: Any | None, merged_note: str | None = None
) -> html.Div:
    """An output's facts, distributions, describe table, schema and sample; ``comparison``
    is the diff against the previous run (None: no such card)."""
    facts = [
        ("Output", o.name),
        ("Type", o.type_name or o.kind),
        ("Rows", fmt_number(o.rows)),
        ("Columns", fmt_number(o.n_columns)),
        ("Memory", fmt_bytes(o.memory_bytes)),
        ("URI", o.uri or "–"),
        ("Schema fingerprint", (o.schema_fingerprint or "–")[:16]),
    ]
    header = html.Div(
        [
            html.Div(
                [html.Div(k, className="dd-stat-label"), html.Div(v, className="dd-stat-value dd-wrap")],
                className="dd-stat",
            )
            for k, v in facts
        ],
        className="dd-stats",
    )
    parts: list[Any] = [header]
    if tags:
        parts.append(_tag_chips(tags))
    batches = o.detail.get("batches")
    if merged_note or (isinstance(batches, int) and batches > 1):
        parts.append(
            html.Div(
                merged_note or f"Logged in {batches:,} batches, merged into one profile for the whole.",
                className="dd-muted dd-merged",
                title="Counts, nulls, min, max, mean and std are exact; quantiles, histograms and distinct "
                "counts of merged parts are estimates from the parts' sketches (rank error ≤ 0.8 %, "
                "distinct ±1.6 %).",
            )
        )
    if o.truncated:
        parts.append(
            html.Div(
                "The profile was truncated to keep the record small: some columns lack detail.",
                className="dd-warning",
            )
        )
    if o.detail.get("pii"):
        parts.append(
            html.Div(
                f"PII columns (values never stored): {', '.join(map(str, o.detail['pii']))}",
                className="dd-muted",
            )
        )
    if o.columns:
        parts.append(card("Distributions", _column_charts(o)))
        parts.append(
            card(
                "Nulls and distinct values per column",
                dcc.Graph(figure=figures.nulls_and_distinct(o.columns), config=figures.graph_config()),
            )
        )
        parts.append(card("Describe", _describe(o)))
    elif o.detail.get("repr"):
        parts.append(card("Value", html.Pre(str(o.detail["repr"]), className="dd-code")))
    if comparison is not None:
        parts.append(card("Compared with the previous successful run", comparison))
    if o.columns:
        parts.append(card("Schema", _schema(o)))
    if o.detail.get("sample"):
        parts.append(card("Sample rows", _sample(o.detail["sample"])))
    return html.Div(parts, className="dd-output", **{"data-output": o.name})


def _column_charts(o: queries.OutputDetail) -> html.Div:
    charts = []
    for c in o.columns[:MAX_CHARTS]:
        hist = c.stats.get("histogram") or {}
        top = c.stats.get("top_values")
        if hist.get("edges") and hist.get("counts"):
            fig = figures.histogram(c.name, hist["edges"], hist["counts"], is_time=c.kind == "datetime")
        elif top:
            fig = figures.top_values(c.name, top, c.count)
        else:
            continue
        charts.append(
            html.Div(
                dcc.Graph(figure=fig, config=figures.graph_config()),
                className="dd-chart",
                **{"data-column": c.name},
            )
        )
    if not charts:
        return empty_state(
            "No distributions recorded.",
            "Histograms and top values are recorded for numeric, datetime and categorical columns (never for PII columns).",
        )
    more = len(o.columns) - MAX_CHARTS
    note = (
        [html.Div(f"{more} more columns: see the describe table.", className="dd-muted")] if more > 0 else []
    )
    return html.Div([html.Div(charts, className="dd-chart-grid"), *note])


def _describe(o: queries.OutputDetail) -> html.Div:
    quantile_keys = sorted({k for c in o.columns for k in (c.stats.get("quantiles") or {})}, key=float)
    has_len = any(c.stats.get("str_len") for c in o.columns)
    header = ["column", *BASE_STATS, *[f"q{float(k) * 100:g}%" for k in quantile_keys]] + (
        ["len min", "len mean", "len max"] if has_len else []
    )
    rows = []
    for c in o.columns:
        q = c.stats.get("quantiles") or {}
        sl = c.stats.get("str_len") or {}
        values = [
            c.dtype,
            c.kind,
            c.count,
            c.nulls,
            f"{c.null_pct:.2f}%" if c.null_pct is not None else None,
            f"~{c.n_distinct:,}" if c.distinct_estimated and c.n_distinct is not None else c.n_distinct,
            c.mean,
            c.std,
            c.stats.get("min"),
            c.stats.get("max"),
            c.zeros,
            c.negatives,
            c.infinities,
            *[q.get(k) for k in quantile_keys],
        ] + ([sl.get("min"), sl.get("mean"), sl.get("max")] if has_len else [])
        rows.append(html.Tr([html.Th(c.name, scope="row"), *[html.Td(fmt_number(v)) for v in values]]))
    return html.Div(
        html.Table(
            [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)],
            className="dd-table dd-describe",
        ),
        className="dd-scroll",
    )


def _schema(o: queries.OutputDetail) -> html.Table:
    schema = o.schema or [{"name": c.name, "dtype": c.dtype} for c in o.columns]
    rows = [
        html.Tr(
            [html.Td(str(i)), html.Td(str(s.get("name"))), html.Td(str(s.get("dtype")), className="dd-mono")]
        )
        for i, s in enumerate(schema)
        if isinstance(s, dict)
    ]
    return html.Table(
        [html.Thead(html.Tr([html.Th("#"), html.Th("column"), html.Th("type")])), html.Tbody(rows)],
        className="dd-table dd-schema",
    )


def _sample(sample: Any) -> Any:
    if isinstance(sample, list) and sample and isinstance(sample[0], dict):
        cols = list(sample[0].keys())
        rows = [html.Tr([html.Td(str(r.get(c))) for c in cols]) for r in sample[:50]]
        return html.Div(
            html.Table(
                [html.Thead(html.Tr([html.Th(str(c)) for c in cols])), html.Tbody(rows)], className="dd-table"
            ),
            className="dd-scroll",
        )
    return html.Pre(str(sample)[:5000], className="dd-code")


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
    rows = []
    for c in diff.columns:
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
    return html.Div([intro, rows_line, schema_line, table])


def _pair(before: float | None, after: float | None, unit: str, digits: int = 4) -> str:
    if before is None and after is None:
        return "–"
    text = f"{fmt_number(before, digits)}{unit if before is not None else ''} → {fmt_number(after, digits)}{unit if after is not None else ''}"
    if before is not None and after is not None and before != after:
        text += f" ({after - before:+.4g})"
    return text


def _tag_chips(tags: dict[str, str]) -> html.Div:
    return html.Div(
        [html.Span(f"{k}={v}", className="dd-tag") for k, v in sorted(tags.items())], className="dd-tags"
    )


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
            else html.Div("No task reads this output (as recorded).", className="dd-muted"),
        ]
    )


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
        parts += [html.H4("Tags"), _tag_chips(d.tags)]
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
