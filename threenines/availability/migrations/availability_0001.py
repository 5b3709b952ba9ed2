"""Availability: maintenance windows, drill periods, daily summaries.

Revision ID: availability_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "availability_0001"
down_revision = "0001"
branch_labels = ("availability",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
SUMMARY_FIELDS = ("up", "degraded", "down", "nodata", "maintenance", "drill", "outside_hours")


def _windows(name: str) -> None:
    op.create_table(
        name,
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        sa.Column("services", sa.JSON, nullable=False),
        sa.Column("sites", sa.JSON, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
    )
    op.create_index(f"ix_{name}_start", name, ["start"])


def upgrade() -> None:
    _windows("maintenance_windows")
    _windows("drill_periods")
    op.create_table(
        "availability_daily",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("day", sa.String(10), nullable=False),
        sa.Column("start", sa.Float, nullable=False),
        sa.Column("end", sa.Float, nullable=False),
        *(sa.Column(n, sa.Float, nullable=False) for n in SUMMARY_FIELDS),
        sa.Column("incidents", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_availability_daily_kind_subject_day",
        "availability_daily",
        ["kind", "subject", "day"],
        unique=True,
    )
    op.create_index("ix_availability_daily_day", "availability_daily", ["day"])


def downgrade() -> None:
    op.drop_table("availability_daily")
    op.drop_table("drill_periods")
    op.drop_table("maintenance_windows")
