"""Agents: each agent's newest word about itself (clock skew, queue depth and errors).

Revision ID: tokens_0002
Revises: tokens_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tokens_0002"
down_revision = "tokens_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "agent_health",
        sa.Column("vantage", sa.String(64)),
        sa.Column("reported", sa.Float, nullable=False),
        sa.Column("clock_skew", sa.Float),
        sa.Column("skewed_since", sa.Float),
        sa.Column("clock", sa.String(8)),
        sa.Column("queue", sa.Integer),
        sa.Column("oldest", sa.Float),
        sa.Column("memory", sa.Integer),
        sa.Column("queue_error", sa.String(300)),
        sa.Column("dropped", sa.Integer),
        sa.Column("held", sa.Integer),
        sa.Column("restarts", sa.Integer),
        sa.PrimaryKeyConstraint("vantage", name="pk_agent_health"),
    )


def downgrade() -> None:
    op.drop_table("agent_health")
