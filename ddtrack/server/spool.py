"""A local spool for records that could not be stored because the database was down.

Most records wait safely in Airflow's XCom table until ingest succeeds. One does not: the
record a retry is about to clear (see ``ddtrack.server.capture``). If ddtrack's database is
unreachable at that moment, the record is written here, one JSON file each, and ingested
once the database is back (by the process's ingest thread, or ``ddtrack sync``).
Files are claimed by an atomic rename, so several processes can drain one spool.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from ddtrack import conf

log = logging.getLogger("ddtrack.spool")


def put(records: Iterable[Mapping[str, Any]]) -> int:
    """Write records to the spool; returns how many."""
    folder = conf.spool_dir()
    folder.mkdir(parents=True, exist_ok=True)
    n = 0
    for record in records:
        tmp = folder / f".{uuid.uuid4().hex}.tmp"
        tmp.write_text(json.dumps(record))
        tmp.rename(folder / f"{uuid.uuid4().hex}.json")
        n += 1
    return n


def pending() -> int:
    folder = conf.spool_dir()
    return len(list(folder.glob("*.json"))) if folder.exists() else 0


def drain(store_url: str, metastore_url: str | None = None) -> int:
    """Ingest spooled records; those that fail again go back. Returns how many were stored."""
    from ddtrack.store.ingest import ingest_records

    folder = conf.spool_dir()
    if not folder.exists():
        return 0
    stored = 0
    for path in sorted(folder.glob("*.json")):
        claimed = path.with_suffix(".claimed")
        try:
            path.rename(claimed)  # another process got it first otherwise
        except FileNotFoundError:
            continue
        try:
            record = json.loads(claimed.read_text())
        except ValueError:
            log.warning("ddtrack spool: unreadable file %s kept aside", claimed)
            continue
        report = ingest_records(store_url, [record], metastore_url=metastore_url)
        if report.failed:
            claimed.rename(path)  # still failing: keep it for the next drain
            return stored
        claimed.unlink()
        stored += 1
    return stored
