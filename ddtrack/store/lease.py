"""Leases: which process does a piece of background work, until when.

Every scheduler and api-server runs an ingest thread, and each would otherwise do the same
housekeeping in the same hour. A lease is one row of ``ddtrack_lease``: a process takes it
when nobody holds it or its holder's time is up, in one conditional ``UPDATE`` (or the
first ``INSERT``), so the database decides and exactly one of any number of racing
processes wins. It is not released when the work is done: the lease is the interval, and
the next process takes it when the interval is over.
"""

from __future__ import annotations

import datetime as dt
import os
import socket

from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from ddtrack.store.engine import get_engine
from ddtrack.store.models import Lease


def this_process() -> str:
    """The holder name of this process: host and process id (what an operator can find)."""
    return f"{socket.gethostname()}:{os.getpid()}"[:255]


def take(store_url: str, name: str, seconds: float, holder: str | None = None, renew: bool = False) -> bool:
    """Take the lease ``name`` for ``seconds`` if it is free or expired (or, with ``renew``,
    held by ``holder`` itself: work it left unfinished); False if another holds it. Each
    statement is short and bounded by the engine's statement timeout."""
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    values = {"holder": holder or this_process(), "taken_at": now, "expires_at": now + dt.timedelta(seconds=seconds)}
    lease = Lease.__table__
    free = lease.c.expires_at <= now
    if renew:
        free = or_(free, lease.c.holder == values["holder"])
    engine = get_engine(store_url)
    with engine.begin() as conn:
        # Row-locking: a racing process waits for this one's commit, then sees the new expiry.
        if conn.execute(update(lease).where(lease.c.name == name, free).values(**values)).rowcount:
            return True
        if conn.execute(select(lease.c.name).where(lease.c.name == name)).first() is not None:
            return False  # held, and not expired
    try:
        with engine.begin() as conn:
            conn.execute(insert(lease).values(name=name, **values))
    except IntegrityError:  # another process inserted it first
        return False
    return True

