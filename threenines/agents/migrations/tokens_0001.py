"""Tokens: API tokens (hashed, with roles and vantage binding) and agents' heartbeats.

Revision ID: tokens_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "tokens_0001"
down_revision = "0001"
branch_labels = ("tokens",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(16)),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
        sa.Column("vantage", sa.String(64)),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("created", sa.Float, nullable=False),
        sa.Column("last_used", sa.Float),
        sa.Column("revoked", sa.Float),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("hash", name="uq_api_tokens_hash"),
    )
    op.create_table(
        "agent_heartbeats",
        sa.Column("vantage", sa.String(64)),
        sa.Column("last_heard", sa.Float, nullable=False),
        sa.Column("last_ingest", sa.Float),
        sa.Column("last_config", sa.Float),
        sa.Column("address", sa.String(64)),
        sa.Column("results", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("vantage", name="pk_agent_heartbeats"),
    )
    op.create_index("ix_agent_heartbeats_last_heard", "agent_heartbeats", ["last_heard"])


def downgrade() -> None:
    op.drop_table("agent_heartbeats")
    op.drop_table("api_tokens")
