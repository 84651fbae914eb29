"""Everything tagged KEY or KEY=VALUE: ddtrack's tags of tasks and outputs, and Airflow's DAG tags.

ddtrack's tags (``@track(tags=...)``, ``log_output(tags=...)``) are read from the search
catalog, which holds each distinct ``key=value`` of each task and output once, instead of the
tag table's row per try. Airflow's own DAG tags come from the metastore's ``dag_tag`` table:
a tag ``"k:v"`` or ``"k=v"`` is key ``k`` with value ``v``, a plain tag is its own key with no
value (Hamilton-style ``owner:ml``, and the plain ``pii`` alike).
"""

from __future__ import annotations

from sqlalchemy import or_, select

from ddtrack.queries.access import Allowed, dag_filter
from ddtrack.queries.search import escape_like
from ddtrack.queries.sources import Sources, has_metastore, meta_conn, reading_metastore, store_conn
from ddtrack.queries.types import TagHit
from ddtrack.store.airflow_tables import DAG_TAG
from ddtrack.store.models import CatalogEntry

MAX_HITS = 1000


def by_tag(sources: Sources, key: str, value: str | None = None, *, allowed: Allowed) -> list[TagHit]:
    """Tasks, outputs and DAGs of the readable DAGs tagged ``key`` (any value) or
    ``key=value``: DAG tags first, then by DAG, task and output."""
    key = key.strip()
    if not key:
        return []
    hits = _dag_tags(sources, key, value, allowed) + _ddtrack_tags(sources, key, value, allowed)
    return hits[:MAX_HITS]


def split_dag_tag(tag: str) -> tuple[str, str | None]:
    """An Airflow DAG tag as (key, value): ``"k:v"`` and ``"k=v"`` split at the first of
    either, a plain tag is its own key."""
    cut = min((i for i in (tag.find(":"), tag.find("=")) if i > 0), default=-1)
    return (tag[:cut], tag[cut + 1 :]) if cut > 0 else (tag, None)


def _ddtrack_tags(sources: Sources, key: str, value: str | None, allowed: Allowed) -> list[TagHit]:
    cat = CatalogEntry.__table__
    wanted = cat.c.text == f"{key}={value}" if value is not None else cat.c.text.like(f"{escape_like(key)}=%", escape="\\")
    with store_conn(sources) as conn:
        rows = conn.execute(
            select(cat.c.dag_id, cat.c.task_id, cat.c.output_name, cat.c.text)
            .where(cat.c.kind == "tag", wanted, dag_filter(cat.c.dag_id, allowed))
            .order_by(cat.c.dag_id, cat.c.task_id, cat.c.output_name, cat.c.text)
            .limit(MAX_HITS)
        ).all()
    prefix = f"{key}="
    return [
        TagHit(
            "output" if r.output_name else "task",
            "ddtrack",
            r.dag_id,
            r.task_id or None,
            r.output_name or None,
            key,
            r.text[len(prefix) :],
        )
        # LIKE is case-insensitive on some databases: the key is matched exactly here.
        for r in rows
        if r.text.startswith(prefix)
    ]


def _dag_tags(sources: Sources, key: str, value: str | None, allowed: Allowed) -> list[TagHit]:
    """Airflow's DAG tags, when a metastore is configured (a store on its own has none)."""
    if not has_metastore(sources):
        return []
    tag = DAG_TAG
    if value is None:
        escaped = escape_like(key)
        wanted = or_(
            tag.c.name == key,
            tag.c.name.like(f"{escaped}:%", escape="\\"),
            tag.c.name.like(f"{escaped}=%", escape="\\"),
        )
    else:
        wanted = tag.c.name.in_((f"{key}:{value}", f"{key}={value}"))
    with reading_metastore("read Airflow's DAG tags"), meta_conn(sources) as conn:
        rows = conn.execute(
            select(tag.c.dag_id, tag.c.name)
            .where(wanted, dag_filter(tag.c.dag_id, allowed))
            .order_by(tag.c.dag_id, tag.c.name)
            .limit(MAX_HITS)
        ).all()
    hits = []
    for r in rows:
        k, v = split_dag_tag(r.name)
        if k == key and (value is None or v == value):
            hits.append(TagHit("dag", "airflow", r.dag_id, None, None, k, v))
    return hits
