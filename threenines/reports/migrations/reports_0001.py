"""Reports: scheduled report deliveries, one row per schedule, period and receiver.

Revision ID: reports_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reports_0001"
down_revision = "0001"
branch_labels = ("reports",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("schedule", sa.String(64), nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("period_end", sa.Float, nullable=False),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("sent_at", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_report_deliveries_schedule_period_receiver",
        "report_deliveries",
        ["schedule", "period", "receiver"],
        unique=True,
    )
    op.create_index("ix_report_deliveries_state_next_at", "report_deliveries", ["state", "next_at"])


def downgrade() -> None:
    op.drop_table("report_deliveries")
