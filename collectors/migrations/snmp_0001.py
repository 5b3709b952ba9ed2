"""SNMP: readings summarised per period (events use the core ``events`` table).

Revision ID: snmp_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "snmp_0001"
down_revision = "0001"
branch_labels = ("snmp",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "snmp_readings",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("bucket", sa.Float, nullable=False),
        sa.Column("period", sa.Float, nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("avg", sa.Float, nullable=False),
        sa.Column("min", sa.Float, nullable=False),
        sa.Column("max", sa.Float, nullable=False),
        sa.Column("last", sa.Float, nullable=False),
    )
    op.create_index(
        "ix_snmp_readings_device_metric_bucket", "snmp_readings", ["device", "metric", "bucket"]
    )
    op.create_index("ix_snmp_readings_bucket", "snmp_readings", ["bucket"])


def downgrade() -> None:
    op.drop_table("snmp_readings")
