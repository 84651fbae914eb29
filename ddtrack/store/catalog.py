"""The search catalog: distinct DAG, task, output, column and tag names, and URIs.

Kept up to date at ingest with insert-or-ignore, so concurrent ingests never conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy import insert
from sqlalchemy.engine import Connection
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
        if output.get("uri"):
            yield entry("uri", dag_id, str(output["uri"]))
    for item in record.get("inputs") or []:
        # Files and tables read or written (log_input/log_output) and Assets (inlets/outlets).
        if item.get("kind") != "task" and item.get("uri"):
            yield entry("uri", dag_id, str(item["uri"]))


def insert_ignore(session: Session, rows: Iterable[dict[str, str]]) -> None:
    """Add catalog rows that are not there yet (one statement, any supported database)."""
    unique = list({r["entry_hash"]: r for r in rows}.values())
    insert_ignore_into(session, CatalogEntry, unique, ("entry_hash",))


def insert_ignore_into(session: Session, model: type, rows: list[dict[str, Any]], unique: tuple[str, ...]) -> None:
    """Add the rows of ``model`` whose ``unique`` key is not there yet, 1,000 a statement;
    a concurrent insert of the same key is no error on any supported database."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        stmt = pg_insert(model).on_conflict_do_nothing(index_elements=list(unique))
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        stmt = sqlite_insert(model).on_conflict_do_nothing(index_elements=list(unique))
    else:
        stmt = insert(model).prefix_with("IGNORE")
    for i in range(0, len(rows), 1000):
        session.execute(stmt, rows[i : i + 1000])


_BACKFILL_QUERIES = {
    "dag": "SELECT DISTINCT dag_id, '' AS task_id, '' AS output_name, dag_id AS text FROM ddtrack_task_run",
    "task": "SELECT DISTINCT dag_id, task_id, '' AS output_name, task_id AS text FROM ddtrack_task_run",
    "output": "SELECT DISTINCT dag_id, task_id, name AS output_name, name AS text FROM ddtrack_output",
    "column": (
        "SELECT DISTINCT o.dag_id, o.task_id, o.name AS output_name, c.name AS text "
        "FROM ddtrack_column c JOIN ddtrack_output o ON o.id = c.output_id"
    ),
}
# URIs of outputs, and of inputs and Assets (not upstream tasks), with the DAG that wrote or read them.
_BACKFILL_URIS = (
    "SELECT DISTINCT dag_id, uri FROM ddtrack_output WHERE uri IS NOT NULL "
    "UNION SELECT DISTINCT dag_id, uri FROM ddtrack_lineage WHERE uri IS NOT NULL AND kind <> 'task'"
)
_BACKFILL_TAGS = (
    "SELECT DISTINCT r.dag_id, r.task_id, COALESCE(t.output_name, '') AS output_name, t.key, t.value "
    "FROM ddtrack_tag t JOIN ddtrack_task_run r ON r.id = t.task_run_id"
)


def backfill(conn: Connection) -> int:
    """Catalogue every name already stored in the side tables; returns the entries added.

    Migration 0002 runs it on stores written before the catalog existed, and the
    benchmarks on the tables they fill in bulk, so both get the entries ingest would write.
    Plain table and column names only: it must work at that migration's schema.
    """
    rows = []
    for kind, query in _BACKFILL_QUERIES.items():
        for r in conn.execute(sa.text(query)):
            rows.append(entry(kind, r.dag_id, r.text, r.task_id, r.output_name))
    for r in conn.execute(sa.text(_BACKFILL_TAGS)):
        rows.append(entry("tag", r.dag_id, f"{r.key}={r.value}", r.task_id, r.output_name))
    return _insert(conn, rows)


def _insert(conn: Connection, rows: list[dict[str, str]]) -> int:
    catalog = sa.table(
        "ddtrack_catalog",
        *(sa.column(c) for c in ("entry_hash", "kind", "dag_id", "task_id", "output_name", "text")),
    )
    unique = list({r["entry_hash"]: r for r in rows}.values())
    for i in range(0, len(unique), 1000):
        conn.execute(catalog.insert(), unique[i : i + 1000])
    return len(unique)


def backfill_uris(conn: Connection) -> int:
    """Catalogue every URI already stored (migration 0006: URIs became searchable then).
    Returns the entries added."""
    known = set(conn.execute(sa.text("SELECT entry_hash FROM ddtrack_catalog WHERE kind = 'uri'")).scalars())
    rows = [entry("uri", r.dag_id, r.uri) for r in conn.execute(sa.text(_BACKFILL_URIS))]
    return _insert(conn, [r for r in rows if r["entry_hash"] not in known])
