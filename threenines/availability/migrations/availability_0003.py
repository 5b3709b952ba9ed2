"""Availability: exclusion records are append-only (revision_of, action, retroactive) and a
retroactive maintenance record waits for a second person's approval (maintenance_approvals).

Revision ID: availability_0003
Revises: availability_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "availability_0003"
down_revision = "availability_0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    for name in ("maintenance_windows", "drill_periods"):
        with op.batch_alter_table(name) as batch:
            batch.add_column(sa.Column("revision_of", Id))
            batch.add_column(sa.Column("action", sa.String(10), nullable=False,
                                       server_default="add"))  # fmt: skip
            batch.add_column(sa.Column("retroactive", sa.Boolean, nullable=False,
                                       server_default=sa.false()))  # fmt: skip
    op.create_table(
        "maintenance_approvals",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("record_id", Id, nullable=False),
        sa.Column("approved_by", sa.String(64), nullable=False),
        sa.Column("approved_at", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index("ix_maintenance_approvals_record_id", "maintenance_approvals", ["record_id"],
                    unique=True)  # fmt: skip


def downgrade() -> None:
    op.drop_table("maintenance_approvals")
    for name in ("maintenance_windows", "drill_periods"):
        with op.batch_alter_table(name) as batch:
            batch.drop_column("retroactive")
            batch.drop_column("action")
            batch.drop_column("revision_of")
