"""The ASGI object Airflow mounts: cheap to import, builds Dash on its first request.

Airflow imports plugins in every process, workers included; Dash, Plotly and the WSGI
bridge are only imported here, when the api-server serves the first ``/ddtrack`` request.
"""

from __future__ import annotations

import asyncio
from typing import Any

from ddtrack.urls import MOUNT_PATH


class LazyDashApp:
    """ASGI app: authentication guard in front of the Dash app, both built on first use."""

    def __init__(self, mount_path: str = MOUNT_PATH) -> None:
        self.mount_path = mount_path
        self._app: Any = None
        self._lock = asyncio.Lock()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            message = await receive()
            while message["type"] != "lifespan.shutdown":
                await send({"type": message["type"] + ".complete"})
                message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
            return
        if self._app is None:
            async with self._lock:
                if self._app is None:
                    self._app = await asyncio.get_running_loop().run_in_executor(None, self.build)
        await self._app(scope, receive, send)

    def build(self) -> Any:
        from a2wsgi import WSGIMiddleware

        from ddtrack.auth import AuthGuard
        from ddtrack.integrations.airflow_compat import unsupported_reason
        from ddtrack.urls import base_path
        from ddtrack.views.app import create_dash_app

        refused = unsupported_reason()
        if refused:  # the pages could not authenticate anyone here: say why instead
            return refusal_app(refused)

        dash_app = create_dash_app(f"{base_path()}{self.mount_path}/")
        return AuthGuard(WSGIMiddleware(dash_app.server, workers=4))


app = LazyDashApp()


def refusal_app(reason: str) -> Any:
    """An ASGI app answering every request with ``reason`` as a page (the UI's iframe shows it)."""
    from html import escape

    from starlette.responses import HTMLResponse

    body = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Data · ddtrack</title></head>'
        f'<body style="font-family: sans-serif; margin: 2rem"><h2>ddtrack cannot run here</h2><p role="alert">{escape(reason)}</p>'
        "</body></html>"
    )
    return HTMLResponse(body, status_code=501)
