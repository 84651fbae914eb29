"""A mapped task (``.expand``): the merged whole of its map indexes, and the way between them.

Reached as the task-instance page with ``map_index=all``. A task may have thousands of map
indexes: the chips show a window around the current one (and the first and last), and a
number box opens any other.
"""

from __future__ import annotations

from typing import Any

from dash import Input, Output, State, dcc, html, no_update

from ddtrack import queries
from ddtrack.views import figures
from ddtrack.views.common import breadcrumbs, card, empty_state, href, link, page_header
from ddtrack.views.context import PageContext
from ddtrack.views.output import ALL_INDEXES, output_key, output_section, output_tabs

CHIP_WINDOW = 10  # map indexes shown either side of the current one
CHIP_ENDS = 3  # and at each end


def crumbs(dag_id: str, run_id: str, name: str) -> Any:
    """Data / DAG / run / task instance: the trail of both task-instance views."""
    return breadcrumbs(
        ("Data", href("")),
        (dag_id, href("dag", dag_id=dag_id)),
        (run_id, href("run", dag_id=dag_id, run_id=run_id)),
        (name, None),
    )


def layout(ctx: PageContext, dag_id: str, run_id: str, task_id: str) -> Any:
    """The merged whole of a mapped task: one profile per output over every map index."""
    whole = queries.mapped_whole(ctx.sources, dag_id, run_id, task_id, allowed=ctx.allowed)
    name = f"{task_id} [all]"
    trail = crumbs(dag_id, run_id, name)
    share = href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=ALL_INDEXES)
    if whole is None:
        return html.Div(
            [
                page_header(name, f"Mapped task of run {run_id}", trail, share),
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
        f"{len(indexes):,} mapped instances merged (newest try of each; {', '.join(states)})",
        trail,
        share,
        extra=[link("Task history", href("task", dag_id=dag_id, task_id=task_id))],
    )
    parts: list[Any] = [
        header,
        html.Div(map_index_chips(dag_id, run_id, task_id, indexes, ALL_INDEXES), className="dd-pickers"),
        card(
            "Each map index",
            dcc.Graph(figure=figures.rows_per_index(whole.parts), config=figures.graph_config()),
        ),
    ]
    if not whole.outputs:
        parts.append(empty_state("No outputs recorded.", "The mapped instances recorded no outputs."))
    else:
        sections = [
            output_section(
                o,
                i,
                output_key(dag_id, run_id, task_id, ALL_INDEXES, None, o.name),
                {},
                None,
                f"Merged from {whole.parts_per_output[o.name]:,} of {len(indexes):,} map indexes "
                "(counts and sums exact; quantiles, histograms and distinct counts from the parts' sketches).",
            )
            for i, o in enumerate(whole.outputs)
        ]
        parts.append(output_tabs(sections, [o.name for o in whole.outputs]))
    return html.Div(parts)


def shown_positions(count: int, at: int) -> list[int]:
    """Positions of the map indexes that get a chip: the first and last few, and a window around ``at``."""
    if count <= 2 * (CHIP_WINDOW + CHIP_ENDS):
        return list(range(count))
    keep = set(range(CHIP_ENDS)) | set(range(count - CHIP_ENDS, count))
    keep |= set(range(max(0, at - CHIP_WINDOW), min(count, at + CHIP_WINDOW + 1)))
    return sorted(keep)


def map_index_chips(dag_id: str, run_id: str, task_id: str, indexes: list[int], current: int | str) -> list[Any]:
    """Links to the merged whole and to map indexes near ``current``; a box opens any other."""

    def chip(label: str, value: int | str) -> Any:
        return link(
            label,
            href("ti", dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=value),
            className="dd-chip" + (" dd-chip-on" if value == current else ""),
        )

    chips: list[Any] = [html.Span(" Mapped instances: ", className="dd-muted"), chip(f"all {len(indexes):,} (merged)", ALL_INDEXES)]
    positions = shown_positions(len(indexes), indexes.index(current) if current in indexes else 0)
    previous = None
    for p in positions:
        if previous is not None and p != previous + 1:
            chips.append(html.Span("…", className="dd-muted"))
        chips.append(chip(str(indexes[p]), indexes[p]))
        previous = p
    if len(positions) < len(indexes):
        chips += [
            html.Label(
                [
                    html.Span(" open ", className="dd-muted"),
                    dcc.Input(
                        id="ti-map-index-go",
                        type="number",
                        min=min(indexes),
                        max=max(indexes),
                        step=1,
                        debounce=True,
                        placeholder="map index…",
                        className="dd-map-index-go",
                    ),
                ]
            ),
            dcc.Store(id="ti-map-index-ids", data={"dag_id": dag_id, "run_id": run_id, "task_id": task_id}),
        ]
    return chips


def register(app) -> None:
    @app.callback(
        Output("url", "search", allow_duplicate=True),
        Input("ti-map-index-go", "value"),
        State("ti-map-index-ids", "data"),
        prevent_initial_call=True,
    )
    def open_map_index(value: Any, ids: Any) -> Any:
        """The URL of the map index typed in the box (the router then builds its page)."""
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool) or not isinstance(ids, dict):
            return no_update
        if not all(isinstance(ids.get(k), str) for k in ("dag_id", "run_id", "task_id")):
            return no_update
        url = href("ti", dag_id=ids["dag_id"], run_id=ids["run_id"], task_id=ids["task_id"], map_index=value)
        return url[url.index("?") :]
