"""leases: one process at a time does background housekeeping

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06

``ddtrack_lease`` holds one row per kind of background work (``housekeeping``): the
process that holds it and until when. Every scheduler and api-server runs an ingest
thread; only the one that takes the lease deletes expired records in that interval.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ddtrack_lease",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=255), nullable=False),
        sa.Column("taken_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_ddtrack_lease")),
    )


def downgrade() -> None:
    op.drop_table("ddtrack_lease")
