"""Failover: runs, run events, approvals, leases, audit log, drills.

Revision ID: failover_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "failover_0001"
down_revision = "0001"
branch_labels = ("failover",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "failover_runs",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("check_mode", sa.Boolean, nullable=False),
        sa.Column("trigger", sa.String(16), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("finished", sa.Float),
        sa.Column("playbook_started", sa.Float),
        sa.Column("playbook_finished", sa.Float),
        sa.Column("verified_at", sa.Float),
        sa.Column("rc", sa.Integer),
        sa.Column("error", sa.Text),
        sa.Column("cancel_requested", sa.Float),
        sa.Column("drill_id", sa.Integer),
        sa.Column("decision", sa.JSON, nullable=False),
    )
    op.create_index("ix_failover_runs_plan_started", "failover_runs", ["plan", "started"])
    op.create_index("ix_failover_runs_state", "failover_runs", ["state"])
    op.create_table(
        "failover_run_events",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.Integer, nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("play", sa.String(200)),
        sa.Column("task", sa.String(200)),
        sa.Column("host", sa.String(200)),
        sa.Column("changed", sa.Boolean, nullable=False),
        sa.Column("failed", sa.Boolean, nullable=False),
        sa.Column("stdout", sa.Text, nullable=False),
    )
    op.create_index("ix_failover_run_events_run_id_id", "failover_run_events", ["run_id", "id"])
    op.create_table(
        "failover_approvals",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("granted_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
        sa.Column("by", sa.String(128), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("used_by_run", sa.Integer),
    )
    op.create_index(
        "ix_failover_approvals_plan_expires_at", "failover_approvals", ["plan", "expires_at"]
    )
    op.create_table(
        "failover_leases",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "failover_audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_failover_audit_plan_ts", "failover_audit", ["plan", "ts"])
    op.create_table(
        "drills",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("plan", sa.String(64), nullable=False),
        sa.Column("scenario", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("started", sa.Float, nullable=False),
        sa.Column("finished", sa.Float),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("summary", sa.JSON, nullable=False),
    )
    op.create_index("ix_drills_started", "drills", ["started"])
    op.create_table(
        "drill_marks",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("drill_id", sa.Integer, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_drill_marks_drill_id_ts", "drill_marks", ["drill_id", "ts"])


def downgrade() -> None:
    for name in (
        "drill_marks",
        "drills",
        "failover_audit",
        "failover_leases",
        "failover_approvals",
        "failover_run_events",
        "failover_runs",
    ):
        op.drop_table(name)
