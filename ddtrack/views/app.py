"""The Dash app behind Airflow's "Data" menu entry and tabs.

One Dash app, one URL per page (ids travel in the query string, so every page is a
shareable link): ``/ddtrack/`` home, ``dag?dag_id=``, ``task?dag_id=&task_id=&n=``,
``run?dag_id=&run_id=``, ``ti?dag_id=&run_id=&task_id=&map_index=&try_number=``,
``compare?dag_id=&a=&b=``; across DAGs: ``catalog/output?dag_id=&task_id=&name=``,
``catalog/column?name=``, ``catalog/uri?uri=``, ``trace?output_id=&direction=&depth=``,
``suspects``, ``pii``, ``search?q=&kind=``.
A single router callback builds the page for the URL after checking what the user may
read; the pages' own callbacks check again, since a callback can be called directly.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from dash import Dash, Input, Output, dcc, html

from ddtrack.queries import MetastoreUnavailable
from ddtrack.views import across, common
from ddtrack.views.common import empty_state, error_state, metastore_unavailable
from ddtrack.views.context import request_context
from ddtrack.views.pages import (
    catalog,
    column,
    compare,
    dag,
    home,
    instance,
    pii,
    run,
    suspects,
    task,
    trace,
    uri,
)
from ddtrack.views.pages import search as search_page

log = logging.getLogger("ddtrack.views")

ASSETS = Path(__file__).parent / "assets"
PAGES = {
    "": home,
    "dag": dag,
    "task": task,
    "run": run,
    "ti": instance,
    "compare": compare,
    # across DAGs (issue 13)
    "catalog/output": catalog,
    "catalog/column": column,
    "catalog/uri": uri,
    "trace": trace,
    "suspects": suspects,
    "pii": pii,
    "search": search_page,
}

INDEX = """<!DOCTYPE html>
<html lang="en">
<head>
{%metas%}
<title>{%title%}</title>
{%favicon%}
<script>
(function () {
  // Follow Airflow's colour mode before the first paint (the iframe shares its origin).
  var dark = false;
  try { dark = window.parent.document.documentElement.classList.contains("dark"); } catch (e) {}
  if (!dark) { try { var t = localStorage.getItem("theme"); dark = t === "dark" || (t !== "light" && matchMedia("(prefers-color-scheme: dark)").matches); } catch (e) {} }
  document.documentElement.setAttribute("data-theme", dark ? "dark" : "light");
})();
(function () {
  // Airflow's timezone selector keeps the user's pick in localStorage ("timezone", JSON); the
  // server formats every time with it (views/common.py reads the cookie). A new pick reloads.
  try {
    var tz = localStorage.getItem("timezone");
    try { tz = JSON.parse(tz); } catch (e) {}
    document.cookie = "ddtrack_tz=" + (typeof tz === "string" && tz ? encodeURIComponent(tz) + "; path=/" : "; path=/; max-age=0") + "; SameSite=Strict";
  } catch (e) {}
  window.addEventListener("storage", function (event) { if (event.key === "timezone") { location.reload(); } });
})();
</script>
{%css%}
</head>
<body>
{%app_entry%}
<footer>{%config%}{%scripts%}{%renderer%}</footer>
</body>
</html>"""


def create_dash_app(requests_prefix: str = "/ddtrack/") -> Dash:
    """Build the app; ``requests_prefix`` is where the browser reaches it (base_url path included)."""
    common.set_prefix(requests_prefix)
    app = Dash(
        __name__,
        requests_pathname_prefix=requests_prefix,
        routes_pathname_prefix="/",
        assets_folder=str(ASSETS),
        title="Data · ddtrack",
        update_title=None,
        suppress_callback_exceptions=True,
        serve_locally=True,
        compress=False,
        on_error=_callback_failed,
    )
    app.index_string = INDEX
    app.layout = html.Div(
        [
            dcc.Location(id="url", refresh=False),
            html.Main(id="page", className="dd-page", children=html.Div("Loading…", className="dd-muted")),
        ],
        className="dd-root",
    )

    @app.callback(Output("page", "children"), Input("url", "pathname"), Input("url", "search"))
    def route(pathname: Any, search: Any) -> Any:
        # Values come from the browser, or from anyone calling the callback directly.
        pathname = pathname if isinstance(pathname, str) and pathname else requests_prefix
        search = search if isinstance(search, str) else ""
        return render(pathname[:2000], search[:10_000], requests_prefix)

    for page in (home, dag, task, instance, compare, catalog, trace, suspects, pii, search_page, across):
        page.register(app)
    _harden(app)
    return app


# What the renderer can send for the properties ddtrack's callbacks read (None aside): a
# value of another type comes from a hand-made request and is refused with a message
# naming it, before any callback runs. Callbacks whose inputs are not listed check them.
INPUT_TYPES: dict[tuple[str, str], tuple[type, ...]] = {
    ("url", "pathname"): (str,),
    ("url", "search"): (str,),
    ("home-search", "value"): (str,),
    ("home-status", "id"): (str,),
    ("dag-graph", "tapNodeData"): (dict,),
    ("dag-graph", "elements"): (list,),
    ("dag-page-dag-id", "data"): (str,),
    ("task-history-n", "value"): (int, float, str),
    ("task-page-ids", "data"): (dict,),
    ("task-trend-output", "value"): (str,),
    ("task-trend-column", "value"): (str,),
    ("task-trend-ids", "data"): (dict,),
    ("task-pin-run", "value"): (str,),
    ("task-pin-button", "n_clicks"): (int,),
    ("task-unpin-button", "n_clicks"): (int,),
    ("dd-compare-a", "value"): (str,),
    ("dd-compare-b", "value"): (str,),
    ("dd-compare-dag", "data"): (str,),
    ("catalog-flag-button", "n_clicks"): (int,),
    ("catalog-review-button", "n_clicks"): (int,),
    ("catalog-flag-version", "value"): (int,),
    ("catalog-flag-note", "value"): (str,),
    ("catalog-ids", "data"): (dict,),
    ("suspects-note", "value"): (str,),
    ("trace-depth", "value"): (int, str),
    ("trace-direction", "value"): (str,),
    ("trace-params", "data"): (dict,),
    ("trace-graph", "tapNodeData"): (dict,),
    ("pii-download-button", "n_clicks"): (int,),
    ("search-q", "value"): (str,),
    ("search-kinds", "value"): (list,),
    ("across-badges-dag", "data"): (str,),
}


def input_type_problem(item: dict) -> str | None:
    """Why one input or state entry has a value the renderer could not have sent."""
    ident, prop = item.get("id"), item.get("property")
    expected = INPUT_TYPES.get((ident, prop)) if isinstance(ident, str) else None
    value = item.get("value")
    if expected is None or value is None or isinstance(value, expected):
        return None
    return f"'{ident}.{prop}' must be {' or '.join(t.__name__ for t in expected)}"


def callback_request_problem(body: Any, callbacks: dict[str, Any]) -> str | None:
    """Why a ``_dash-update-component`` body is not one Dash's renderer could have sent.

    Dash itself trusts the body's shape and fails with a server error on a hand-made one.
    """
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("output"), str):
        return "'output' must be a string"
    if not isinstance(body.get("outputs"), (dict, list)):
        return "'outputs' must be an object or a list"
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list):
            return f"'{key}' must be a list"
        for item in items:
            entries = item if isinstance(item, list) else [item]
            if not all(isinstance(e, dict) and "id" in e and "property" in e for e in entries):
                return f"every entry of '{key}' needs an id and a property"
    if not isinstance(body.get("changedPropIds", []), list):
        return "'changedPropIds' must be a list"
    spec = callbacks.get(body["output"])
    if spec is None:
        return "no such callback"
    for key in ("inputs", "state"):
        if len(body.get(key, [])) != len(spec.get(key, [])):
            return f"the callback takes {len(spec.get(key, []))} {key}"
        for item in body.get(key, []):
            problem = input_type_problem(item) if isinstance(item, dict) else None
            if problem:
                return problem
    return None


def _callback_failed(exc: Exception) -> None:
    """A callback that fails on odd input changes nothing on screen (no 500, no traceback)."""
    from dash.exceptions import PreventUpdate

    log.warning("ddtrack callback failed on its input: %s: %s", type(exc).__name__, exc)
    raise PreventUpdate from exc


def page_params(search: str) -> dict[str, str]:
    parsed = parse_qs((search or "").lstrip("?"), keep_blank_values=True)
    return {k: v[0][:1000] for k, v in parsed.items() if v}


def render(pathname: str, search: str, requests_prefix: str) -> Any:
    """The page for a URL, built for the current user; any failure becomes a message, and a
    metastore that does not answer gets its own ("Airflow's metadata could not be read")."""
    name = pathname[len(requests_prefix) :] if pathname.startswith(requests_prefix) else pathname.strip("/")
    name = name.strip("/")
    module = PAGES.get(name)
    if module is None:
        return empty_state(f"No page {name!r} here.", "Open ddtrack from Airflow's Data menu entry.")
    try:
        ctx = request_context()
        return module.layout(ctx, page_params(search))
    except MetastoreUnavailable:  # logged (rate-limited) where it was raised
        return metastore_unavailable()
    except Exception as exc:
        return error_state(f"show this page ({name or 'home'})", exc)  # logs the cause


def _harden(app: Dash) -> None:
    """No framework error page with a traceback, ever."""
    server = app.server
    server.config["PROPAGATE_EXCEPTIONS"] = False

    @server.before_request
    def _refuse_malformed_callbacks():  # noqa: ANN202
        from flask import request

        if request.method == "POST" and request.path.endswith("/_dash-update-component"):
            problem = callback_request_problem(request.get_json(silent=True), app.callback_map)
            if problem:
                return {"detail": f"malformed callback request: {problem}"}, 400
        return None

    @server.errorhandler(Exception)
    def _error(exc: Exception):  # noqa: ANN202
        from werkzeug.exceptions import HTTPException

        if isinstance(exc, HTTPException):
            return {"detail": exc.description}, exc.code
        log.exception("ddtrack request failed")
        return {"detail": f"ddtrack failed: {type(exc).__name__}"}, 500
