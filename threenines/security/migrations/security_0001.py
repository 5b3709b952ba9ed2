"""Security: findings, audit trail, baseline changes, ARP bindings.

Revision ID: security_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "security_0001"
down_revision = "0001"
branch_labels = ("security",)
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "security_findings",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("severity", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("check", sa.String(120), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("evidence", sa.JSON, nullable=False),
        sa.Column("sticky", sa.Boolean, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("resolved_at", sa.Float),
        sa.Column("accepted_until", sa.Float),
        sa.Column("accepted_reason", sa.Text),
        sa.Column("accepted_by", sa.String(64)),
        sa.Column("occurrences", sa.Integer, nullable=False),
        sa.UniqueConstraint("key", name="uq_security_findings_key"),
    )
    op.create_index(
        "ix_security_findings_status_severity", "security_findings", ["status", "severity"]
    )
    op.create_index("ix_security_findings_check", "security_findings", ["check"])
    op.create_table(
        "security_audit",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("ts", sa.Float, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("details", sa.JSON, nullable=False),
    )
    op.create_index("ix_security_audit_ts", "security_audit", ["ts"])
    op.create_table(
        "security_baseline_changes",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("host", sa.String(64), nullable=False),
        sa.Column("role", sa.String(64)),
        sa.Column("port", sa.Integer, nullable=False),
        sa.Column("proto", sa.String(8), nullable=False),
        sa.Column("change", sa.String(8), nullable=False),
        sa.Column("state", sa.String(10), nullable=False),
        sa.Column("finding_key", sa.String(300)),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
        sa.Column("decided_at", sa.Float),
        sa.Column("decided_by", sa.String(64)),
        sa.Column("reason", sa.Text),
    )
    op.create_index(
        "ix_security_baseline_changes_host_port_state",
        "security_baseline_changes",
        ["host", "port", "state"],
    )
    op.create_table(
        "security_arp_bindings",
        sa.Column("ip", sa.String(45), primary_key=True),
        sa.Column("mac", sa.String(17), nullable=False),
        sa.Column("site", sa.String(64)),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("security_arp_bindings")
    op.drop_table("security_baseline_changes")
    op.drop_table("security_audit")
    op.drop_table("security_findings")
