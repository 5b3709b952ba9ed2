"""Core: the audit log's head record (``threenines.core.audit.audit_head``), so rows deleted
from the end of the chain are found; set from the log as it stands.

Revision ID: audit_0002
"""

from __future__ import annotations

import time

import sqlalchemy as sa
from alembic import op

revision = "audit_0002"
down_revision = "audit_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    head = op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("rows", sa.BigInteger, nullable=False),
        sa.Column("ts", sa.Float, nullable=False),
    )
    conn = op.get_bind()
    log = sa.table("audit_log", sa.column("seq"), sa.column("hash"))
    newest = sa.select(log.c.seq, log.c.hash).order_by(log.c.seq.desc()).limit(1)
    last = conn.execute(newest).first()
    if last is not None:
        rows = conn.execute(sa.select(sa.func.count()).select_from(log)).scalar() or 0
        op.bulk_insert(head, [{"id": 1, "seq": int(last.seq), "hash": str(last.hash),
                               "rows": int(rows), "ts": time.time()}])  # fmt: skip


def downgrade() -> None:
    op.drop_table("audit_head")
