"""Suspects (``suspects``): every version downstream of an open flag, grouped by the flag, with
a review button per version for users who may edit its DAG; then stale outputs with their
reason and overdue outputs. The review callback checks the edit right again (in the query,
with ``editable``): anyone who may log in can call it directly."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from dash import ALL, Input, Output, State, dcc, html
from dash.exceptions import PreventUpdate

from ddtrack import auth, queries
from ddtrack.views import across
from ddtrack.views.common import breadcrumbs, card, fmt_time, href, link, page_header, safe
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.pages.catalog import user_name

REVIEW = "suspect-review"


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    header = page_header(
        "Suspects and stale outputs",
        "Versions downstream of a version flagged as bad, until someone reviews them; outputs built from an "
        "input that has changed since; outputs with no successful version in their freshness window.",
        breadcrumbs(("Data", href("")), ("Suspects", None)),
        href("suspects"),
    )
    editable = auth.current_editable_dag_ids()
    note = (
        html.Div(
            [dcc.Input(id="suspects-note", type="text", placeholder="Review note (why it is fine)",
                       className="dd-input", maxLength=2000)],
            className="dd-flag-form",
        )
        if editable
        else None
    )
    return html.Div(
        [
            header,
            card(
                "Suspect versions",
                [note, html.Div(id="suspects-result", role="status"),
                 html.Div(suspect_groups(ctx, editable), id="suspects-list")],
                id="suspects-card",
            ),
            card("Stale outputs", _stale(ctx), id="stale-card"),
            card("Overdue outputs", _overdue(ctx), id="overdue-card"),
        ]
    )


def suspect_groups(ctx: PageContext, editable: set[str]) -> Any:
    found = queries.suspects(ctx.sources, allowed=ctx.allowed)
    if not found:
        return html.Div("No suspect version: no open flag has anything downstream that is not reviewed.",
                        className="dd-muted")
    by_flag: dict[int, list[Any]] = defaultdict(list)
    flags = {}
    for s in found:
        by_flag[s.flag.id].append(s)
        flags[s.flag.id] = s.flag
    groups = []
    for flag_id, items in by_flag.items():
        f = flags[flag_id]
        groups.append(
            html.Section(
                [
                    html.Div(
                        [
                            across.badge("flagged", "flag"),
                            " ",
                            link(f"{f.dag_id} / {f.task_id} / {f.output_name}",
                                 across.catalog_href(f.dag_id, f.task_id, f.output_name), className="dd-link dd-strong"),
                            f" run {f.run_id}, by {f.flagged_by or '–'} {fmt_time(f.flagged_at)}: ",
                            html.Q(f.note or ""),
                        ],
                        className="dd-flag-head",
                    ),
                    across.versions_table(
                        [s.version for s in sorted(items, key=lambda s: s.hops)],
                        extra=lambda v: _review_cell(v, editable),
                    ),
                ],
                className="dd-suspect-group",
                **{"data-flag-id": str(flag_id)},
            )
        )
    return groups


def _review_cell(v: Any, editable: set[str]) -> Any:
    if v.dag_id not in editable:
        return across.badge("suspect", "suspect")
    return html.Button("Review", id={"type": REVIEW, "output_id": v.output_id}, className="dd-button", n_clicks=0)


def _stale(ctx: PageContext) -> Any:
    stale = queries.stale_outputs(ctx.sources, allowed=ctx.allowed)
    if not stale:
        return html.Div("No stale output: every newest version used the newest version of its inputs.",
                        className="dd-muted")
    rows = []
    for s in stale:
        rows.append(
            html.Tr(
                [
                    html.Td(across.dataset_link(s)),
                    html.Td(across.version_link(s)),
                    html.Td(fmt_time(s.started_at)),
                    html.Td([across.badge("stale", "stale"), " ", s.reason or ""]),
                    html.Td(link("trace", across.trace_href(s.output_id, "upstream"))),
                ],
                **{"data-dataset": f"{s.dag_id}/{s.task_id}/{s.name}"},
            )
        )
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in ("Output", "Run", "Started", "Why", "")])), html.Tbody(rows)],
        className="dd-table dd-stale",
    )


def _overdue(ctx: PageContext) -> Any:
    overdue = queries.overdue_outputs(ctx.sources, allowed=ctx.allowed)
    if not overdue:
        return html.Div("No overdue output: every output with a freshness window has a recent successful version.",
                        className="dd-muted")
    return across.datasets_table(overdue)


def register(app) -> None:
    @app.callback(
        Output("suspects-result", "children"),
        Output("suspects-list", "children"),
        Input({"type": REVIEW, "output_id": ALL}, "n_clicks"),
        State("suspects-note", "value"),
        prevent_initial_call=True,
    )
    @safe("review the version")
    def review(clicks: Any, note: Any) -> Any:
        from dash import ctx as dash_ctx

        trigger = dash_ctx.triggered_id
        if not isinstance(trigger, dict) or not any(isinstance(c, int) and c > 0 for c in (clicks or [])):
            raise PreventUpdate  # a list rendered anew, no click
        output_id = trigger.get("output_id")
        if not isinstance(output_id, int) or isinstance(output_id, bool):
            raise PreventUpdate
        page = request_context()
        editable = auth.current_editable_dag_ids()
        note = note.strip()[:2000] if isinstance(note, str) else ""
        try:
            queries.review_version(page.sources, output_id, note, user_name(), editable=editable, allowed=page.allowed)
        except PermissionError as exc:
            return html.Div(f"Refused: {exc}", className="dd-warning dd-refused", role="alert"), suspect_groups(
                page, editable
            )
        except LookupError as exc:
            return html.Div(str(exc), className="dd-warning", role="alert"), suspect_groups(page, editable)
        return html.Div("Reviewed: the version is no longer suspect.", className="dd-good"), suspect_groups(
            page, editable
        )
