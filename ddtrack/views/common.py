"""Pieces every page shares: links, state badges, empty and error states, formatting.

User data (DAG ids, column names, values) only ever goes into components as text
children or into figures through :func:`ddtrack.views.figures.plot_text`, so markup in
it is shown, never interpreted.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote, urlencode
from zoneinfo import ZoneInfo

from dash import dcc, html
from dash.exceptions import PreventUpdate

from ddtrack import conf
from ddtrack.queries import MetastoreUnavailable

log = logging.getLogger("ddtrack.views")

# Airflow's state colours (airflow-core/src/airflow/ui: theme state tokens).
STATE_COLORS: dict[str, str] = {
    "success": "#16a34a",
    "failed": "#dc2626",
    "upstream_failed": "#f97316",
    "up_for_retry": "#eab308",
    "up_for_reschedule": "#06b6d4",
    "running": "#84cc16",
    "queued": "#78716c",
    "scheduled": "#a8a29e",
    "deferred": "#a855f7",
    "skipped": "#ec4899",
    "removed": "#d4d4d8",
    "restarting": "#8b5cf6",
    "unknown": "#a1a1aa",
}

PREFIX = "/ddtrack/"  # replaced by the app factory with the real requests prefix


def set_prefix(prefix: str) -> None:
    global PREFIX
    PREFIX = prefix if prefix.endswith("/") else prefix + "/"


def href(page: str, **params: Any) -> str:
    """A shareable link to one of ddtrack's pages; ids travel URL-encoded in the query."""
    query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
    return f"{PREFIX}{page}" + (f"?{query}" if query else "")


def own_page(url: Any) -> str | None:
    """``url`` if it is one of ddtrack's own pages, else None: a graph node's URL comes back
    from the browser, and a page only ever navigates within ddtrack."""
    return url if isinstance(url, str) and url.startswith(PREFIX) else None


def airflow_href(path: str) -> str:
    """A link to a page of Airflow's own UI (opened in the top window, outside the iframe)."""
    from ddtrack.auth import base_path

    return f"{base_path()}{path}"


def state_color(state: str | None) -> str:
    return STATE_COLORS.get((state or "unknown").lower(), STATE_COLORS["unknown"])


def state_badge(state: str | None) -> html.Span:
    text = state or "unknown"
    return html.Span(
        text, className="dd-state", style={"backgroundColor": state_color(state)}, title=f"state: {text}"
    )


KEPT_TITLE = (
    "Airflow no longer has this run (airflow db clean): its state, times and tries "
    "come from ddtrack's records of its tries"
)


def kept_by_ddtrack() -> html.Span:
    """The mark of a run Airflow forgot and ddtrack kept (``kept_by_ddtrack`` in the queries)."""
    return html.Span("kept by ddtrack", className="dd-muted dd-kept", title=KEPT_TITLE)


def link(text: str, url: str, **kwargs: Any) -> dcc.Link:
    return dcc.Link(str(text), href=url, className=kwargs.pop("className", "dd-link"), **kwargs)


def top_link(text: str, url: str) -> html.A:
    """A link that leaves the iframe (Airflow's own pages)."""
    return html.A(str(text), href=url, target="_top", className="dd-link")


def empty_state(title: str, hint: str) -> html.Div:
    return html.Div(
        [html.Div(title, className="dd-empty-title"), html.Div(hint, className="dd-empty-hint")],
        className="dd-empty",
    )


def error_state(what: str, exc: BaseException | None = None) -> html.Div:
    """A plain sentence for the user; the cause (driver, SQL text, traceback) goes to the
    api-server's log only, where the operator looks and no user can read another's data."""
    if exc is not None:
        log.error("ddtrack could not %s", what, exc_info=exc)
    return html.Div(
        [
            html.Div(f"ddtrack could not {what}.", className="dd-error-title"),
            html.Div(
                "Something went wrong on the server; the api-server's log has the details. Try again in a moment.",
                className="dd-error-detail",
            ),
        ],
        className="dd-error",
        role="alert",
    )


def metastore_unavailable() -> html.Div:
    """What a page shows when Airflow's metastore does not answer: said plainly, no traceback
    (the api-server's log has the cause, rate-limited)."""
    return html.Div(
        [
            html.Div("Airflow's metadata could not be read.", className="dd-error-title"),
            html.Div(
                "ddtrack could not reach Airflow's metadata database just now; the api-server's log has "
                "the cause. Reload the page in a moment.",
                className="dd-error-detail",
            ),
        ],
        className="dd-error dd-metastore-unavailable",
        role="alert",
    )


def not_found(kind: str, name: str) -> html.Div:
    """The same answer for 'does not exist' and 'not yours': no leaking of DAG ids."""
    return empty_state(
        f"No {kind} {name!r} that you can read.",
        "It does not exist, has no tracked data yet, or your Airflow role does not let you read it.",
    )


def safe(what: str) -> Callable:
    """Decorate a page builder or callback: any error becomes a message, never a traceback."""

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except PreventUpdate:
                raise
            except MetastoreUnavailable:  # logged (rate-limited) where it was raised
                return metastore_unavailable()
            except Exception as exc:
                return error_state(what, exc)  # logs the cause

        return wrapper

    return decorator


# Airflow's UI keeps the zone picked in its timezone selector in the browser's localStorage;
# the page's inline script (views/app.py) hands it to the server in this cookie.
TZ_COOKIE = "ddtrack_tz"


def _zone(name: str) -> dt.tzinfo | None:
    name = name.strip()
    if name.lower() == "system":  # Airflow's word for the server's own zone: its offset now, not cached
        return dt.datetime.now().astimezone().tzinfo
    return _named_zone(name)


@functools.lru_cache(maxsize=128)
def _named_zone(name: str) -> dt.tzinfo | None:
    if not name:
        return None
    if name.lower() == "utc":
        return dt.timezone.utc
    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # unknown or malformed (ZoneInfoNotFoundError is a KeyError)
        return None


def user_timezone() -> dt.tzinfo:
    """The zone the user picked in Airflow's UI, else ``[core] default_timezone``, else UTC:
    every time a page shows goes through it, so pages read like Airflow's own. Resolved once
    per request (a page formats hundreds of times; reading Airflow's config costs ~0.1 ms)."""
    try:
        from flask import g, has_request_context, request
    except ImportError:  # outside the views' Flask app (a benchmark): the configured zone
        return _zone(conf.default_timezone()) or dt.timezone.utc
    if not has_request_context():
        return _zone(conf.default_timezone()) or dt.timezone.utc
    zone = getattr(g, "ddtrack_timezone", None)
    if zone is None:
        picked = unquote(request.cookies.get(TZ_COOKIE, ""))[:64]
        zone = _zone(picked) or _zone(conf.default_timezone()) or dt.timezone.utc
        g.ddtrack_timezone = zone
    return zone


def local_time(value: dt.datetime) -> dt.datetime:
    """``value`` (naive values are UTC, as stored) in the user's timezone."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=dt.timezone.utc)
    return aware.astimezone(user_timezone())


def fmt_time(value: dt.datetime | None) -> str:
    """A time as the user reads it: their zone, named ("2026-01-01 13:00:00 CET")."""
    return local_time(value).strftime("%Y-%m-%d %H:%M:%S %Z") if value else "–"


def fmt_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def fmt_number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if abs(value) >= 1e6 or (0 < abs(value) < 1e-3):
            return f"{value:.{digits}g}"
        return f"{value:,.{digits}f}".rstrip("0").rstrip(".")
    return str(value)


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "–"
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def card(title: Any, body: Any, **kwargs: Any) -> html.Section:
    return html.Section(
        [html.H3(title, className="dd-card-title"), html.Div(body, className="dd-card-body")],
        className="dd-card",
        **kwargs,
    )


def breadcrumbs(*parts: tuple[str, str | None]) -> html.Nav:
    items: list[Any] = []
    for i, (text, url) in enumerate(parts):
        if i:
            items.append(html.Span("/", className="dd-crumb-sep"))
        items.append(link(text, url) if url else html.Span(text, className="dd-crumb-current"))
    return html.Nav(items, className="dd-crumbs", **{"aria-label": "breadcrumb"})


def pager(
    shown: str,
    page: int,
    pages: int,
    url: Callable[[int], str],
    label: str,
    texts: tuple[str, str] = ("← Previous", "Next →"),
) -> html.Nav:
    """'Tasks 101–200 of 1,000' between links to the previous and next of ``pages`` pages
    (1-based, ``url(n)`` the shareable URL of page n); a link off the ends is greyed out."""

    def to(n: int, text: str) -> Any:
        if n < 1 or n > pages or n == page:
            return html.Span(text, className="dd-muted dd-pager-off")
        return link(text, url(n), className="dd-link dd-pager-link")

    return html.Nav(
        [to(page - 1, texts[0]), html.Span(shown, className="dd-pager-shown"), to(page + 1, texts[1])],
        className="dd-pager",
        **{"aria-label": label},
    )


def page_header(
    title: str, subtitle: Any, crumbs: html.Nav, share_url: str, extra: list | None = None
) -> html.Header:
    actions = [
        html.A(
            "Open in new tab ↗",
            href=share_url,
            target="_blank",
            className="dd-link dd-share",
            title="Shareable link to this page",
        )
    ]
    return html.Header(
        [
            crumbs,
            html.Div(
                [
                    html.H2(title, className="dd-title"),
                    html.Div(actions + (extra or []), className="dd-actions"),
                ],
                className="dd-title-row",
            ),
            html.Div(subtitle, className="dd-subtitle"),
        ],
        className="dd-header",
    )
