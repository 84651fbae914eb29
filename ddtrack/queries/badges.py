"""The badge counts of home (every readable DAG) and of one DAG's page: stale, overdue,
suspect, flagged and PII outputs.

A DAG page asks about its DAG only, in SQL (``dag_id = :d``), and its suspects from its own
side (:func:`~ddtrack.queries.flags.dag_suspect_count`). Home's summary across DAGs walks
downstream of every open flag (:func:`~ddtrack.queries.flags.suspect_count`), so each part of it is kept for ``SUMMARY_SECONDS`` per set of rights: the
key is the exact set of readable DAG ids (or ``None``, a trusted caller), so a user never
gets a summary computed for other rights; the flag parts are keyed by the flag tables'
newest rows too, so a flag or review shows at once. Concurrent requests for the same key wait for one
computation instead of each running it.

Each part is computed on its own: one that fails is logged with its cause and named in
``failed`` (the page says so plainly), never cached, and the other parts are still shown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from cachetools import TTLCache, cached
from sqlalchemy import func, select

from ddtrack.queries.access import Allowed
from ddtrack.queries.flags import dag_suspect_count, open_flag_count, suspect_count
from ddtrack.queries.freshness import freshness_counts
from ddtrack.queries.pii import pii_output_count
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.store.models import Flag, Review

log = logging.getLogger("ddtrack.queries")

SUMMARY_SECONDS = 30  # how long home's summary across DAGs is reused for one set of rights
SUMMARY_ENTRIES = 256  # (part, rights) pairs kept at most

PARTS = {
    "freshness": "stale and overdue outputs",
    "suspects": "suspect versions",
    "flags": "flagged versions",
    "pii": "PII outputs",
}


@dataclass(frozen=True)
class BadgeCounts:
    """Counts by badge (``stale``, ``overdue``, ``suspect``, ``flagged``, ``pii``), and the parts
    (keys of :data:`PARTS`) that could not be computed."""

    counts: dict[str, int] = field(default_factory=dict)
    failed: tuple[str, ...] = ()


_cache: TTLCache = TTLCache(maxsize=SUMMARY_ENTRIES, ttl=SUMMARY_SECONDS)
_lock = threading.Lock()
_pending = threading.Condition(_lock)


def _rights(allowed: Allowed) -> frozenset[str] | None:
    return None if allowed is None else frozenset(allowed)


def _flags_state(sources: Sources) -> tuple[int, int, int]:
    """The newest flag, how many are closed, the newest review: part of the flag parts' key,
    so a flag or review (in any process) shows at once instead of after the summary expires."""
    fl, rv = Flag.__table__, Review.__table__
    with store_conn(sources) as conn:
        newest, closed = conn.execute(select(func.max(fl.c.id), func.count(fl.c.reviewed_at))).one()
        reviewed = conn.execute(select(func.max(rv.c.id))).scalar()
    return int(newest or 0), int(closed or 0), int(reviewed or 0)


@cached(_cache, key=lambda sources, part, rights, state=None: (sources, part, rights, state), lock=_lock, condition=_pending)
def _across_part(sources: Sources, part: str, rights: frozenset[str] | None, state: tuple | None = None) -> dict[str, int]:
    """One part of the summary across DAGs for one set of rights (cached; an error is not).
    ``state`` is only part of the key (:func:`_flags_state` for the flag parts)."""
    if part == "freshness":
        pairs = freshness_counts(sources, allowed=rights).values()
        return {"stale": sum(p[0] for p in pairs), "overdue": sum(p[1] for p in pairs)}
    if part == "suspects":
        return {"suspect": suspect_count(sources, allowed=rights)}
    if part == "flags":
        return {"flagged": open_flag_count(sources, allowed=rights)}
    return {"pii": pii_output_count(sources, allowed=rights)}


def _dag_part(sources: Sources, part: str, allowed: Allowed, dag_id: str) -> dict[str, int]:
    """One part of one DAG's counts, every statement scoped to ``dag_id``."""
    if part == "freshness":
        stale, overdue = freshness_counts(sources, allowed=allowed, dag_id=dag_id).get(dag_id, (0, 0))
        return {"stale": stale, "overdue": overdue}
    if part == "suspects":
        return {"suspect": dag_suspect_count(sources, dag_id, allowed=allowed)}
    if part == "flags":
        return {"flagged": open_flag_count(sources, allowed=allowed, dag_id=dag_id)}
    return {"pii": pii_output_count(sources, allowed=allowed, dag_id=dag_id)}


def _collect(compute: Callable[[str], dict[str, int]], where: str) -> BadgeCounts:
    counts: dict[str, int] = {}
    failed = []
    for part, what in PARTS.items():
        try:
            counts.update(compute(part))
        except Exception:  # noqa: BLE001 - one badge failing must not take the others (or the page) down
            log.warning("ddtrack could not count the %s of %s", what, where, exc_info=True)
            failed.append(part)
    return BadgeCounts(counts, tuple(failed))


def across_badges(sources: Sources, *, allowed: Allowed) -> BadgeCounts:
    """Home's counts over every DAG the caller reads, reused for ``SUMMARY_SECONDS`` per set
    of rights."""
    rights = _rights(allowed)

    def compute(part: str) -> dict[str, int]:
        state = _flags_state(sources) if part in ("suspects", "flags") else None
        return _across_part(sources, part, rights, state)

    return _collect(compute, "every readable DAG")


def dag_badges(sources: Sources, dag_id: str, *, allowed: Allowed) -> BadgeCounts:
    """One DAG page's counts: only that DAG is asked about (nothing if it is not readable)."""
    return _collect(lambda part: _dag_part(sources, part, allowed, dag_id), f"DAG {dag_id!r}")


def forget_summaries() -> None:
    """Drop every kept summary (tests, and the benchmark's cold case)."""
    with _lock:
        _cache.clear()
