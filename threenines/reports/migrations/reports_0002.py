"""Reports: issued reports kept as immutable snapshots (figures, bytes, SHA-256, audit anchor).

Revision ID: reports_0002
Revises: reports_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "reports_0002"
down_revision = "reports_0001"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_issues",
        sa.Column("id", Id, primary_key=True, autoincrement=True),
        sa.Column("number", sa.Integer, nullable=False),
        sa.Column("period", sa.String(32), nullable=False),
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("issued_at", sa.Float, nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("figures", sa.JSON, nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.Column("audit_seq", sa.Integer, nullable=False),
        sa.Column("audit_hash", sa.String(64), nullable=False),
    )
    op.create_index("ix_report_issues_period_scope_number_format", "report_issues",
                    ["period", "scope", "number", "format"], unique=True)  # fmt: skip
    op.create_index("ix_report_issues_sha256", "report_issues", ["sha256"])


def downgrade() -> None:
    op.drop_table("report_issues")
