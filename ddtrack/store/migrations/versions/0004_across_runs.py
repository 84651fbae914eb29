"""across runs: drift, anomalies, check results, pinned baselines

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Side tables written at ingest with each try: per-column drift against a baseline, values
outside their history's robust band, and the results of checks declared in code; and the
runs users pin as a task's baseline.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def _run_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["task_run_id"], ["ddtrack_task_run.id"], name=op.f(f"fk_{table}_task_run_id_ddtrack_task_run"), ondelete="CASCADE"
    )


def _try_columns() -> list[sa.Column]:
    """The try's keys copied onto each row, so history questions read one table."""
    return [
        sa.Column("task_run_id", _ID, nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
    ]


def upgrade() -> None:
    op.create_table(
        "ddtrack_drift",
        _id(),
        *_try_columns()[:1],
        sa.Column("output_id", _ID, nullable=False),
        *_try_columns()[1:],
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("column_name", sa.String(length=250), nullable=False),
        sa.Column("baseline_task_run_id", sa.BigInteger(), nullable=True),
        sa.Column("baseline_run_id", sa.String(length=250), nullable=True),
        sa.Column("psi", sa.Float(), nullable=True),
        sa.Column("ks", sa.Float(), nullable=True),
        sa.Column("null_rate_change", sa.Float(), nullable=True),
        sa.Column("distinct_change", sa.Float(), nullable=True),
        sa.Column("new_categories", sa.JSON(), nullable=True),
        sa.Column("vanished_categories", sa.JSON(), nullable=True),
        sa.Column("drifted", sa.Boolean(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=True),
        _run_fk("ddtrack_drift"),
        sa.ForeignKeyConstraint(
            ["output_id"], ["ddtrack_output.id"], name=op.f("fk_ddtrack_drift_output_id_ddtrack_output"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_drift")),
    )
    with op.batch_alter_table("ddtrack_drift", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_drift_history", ["dag_id", "task_id", "output_name", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_drift_dag_drifted", ["dag_id", "drifted", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_drift_run", ["task_run_id"], unique=False)
        batch_op.create_index("ix_ddtrack_drift_output", ["output_id"], unique=False)

    op.create_table(
        "ddtrack_anomaly",
        _id(),
        *_try_columns(),
        sa.Column("output_name", sa.String(length=250), nullable=True),
        sa.Column("column_name", sa.String(length=250), nullable=True),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("low", sa.Float(), nullable=False),
        sa.Column("high", sa.Float(), nullable=False),
        sa.Column("median", sa.Float(), nullable=False),
        _run_fk("ddtrack_anomaly"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_anomaly")),
    )
    with op.batch_alter_table("ddtrack_anomaly", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_anomaly_dag_started", ["dag_id", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_anomaly_task_started", ["dag_id", "task_id", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_anomaly_run", ["task_run_id"], unique=False)

    op.create_table(
        "ddtrack_check_result",
        _id(),
        *_try_columns(),
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("column_name", sa.String(length=250), nullable=True),
        sa.Column("check_name", sa.String(length=50), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("value", sa.JSON(), nullable=True),
        sa.Column("bound", sa.JSON(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        _run_fk("ddtrack_check_result"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_check_result")),
    )
    with op.batch_alter_table("ddtrack_check_result", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_check_result_task_started", ["dag_id", "task_id", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_check_result_dag_status", ["dag_id", "status", "started_at"], unique=False)
        batch_op.create_index("ix_ddtrack_check_result_run", ["task_run_id"], unique=False)

    op.create_table(
        "ddtrack_baseline",
        _id(),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("pinned_by", sa.String(length=255), nullable=False),
        sa.Column("pinned_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_baseline")),
        sa.UniqueConstraint(
            "dag_id", "task_id", "output_name", name=op.f("uq_ddtrack_baseline_dag_id_task_id_output_name")
        ),
    )


def downgrade() -> None:
    op.drop_table("ddtrack_baseline")
    op.drop_table("ddtrack_check_result")
    op.drop_table("ddtrack_anomaly")
    op.drop_table("ddtrack_drift")
