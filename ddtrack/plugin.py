"""The Airflow plugin: wires ddtrack's pieces into Airflow, and nothing else.

Registered through the ``airflow.plugins`` entry point, so ``pip install`` is enough.
Airflow imports this module in every process (workers too): keep it cheap, and build
anything heavy (Dash, Plotly) lazily, on the first request that needs it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ddtrack.server import listener
from ddtrack.server.capture import CaptureBeforeRetryMiddleware
from ddtrack.views.asgi import MOUNT_PATH
from ddtrack.views.asgi import app as views_app


def _views_href(page: str, query: str = "") -> str:
    """Where the UI's iframe loads a page: under ``[api] base_url``'s path, if it has one."""
    from ddtrack.auth import base_path

    return f"{base_path()}{MOUNT_PATH}/{page}" + (f"?{query}" if query else "")


class DDTrackPlugin(AirflowPlugin):
    name = "ddtrack"
    listeners = [listener]
    fastapi_root_middlewares = [
        {"middleware": CaptureBeforeRetryMiddleware, "args": [], "kwargs": {}, "name": "ddtrack-capture-before-retry"}
    ]
    # The Dash views (built lazily on the first request) and where Airflow's UI shows them.
    fastapi_apps = [{"app": views_app, "url_prefix": MOUNT_PATH, "name": "ddtrack"}]
    external_views = [
        {"name": "Data", "href": _views_href(""), "destination": "nav", "url_route": "ddtrack", "nav_top_level": True},
        {"name": "Data", "href": _views_href("dag", "dag_id={DAG_ID}"), "destination": "dag", "url_route": "ddtrack-dag"},
        {
            "name": "Data",
            "href": _views_href("run", "dag_id={DAG_ID}&run_id={RUN_ID}"),
            "destination": "dag_run",
            "url_route": "ddtrack-run",
        },
        {
            "name": "Data",
            "href": _views_href("task", "dag_id={DAG_ID}&task_id={TASK_ID}"),
            "destination": "task",
            "url_route": "ddtrack-task",
        },
        {
            "name": "Data",
            "href": _views_href("ti", "dag_id={DAG_ID}&run_id={RUN_ID}&task_id={TASK_ID}&map_index={MAP_INDEX}"),
            "destination": "task_instance",
            "url_route": "ddtrack-ti",
        },
    ]
