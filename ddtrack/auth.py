"""Who is asking, and which DAGs they may read: Airflow's own auth manager decides.

ddtrack keeps no users of its own. Every request to its views carries the token Airflow's
UI uses (the ``_token`` cookie, or an ``Authorization: Bearer`` header for API clients);
:class:`AuthGuard` validates it with the configured auth manager before any Dash route or
callback (``/_dash-*`` included) runs, and answers 401 (or redirects a browser to Airflow's
login page) otherwise. Pages then ask :func:`readable_dag_ids`, which goes through the
generic auth-manager API (``get_authorized_dag_ids``), so SimpleAuthManager, FAB and
Keycloak all work the same way.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import quote, urlencode

from ddtrack.urls import base_path

log = logging.getLogger("ddtrack.auth")

COOKIE_NAME = "_token"  # airflow.api_fastapi.auth.managers.base_auth_manager.COOKIE_NAME_JWT_TOKEN
SCOPE_USER_KEY = "ddtrack.user"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class NotAuthenticated(Exception):
    """No token, or one the auth manager refuses (expired, forged, revoked)."""


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []}


def token_from_scope(scope: Scope) -> str | None:
    """The caller's token: a Bearer header wins over the UI's cookie, as in Airflow's API."""
    headers = _headers(scope)
    authorization = headers.get("authorization", "")
    if authorization.lower().startswith("bearer "):
        return authorization[7:].strip() or None
    cookie = SimpleCookie()
    try:
        cookie.load(headers.get("cookie", ""))
    except Exception:
        return None
    morsel = cookie.get(COOKIE_NAME)
    return morsel.value if morsel is not None and morsel.value else None


def auth_manager():
    """Airflow's configured auth manager (initialised by the api-server)."""
    from airflow.api_fastapi.app import get_auth_manager

    return get_auth_manager()


async def user_from_token(token: str | None) -> Any:
    """The Airflow user the token belongs to; :class:`NotAuthenticated` if there is none."""
    if not token:
        raise NotAuthenticated("not authenticated")
    try:
        return await auth_manager().get_user_from_token(token)
    except Exception as exc:  # expired, invalid signature, revoked, malformed
        raise NotAuthenticated(f"token refused: {type(exc).__name__}") from exc


def readable_dag_ids(user: Any) -> set[str]:
    """The DAG ids ``user`` may read, as the configured auth manager says."""
    return set(auth_manager().get_authorized_dag_ids(user=user, method="GET"))


def editable_dag_ids(user: Any) -> set[str]:
    """The DAG ids ``user`` may edit (``PUT``), as the configured auth manager says: what
    pinning a drift baseline needs."""
    return set(auth_manager().get_authorized_dag_ids(user=user, method="PUT"))


def login_url(next_url: str) -> str:
    """Airflow's login page, coming back to ``next_url`` afterwards (under Airflow's base path)."""
    try:
        url = auth_manager().get_url_login(next_url=next_url)
        if "next=" not in url:  # 3.1's SimpleAuthManager ignores next_url: its login page reads ?next=
            url += ("&" if "?" in url else "?") + urlencode({"next": next_url})
    except Exception:
        url = "/auth/login?next=" + quote(next_url, safe="")
    prefix = base_path()
    if url.startswith("/") and prefix and not url.startswith(prefix + "/"):
        url = prefix + url
    return url


class AuthGuard:
    """ASGI middleware: only requests from an authenticated Airflow user reach ``app``.

    The user is put in the ASGI scope (``scope["ddtrack.user"]``), which the WSGI bridge
    hands to Flask as ``environ["asgi.scope"]``; pages read it with ``current_user()``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            user = await user_from_token(token_from_scope(scope))
        except NotAuthenticated as exc:
            await self._refuse(scope, send, str(exc))
            return
        except Exception as exc:  # the auth manager itself failed: never crash the api-server
            log.warning("ddtrack could not check the caller's token: %s", exc)
            await _send(
                send, 503, "application/json", json.dumps({"detail": "authentication unavailable"}).encode()
            )
            return
        scope[SCOPE_USER_KEY] = user
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, send, reason: str) -> None:
        headers = _headers(scope)
        wants_page = scope.get("method") == "GET" and "text/html" in headers.get("accept", "")
        if wants_page:
            path = _full_path(scope)
            query = scope.get("query_string", b"").decode("latin-1")
            location = login_url(path + (f"?{query}" if query else ""))
            await _send(
                send, 302, "text/plain", b"Redirecting to Airflow's login", [(b"location", location.encode())]
            )
            return
        body = json.dumps({"detail": f"Airflow login required ({reason})"}).encode()
        await _send(send, 401, "application/json", body, [(b"www-authenticate", b"Bearer")])


def _full_path(scope: Scope) -> str:
    """The request's path as the browser sent it (Starlette keeps or strips the mount prefix)."""
    root, path = scope.get("root_path", "") or "", scope.get("path", "") or "/"
    return path if root and path.startswith(root) else root + path


async def _send(
    send, status: int, content_type: str, body: bytes, extra: list[tuple[bytes, bytes]] | None = None
) -> None:
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def current_user() -> Any:
    """The user of the Flask request being served (set by :class:`AuthGuard`)."""
    from flask import request

    scope = request.environ.get("asgi.scope") or {}
    user = scope.get(SCOPE_USER_KEY)
    if user is None:
        raise NotAuthenticated("request did not pass through ddtrack's AuthGuard")
    return user


def current_readable_dag_ids() -> set[str]:
    """The current user's readable DAG ids, asked once per request."""
    from flask import g

    cached = getattr(g, "ddtrack_readable_dag_ids", None)
    if cached is None:
        cached = readable_dag_ids(current_user())
        g.ddtrack_readable_dag_ids = cached
    return cached



def current_editable_dag_ids() -> set[str]:
    """The current user's editable DAG ids, asked once per request."""
    from flask import g

    cached = getattr(g, "ddtrack_editable_dag_ids", None)
    if cached is None:
        cached = editable_dag_ids(current_user())
        g.ddtrack_editable_dag_ids = cached
    return cached


def may_administer(user: Any) -> bool:
    """Whether ``user`` may change Airflow's configuration: who sees ddtrack's deployment status.

    The auth manager decides (SimpleAuthManager: Op and Admin; FAB: whoever may edit the
    configuration), so ddtrack keeps no admin list of its own.
    """
    return bool(auth_manager().is_authorized_configuration(method="PUT", user=user))
