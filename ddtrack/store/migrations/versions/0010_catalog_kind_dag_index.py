"""index the catalog's entries of a kind by DAG and task

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06

Home's table of DAGs counts each readable DAG's outputs and tasks from the catalog's
``kind = 'output'`` entries. With only ``(dag_id)``, that read every entry of every DAG
(columns, tags, URIs too: 305,000 rows for 20,000 outputs at 1,000 DAGs, 1.0 s);
``(kind, dag_id, task_id)`` answers it from the index alone (42 ms).
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ddtrack_catalog_kind_dag", "ddtrack_catalog", ["kind", "dag_id", "task_id"])


def downgrade() -> None:
    op.drop_index("ix_ddtrack_catalog_kind_dag", table_name="ddtrack_catalog")
