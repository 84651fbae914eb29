"""Home (Airflow's "Data" menu entry): every DAG with tracked outputs the user may read."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, dcc, html

from ddtrack import queries
from ddtrack.queries.alerts import attention
from ddtrack.queries.home import MAX_PAGE_SIZE, PAGE_SIZE, DagPage, home_page
from ddtrack.views import across, figures
from ddtrack.views.alerts import attention_panel, badges
from ddtrack.views.common import (
    breadcrumbs,
    empty_state,
    fmt_time,
    href,
    kept_by_ddtrack,
    link,
    page_header,
    pager,
    safe,
    state_badge,
)
from ddtrack.views.context import PageContext, request_context
from ddtrack.views.status_panel import cached_status, status_panel


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    per_page = _number(params.get("per_page"), PAGE_SIZE, MAX_PAGE_SIZE)
    result = home_page(ctx.sources, ctx.allowed, _number(params.get("page"), 1, 1_000_000), per_page)
    header = page_header(
        "Data",
        "Tracked outputs of your DAGs: profiles, lineage and run history recorded by ddtrack.",
        breadcrumbs(("Data", None)),
        href(""),
        extra=[  # across DAGs (issue 13)
            link("Search", href("search"), className="dd-link dd-button-link"),
            link("Suspects and stale", href("suspects"), className="dd-link dd-button-link"),
            link("PII", href("pii"), className="dd-link dd-button-link"),
        ],
    )
    search = html.Div(
        [
            dcc.Input(
                id="home-search",
                type="search",
                placeholder="Search DAGs, tasks, outputs, columns and tags…",
                debounce=0.3,
                value=params.get("q", ""),
                className="dd-search",
                autoComplete="off",
            ),
            html.Div(id="home-search-results", className="dd-search-results"),
        ]
    )
    if not result.dags and result.total == 0:
        body: list[Any] = [
            empty_state(
                "No tracked outputs yet.",
                "Decorate a task function with @track (from ddtrack import track), run its DAG, and its outputs appear here.",
            )
        ]
    else:
        body = [_dag_table(result.dags, result.alerts), _pager(result, params.get("q", ""), per_page != PAGE_SIZE)]
        body.insert(0, attention_panel(attention(ctx.sources, ctx.allowed)))  # across runs (C2)
        body.insert(0, across.badges_row(ctx))  # across DAGs: stale, overdue, suspect, PII
    if result.metastore_error:
        body.insert(
            0,
            html.Div(
                f"{queries.MetastoreUnavailable.message}: last runs are not shown.",
                className="dd-warning dd-metastore-error",
                role="alert",
            ),
        )
    return html.Div([header, search, *body, _status_slot()])


def _status_slot() -> Any:
    """Where admins get ddtrack's deployment status; filled by a callback after the page shows,
    so the checks (a few database round trips) never delay home."""
    return html.Div(id="home-status", className="dd-home-status") if _may_administer() else None


def _may_administer() -> bool:
    """Whether the user of the request being served may see the deployment's status
    (False when the page is built outside a request: a benchmark, a test of the layout)."""
    from flask import has_request_context

    from ddtrack import auth

    return has_request_context() and auth.may_administer(auth.current_user())


def _number(value: str | None, default: int, highest: int) -> int:
    """A page number or size from the URL, within 1..``highest``."""
    try:
        return max(1, min(int(value or default), highest))
    except ValueError:
        return default


def _pager(result: DagPage, q: str, own_size: bool) -> html.Nav:
    """'DAGs 51–100 of 1,000' with links to the previous and next pages (shareable URLs)."""
    first = (result.page - 1) * result.page_size + 1
    last = first + len(result.dags) - 1
    shown = f"DAGs {first:,}–{last:,} of {result.total:,}" if result.dags else f"No DAGs on page {result.page:,}"

    def url(page: int) -> str:
        params = {"page": page, "per_page": result.page_size if own_size else None, "q": q or None}
        return f"{href('')}?{urlencode({k: v for k, v in params.items() if v is not None})}"

    return pager(shown, result.page, result.pages, url, "pages of DAGs")


def _dag_table(dags: list[queries.DagSummary], alerts: dict[str, dict[str, int]]) -> html.Table:
    rows = []
    for d in dags:
        latest = html.Span(f"{d.rows_by_run[-1][1]:,} rows" if d.rows_by_run else "–", className="dd-muted")
        spark = (
            html.Div(
                [
                    dcc.Graph(
                        figure=figures.sparkline(d.rows_by_run),
                        config={"staticPlot": True},
                        className="dd-spark",
                    ),
                    latest,
                ],
                className="dd-spark-cell",
                title=f"rows of the last {len(d.rows_by_run)} runs",
            )
            if len(d.rows_by_run) > 1
            else latest
        )
        last = (
            [
                state_badge(d.last_state),
                " ",
                link(fmt_time(d.last_time), href("run", dag_id=d.dag_id, run_id=d.last_run_id)),
                *([" ", kept_by_ddtrack()] if d.last_kept_by_ddtrack else []),
            ]
            if d.last_run_id
            else "–"
        )
        rows.append(
            html.Tr(
                [
                    html.Td(link(d.dag_id, href("dag", dag_id=d.dag_id), className="dd-link dd-strong")),
                    html.Td(last),
                    html.Td(f"{d.n_outputs}", className="dd-num"),
                    html.Td(f"{d.n_tasks}", className="dd-num"),
                    html.Td(spark),
                    html.Td(badges(alerts.get(d.dag_id), "in the last 7 days")),
                ],
                **{"data-dag-id": d.dag_id},
            )
        )
    return html.Table(
        [
            html.Thead(
                html.Tr(
                    [
                        html.Th("DAG"),
                        html.Th("Last run"),
                        html.Th("Tracked outputs"),
                        html.Th("Tracked tasks"),
                        html.Th("Rows, recent runs"),
                        html.Th("Alerts, 7 days"),
                    ]
                )
            ),
            html.Tbody(rows),
        ],
        className="dd-table dd-dag-list",
    )


HOME_HITS = 15  # hits under home's search box; the search page has them all


def register(app) -> None:
    @app.callback(Output("home-status", "children"), Input("home-status", "id"))
    @safe("show ddtrack's status")
    def show_status(_: Any) -> Any:
        if not _may_administer():  # the callback can be called directly: check again
            return None
        return status_panel(cached_status(request_context().sources))

    @app.callback(Output("home-search-results", "children"), Input("home-search", "value"))
    @safe("search")
    def run_search(text: str | None) -> Any:
        if not text or len(text.strip()) < 2:
            return None
        ctx = request_context()
        hits = queries.search(ctx.sources, text, ctx.allowed, limit=HOME_HITS)
        if not hits:
            return html.Div(f"Nothing tracked matches {text.strip()!r}.", className="dd-muted")
        more = link("All results, by kind →", href("search", q=text.strip()[:100]), className="dd-link dd-all-hits")
        return [across.hit_list(hits[:HOME_HITS]), more]
