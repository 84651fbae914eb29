"""The Airflow plugin: wires ddtrack's pieces into Airflow, and nothing else.

Registered through the ``airflow.plugins`` entry point, so ``pip install`` is enough.
Airflow imports this module in every process (workers too): keep it cheap, and build
anything heavy (Dash, Plotly) lazily, on the first request that needs it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from ddtrack import listener
from ddtrack.capture import CaptureBeforeRetryMiddleware


class DDTrackPlugin(AirflowPlugin):
    name = "ddtrack"
    listeners = [listener]
    fastapi_root_middlewares = [
        {"middleware": CaptureBeforeRetryMiddleware, "args": [], "kwargs": {}, "name": "ddtrack-capture-before-retry"}
    ]
