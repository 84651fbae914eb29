"""Create and upgrade ddtrack's side tables with Alembic.

``upgrade()`` is what ``ddtrack install`` runs. It is idempotent, and safe when two
processes run it at once: the migration runs under a database-wide lock (an advisory lock
on PostgreSQL, ``GET_LOCK`` on MySQL/MariaDB, a lock file beside a SQLite database).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from ddtrack.store.engine import get_engine

MIGRATIONS = Path(__file__).parent / "migrations"
VERSION_TABLE = "ddtrack_alembic_version"
_LOCK_NAME = "ddtrack_schema_upgrade"
_PG_LOCK_KEY = 0x64647472  # "ddtr"


@dataclass(frozen=True)
class UpgradeReport:
    url: str
    before: str | None
    after: str
    applied: list[str]
    tables: list[str]

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _alembic_config(connection: Connection) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    return ScriptDirectory(str(MIGRATIONS)).get_current_head()


def current_revision(connection: Connection) -> str | None:
    ctx = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return ctx.get_current_revision()


@contextlib.contextmanager
def _schema_lock(connection: Connection) -> Iterator[None]:
    """A lock outside the migration's transaction, where the database needs one. PostgreSQL's
    is taken inside that transaction instead (:func:`_transaction_lock`)."""
    dialect = connection.dialect.name
    if dialect in ("mysql", "mariadb"):
        connection.execute(text("SELECT GET_LOCK(:n, 300)"), {"n": _LOCK_NAME})
        try:
            yield
        finally:
            connection.execute(text("SELECT RELEASE_LOCK(:n)"), {"n": _LOCK_NAME})
    elif dialect == "sqlite" and connection.engine.url.database not in (None, "", ":memory:"):
        # SQLite has no named locks: serialise on a lock file beside the database.
        import fcntl

        with open(f"{connection.engine.url.database}.ddtrack-lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
    else:
        yield


def _transaction_lock(connection: Connection) -> None:
    """PostgreSQL: a transaction-level advisory lock, released by the migration's commit. A
    session-level lock would break through PgBouncer in transaction pooling, where the unlock
    may reach another server connection and leave the lock held."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})


def _revisions_between(before: str | None, after: str) -> list[str]:
    script = ScriptDirectory(str(MIGRATIONS))
    revs = [r.revision for r in script.iterate_revisions(after, before or "base")]
    return list(reversed(revs))


def upgrade(url: str, revision: str = "head") -> UpgradeReport:
    """Bring ddtrack's tables at ``url`` to ``revision``; report what changed."""
    engine = get_engine(url, bounded=False)  # a backfill may outlast the statement timeout
    with engine.connect() as lock_conn:
        # The lock lives on its own connection, outside the migration's transaction.
        lock_conn = lock_conn.execution_options(isolation_level="AUTOCOMMIT")
        with _schema_lock(lock_conn), engine.begin() as conn:
            _transaction_lock(conn)
            before = current_revision(conn)
            command.upgrade(_alembic_config(conn), revision)
            after = current_revision(conn) or ""
    tables = sorted(t for t in inspect(engine).get_table_names() if t.startswith("ddtrack_"))
    return UpgradeReport(
        url=engine.url.render_as_string(hide_password=True),
        before=before,
        after=after,
        applied=_revisions_between(before, after) if before != after else [],
        tables=tables,
    )
