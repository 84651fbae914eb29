"""The spool's folder as it lies on disk: records waiting (``*.json``), dead letters (``dead/``).

:mod:`ddtrack.server.spool` writes and drains the folder; ``ddtrack status`` and ``ddtrack
sync`` only count what is there. Both read its layout here, below them, so the status
question (:mod:`ddtrack.queries.status`) never imports the server's code.
"""

from __future__ import annotations

from pathlib import Path

from ddtrack import conf

DEAD = "dead"  # records the database refused for good, moved aside so the others get stored


def pending() -> int:
    """How many records wait in the spool to be stored."""
    folder = conf.spool_dir()
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def dead_letters() -> list[Path]:
    """The records that could not be stored, oldest name first."""
    folder = conf.spool_dir() / DEAD
    return sorted(folder.glob("*.json")) if folder.exists() else []
