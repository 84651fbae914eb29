"""A URI or Asset (``catalog/uri?uri=``): who writes it and who reads it across DAGs, and
its versions over time (each version an output of a DAG you can read)."""

from __future__ import annotations

from typing import Any

from dash import dcc, html

from ddtrack import queries
from ddtrack.views import across, figures
from ddtrack.views.common import breadcrumbs, card, empty_state, href, link, page_header
from ddtrack.views.context import PageContext
from ddtrack.views.pages.catalog import versions_figure


def layout(ctx: PageContext, params: dict[str, str]) -> Any:
    uri = params.get("uri", "")
    header = page_header(
        uri or "URI",
        "A URI or Asset: the outputs that write it, the tasks that read it, its versions.",
        breadcrumbs(("Data", href("")), ("URI", None)),
        across.uri_href(uri),
        extra=[link("Impact downstream", href("trace", uri=uri), className="dd-link dd-button-link")] if uri else [],
    )
    page = queries.catalog_uri(ctx.sources, uri, allowed=ctx.allowed) if uri else None
    if page is None:
        return html.Div([header, empty_state(f"Nothing tracked that you can read writes or reads {uri!r}.",
                                             "It is unknown, or only DAGs you cannot read use it.")])
    producers = [*page.producers, *page.asset_producers]
    consumers, versions = page.consumers, page.versions
    parts: list[Any] = [header]
    if versions:
        parts.append(card("Versions over time", [
            dcc.Graph(figure=versions_figure(versions), config=figures.graph_config(), id="uri-versions-graph"),
            across.versions_table(versions),
        ], id="uri-versions"))
    parts.append(card("Written by", [_items(producers, "No tracked output writes it: an external input."),
                                     *across.hidden_note(page.hidden_producers, "more writers")],
                      id="uri-producers"))
    parts.append(card("Read by", [_items(consumers, "No tracked task reads it."),
                                  *across.hidden_note(page.hidden_consumers, "more readers")],
                      id="uri-consumers"))
    return html.Div(parts)


def _items(items: list[Any], empty: str) -> Any:
    if not items:
        return html.Div(empty, className="dd-muted")
    entries = []
    for item in items:
        if hasattr(item, "name") and hasattr(item, "task_id"):
            entries.append(html.Li([across.dataset_link(item), " ", across.dataset_badges(item)]))
        elif hasattr(item, "task_id") and hasattr(item, "dag_id"):  # a task (reads it, or an Asset outlet)
            entries.append(html.Li([link(f"{item.dag_id} / {item.task_id}",
                                         href("task", dag_id=item.dag_id, task_id=item.task_id)),
                                    html.Span(f" via {item.via}", className="dd-muted")]))
        else:
            entries.append(html.Li(str(item)))
    return html.Ul(entries)
