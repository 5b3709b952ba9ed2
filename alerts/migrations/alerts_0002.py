"""Alerts: a bounded summary beside each notification's body (receivers with a size limit).

Revision ID: alerts_0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0002"
down_revision = "alerts_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("alert_notifications", sa.Column("summary", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("alert_notifications") as batch:  # SQLite: by a copy
        batch.drop_column("summary")
