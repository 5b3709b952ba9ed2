"""Core: the quarantine, where rows the database refused are kept with the reason.

Revision ID: quarantine_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "quarantine_0001"
down_revision = "0001"
branch_labels = ("quarantine",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "quarantine",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
    )
    op.create_index("ix_quarantine_ts", "quarantine", ["ts"])
    op.create_index("ix_quarantine_source_ts", "quarantine", ["source", "ts"])


def downgrade() -> None:
    op.drop_table("quarantine")
