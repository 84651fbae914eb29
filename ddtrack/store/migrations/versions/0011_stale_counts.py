"""stale counts per DAG, kept by a background refresh

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Home's stale badge counted the stale outputs of every readable DAG on each visit after its
30-second summary expired: ten statements probing the newest version of all 20,000 outputs
at 1,000 DAGs, 280 ms. ``ddtrack_stale_count`` keeps each DAG's count, computed by one
background refresh of the deployment; ``ddtrack_stale_mark`` names the DAGs whose count
may have changed since, written in the transaction that changed it. The table starts empty:
until the refresh has counted a DAG, its count is worked out when asked, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ddtrack_stale_count",
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("stale_outputs", sa.Integer(), nullable=False),
        sa.Column("computed_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("dag_id", name=op.f("pk_ddtrack_stale_count")),
    )
    op.create_table(
        "ddtrack_stale_mark",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_stale_mark")),
    )
    op.create_index("ix_ddtrack_stale_mark_dag", "ddtrack_stale_mark", ["dag_id"])


def downgrade() -> None:
    op.drop_index("ix_ddtrack_stale_mark_dag", table_name="ddtrack_stale_mark")
    op.drop_table("ddtrack_stale_mark")
    op.drop_table("ddtrack_stale_count")
