"""The column browser of a wide output: a grid served a block at a time, a picker that
searches column names on the server, and the charts of the columns picked.

The task-instance page (:mod:`ddtrack.views.output`) and the compare page
(:mod:`ddtrack.views.pages.compare`) both show one; :func:`register_column_browser` wires
the three callbacks of either, given how that page answers a block of rows, the names that
match a search, and the charts of some columns. Each answer is read again as the current
user. A failure is logged with its cause and told to the user in the browser's status line,
never swallowed into an empty grid; so is an output that is no longer there for the user.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from dash import MATCH, Input, Output, State, html, no_update

log = logging.getLogger("ddtrack.views")

GRID_BLOCK = 100  # rows per request of a grid
MAX_PICKED = 12  # charts the picker draws at once
PICKER_MATCHES = 50
GONE = "This output is no longer there, or your Airflow role no longer lets you read it."
FAILED = "ddtrack could not read the columns just now (the api-server's log has the cause). Scroll or search again to retry."


@dataclass(frozen=True)
class BrowserIds:
    """The component types of one page's browser (each with the output's ``index``)."""

    grid: str
    pick: str
    picked: str
    key: str  # the dcc.Store holding what the callbacks need to read the output again
    status: str  # where failures are told


@dataclass(frozen=True)
class GridRequest:
    """An AG Grid ``getRowsRequest``, checked and bounded."""

    contains: dict[str, str]  # searched field -> lower-case text
    sort: str | None
    descending: bool
    start: int
    end: int  # at most start + GRID_BLOCK


def grid_request(raw: Any, searchable: Iterable[str]) -> GridRequest:
    """The parts of a grid's request ddtrack answers: the searches of ``searchable`` fields,
    one sort, and a row range of at most :data:`GRID_BLOCK` rows."""
    raw = raw if isinstance(raw, dict) else {}
    contains = {field: text for field in searchable if (text := _filter_text(raw.get("filterModel"), field))}
    sort, descending = None, False
    model = raw.get("sortModel")
    if isinstance(model, list) and model and isinstance(model[0], dict) and isinstance(model[0].get("colId"), str):
        sort, descending = model[0]["colId"], model[0].get("sort") == "desc"
    start = max(0, _int_or(raw.get("startRow"), 0))
    end = max(start, min(_int_or(raw.get("endRow"), start + GRID_BLOCK), start + GRID_BLOCK))
    return GridRequest(contains, sort, descending, start, end)


def block_of(
    items: list[Any],
    request: GridRequest,
    searches: dict[str, Callable[[Any], Any]],
    sort_key_of: Callable[[str], Callable[[Any], Any] | None],
    to_row: Callable[[Any], dict[str, Any]],
) -> dict[str, Any]:
    """Answer a grid's request from items in memory (a comparison, a mapped task's merged
    whole): keep those whose searched fields contain the text, sort, cut to the block."""
    selected = list(items)
    for field, text in request.contains.items():
        if field in searches:
            selected = [c for c in selected if text in str(searches[field](c)).lower()]
    sort_key = sort_key_of(request.sort) if request.sort else None
    if sort_key is not None:
        selected = sort_missing_last(selected, sort_key, request.descending)
    return {"rowData": [to_row(c) for c in selected[request.start:request.end]], "rowCount": len(selected)}


def sort_missing_last(items: list, key: Callable[[Any], Any], descending: bool) -> list:
    """Sorted by ``key``, missing values last either way; mixed types compare as text."""
    present = [(key(c), c) for c in items]
    missing = [c for v, c in present if v is None]
    values = [(v, c) for v, c in present if v is not None]
    try:
        values.sort(key=lambda vc: vc[0], reverse=descending)
    except TypeError:
        values.sort(key=lambda vc: str(vc[0]), reverse=descending)
    return [c for _, c in values] + missing


def picker_options(search: str, chosen: Any, names: list[str]) -> list[dict[str, str]]:
    """The chart picker's options: the columns already chosen, then up to PICKER_MATCHES names
    containing ``search`` (searched on the server: a 10,000-column output never goes to the browser)."""
    text = search.strip().lower()[:250]
    keep = [v for v in (chosen if isinstance(chosen, list) else []) if isinstance(v, str)]
    matches = [n for n in names if text in n.lower() and n not in keep]
    return [{"label": n, "value": n} for n in keep + matches[:PICKER_MATCHES]]


def status_line(ids: BrowserIds, index: int) -> html.Div:
    """Where the browser of output ``index`` tells a failure (empty until there is one)."""
    return html.Div(id={"type": ids.status, "index": index}, className="dd-browser-status", role="status")


def _problem(text: str) -> html.Div:
    return html.Div(text, className="dd-warning")


def register_column_browser(
    app: Any,
    ids: BrowserIds,
    *,
    rows: Callable[[Any, GridRequest], dict[str, Any] | None],
    names: Callable[[Any, str], list[str] | None],
    charts: Callable[[Any, list[str]], list[Any] | None],
    searchable: Iterable[str],
) -> None:
    """The grid, picker and chart callbacks of one page's browser. ``rows`` answers a grid
    request, ``names`` the column names containing a text, ``charts`` the components of
    some columns: each given the page's key, each None when the output is not there for
    the current user."""
    searchable = tuple(searchable)
    status = Output({"type": ids.status, "index": MATCH}, "children", allow_duplicate=True)

    @app.callback(
        Output({"type": ids.grid, "index": MATCH}, "getRowsResponse"),
        status,
        Input({"type": ids.grid, "index": MATCH}, "getRowsRequest"),
        State({"type": ids.key, "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def grid_rows(request: Any, key: Any) -> Any:
        empty = {"rowData": [], "rowCount": 0}
        return _told("read a block of an output's columns", key, empty, lambda: rows(key, grid_request(request, searchable)))

    @app.callback(
        Output({"type": ids.pick, "index": MATCH}, "options"),
        status,
        Input({"type": ids.pick, "index": MATCH}, "search_value"),
        State({"type": ids.pick, "index": MATCH}, "value"),
        State({"type": ids.key, "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def pick_options(search: Any, chosen: Any, key: Any) -> Any:
        if not isinstance(search, str) or not search.strip():
            return no_update, no_update

        def options() -> list[dict[str, str]] | None:
            found = names(key, search.strip()[:250])
            return None if found is None else picker_options(search, chosen, found)

        return _told("search an output's column names", key, [], options)

    @app.callback(
        Output({"type": ids.picked, "index": MATCH}, "children"),
        status,
        Input({"type": ids.pick, "index": MATCH}, "value"),
        State({"type": ids.key, "index": MATCH}, "data"),
        prevent_initial_call=True,
    )
    def picked_charts(chosen: Any, key: Any) -> Any:
        picked = [v for v in (chosen if isinstance(chosen, list) else []) if isinstance(v, str)][:MAX_PICKED]
        if not picked:
            return [], None
        return _told("chart an output's columns", key, [], lambda: charts(key, picked))


def _told(what: str, key: Any, empty: Any, answer: Callable[[], Any]) -> tuple[Any, Any]:
    """(``answer()``, nothing to tell); or ``empty`` and the status line's sentence when the
    output is gone for the user (None) or reading it failed (logged with its cause)."""
    try:
        value = answer()
    except Exception:
        log.exception("ddtrack could not %s (%s)", what, _named(key))
        return empty, _problem(FAILED)
    return (empty, _problem(GONE)) if value is None else (value, None)


def _named(key: Any) -> str:
    """The output a failed callback was about, for the log (the key's values are the user's)."""
    return repr(key)[:300]


def _filter_text(filters: Any, field: str) -> str:
    spec = filters.get(field) if isinstance(filters, dict) else None
    text = spec.get("filter") if isinstance(spec, dict) else None
    return text.strip().lower()[:250] if isinstance(text, str) else ""


def _int_or(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default
