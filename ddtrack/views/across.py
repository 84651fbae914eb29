"""Pieces the across-DAG pages share (issue 13): links to catalog, trace and column pages,
freshness / PII / flag badges, a table of exact versions, and the badges row of home and
the DAG page. Names, URIs and notes are data: they only ever become text children."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dash import Input, Output, dcc, html

from ddtrack import queries
from ddtrack.duration import format_seconds
from ddtrack.queries.badges import PARTS, BadgeCounts, across_badges, dag_badges
from ddtrack.views.common import fmt_number, fmt_time, href, link, safe, state_badge
from ddtrack.views.context import PageContext, request_context

if TYPE_CHECKING:
    from ddtrack.queries.types import DatasetSummary, VersionRef

DEFAULT_DEPTH = 10
DEPTH_CHOICES = (1, 2, 3, 5, 10, 15, 20)


def catalog_href(dag_id: str, task_id: str, name: str) -> str:
    return href("catalog/output", dag_id=dag_id, task_id=task_id, name=name)


def column_href(name: str) -> str:
    return href("catalog/column", name=name)


def uri_href(uri: str) -> str:
    return href("catalog/uri", uri=uri)


def trace_href(output_id: int, direction: str = "upstream", depth: int | None = None) -> str:
    return href("trace", output_id=output_id, direction=direction, depth=depth)


def dataset_link(d: Any, strong: bool = False) -> Any:
    """'dag / task / name' linking to the output's catalog page."""
    return link(
        f"{d.dag_id} / {d.task_id} / {d.name}",
        catalog_href(d.dag_id, d.task_id, d.name),
        className="dd-link dd-strong" if strong else "dd-link",
    )


def version_link(v: Any) -> Any:
    """The task-instance page of the try that wrote the version."""
    url = href("ti", dag_id=v.dag_id, run_id=v.run_id, task_id=v.task_id, try_number=getattr(v, "try_number", None))
    return link(v.run_id, url)


def short(value: str | None, n: int = 12) -> str:
    return (value or "–")[:n]


def badge(text: str, kind: str, title: str = "") -> html.Span:
    return html.Span(text, className=f"dd-badge dd-badge-{kind}", title=title)


def dataset_badges(d: DatasetSummary) -> html.Span | None:
    """Stale (with its reason), overdue, suspect, flagged and PII badges of one output."""
    items = []
    if d.stale_reason:
        items.append(badge("stale", "stale", d.stale_reason))
    if d.overdue:
        within = f" within {format_seconds(d.fresh_within_s)}" if d.fresh_within_s else ""
        items.append(badge("overdue", "overdue", f"no successful version{within}"))
    if d.suspect:
        items.append(badge("suspect", "suspect", "downstream of a version flagged as bad"))
    if d.open_flags:
        items.append(badge(f"{d.open_flags} flagged", "flag", "versions flagged as bad, not reviewed"))
    if d.pii_columns:
        items.append(badge("PII", "pii", "PII columns: " + ", ".join(d.pii_columns)))
    return html.Span(items, className="dd-badges") if items else None


def versions_table(versions: Sequence[VersionRef], *, with_output: bool = True, extra: Any = None) -> html.Table:
    """Exact versions: output, run (to the try's page), start, state, rows, fingerprint, code
    hash, and trace / impact links. ``extra(v)`` adds a last cell (a review button)."""
    header = [*(["Output"] if with_output else []), "Run", "Started", "State", "Rows", "Schema", "Code", "Lineage"]
    if extra is not None:
        header.append("")
    rows = []
    for v in versions:
        cells = [
            *([html.Td(dataset_link(v))] if with_output else []),
            html.Td(version_link(v)),
            html.Td(fmt_time(v.started_at)),
            html.Td(state_badge(v.state) if v.state else "–"),
            html.Td(fmt_number(v.rows), className="dd-num"),
            html.Td(short(v.schema_fingerprint), className="dd-mono", title=v.schema_fingerprint or ""),
            html.Td(short(v.code_hash, 8), className="dd-mono", title=v.code_hash or ""),
            html.Td(
                [
                    link("trace", trace_href(v.output_id, "upstream")),
                    " · ",
                    link("impact", trace_href(v.output_id, "downstream")),
                ]
            ),
        ]
        if extra is not None:
            cells.append(html.Td(extra(v)))
        rows.append(html.Tr(cells, **{"data-output-id": str(v.output_id)}))
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table dd-versions"
    )


def datasets_table(items: Iterable[DatasetSummary], via: dict[int, list[str]] | None = None) -> html.Table:
    """Outputs with their badges, newest version, rows and last success."""
    header = ["Output", "State", "Versions", "Rows (latest)", "Last seen", "Last success"]
    rows = []
    for d in items:
        rows.append(
            html.Tr(
                [
                    html.Td(dataset_link(d)),
                    html.Td(dataset_badges(d) or "–"),
                    html.Td(fmt_number(d.n_versions), className="dd-num"),
                    html.Td(fmt_number(d.latest_rows), className="dd-num"),
                    html.Td(fmt_time(d.last_seen_at)),
                    html.Td(fmt_time(d.last_success_at)),
                ],
                **{"data-dataset": f"{d.dag_id}/{d.task_id}/{d.name}"},
            )
        )
    return html.Table(
        [html.Thead(html.Tr([html.Th(h) for h in header])), html.Tbody(rows)], className="dd-table dd-datasets"
    )


def hidden_note(n: int, what: str) -> list[Any]:
    """'2 more in DAGs you cannot read': a count, never a name."""
    if not n:
        return []
    return [html.Div(f"{n:,} {what} in DAGs you cannot read.", className="dd-muted dd-hidden-count")]


def badges_row(ctx: PageContext, dag_id: str | None = None) -> html.Div:
    """Where the stale / overdue / suspect / PII badges of home (every readable DAG) or of
    one DAG's page go: filled by a callback once the page shows, so that these counts never
    delay the page itself."""
    return html.Div(
        [dcc.Store(id="across-badges-dag", data=dag_id or ""), html.Div(id="across-badges")],
        className="dd-across-badges-slot",
    )


def badge_counts(ctx: PageContext, dag_id: str | None) -> BadgeCounts:
    """Stale, overdue, suspect, flagged and PII counts of one DAG (asked about that DAG only),
    or of every DAG the user reads (a summary kept briefly per set of rights)."""
    if dag_id:
        return dag_badges(ctx.sources, dag_id, allowed=ctx.allowed)
    return across_badges(ctx.sources, allowed=ctx.allowed)


def badge_links(found: BadgeCounts, one_dag: bool = False) -> html.Div | None:
    """The counts as badges linking to the pages that list them, and a plain sentence for
    the parts that could not be computed; None when there is nothing to show. On a DAG page
    a suspect is an output whose newest version is suspect; on home, every suspect version."""
    counts = found.counts
    suspect = ("suspect output", "suspect outputs") if one_dag else ("suspect version", "suspect versions")
    labels = (
        ("stale", "stale output", "stale outputs", href("suspects")),
        ("overdue", "overdue output", "overdue outputs", href("suspects")),
        ("suspect", *suspect, href("suspects")),
        ("flagged", "flagged version", "flagged versions", href("suspects")),
        ("pii", "PII output", "PII outputs", href("pii")),
    )
    items: list[Any] = [
        link(f"{counts[key]} {one if counts[key] == 1 else many}", url, className=f"dd-badge dd-badge-{key}")
        for key, one, many, url in labels
        if counts.get(key)
    ]
    if found.failed:
        what = " and ".join(PARTS[part] for part in found.failed)
        items.append(
            html.Span(
                f"The {what} could not be counted just now; the api-server's log has the cause.",
                className="dd-warning dd-badges-failed",
                role="alert",
            )
        )
    return html.Div(items, className="dd-badges dd-across-badges") if items else None


def register(app) -> None:
    @app.callback(Output("across-badges", "children"), Input("across-badges-dag", "data"))
    @safe("count the stale, suspect, flagged and PII outputs")
    def fill_badges(dag_id: Any) -> Any:
        """The user's readable DAGs are asked again here: the callback can be called directly.
        A part that fails is logged where it failed and named on the page."""
        ctx = request_context()
        dag_id = dag_id if isinstance(dag_id, str) else ""
        if dag_id and not ctx.can_read(dag_id):
            return None
        return badge_links(badge_counts(ctx, dag_id or None), one_dag=bool(dag_id))


SEARCH_KINDS = ("dag", "task", "output", "column", "tag", "uri")


def hit_href(hit: queries.SearchHit) -> str:
    """The page a search hit opens, as the query names it (``page``, ``url_params``): the DAG,
    the task, the output's catalog page, the column across outputs, the URI's page; a tag
    opens the impact of everything carrying it."""
    if hit.page == "tag":
        return href("trace", tag=hit.url_params.get("tag"))
    return href(hit.page, **hit.url_params) if hit.page else href("dag", dag_id=hit.dag_id)


def hit_list(hits: Sequence[Any]) -> html.Ul:
    return html.Ul(
        [
            html.Li(
                [
                    html.Span(h.kind, className=f"dd-kind dd-kind-{h.kind}"),
                    link(h.label, hit_href(h)),
                    html.Span(h.detail, className="dd-muted"),
                ],
                **{"data-kind": h.kind},
            )
            for h in hits
        ],
        className="dd-hits",
    )
