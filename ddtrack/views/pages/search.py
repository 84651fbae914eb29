"""Search (``search?q=&kind=``): DAGs, tasks, outputs, columns, tags and URIs, ranked (exact
name, then prefix, then substring), filtered by kind; each hit opens its page (an output its
catalog page, a column the page of that column across outputs, a URI its page)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from dash import Input, Output, dcc, html

from ddtrack import queries
from ddtrack.views import across
from ddtrack.views.common import breadcrumbs, href, page_header
from ddtrack.views.context import PageContext

LIMIT = 100


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    text = params.get("q", "")[:100]
    kinds = [k for k in params.get("kind", "").split(",") if k in across.SEARCH_KINDS]
    header = page_header(
        "Search",
        "Find DAGs, tasks, outputs, columns, tags and URIs across the DAGs you can read.",
        breadcrumbs(("Data", href("")), ("Search", None)),
        href("search", q=text or None, kind=",".join(kinds) or None),
    )
    form = html.Div(
        [
            dcc.Input(id="search-q", type="search", value=text, debounce=True, className="dd-search",
                      placeholder="Search DAGs, tasks, outputs, columns, tags and URIs…", autoComplete="off"),
            dcc.Checklist(id="search-kinds", options=[{"label": k, "value": k} for k in across.SEARCH_KINDS],
                          value=kinds, inline=True, className="dd-kinds"),
        ],
        className="dd-search-form",
    )
    return html.Div([header, form, html.Div(results(ctx, text, kinds), id="search-results")])


def results(ctx: PageContext, text: str, kinds: list[str]) -> Any:
    if len(text.strip()) < 2:
        return html.Div("Type two characters or more.", className="dd-muted")
    hits = queries.search(ctx.sources, text, ctx.allowed, limit=LIMIT, kinds=kinds or None)
    if not hits:
        return html.Div(f"Nothing tracked matches {text.strip()!r}.", className="dd-muted")
    return [html.Div(f"{len(hits)} results" + (" (the first ones)" if len(hits) == LIMIT else ""),
                     className="dd-muted"), across.hit_list(hits)]


def register(app) -> None:
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("search-q", "value"),
        Input("search-kinds", "value"),
        prevent_initial_call=True,
    )
    def choose(text: Any, kinds: Any) -> str:
        """The query and kinds go in the URL: the page is a shareable link."""
        text = text[:100] if isinstance(text, str) else ""
        kinds = [k for k in (kinds if isinstance(kinds, list) else []) if k in across.SEARCH_KINDS]
        params = {"q": text, "kind": ",".join(kinds)}
        return "?" + urlencode({k: v for k, v in params.items() if v})
