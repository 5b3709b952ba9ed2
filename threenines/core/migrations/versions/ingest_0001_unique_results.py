"""Core: one result is one (check, vantage, ts): a unique key, so that ingest is idempotent.

An agent killed between the server's commit and its own deletion sends the batch again; the
copies stored before this revision are removed first (the lowest id of each is kept), on
SQLite and on PostgreSQL alike, then the index becomes unique.

Revision ID: ingest_0001
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

log = logging.getLogger("alembic.runtime.migration")

revision = "ingest_0001"
down_revision = "0001"
branch_labels = ("ingest",)
depends_on = None

INDEX = "ix_results_check_id_vantage_ts"
COLUMNS = ["check_id", "vantage", "ts"]

# Correlated on the existing (check_id, vantage, ts) index: fast on both backends
DEDUPLICATE = """
DELETE FROM results WHERE EXISTS (
    SELECT 1 FROM results AS older
    WHERE older.check_id = results.check_id AND older.vantage = results.vantage
      AND older.ts = results.ts AND older.id < results.id)
"""


def upgrade() -> None:
    removed = op.get_bind().execute(sa.text(DEDUPLICATE)).rowcount
    if removed:
        log.warning("ingest_0001: removed %d duplicate result row(s), kept the first of each",
                    removed)  # fmt: skip
    op.drop_index(INDEX, table_name="results")
    op.create_index(INDEX, "results", COLUMNS, unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, table_name="results")
    op.create_index(INDEX, "results", COLUMNS)
