"""across DAGs: datasets, flags and reviews, trace/impact indexes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

``ddtrack_dataset`` keeps one row per output identity (dag, task, output name) so the
catalog, PII and freshness questions read one small table instead of aggregating every
version; it is filled here from the outputs already stored. ``ddtrack_flag`` and
``ddtrack_review`` keep who flagged a version as bad and who cleared its suspects.
The new indexes serve trace and impact: readers of an upstream task's output within a
run, readers/writers of a URI, and a URI's versions in time order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _id() -> sa.Column:
    return sa.Column("id", _ID, autoincrement=True, nullable=False)


def _keys(name_column: str) -> list[sa.Column]:
    return [
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column(name_column, sa.String(length=250), nullable=False),
    ]


def _output_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["output_id"], ["ddtrack_output.id"], name=op.f(f"fk_{table}_output_id_ddtrack_output"), ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "ddtrack_dataset",
        _id(),
        sa.Column("dag_id", sa.String(length=250), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("name", sa.String(length=250), nullable=False),
        sa.Column("uri", sa.String(length=700), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_seen_at", sa.DateTime(), nullable=True),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("n_versions", sa.Integer(), nullable=False),
        sa.Column("latest_output_id", sa.BigInteger(), nullable=True),
        sa.Column("latest_rows", sa.BigInteger(), nullable=True),
        sa.Column("latest_fingerprint", sa.String(length=64), nullable=True),
        sa.Column("pii_columns", sa.JSON(), nullable=True),
        sa.Column("has_pii", sa.Boolean(), nullable=False),
        sa.Column("pii_free", sa.Boolean(), nullable=False),
        sa.Column("fresh_within_s", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_dataset")),
        sa.UniqueConstraint("dag_id", "task_id", "name", name=op.f("uq_ddtrack_dataset_dag_id_task_id_name")),
    )
    with op.batch_alter_table("ddtrack_dataset", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_dataset_uri", ["uri"], unique=False)
        batch_op.create_index("ix_ddtrack_dataset_has_pii", ["has_pii"], unique=False)
        batch_op.create_index("ix_ddtrack_dataset_last_success", ["last_success_at"], unique=False)

    op.create_table(
        "ddtrack_flag",
        _id(),
        sa.Column("output_id", _ID, nullable=False),
        *_keys("output_name"),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("flagged_by", sa.String(length=255), nullable=False),
        sa.Column("flagged_at", sa.DateTime(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=255), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("review_note", sa.Text(), nullable=True),
        _output_fk("ddtrack_flag"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_flag")),
    )
    with op.batch_alter_table("ddtrack_flag", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_flag_output", ["output_id"], unique=False)
        batch_op.create_index("ix_ddtrack_flag_dag_reviewed", ["dag_id", "reviewed_at"], unique=False)

    op.create_table(
        "ddtrack_review",
        _id(),
        sa.Column("flag_id", _ID, nullable=False),
        sa.Column("output_id", _ID, nullable=False),
        *_keys("output_name"),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(length=255), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["flag_id"], ["ddtrack_flag.id"], name=op.f("fk_ddtrack_review_flag_id_ddtrack_flag"), ondelete="CASCADE"
        ),
        _output_fk("ddtrack_review"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ddtrack_review")),
        sa.UniqueConstraint("flag_id", "output_id", name=op.f("uq_ddtrack_review_flag_id_output_id")),
    )
    with op.batch_alter_table("ddtrack_review", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_review_output", ["output_id"], unique=False)

    with op.batch_alter_table("ddtrack_lineage", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_lineage_upstream", ["dag_id", "run_id", "upstream_task_id"], unique=False)
        batch_op.create_index(
            "ix_ddtrack_lineage_uri_direction",
            ["uri", "direction", "dag_id", "task_id"],
            unique=False,
            mysql_length={"uri": 255},
        )
    with op.batch_alter_table("ddtrack_output", schema=None) as batch_op:
        batch_op.create_index("ix_ddtrack_output_uri_started", ["uri", "started_at"], unique=False)

    _backfill(op.get_bind())


def _backfill(conn) -> None:
    """Datasets and URI catalog entries of the outputs earlier versions stored."""
    from ddtrack.store.catalog import backfill_uris
    from ddtrack.store.datasets import backfill

    backfill(conn)
    backfill_uris(conn)


def downgrade() -> None:
    with op.batch_alter_table("ddtrack_output", schema=None) as batch_op:
        batch_op.drop_index("ix_ddtrack_output_uri_started")
    with op.batch_alter_table("ddtrack_lineage", schema=None) as batch_op:
        batch_op.drop_index("ix_ddtrack_lineage_uri_direction")
        batch_op.drop_index("ix_ddtrack_lineage_upstream")
    op.execute("DELETE FROM ddtrack_catalog WHERE kind = 'uri'")
    op.drop_table("ddtrack_review")
    op.drop_table("ddtrack_flag")
    op.drop_table("ddtrack_dataset")
