"""Notifiers ddtrack ships, for channels that need no service: a file of delivered alerts.

``FileNotifier`` appends each digest to a text file, as any Airflow notifier would send it
(its ``text`` is a Jinja template rendered with the digest's context). The demo delivers its
alerts here, so a new user sees one arrive with nothing else to set up; a team can point a
log shipper at the file. Configure it like any notifier::

    [ddtrack]
    alert_notifiers = [{"notifier": "ddtrack.notifiers.FileNotifier",
                        "kwargs": {"path": "/var/log/airflow/ddtrack-alerts.log"}}]
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from airflow.sdk import BaseNotifier


class FileNotifier(BaseNotifier):
    """Append the rendered ``text`` (ddtrack's digest unless given) to ``path``, one block per
    message, under a line with the UTC time it was written."""

    template_fields = ("path", "text")

    def __init__(self, *, path: str, text: str | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not path:
            raise ValueError("FileNotifier needs a path")
        self.path = path
        self.text = text

    def notify(self, context: Any) -> None:
        target = Path(self.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
        block = f"=== {stamp}\n{(self.text or '').rstrip()}\n\n"
        with open(target, "a", encoding="utf-8") as out:  # one write: blocks of two processes do not interleave
            out.write(block)
            out.flush()
            os.fsync(out.fileno())
