"""Alerts: incidents, silences, notification outbox, delivery attempts, commands, policy state.

Revision ID: alerts_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "alerts_0001"
down_revision = "0001"
branch_labels = ("alerts",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alert_incidents",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(300), nullable=False, unique=True),
        sa.Column("key", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("service", sa.String(64)),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("cause", sa.Text, nullable=False),
        sa.Column("opened_at", sa.Float, nullable=False),
        sa.Column("since", sa.Float, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("acked_by", sa.String(100)),
        sa.Column("acked_at", sa.Float),
        sa.Column("held", sa.String(200)),
        sa.Column("data", sa.JSON, nullable=False),
    )
    op.create_index("ix_alert_incidents_key_opened_at", "alert_incidents", ["key", "opened_at"])
    op.create_index("ix_alert_incidents_status", "alert_incidents", ["status"])
    op.create_table(
        "alert_silences",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(64), nullable=False, unique=True),
        sa.Column("matchers", sa.JSON, nullable=False),
        sa.Column("starts_at", sa.Float, nullable=False),
        sa.Column("ends_at", sa.Float, nullable=False),
        sa.Column("author", sa.String(100), nullable=False),
        sa.Column("comment", sa.Text, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("removed_at", sa.Float),
        sa.Column("removed_by", sa.String(100)),
    )
    op.create_table(
        "alert_notifications",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("uid", sa.String(400), nullable=False, unique=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("route", sa.String(64), nullable=False),
        sa.Column("grp", sa.String(250), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("held", sa.String(200)),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("short", sa.Text, nullable=False),
        sa.Column("notify_type", sa.String(10), nullable=False),
        sa.Column("incidents", sa.JSON, nullable=False),
    )
    op.create_index("ix_alert_notifications_created_at", "alert_notifications", ["created_at"])
    op.create_table(
        "alert_deliveries",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "notification_id",
            Id,
            sa.ForeignKey("alert_notifications.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("receiver", sa.String(64), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_at", sa.Float, nullable=False),
        sa.Column("lease_owner", sa.String(64)),
        sa.Column("lease_until", sa.Float),
        sa.Column("sent_at", sa.Float),
        sa.Column("last_error", sa.Text),
        sa.Column("created_at", sa.Float, nullable=False),
    )
    op.create_index("ix_alert_deliveries_state_next_at", "alert_deliveries", ["state", "next_at"])
    op.create_index(
        "ix_alert_deliveries_notification_id_receiver",
        "alert_deliveries",
        ["notification_id", "receiver"],
        unique=True,
    )
    op.create_table(
        "alert_attempts",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column(
            "delivery_id",
            Id,
            sa.ForeignKey("alert_deliveries.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=False),
        sa.Column("outcome", sa.String(10), nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("ix_alert_attempts_delivery_id", "alert_attempts", ["delivery_id"])
    op.create_table(
        "alert_commands",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("args", sa.JSON, nullable=False),
        sa.Column("applied_at", sa.Float),
        sa.Column("result", sa.Text),
    )
    op.create_index("ix_alert_commands_applied_at", "alert_commands", ["applied_at"])
    op.create_table(
        "alert_kv",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("updated_at", sa.Float, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "alert_kv",
        "alert_commands",
        "alert_attempts",
        "alert_deliveries",
        "alert_notifications",
        "alert_silences",
        "alert_incidents",
    ):
        op.drop_table(table)
