"""ddtrack: data tracking for Apache Airflow 3.

``@track`` a task function and every run records what it produced (schema, row counts,
column statistics and histograms), where it came from (lineage) and how it ran; the
Airflow plugin shows it inside Airflow's UI.

Imports are lazy: Airflow imports this package in every scheduler, api-server and worker
process (it is a plugin), and most of them never profile anything.
"""

from __future__ import annotations

import importlib
import types
from typing import Any

__version__ = "0.1.0"
__all__ = ["track", "log_output", "log_input", "profile", "__version__"]


class _CallableModule(types.ModuleType):
    """``ddtrack.profile`` is a package and, called, profiles an object."""

    def __call__(self, obj: Any, **options: Any):
        return self.profile(obj, **options)


def __getattr__(name: str) -> Any:
    if name in ("track", "log_output", "log_input"):
        return getattr(importlib.import_module("ddtrack.decorator"), name)
    if name == "profile":
        module = importlib.import_module("ddtrack.profile")
        module.__class__ = _CallableModule
        return module
    raise AttributeError(f"module 'ddtrack' has no attribute {name!r}")
