"""ddtrack: data tracking for Apache Airflow 3.

``@track`` a task function and every run records what it produced (schema, row counts,
column statistics and histograms), where it came from (lineage) and how it ran; the
Airflow plugin shows it inside Airflow's UI.

Imports are lazy: Airflow imports this package in every scheduler, api-server and worker
process (it is a plugin), and most of them never profile anything.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"
__all__ = ["track", "log_output", "log_input", "profile", "checks", "Table", "Files", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("track", "log_output", "log_input"):
        return getattr(importlib.import_module("ddtrack.decorator"), name)
    if name in ("Table", "Files"):  # references are light: DAG files build them at parse time
        return getattr(importlib.import_module("ddtrack.references"), name)
    if name == "checks":  # numpy-free: DAG files declare checks at parse time
        return importlib.import_module("ddtrack.checks")
    if name == "profile":
        # A package that is also callable: ddtrack.profile(obj) (see ddtrack/profile/__init__.py).
        return importlib.import_module("ddtrack.profile")
    raise AttributeError(f"module 'ddtrack' has no attribute {name!r}")
