"""Search: DAGs, tasks, outputs, columns, tags and URIs by name, best match first."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import case, func, literal, select

from ddtrack.queries.access import dag_filter
from ddtrack.queries.sources import Sources, store_conn
from ddtrack.queries.types import SearchHit
from ddtrack.store.models import CatalogEntry

KINDS = ("dag", "task", "output", "column", "tag", "uri")
_KIND_ORDER = {kind: i for i, kind in enumerate(KINDS)}
# Kinds whose page is one per name (a column across outputs, a URI, a tag): one hit per
# name, however many DAGs and outputs carry it. The others are one hit per thing.
_ONE_PER_NAME = ("column", "tag", "uri")


def search(
    sources: Sources, text: str, allowed: Iterable[str] | None, limit: int = 50, kinds: Sequence[str] | None = None
) -> list[SearchHit]:
    """Names holding ``text`` (case-insensitive), ranked: exact name, then prefix, then
    substring; within a rank by kind (DAG, task, output, column, tag, URI), shorter names
    first. ``kinds`` keeps only hits of those kinds.

    Each hit names the page it opens (``page``, ``url_params``): a DAG, a task, an output's,
    a column's or a URI's catalog page, or the things of a tag. Reads ``ddtrack_catalog``
    (each distinct name once, kept at ingest), never the profile tables.
    """
    text = (text or "").strip().lower()[:100]
    wanted = [k for k in (kinds or KINDS) if k in _KIND_ORDER]
    if len(text) < 2 or not wanted:
        return []
    limit = max(1, min(int(limit), 500))
    cat = CatalogEntry.__table__
    name = func.lower(cat.c.text)
    prefix = escape_like(text)
    rank = case((name == text, 0), (name.like(f"{prefix}%", escape="\\"), 1), else_=2)
    per_name = cat.c.kind.in_(_ONE_PER_NAME)
    # One group per hit: a name of a one-per-name kind, else the entry's own DAG/task/output.
    g_dag = case((per_name, literal("")), else_=cat.c.dag_id)
    g_task = case((per_name, literal("")), else_=cat.c.task_id)
    g_output = case((per_name, literal("")), else_=cat.c.output_name)
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(
                cat.c.kind,
                cat.c.text,
                func.min(cat.c.dag_id).label("dag_id"),
                func.min(cat.c.task_id).label("task_id"),
                func.min(cat.c.output_name).label("output_name"),
                func.count().label("n"),
                func.count(func.distinct(cat.c.dag_id)).label("n_dags"),
            )
            .where(
                dag_filter(cat.c.dag_id, allowed),
                cat.c.kind.in_(wanted),
                name.like(f"%{prefix}%", escape="\\"),
            )
            .group_by(cat.c.kind, cat.c.text, g_dag, g_task, g_output)
            .order_by(
                func.min(rank),
                case(_KIND_ORDER, value=cat.c.kind, else_=9),
                func.length(cat.c.text),
                cat.c.text,
                func.min(cat.c.dag_id),
                func.min(cat.c.task_id),
            )
            .limit(limit)
        ).all()
    return [_search_hit(r) for r in rows]


def _search_hit(r: Any) -> SearchHit:
    task_id = r.task_id or None
    where = f"{r.dag_id} / {r.task_id}"
    if r.kind == "dag":
        return SearchHit("dag", r.dag_id, None, r.text, "", "dag", {"dag_id": r.dag_id})
    if r.kind == "task":
        return SearchHit("task", r.dag_id, task_id, r.text, r.dag_id, "task", {"dag_id": r.dag_id, "task_id": r.task_id})
    if r.kind == "output":
        params = {"dag_id": r.dag_id, "task_id": r.task_id, "name": r.output_name}
        return SearchHit("output", r.dag_id, task_id, r.text, where, "catalog/output", params)
    # One hit per name: where it is, or in how many places.
    dags = f"{r.n_dags} DAG{'s' if r.n_dags != 1 else ''}"
    if r.n == 1:
        detail = f"{where} / {r.output_name}" if r.output_name else where if task_id else r.dag_id
    else:
        detail = f"in {dags}" if r.n == r.n_dags else f"{r.n} places in {dags}"
    if r.kind == "column":
        return SearchHit("column", r.dag_id, task_id, r.text, detail, "catalog/column", {"name": r.text})
    if r.kind == "uri":
        return SearchHit("uri", r.dag_id, task_id, r.text, detail, "catalog/uri", {"uri": r.text})
    return SearchHit(r.kind, r.dag_id, task_id, r.text, detail, "tag", {"tag": r.text})


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (with ``escape="\\"``)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
