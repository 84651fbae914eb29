"""column lineage: which input columns each output column of a try comes from

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06

``ddtrack_column_lineage`` keeps one row per edge (output column <- input column) of a try,
written at ingest with it; ``ddtrack_lineage.columns_known`` says whether the task knew an
input's columns (its column lineage is then complete). Earlier tries have no rows and
``columns_known`` NULL: PII follows them whole, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ddtrack_column_lineage",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("task_run_id", _ID, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("column_name", sa.String(length=250), nullable=False),
        sa.Column("input_kind", sa.String(length=10), nullable=False),
        sa.Column("input_uri", sa.String(length=700), nullable=True),
        sa.Column("upstream_task_id", sa.String(length=250), nullable=True),
        sa.Column("upstream_output", sa.String(length=250), nullable=True),
        sa.Column("input_column", sa.String(length=250), nullable=False),
        sa.Column("how", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["task_run_id"], ["ddtrack_task_run.id"],
            name=op.f("fk_ddtrack_column_lineage_task_run_id_ddtrack_task_run"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_column_lineage")),
    )
    with op.batch_alter_table("ddtrack_column_lineage", schema=None) as batch_op:
        batch_op.create_index(
            "ix_ddtrack_column_lineage_output", ["task_run_id", "output_name", "column_name"], unique=False
        )
        batch_op.create_index("ix_ddtrack_column_lineage_input", ["task_run_id", "input_column"], unique=False)
        batch_op.create_index(
            "ix_ddtrack_column_lineage_column", ["dag_id", "task_id", "output_name", "column_name"], unique=False,
            mysql_length={"output_name": 150, "column_name": 100},
        )
    with op.batch_alter_table("ddtrack_lineage", schema=None) as batch_op:
        batch_op.add_column(sa.Column("columns_known", sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ddtrack_lineage", schema=None) as batch_op:
        batch_op.drop_column("columns_known")
    op.drop_table("ddtrack_column_lineage")
