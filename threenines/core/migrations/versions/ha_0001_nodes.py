"""Core: high availability, the nodes on one store and the active node's lease.

Revision ID: ha_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ha_0001"
down_revision = "0001"
branch_labels = ("ha",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ha_nodes",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("listen", sa.String(255), nullable=False, server_default=""),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("heartbeat", sa.Float, nullable=False),
        sa.Column("role", sa.String(10), nullable=False),
    )
    op.create_table(
        "ha_lease",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("holder", sa.String(64), nullable=False),
        sa.Column("instance", sa.String(32), nullable=False),
        sa.Column("epoch", sa.BigInteger, nullable=False),
        sa.Column("acquired", sa.Float, nullable=False),
        sa.Column("renewed", sa.Float, nullable=False),
        sa.Column("expires", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ha_lease")
    op.drop_table("ha_nodes")
