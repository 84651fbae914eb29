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
    from ddtrack.store.catalog import backfill

    backfill(conn)


def downgrade() -> None:
    with op.batch_alter_table("ddtrack_catalog", schema=None) as batch_op:
        batch_op.drop_index("ix_ddtrack_catalog_text")
        batch_op.drop_index("ix_ddtrack_catalog_dag")

    op.drop_table("ddtrack_catalog")
