"""alerts delivered: the alert, its outbox row per channel, muted outputs

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06

``ddtrack_alert`` keeps one row per alert identity (``alert_key``), ``ddtrack_alert_delivery``
one row per alert and channel (the outbox, unique per pair, written in the alert's ingest
transaction), ``ddtrack_alert_mute`` the outputs whose alerts are held until a time.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def upgrade() -> None:
    op.create_table(
        "ddtrack_alert",
        _id(),
        sa.Column("alert_key", sa.String(length=64), nullable=False),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("map_index", sa.Integer(), nullable=False),
        sa.Column("try_number", sa.Integer(), nullable=True),
        sa.Column("output_name", sa.String(length=250), nullable=True),
        sa.Column("column_name", sa.String(length=250), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("url", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("acked_by", sa.String(length=255), nullable=True),
        sa.Column("acked_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_alert")),
        sa.UniqueConstraint("alert_key", name=op.f("uq_ddtrack_alert_alert_key")),
    )
    with op.batch_alter_table("ddtrack_alert", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_alert_dag_created", ["dag_id", "created_at"], unique=False)

    op.create_table(
        "ddtrack_alert_delivery",
        _id(),
        sa.Column("alert_id", _ID, nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"], ["ddtrack_alert.id"], name=op.f("fk_ddtrack_alert_delivery_alert_id_ddtrack_alert"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_alert_delivery")),
        sa.UniqueConstraint("alert_id", "channel", name=op.f("uq_ddtrack_alert_delivery_alert_id_channel")),
    )
    with op.batch_alter_table("ddtrack_alert_delivery", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_alert_delivery_due", ["state", "next_attempt_at"], unique=False)
        batch_op.create_index("ix_ddtrack_alert_delivery_claim", ["claim"], unique=False)

    op.create_table(
        "ddtrack_alert_mute",
        _id(),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("output_name", sa.String(length=250), nullable=False),
        sa.Column("muted_until", sa.DateTime(), nullable=False),
        sa.Column("muted_by", sa.String(length=255), nullable=False),
        sa.Column("muted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_alert_mute")),
        sa.UniqueConstraint(
            "dag_id", "task_id", "output_name", name=op.f("uq_ddtrack_alert_mute_dag_id_task_id_output_name")
        ),
    )


def downgrade() -> None:
    op.drop_table("ddtrack_alert_mute")
    op.drop_table("ddtrack_alert_delivery")
    op.drop_table("ddtrack_alert")
