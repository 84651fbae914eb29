"""Catalog page of one output (``catalog/output?dag_id=&task_id=&name=``): its versions over
time (rows per run, schema fingerprint changes marked), its columns with their latest
statistics, where it comes from and who reads it across DAGs, its tags, PII columns and
freshness, and its flags. Users who may edit the DAG flag a version as bad or review it;
the callback checks that right again, since anyone who may log in can call it directly."""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html

from ddtrack import auth, queries
from ddtrack.duration import format_seconds
from ddtrack.views import across, figures
from ddtrack.views.common import (
    breadcrumbs,
    card,
    fmt_number,
    fmt_time,
    href,
    link,
    local_time,
    not_found,
    page_header,
    pager,
    safe,
    state_color,
)
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.output import more_note, tag_chips

PAGE_SIZE = 50
MAX_COLUMNS = 200


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    dag_id, task_id, name = params.get("dag_id", ""), params.get("task_id", ""), params.get("name", "")
    if not ctx.can_read(dag_id):
        return not_found("output", name)
    page_no = _int(params.get("page"), 0)
    page = queries.catalog_output(
        ctx.sources, dag_id, task_id, name, allowed=ctx.allowed, page=page_no, page_size=PAGE_SIZE
    )
    if page is None:
        return not_found("output", name)
    d = page.dataset
    latest = page.versions[0] if page.versions else None
    lineage_links = (
        [
            link("Trace upstream", across.trace_href(latest.output_id, "upstream"), className="dd-link dd-button-link"),
            link("Impact downstream", across.trace_href(latest.output_id, "downstream"), className="dd-link dd-button-link"),
        ]
        if latest and page_no == 0
        else []
    )
    header = page_header(
        name,
        [f"Output of task {task_id} in DAG {dag_id}", *([" · ", link(d.uri, across.uri_href(d.uri))] if d.uri else [])],
        breadcrumbs(
            ("Data", href("")),
            (dag_id, href("dag", dag_id=dag_id)),
            (task_id, href("task", dag_id=dag_id, task_id=task_id)),
            (name, None),
        ),
        across.catalog_href(dag_id, task_id, name),
        extra=lineage_links,
    )
    return html.Div(
        [
            header,
            _facts(d),
            *([tag_chips(d.tags)] if d.tags else []),
            card("Versions over time", _versions(ctx, page, page_no), id="catalog-versions"),
            card("Columns (latest version)", _columns(page.columns, d.pii_columns), id="catalog-columns"),
            card("Across DAGs", _neighbours(page), id="catalog-neighbours"),
            card("Flags", _flags(page, dag_id, task_id, name), id="catalog-flags"),
        ],
        className="dd-catalog",
    )


def _int(value: str | None, default: int) -> int:
    try:
        return max(0, min(int(value or default), 1_000_000))
    except ValueError:
        return default


def _facts(d: Any) -> html.Div:
    stale = (
        html.Span([across.badge("stale", "stale"), " ", d.stale_reason], className="dd-stale-reason")
        if d.stale_reason
        else html.Span("no", className="dd-good")
    )
    fresh = "–" if not d.fresh_within_s else (
        html.Span([across.badge("overdue", "overdue"), f" nothing successful within {format_seconds(d.fresh_within_s)}"])
        if d.overdue
        else html.Span(f"fresh (within {format_seconds(d.fresh_within_s)})", className="dd-good")
    )
    facts = [
        ("Versions", fmt_number(d.n_versions)),
        ("Rows (latest)", fmt_number(d.latest_rows)),
        ("Last version", fmt_time(d.last_seen_at)),
        ("Last success", fmt_time(d.last_success_at)),
        ("Schema fingerprint", across.short(d.latest_fingerprint, 16)),
        ("Stale", stale),
        ("Freshness", fresh),
        ("PII columns", ", ".join(d.pii_columns) if d.pii_columns else "none"),
    ]
    stats = [
        html.Div([html.Div(k, className="dd-stat-label"), html.Div(v, className="dd-stat-value dd-wrap")], className="dd-stat")
        for k, v in facts
    ]
    return html.Div([html.Div(stats, className="dd-stats"), across.dataset_badges(d)], className="dd-catalog-facts")


def _versions(ctx: PageContext, page: Any, page_no: int) -> Any:
    if not page.versions:
        return html.Div("No version on this page.", className="dd-muted")
    chart = dcc.Graph(
        figure=versions_figure(page.versions), config=figures.graph_config(), id="catalog-versions-graph"
    )
    return [
        chart,
        across.versions_table(page.versions, with_output=False),
        _pager(page, page_no),
    ]


def versions_figure(versions: list[Any]) -> dict[str, Any]:
    """Rows of each version over time, coloured by state; a dotted line where the schema
    fingerprint changed from the version before."""
    ordered = list(reversed(versions))  # oldest left
    # Wall-clock times in the user's zone, as the tables show them (Plotly drops an offset).
    xs = [local_time(v.started_at).replace(tzinfo=None).isoformat() if v.started_at else figures.plot_text(v.run_id)
          for v in ordered]
    hover = [
        f"{figures.plot_text(v.run_id)}<br>{fmt_number(v.rows)} rows<br>schema {figures.plot_text(across.short(v.schema_fingerprint))}"
        f"<br>code {figures.plot_text(across.short(v.code_hash, 8))}"
        for v in ordered
    ]
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "x": xs,
            "y": [v.rows for v in ordered],
            "line": {"color": figures.ACCENT, "width": 2},
            "marker": {"size": 8, "color": [state_color(v.state) for v in ordered]},
            "hovertext": hover,
            "hoverinfo": "text",
        }
    ]
    changes = [
        x for x, prev, v in zip(xs[1:], ordered, ordered[1:], strict=False)
        if prev.schema_fingerprint and v.schema_fingerprint and prev.schema_fingerprint != v.schema_fingerprint
    ]
    shapes = [
        {"type": "line", "x0": x, "x1": x, "y0": 0, "y1": 1, "xref": "x", "yref": "paper",
         "line": {"color": figures.SCHEMA_CHANGE, "dash": "dot", "width": 1.5}}
        for x in changes
    ]
    annotations = [
        {"x": x, "y": 1.0, "xref": "x", "yref": "paper", "text": "schema changed", "showarrow": False,
         "font": {"color": figures.SCHEMA_CHANGE, "size": 10}, "yanchor": "bottom"}
        for x in changes
    ]
    layout = figures.base_layout(240, shapes=shapes, annotations=annotations)
    layout["yaxis"] = {"gridcolor": figures.GRID, "automargin": True, "title": {"text": "rows"}, "rangemode": "tozero"}
    return {"data": data, "layout": layout}


def _pager(page: Any, page_no: int) -> Any:
    d = page.dataset
    first = page_no * PAGE_SIZE
    shown = f"Versions {first + 1:,}–{first + len(page.versions):,} of {page.n_versions:,}, newest first"
    return pager(
        shown,
        page_no + 1,
        page.pages,
        lambda n: href("catalog/output", dag_id=d.dag_id, task_id=d.task_id, name=d.name, page=(n - 1) or None),
        "pages of versions",
        ("← Newer", "Older →"),
    )


def _columns(columns: list[Any], pii: list[str]) -> Any:
    if not columns:
        return html.Div("The latest version has no column profile (not a table).", className="dd-muted")
    pii_set = set(pii or [])
    rows = [
        html.Tr(
            [
                html.Td(link(c.name, across.column_href(c.name))),
                html.Td(c.dtype),
                html.Td(across.badge("PII", "pii") if c.name in pii_set else ""),
                html.Td(f"{c.null_pct:.2f}%" if c.null_pct is not None else "–", className="dd-num"),
                html.Td(fmt_number(c.n_distinct) + ("≈" if c.distinct_estimated and c.n_distinct is not None else ""),
                        className="dd-num"),
                html.Td("" if c.name in pii_set else fmt_number(c.stats.get("min") if isinstance(c.stats, dict) else None),
                        className="dd-num"),
                html.Td("" if c.name in pii_set else fmt_number(c.stats.get("max") if isinstance(c.stats, dict) else None),
                        className="dd-num"),
                html.Td(fmt_number(c.mean), className="dd-num"),
            ],
            **{"data-column": c.name},
        )
        for c in columns[:MAX_COLUMNS]
    ]
    header = ("Column", "Type", "", "Nulls", "Distinct", "Min", "Max", "Mean")
    return [
        html.Table([html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table"),
        *more_note(min(len(columns), MAX_COLUMNS), len(columns), "columns"),
    ]


def _neighbours(page: Any) -> Any:
    """Who writes the output's URI besides it, and who reads it, across DAGs; unreadable
    DAGs only as counts."""
    d = page.dataset
    writers = [
        html.Li([across.dataset_link(v), html.Span(f" run {v.run_id}", className="dd-muted")])
        for v in page.producers
        if (v.dag_id, v.task_id, v.name) != (d.dag_id, d.task_id, d.name)  # the output itself
    ]
    readers = [
        html.Li(
            [
                link(f"{t.dag_id} / {t.task_id}", href("task", dag_id=t.dag_id, task_id=t.task_id)),
                html.Span(f" via {t.via}" + (f" {t.uri}" if t.uri and t.via != "xcom" else ""), className="dd-muted"),
            ]
        )
        for t in page.consumer_tasks
    ]
    outputs = [html.Li([across.dataset_link(d), " ", across.dataset_badges(d)]) for d in page.consumers]
    return html.Div(
        [
            html.Div(
                [
                    html.H4("Also written to its URI by", className="dd-subtitle"),
                    html.Ul(writers) if writers else html.Div("No other output.", className="dd-muted"),
                    *across.hidden_note(page.hidden_producers, "more writers"),
                ],
                className="dd-catalog-producers",
            ),
            html.Div(
                [
                    html.H4("Read by", className="dd-subtitle"),
                    html.Ul(readers) if readers else html.Div("No tracked task you can read reads it.", className="dd-muted"),
                    *across.hidden_note(page.hidden_consumers, "readers"),
                ],
                className="dd-catalog-consumers",
            ),
            html.Div(
                [
                    html.H4("Outputs built from it", className="dd-subtitle"),
                    html.Ul(outputs) if outputs else html.Div("None tracked.", className="dd-muted"),
                ],
                className="dd-catalog-derived",
            ),
        ],
        className="dd-two-columns",
    )


def flag_list(flags: list[Any]) -> Any:
    """Every flag with who, when and the note, and its review if any."""
    if not flags:
        return html.Div("No version of this output is flagged.", className="dd-muted")
    items = []
    for f in flags:
        status = (
            html.Span(["reviewed by ", f.reviewed_by or "–", f" {fmt_time(f.reviewed_at)}",
                       *([": ", html.Q(f.review_note)] if f.review_note else [])], className="dd-good")
            if f.reviewed_at
            else across.badge("open", "flag")
        )
        items.append(
            html.Li(
                [
                    html.Span(f"run {f.run_id}", className="dd-strong"),
                    f" flagged by {f.flagged_by or '–'} {fmt_time(f.flagged_at)}: ",
                    html.Q(f.note or ""),
                    " ",
                    status,
                ],
                className="dd-flag" + (" dd-flag-open" if not f.reviewed_at else ""),
                **{"data-flag-id": str(f.id)},
            )
        )
    return html.Ul(items, className="dd-flags")


def _flags(page: Any, dag_id: str, task_id: str, name: str) -> Any:
    parts: list[Any] = [html.Div(flag_list(page.flags), id="catalog-flag-list")]
    if dag_id not in auth.current_editable_dag_ids():
        parts.append(html.Div("Only users who may edit this DAG can flag or review a version.", className="dd-muted"))
        return parts
    options = [{"label": f"{v.run_id} ({fmt_time(v.started_at)})", "value": v.output_id} for v in page.versions]
    parts += [
        html.Div(
            [
                dcc.Dropdown(id="catalog-flag-version", options=options,
                             value=options[0]["value"] if options else None, clearable=False, className="dd-select"),
                dcc.Input(id="catalog-flag-note", type="text", placeholder="Note (what is wrong, or why it is fine)",
                          className="dd-input", maxLength=2000, debounce=False),
                html.Button("Flag as bad", id="catalog-flag-button", className="dd-button dd-button-danger", n_clicks=0),
                html.Button("Review", id="catalog-review-button", className="dd-button", n_clicks=0),
            ],
            className="dd-flag-form",
        ),
        dcc.Store(id="catalog-ids", data={"dag_id": dag_id, "task_id": task_id, "name": name}),
    ]
    parts.append(html.Div(id="catalog-flag-result", role="status"))
    return parts


def user_name() -> str:
    try:
        return str(auth.current_user().get_name())
    except Exception:  # noqa: BLE001 - the name is a note on the flag
        return ""


def register(app) -> None:
    @app.callback(
        Output("catalog-flag-result", "children"),
        Output("catalog-flag-list", "children"),
        Input("catalog-flag-button", "n_clicks"),
        Input("catalog-review-button", "n_clicks"),
        State("catalog-flag-version", "value"),
        State("catalog-flag-note", "value"),
        State("catalog-ids", "data"),
        prevent_initial_call=True,
    )
    @safe("flag or review the version")
    def flag_or_review(flag_clicks: Any, review_clicks: Any, output_id: Any, note: Any, ids: Any) -> Any:
        """Flag or review, after checking edit rights here too (in the query, with ``editable``)."""
        from dash import ctx as dash_ctx
        from dash import no_update

        ids = ids if isinstance(ids, dict) else {}
        dag_id = str(ids.get("dag_id", ""))
        page = request_context()
        if not page.can_read(dag_id):
            return html.Div(f"No DAG {dag_id!r} that you can read.", className="dd-warning dd-refused", role="alert"), no_update
        if not isinstance(output_id, int) or isinstance(output_id, bool):
            return html.Div("Choose a version.", className="dd-muted"), no_update
        note = note.strip()[:2000] if isinstance(note, str) else ""
        editable = auth.current_editable_dag_ids()
        try:
            if dash_ctx.triggered_id == "catalog-review-button":
                done = queries.review_version(page.sources, output_id, note, user_name(), editable=editable,
                                              allowed=page.allowed)
                message = "Reviewed: the version is cleared." if done else "Nothing open to review on this version."
            else:
                if not note:
                    return html.Div("Say what is wrong in the note.", className="dd-warning", role="alert"), no_update
                queries.flag_version(page.sources, output_id, note, user_name(), editable=editable)
                message = "Flagged: every version downstream is now listed as suspect."
        except PermissionError as exc:
            return html.Div(f"Refused: {exc}", className="dd-warning dd-refused", role="alert"), no_update
        except LookupError as exc:
            return html.Div(str(exc), className="dd-warning", role="alert"), no_update
        return html.Div([message, " ", link("Suspects →", href("suspects"))], className="dd-good"), flag_list(
            _flags_of_output(page, ids)
        )


def _flags_of_output(page: PageContext, ids: dict) -> list[Any]:
    """Every flag of the output's versions, as the page lists them after a change."""
    found = queries.catalog_output(
        page.sources, str(ids.get("dag_id", "")), str(ids.get("task_id", "")), str(ids.get("name", "")),
        allowed=page.allowed, page=0, page_size=1,
    )
    return found.flags if found is not None else []
