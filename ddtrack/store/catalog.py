"""The search catalog: distinct DAG, task, output, column and tag names.

Kept up to date at ingest with insert-or-ignore, so concurrent ingests never conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from ddtrack.store.models import CatalogEntry

# Columns of very wide outputs beyond this many are not catalogued (their profiles still are).
MAX_COLUMNS_PER_OUTPUT = 2000


def entry(kind: str, dag_id: str, text: str, task_id: str = "", output_name: str = "") -> dict[str, str]:
    text = str(text)[:500]
    identity = "\x1f".join((kind, dag_id, task_id, output_name, text))
    return {
        "entry_hash": hashlib.sha1(identity.encode()).hexdigest(),
        "kind": kind,
        "dag_id": dag_id,
        "task_id": task_id,
        "output_name": output_name,
        "text": text,
    }


def entries_of_record(record: Mapping[str, Any]) -> Iterator[dict[str, str]]:
    dag_id, task_id = str(record["dag_id"]), str(record["task_id"])
    yield entry("dag", dag_id, dag_id)
    yield entry("task", dag_id, task_id, task_id)
    for key, value in (record.get("tags") or {}).items():
        yield entry("tag", dag_id, f"{key}={value}", task_id)
    for output in record.get("outputs") or []:
        name = str(output.get("name") or "return_value")[:250]
        yield entry("output", dag_id, name, task_id, name)
        for key, value in (output.get("tags") or {}).items():
            yield entry("tag", dag_id, f"{key}={value}", task_id, name)
        columns = (output.get("profile") or {}).get("columns") or []
        for col in columns[:MAX_COLUMNS_PER_OUTPUT]:
            yield entry("column", dag_id, str(col.get("name", ""))[:250], task_id, name)


def insert_ignore(session: Session, rows: Iterable[dict[str, str]]) -> None:
    """Add catalog rows that are not there yet (one statement, any supported database)."""
    unique = list({r["entry_hash"]: r for r in rows}.values())
    if not unique:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(CatalogEntry).on_conflict_do_nothing(index_elements=["entry_hash"])
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(CatalogEntry).on_conflict_do_nothing(index_elements=["entry_hash"])
    else:
        stmt = insert(CatalogEntry).prefix_with("IGNORE")
    for i in range(0, len(unique), 1000):
        session.execute(stmt, unique[i : i + 1000])
