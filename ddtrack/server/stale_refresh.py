"""Keep the per-DAG stale counts up to date (:mod:`ddtrack.store.stale_counts`), in the
ingest thread of the one process holding the ``stale-counts`` lease.

Each pass counts again the DAGs marked since the last one (an ingest or a deletion changed
their versions or what they read) and the DAGs never counted, at most ``MAX_DAGS`` of
them: about 60 ms for 200 DAGs of 20 outputs on PostgreSQL. Home's badge then reads those
counts instead of working staleness out across every DAG on a visit.
"""

from __future__ import annotations

from ddtrack.queries.freshness import stale_counts_of
from ddtrack.store import lease, stale_counts
from ddtrack.store.engine import get_engine

LEASE = "stale-counts"
LEASE_S = 60  # the holder renews it each pass; another process takes over a minute after it stops
MAX_DAGS = 200
_backfilled: set[str] = set()  # stores in which every DAG stored before 0011 has a count


def refresh(store_url: str) -> int | None:
    """Count the DAGs that need it again, if this process holds (or can take) the lease:
    how many were counted, or None when another process holds the lease."""
    if not lease.take(store_url, LEASE, LEASE_S, renew=True):
        return None
    engine = get_engine(store_url)
    # The marks first, then the counts: the versions a mark was written with are committed
    # by the time it is read, so the counts see them (one snapshot on MariaDB/MySQL, later
    # statements on PostgreSQL and SQLite).
    with engine.connect() as conn:
        dags, marks = stale_counts.pending(conn, MAX_DAGS, uncounted=store_url not in _backfilled)
        if not dags:  # none marked, none uncounted: from now on only marks bring DAGs
            _backfilled.add(store_url)
            return 0
        counts = stale_counts_of(conn, dags)
    with engine.begin() as conn:
        stale_counts.store(conn, dags, counts, marks)
    return len(dags)
