"""Search: DAGs, tasks, outputs, columns and tags by name."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import case, func, select

from ddtrack.queries.access import dag_filter
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.types import SearchHit
from ddtrack.store.models import CatalogEntry

_KIND_ORDER = {"dag": 0, "task": 1, "output": 2, "column": 3, "tag": 4}


def search(sources: Sources, text: str, allowed: Iterable[str] | None, limit: int = 50) -> list[SearchHit]:
    """DAGs, tasks, outputs, columns and tags whose name contains ``text`` (case-insensitive).

    Reads ``ddtrack_catalog`` (each distinct name once, kept at ingest), not the profile
    tables: a substring match cannot use a B-tree index, and the catalog stays small when
    the column table holds millions of profiles.
    """
    text = (text or "").strip().lower()[:100]
    if len(text) < 2:
        return []
    pattern = f"%{_escape_like(text)}%"
    cat = CatalogEntry.__table__
    kind_order = case(_KIND_ORDER, value=cat.c.kind, else_=9)
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(cat.c.kind, cat.c.dag_id, cat.c.task_id, cat.c.output_name, cat.c.text)
            .where(dag_filter(cat.c.dag_id, allowed))
            .where(func.lower(cat.c.text).like(pattern, escape="\\"))
            .order_by(kind_order, cat.c.dag_id, cat.c.task_id, cat.c.text)
            .limit(limit * 4)
        ).all()
    hits: list[SearchHit] = []
    seen: set[tuple] = set()
    for r in rows:
        hit = _search_hit(r)
        key = (hit.kind, hit.dag_id, hit.task_id, hit.label)
        if key not in seen:
            seen.add(key)
            hits.append(hit)
        if len(hits) == limit:
            break
    return hits


def _search_hit(r: Any) -> SearchHit:
    task_id = r.task_id or None
    if r.kind == "dag":
        return SearchHit("dag", r.dag_id, None, r.text)
    if r.kind == "task":
        return SearchHit("task", r.dag_id, task_id, r.text, r.dag_id)
    if r.kind == "output":
        return SearchHit("output", r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id}")
    if r.kind == "column":
        return SearchHit("column", r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id} / {r.output_name}")
    return SearchHit(r.kind, r.dag_id, task_id, r.text, f"{r.dag_id} / {r.task_id}" if task_id else r.dag_id)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")

