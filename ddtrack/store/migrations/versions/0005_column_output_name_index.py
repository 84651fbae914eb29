"""index one column of an output by name

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

A column's trend over a task's last 1,000 runs asks for ``output_id IN (...) AND name = ?``.
Without (output_id, name) that reads every column of every output, or every column of that
name in the whole store: both grow with the store, not with the answer.
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ddtrack_column_output_name", "ddtrack_column", ["output_id", "name"])


def downgrade() -> None:
    op.drop_index("ix_ddtrack_column_output_name", table_name="ddtrack_column")
