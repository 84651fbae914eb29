"""Services the shared deployment starts beside Airflow, one function each.

Each service is a context manager taking the deployment's home folder and yielding a
:class:`Service`: the environment it adds to every Airflow process (connections, ddtrack
options) and a handle the tests read (a mailbox, a warehouse URL). Add a feature's service
here and to ``SERVICES``; it is started before Airflow and stopped after it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Service:
    name: str
    env: dict[str, str] = field(default_factory=dict)
    handle: Any = None


# name -> factory; the deployment exposes each handle as ``airflow.services[name]``.
SERVICES: dict[str, Callable[[Path], AbstractContextManager[Service]]] = {}


def started(home: Path, stack) -> Iterator[Service]:
    """Start every service of ``SERVICES`` on ``stack`` (an ExitStack), in order."""
    for name, factory in SERVICES.items():
        service = stack.enter_context(factory(home / name))
        yield service
