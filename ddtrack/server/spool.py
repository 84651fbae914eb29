"""A local spool for records on their way to ddtrack's database.

Most records wait safely in Airflow's XCom table until ingest succeeds. One does not: the
record a retry is about to clear (see :mod:`ddtrack.server.capture`). The api-server
writes it here first, one JSON file each, and its ingest thread (or ``ddtrack sync``)
stores it, at once or whenever ddtrack's database answers again.

- Files are claimed by an atomic rename (``.json`` -> ``.claimed``), so several processes
  can drain one spool. A ``.claimed`` file older than ``CLAIM_TIMEOUT_S`` was left by a
  process that died while storing it, and is put back.
- A record the database refuses for another reason than being unavailable (a malformed
  record, a constraint) would fail forever: it moves to ``<spool>/dead/`` with a warning,
  so the records behind it still get stored. ``ddtrack sync`` reports both.

The folder's layout (what waits, what is dead) is :mod:`ddtrack.store.spool_folder`'s.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ddtrack import conf
from ddtrack.store.spool_folder import DEAD

log = logging.getLogger("ddtrack.spool")

CLAIM_TIMEOUT_S = 600


@dataclass
class DrainReport:
    stored: int = 0
    dead: int = 0  # moved to the dead-letter folder by this drain
    reclaimed: int = 0  # stale claims put back by this drain
    waiting: bool = False  # stopped because the database is unavailable


def put(records: Iterable[Mapping[str, Any]]) -> int:
    """Write records to the spool, each atomically (complete, or not there); how many."""
    folder = conf.spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for record in records:
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, folder / f"{uuid.uuid4().hex}.json")
        n += 1
    return n


def reclaim_stale(older_than_s: float = CLAIM_TIMEOUT_S) -> int:
    """Put back ``.claimed`` files whose claimer died (older than ``older_than_s``)."""
    folder = conf.spool_dir()
    if not folder.exists():
        return 0
    n = 0
    cutoff = time.time() - older_than_s
    for claimed in folder.glob("*.claimed"):
        try:
            if claimed.stat().st_mtime < cutoff:
                claimed.rename(claimed.with_suffix(".json"))
                n += 1
        except FileNotFoundError:
            continue  # its claimer finished meanwhile
    if n:
        log.warning("ddtrack spool: %d record(s) claimed by a process that stopped were put back", n)
    return n


def drain(store_url: str, metastore_url: str | None = None) -> DrainReport:
    """Store spooled records until the spool is empty or the database is unavailable."""
    from ddtrack.store.ingest import ingest_records

    report = DrainReport(reclaimed=reclaim_stale())
    folder = conf.spool_dir()
    if not folder.exists():
        return report
    for path in sorted(folder.glob("*.json")):
        claimed = path.with_suffix(".claimed")
        try:
            path.rename(claimed)  # another process got it first otherwise
            os.utime(claimed)  # the claim's age counts from now
        except FileNotFoundError:
            continue
        try:
            record = json.loads(claimed.read_text(encoding="utf-8"))
        except ValueError as exc:
            _bury(claimed, f"unreadable: {exc}")
            report.dead += 1
            continue
        result = ingest_records(store_url, [record], metastore_url=metastore_url)
        if result.unreachable:
            claimed.rename(path)  # the database is away: keep it for the next drain
            report.waiting = True
            return report
        if result.failed:
            _bury(claimed, "; ".join(result.errors))
            report.dead += 1
            continue
        claimed.unlink()
        report.stored += 1
    return report


def _bury(claimed: Path, why: str) -> None:
    dead = claimed.parent / DEAD
    dead.mkdir(exist_ok=True)
    target = dead / claimed.with_suffix(".json").name
    claimed.rename(target)
    log.warning("ddtrack spool: a record could not be stored (%s); moved to %s", why[:500], target)
