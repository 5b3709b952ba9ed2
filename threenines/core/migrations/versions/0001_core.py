"""Core: raw results and state intervals.

Revision ID: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = ("core",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "results",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("vantage", sa.String(64), nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("error", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("duration", sa.Float, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("phases", sa.JSON, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_results_check_id_vantage_ts", "results", ["check_id", "vantage", "ts"])
    op.create_index("ix_results_ts", "results", ["ts"])
    op.create_table(
        "state_intervals",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("check_id", sa.String(200), nullable=False),
        sa.Column("vantage", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("error", sa.String(32)),
        sa.Column("reason", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_state_intervals_check_id_vantage_start",
        "state_intervals",
        ["check_id", "vantage", "start"],
    )
    op.create_index("ix_state_intervals_start", "state_intervals", ["start"])
    op.create_table(
        "events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("device", sa.String(64)),
        sa.Column("subject", sa.String(200)),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_events_ts", "events", ["ts"])
    op.create_index("ix_events_device_ts", "events", ["device", "ts"])


def downgrade() -> None:
    op.drop_table("events")
    op.drop_table("state_intervals")
    op.drop_table("results")
