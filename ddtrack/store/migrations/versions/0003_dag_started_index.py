"""index newest tries of a DAG

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23

The home page's sparklines and the DAG page's run history ask for a DAG's newest tries
across all its tasks; (dag_id, started_at) answers that by a range scan.
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ddtrack_task_run_dag_started", "ddtrack_task_run", ["dag_id", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_ddtrack_task_run_dag_started", table_name="ddtrack_task_run")
