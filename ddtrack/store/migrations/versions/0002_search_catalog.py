"""search catalog

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Adds ddtrack_catalog (distinct searchable names) and fills it from the rows already stored.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ddtrack_catalog",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("entry_hash", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_catalog")),
        sa.UniqueConstraint("entry_hash", name=op.f("uq_ddtrack_catalog_entry_hash")),
    )
    with op.batch_alter_table("ddtrack_catalog", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_catalog_dag", ["dag_id"], unique=False)
        batch_op.create_index("ix_ddtrack_catalog_text", ["text"], unique=False)

    _backfill(op.get_bind())


def _backfill(conn) -> None:
    """Catalogue what earlier versions stored, so search finds old runs too."""
    from ddtrack.store.catalog import entry

    catalog = sa.table(
        "ddtrack_catalog",
        *(sa.column(c) for c in ("entry_hash", "kind", "dag_id", "task_id", "output_name", "text")),
    )
    queries = {
        "dag": "SELECT DISTINCT dag_id, '' AS task_id, '' AS output_name, dag_id AS text FROM ddtrack_task_run",
        "task": "SELECT DISTINCT dag_id, task_id, '' AS output_name, task_id AS text FROM ddtrack_task_run",
        "output": "SELECT DISTINCT dag_id, task_id, name AS output_name, name AS text FROM ddtrack_output",
        "column": (
            "SELECT DISTINCT o.dag_id, o.task_id, o.name AS output_name, c.name AS text "
            "FROM ddtrack_column c JOIN ddtrack_output o ON o.id = c.output_id"
        ),
    }
    rows = []
    for kind, query in queries.items():
        for r in conn.execute(sa.text(query)):
            rows.append(entry(kind, r.dag_id, r.text, r.task_id, r.output_name))
    tags = (
        "SELECT DISTINCT r.dag_id, r.task_id, COALESCE(t.output_name, '') AS output_name, t.key, t.value "
        "FROM ddtrack_tag t JOIN ddtrack_task_run r ON r.id = t.task_run_id"
    )
    for r in conn.execute(sa.text(tags)):
        rows.append(entry("tag", r.dag_id, f"{r.key}={r.value}", r.task_id, r.output_name))
    unique = list({r["entry_hash"]: r for r in rows}.values())
    for i in range(0, len(unique), 1000):
        conn.execute(catalog.insert(), unique[i : i + 1000])


def downgrade() -> None:
    with op.batch_alter_table("ddtrack_catalog", schema=None) as batch_op:
        batch_op.drop_index("ix_ddtrack_catalog_text")
        batch_op.drop_index("ix_ddtrack_catalog_dag")

    op.drop_table("ddtrack_catalog")
