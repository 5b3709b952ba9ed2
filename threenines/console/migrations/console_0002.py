"""Console: operators' notes on incidents (public ones are published on the status page).

Revision ID: console_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from threenines.core.tables import Id

revision = "console_0002"
down_revision = "console_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_notes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("incident", sa.String(64), nullable=False),
        sa.Column("who", sa.String(64), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
    )
    op.create_index("ix_console_notes_incident", "console_notes", ["incident"])


def downgrade() -> None:
    op.drop_table("console_notes")
