"""Availability: daily summaries report time without a quorum of fresh vantage points.

Revision ID: availability_0002
Revises: availability_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "availability_0002"
down_revision = "availability_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("availability_daily") as batch:
        batch.add_column(sa.Column("no_quorum", sa.Float, nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("availability_daily") as batch:
        batch.drop_column("no_quorum")
