"""Flag an output version as bad, list the suspects downstream of open flags, review them.

Reading flags and suspects needs read rights on the DAG; flagging and reviewing need edit
rights (the auth manager's ``PUT`` on the DAG), checked here so that every caller (a
page's callback, whatever a browser forges into it, the CLI) goes through it, as
:mod:`ddtrack.queries.baseline` does for pins. The store (:mod:`ddtrack.store.flags`)
trusts its caller.

A suspect is a version downstream of an open flag (the same walk as
:func:`~ddtrack.queries.trace.impact`, default 10 hops) that has not been reviewed under
that flag. Reviewing the flagged version itself closes the flag, and with it its suspects.
Only flags on DAGs the caller may read are listed, and only readable suspects; the walk
passes through DAGs the caller may not read without naming them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ddtrack.queries.access import Allowed, dag_filter, may_read
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.trace import DEFAULT_DEPTH, walk
from ddtrack.queries.types import FlagInfo, Suspect, VersionRef
from ddtrack.queries.versions import UnknownVersion, version_of
from ddtrack.store import flags as store
from ddtrack.store.models import Flag, Review

MAX_OPEN_FLAGS = 100  # flags walked for the suspects list, newest first


def _require_edit(editable: Iterable[str] | None, dag_id: str, what: str, output_id: int) -> None:
    """``editable=None`` is a trusted caller (the CLI); otherwise the DAG must be in it.
    The message names the id the caller gave, never the DAG (it may not be readable)."""
    if editable is not None and dag_id not in set(editable):
        raise PermissionError(f"you may not {what} output version {output_id}: that needs edit rights on its DAG")


def _info(row: Any) -> FlagInfo:
    get = row.get if isinstance(row, dict) else row._mapping.get
    return FlagInfo(
        id=int(get("id")), output_id=int(get("output_id")), dag_id=get("dag_id"), task_id=get("task_id"),
        run_id=get("run_id"), output_name=get("output_name"), note=get("note") or "", flagged_by=get("flagged_by") or "",
        flagged_at=utc(get("flagged_at")), reviewed_by=get("reviewed_by"), reviewed_at=utc(get("reviewed_at")),
        review_note=get("review_note"),
    )


def version_row(sources: Sources, output_id: int) -> VersionRef:
    found = version_of(sources, output_id, allowed=None)
    if found is None:
        raise UnknownVersion(output_id)
    return found


def flag_version(sources: Sources, output_id: int, note: str, user: str, *, editable: Iterable[str] | None) -> FlagInfo:
    """Flag the version as bad, with a note, by ``user``. ``UnknownVersion`` (a LookupError)
    if it is not stored; PermissionError without edit rights on its DAG."""
    version = version_row(sources, output_id)
    _require_edit(editable, version.dag_id, "flag", output_id)
    return _info(store.flag(sources.store_url, version.output_id, note, user))


def review_version(
    sources: Sources, output_id: int, note: str, user: str, *, editable: Iterable[str] | None
) -> FlagInfo | None:
    """Review a version: the flagged version itself closes its open flags; a suspect is
    cleared under every open flag upstream of it (within the default depth). Returns the
    (first) flag closed or cleared under, None if the version was neither flagged nor
    suspect. ``UnknownVersion`` / PermissionError as :func:`flag_version`."""
    version = version_row(sources, output_id)
    _require_edit(editable, version.dag_id, "review", output_id)
    closed = store.close(sources.store_url, version.output_id, note, user)
    if closed:
        return _info(closed[0])
    fl = Flag.__table__
    with store_conn(sources) as conn:
        g = walk(conn, version.output_id, allowed=None, upstream=True, depth=DEFAULT_DEPTH)
        upstream = sorted(set(g.versions) - {version.output_id}) if g is not None else []
        flag_ids = [
            int(r.id)
            for r in conn.execute(
                select(fl.c.id).where(fl.c.output_id.in_(upstream[:2000]), fl.c.reviewed_at.is_(None)).order_by(fl.c.id)
            )
        ] if upstream else []
    if not flag_ids:
        return None
    return _info(store.clear(sources.store_url, version.output_id, flag_ids, note, user)[0])


def flags_of(sources: Sources, output_id: int, *, allowed: Allowed) -> list[FlagInfo]:
    """Every flag of the version, open and closed, oldest first; none for a DAG the caller
    may not read."""
    fl = Flag.__table__
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(fl).where(fl.c.output_id == int(output_id), dag_filter(fl.c.dag_id, allowed)).order_by(fl.c.id)
        ).all()
    return [_info(r) for r in rows]


def open_flags(sources: Sources, *, allowed: Allowed, limit: int = MAX_OPEN_FLAGS) -> list[FlagInfo]:
    """Open flags on readable DAGs, newest first."""
    fl = Flag.__table__
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(fl)
            .where(fl.c.reviewed_at.is_(None), dag_filter(fl.c.dag_id, allowed))
            .order_by(fl.c.flagged_at.desc(), fl.c.id.desc())
            .limit(limit)
        ).all()
    return [_info(r) for r in rows]


def suspects(sources: Sources, *, allowed: Allowed, limit: int = 500) -> list[Suspect]:
    """Every readable version downstream of an open flag (on a readable DAG) and not yet
    reviewed under it: per flag (newest first), nearest first."""
    found: list[Suspect] = []
    rv = Review.__table__
    with store_conn(sources) as conn:
        for info in open_flags(sources, allowed=allowed):
            if not may_read(info.dag_id, allowed):
                continue
            g = walk(conn, info.output_id, allowed=allowed, upstream=False, depth=DEFAULT_DEPTH)
            if g is None:
                continue
            cleared = {
                int(r.output_id) for r in conn.execute(select(rv.c.output_id).where(rv.c.flag_id == info.id))
            }
            downstream = [
                v for v in g.versions.values() if v.visible and v.id != info.output_id and v.id not in cleared
            ]
            downstream.sort(key=lambda v: (g.depth[f"version:{v.id}"], v.ref.dag_id, v.ref.task_id, v.ref.name, v.id))
            for v in downstream:
                found.append(Suspect(v.ref, info, g.depth[f"version:{v.id}"]))
                if len(found) >= limit:
                    return found
    return found
