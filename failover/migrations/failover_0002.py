"""Failover: a finished drill's sign-offs (``failover.store.drill_signoffs``).

Revision ID: failover_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "failover_0002"
down_revision = "failover_0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "drill_signoffs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("drill_id", sa.Integer, nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("signed_at", sa.Float, nullable=False),
        sa.Column("note", sa.Text, nullable=False),
    )
    op.create_index(
        "ix_drill_signoffs_drill_id_role", "drill_signoffs", ["drill_id", "role"], unique=True
    )


def downgrade() -> None:
    op.drop_table("drill_signoffs")
