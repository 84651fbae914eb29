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

from collections import defaultdict, deque
from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from ddtrack.queries.access import Allowed, dag_filter, may_read, one_dag
from ddtrack.queries.graph import neighbours
from ddtrack.queries.sources import Sources, store_conn, utc
from ddtrack.queries.trace import DEFAULT_DEPTH, MAX_NODES, walk, walk_from
from ddtrack.queries.types import FlagInfo, Suspect, VersionRef
from ddtrack.queries.versions import UnknownVersion, batches, version_of, versions_by_id
from ddtrack.store import flags as store
from ddtrack.store.models import Dataset, Flag, Review

MAX_OPEN_FLAGS = 100  # flags walked for the suspects list, newest first


def _info(row: Any) -> FlagInfo:
    get = row.get if isinstance(row, dict) else row._mapping.get
    return FlagInfo(
        id=int(get("id")), output_id=int(get("output_id")), dag_id=get("dag_id"), task_id=get("task_id"),
        run_id=get("run_id"), output_name=get("output_name"), note=get("note") or "", flagged_by=get("flagged_by") or "",
        flagged_at=utc(get("flagged_at")), reviewed_by=get("reviewed_by"), reviewed_at=utc(get("reviewed_at")),
        review_note=get("review_note"),
    )


def _editable_version(sources: Sources, output_id: int, editable: Iterable[str] | None, what: str) -> VersionRef:
    """The version, if it is in a DAG the caller may edit (asked in SQL). ``editable=None``
    is a trusted caller (the CLI), told ``UnknownVersion`` for an id not stored. Anyone else
    gets one answer for an id that is not stored and one in a DAG they may not edit or read,
    so that ids in other DAGs cannot be probed."""
    found = version_of(sources, output_id, allowed=None if editable is None else list(editable))
    if found is not None:
        return found
    if editable is None:
        raise UnknownVersion(output_id)
    raise PermissionError(
        f"you may not {what} output version {output_id}: it is not stored in a DAG you have edit rights on"
    )


def flag_version(sources: Sources, output_id: int, note: str, user: str, *, editable: Iterable[str] | None) -> FlagInfo:
    """Flag the version as bad, with a note, by ``user``. PermissionError unless it is in a DAG
    in ``editable`` (the same for an id not stored); ``UnknownVersion`` (a LookupError) for
    an id not stored when ``editable`` is None."""
    version = _editable_version(sources, output_id, editable, "flag")
    return _info(store.flag(sources.store_url, version.output_id, note, user))


def review_version(
    sources: Sources, output_id: int, note: str, user: str, *, editable: Iterable[str] | None,
    allowed: Allowed = None,
) -> FlagInfo | None:
    """Review a version: the flagged version itself closes its open flags; a suspect is
    cleared under every open flag upstream of it (within the default depth). Returns the
    (first) flag closed or cleared under, None if the version was neither flagged nor
    suspect; a flag of a DAG outside ``allowed`` (the caller's readable DAGs) comes back as
    its id only, never its DAG, version or note. PermissionError / ``UnknownVersion`` as
    :func:`flag_version`."""
    version = _editable_version(sources, output_id, editable, "review")
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
    cleared = [_info(r) for r in store.clear(sources.store_url, version.output_id, flag_ids, note, user)]
    readable = [f for f in cleared if may_read(f.dag_id, allowed)]
    return readable[0] if readable else _unnamed(cleared[0])


def _unnamed(flag: FlagInfo) -> FlagInfo:
    """A flag of a DAG the caller may not read: counted by its id, nothing of its DAG named."""
    return FlagInfo(id=flag.id, output_id=0, dag_id="", task_id="", run_id="", output_name="", note="",
                    flagged_by="", flagged_at=None)


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


def open_flag_count(sources: Sources, *, allowed: Allowed, dag_id: str | None = None) -> int:
    """Versions with an open flag on readable DAGs (on ``dag_id`` only, if given): one indexed
    count; a version flagged twice counts once."""
    fl = Flag.__table__
    readable = dag_filter(fl.c.dag_id, allowed) if dag_id is None else one_dag(fl.c.dag_id, dag_id, allowed)
    with store_conn(sources) as conn:
        return int(conn.execute(
            select(func.count(fl.c.output_id.distinct())).where(fl.c.reviewed_at.is_(None), readable)
        ).scalar_one())


def dag_suspect_count(sources: Sources, dag_id: str, *, allowed: Allowed) -> int:
    """How many of the DAG's outputs have a newest version that is suspect: downstream (within
    the default depth) of an open flag on a readable DAG and not cleared under it.

    Asked from the DAG's side, so that a DAG page never walks other DAGs' flags: one walk
    upstream from the DAG's newest versions (the newest ``MAX_NODES`` of them, with room for
    ten times as many nodes upstream, as :func:`suspect_count` has), then the open flags among
    what it found."""
    ds, fl, rv = Dataset.__table__, Flag.__table__, Review.__table__
    with store_conn(sources) as conn:
        newest = conn.execute(
            select(ds.c.latest_output_id)
            .where(one_dag(ds.c.dag_id, dag_id, allowed), ds.c.latest_output_id.is_not(None))
            .order_by(ds.c.latest_output_id.desc())
            .limit(MAX_NODES)
        ).scalars()
        roots = list(versions_by_id(conn, newest).values())
        if not roots:
            return 0
        # The roots alone may fill one trace's node cap: the walk needs room beyond them.
        g = walk_from(conn, roots, allowed=allowed, upstream=True, depth=DEFAULT_DEPTH, max_nodes=10 * MAX_NODES)
        flags: dict[int, int] = {}
        for batch in batches(sorted(g.versions), 500):
            for r in conn.execute(
                select(fl.c.id, fl.c.output_id).where(
                    fl.c.output_id.in_(batch), fl.c.reviewed_at.is_(None), dag_filter(fl.c.dag_id, allowed)
                )
            ):
                flags[int(r.id)] = int(r.output_id)
        cleared: set[tuple[int, int]] = set()
        for batch in batches(sorted(flags), 500):
            cleared |= {
                (int(r.flag_id), int(r.output_id))
                for r in conn.execute(select(rv.c.flag_id, rv.c.output_id).where(rv.c.flag_id.in_(batch)))
            }
    pairs = [(s, t) for s, t, _ in g.edges]
    own = {f"version:{v.id}": v.id for v in roots}
    suspect = {
        own[node]
        for flag_id, flagged in flags.items()
        for node in neighbours(pairs, f"version:{flagged}")[1]
        if node in own and (flag_id, own[node]) not in cleared
    }
    return len(suspect)


def suspect_count(sources: Sources, *, allowed: Allowed, max_nodes: int = 10 * MAX_NODES) -> int:
    """How many readable versions are suspect (what :func:`suspects` lists, uncut): one walk
    downstream from every open flag at once (the newest ``MAX_OPEN_FLAGS``), instead of a
    walk per flag; which flag reaches which version within the default depth is then worked
    out on the walk's edges, so a review under one flag clears only that flag's suspects."""
    flags = open_flags(sources, allowed=allowed)
    if not flags:
        return 0
    rv = Review.__table__
    with store_conn(sources) as conn:
        roots = list(versions_by_id(conn, {f.output_id for f in flags}).values())
        g = walk_from(conn, roots, allowed=allowed, upstream=False, depth=DEFAULT_DEPTH, max_nodes=max_nodes)
        cleared: set[tuple[int, int]] = set()
        for batch in batches(sorted(f.id for f in flags), 500):
            cleared |= {
                (int(r.flag_id), int(r.output_id))
                for r in conn.execute(select(rv.c.flag_id, rv.c.output_id).where(rv.c.flag_id.in_(batch)))
            }
    down: dict[str, list[str]] = defaultdict(list)
    for source, target, _ in g.edges:
        down[source].append(target)
    visible = {v.id for v in g.versions.values() if v.visible}
    found: set[int] = set()
    for f in flags:
        for node in within_hops(down, f"version:{f.output_id}", DEFAULT_DEPTH):
            vid = int(node[8:]) if node.startswith("version:") else None
            if vid is not None and vid != f.output_id and vid in visible and (f.id, vid) not in cleared:
                found.add(vid)
    return len(found)


def within_hops(down: dict[str, list[str]], start: str, hops: int) -> set[str]:
    """The nodes downstream of ``start`` at most ``hops`` tries away (a walk's depth: each
    try crossed is a hop), on a walk's edges."""
    best = {start: 0}
    todo = deque([start])
    while todo:
        node = todo.popleft()
        for nxt in down.get(node, ()):
            d = best[node] + (1 if nxt.startswith("try:") else 0)
            if d <= hops and d < best.get(nxt, hops + 1):
                best[nxt] = d
                todo.append(nxt)
    return set(best) - {start}
