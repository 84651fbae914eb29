"""The merged whole of a mapped task: every map index's newest try, one profile per output."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import select

from ddtrack.queries.access import Allowed, one_dag
from ddtrack.queries.outputs import merge_outputs, outputs_of
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.types import MappedPart, MappedWhole, OutputDetail
from ddtrack.store.models import TaskRun


def mapped_whole(
    sources: Sources, dag_id: str, run_id: str, task_id: str, *, allowed: Allowed
) -> MappedWhole | None:
    """The whole of a mapped task in one run: each output's profiles of the newest try of
    every map index merged (:func:`ddtrack.profile.merge_profiles`: counts and sums exact,
    sketches merged).  None when the task has no tracked map index the caller may read."""
    run = TaskRun.__table__
    with store_conn(sources) as conn:
        tries = conn.execute(
            select(run.c.id, run.c.map_index, run.c.try_number, run.c.state, run.c.duration_s, run.c.record_hash)
            .where(one_dag(run.c.dag_id, dag_id, allowed), run.c.run_id == run_id, run.c.task_id == task_id, run.c.map_index >= 0)
            .order_by(run.c.map_index, run.c.try_number)
        ).all()
        newest = {t.map_index: t for t in tries}  # ordered by try: the last one wins
        if not newest:
            return None
        # reading and merging cost ~1 s for 1,000 map indexes (benchmarks/mapped_whole_speed.py): keep it while no try changes
        key = (sources.store_url, dag_id, run_id, task_id, tuple((t.id, t.record_hash, t.state) for t in newest.values()))
        with _WHOLE_LOCK:
            if key in _WHOLE_CACHE:
                _WHOLE_CACHE.move_to_end(key)
                return _WHOLE_CACHE[key]
        outputs = outputs_of(conn, [t.id for t in newest.values()])
    by_name: dict[str, list[OutputDetail]] = {}
    parts = []
    for t in newest.values():
        for o in outputs[t.id]:
            by_name.setdefault(o.name, []).append(o)
        parts.append(MappedPart(t.map_index, t.try_number, t.state, t.duration_s, {o.name: o.rows for o in outputs[t.id]}))
    merged = [merge_outputs(name, group) for name, group in by_name.items()]
    whole = MappedWhole(dag_id, run_id, task_id, parts, merged, {k: len(v) for k, v in by_name.items()})
    with _WHOLE_LOCK:
        _WHOLE_CACHE[key] = whole
        while len(_WHOLE_CACHE) > WHOLE_CACHE_SIZE:
            _WHOLE_CACHE.popitem(last=False)
    return whole


WHOLE_CACHE_SIZE = 32


_WHOLE_CACHE: OrderedDict[tuple, MappedWhole] = OrderedDict()


_WHOLE_LOCK = threading.Lock()

