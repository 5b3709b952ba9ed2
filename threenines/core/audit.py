"""The audit log: people's decisions about the record, hash-chained so an edit or a deletion shows.

Every row carries ``seq`` (1, 2, 3, ... with no gaps), the SHA-256 of the previous row
(``prev_hash``) and its own ``hash`` over its content and ``prev_hash``. ``verify`` walks the
chain: an edited row no longer matches its hash, a deleted row leaves a gap in ``seq`` and a
broken link. Deleted *last* rows leave no gap, so they are caught against anchors kept outside
the rows: the ``audit_head`` record (one row: the head's seq, hash and the count of rows,
written by ``append`` in the same transaction as the row) and the heads that areas recorded
(an issued report keeps the head it saw: ``Area.anchors``). ``append`` writes inside the
caller's transaction, so the decision and its audit row commit together; two writers racing
for the same ``seq`` meet the unique index and the loser retries on the new head (a
savepoint, bounded).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Float,
    Index,
    Integer,
    String,
    Table,
    Text,
)
from sqlalchemy.exc import IntegrityError

from threenines.core.tables import Id, metadata

GENESIS = "0" * 64
MAX_RACES = 50  # concurrent appends retried at most this often

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("seq", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),  # maintenance_added, report_issued, ...
    Column("subject", String(200), nullable=False),  # maintenance:12, report:2026-10, ...
    Column("detail", Text, nullable=False),  # canonical JSON text: hashed as stored
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index(None, "seq", unique=True),
    Index(None, "subject"),
)
a = audit_log.c

# The head as last written by ``append`` (audit_0002): one row, id 1. Deleting rows from the
# end of ``audit_log`` leaves it ahead of the chain.
audit_head = Table(
    "audit_head",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, nullable=False),
    Column("hash", String(64), nullable=False),
    Column("rows", BigInteger, nullable=False),
    Column("ts", Float, nullable=False),
)
HEAD_ID = 1


def _canonical(detail: Mapping[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def row_hash(
    seq: int, ts: float, actor: str, action: str, subject: str, detail: str, prev: str
) -> str:
    text = "\n".join((str(seq), repr(float(ts)), actor, action, subject, detail, prev))
    return hashlib.sha256(text.encode()).hexdigest()


def head(conn: Connection) -> tuple[int, str]:
    """(seq, hash) of the last row; (0, GENESIS) for an empty log."""
    row = conn.execute(sa.select(a.seq, a.hash).order_by(a.seq.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))


def append(
    conn: Connection,
    *,
    ts: float,
    actor: str,
    action: str,
    subject: str,
    detail: Mapping[str, Any] | None = None,
) -> int:
    """Add one row at the head of the chain in ``conn``'s transaction; returns its ``seq``."""
    text = _canonical(detail or {})
    for _ in range(MAX_RACES):
        seq, prev = head(conn)
        seq += 1
        digest = row_hash(seq, ts, actor, action, subject, text, prev)
        try:
            with conn.begin_nested():
                conn.execute(
                    audit_log.insert().values(
                        seq=seq, ts=ts, actor=actor, action=action, subject=subject,
                        detail=text, prev_hash=prev, hash=digest,
                    )
                )  # fmt: skip
                _move_head(conn, seq, digest, ts)
            return seq
        except IntegrityError:  # another writer took this seq first: chain on its row
            continue
    raise RuntimeError(f"audit log: {MAX_RACES} concurrent appends in a row; try again")


def _move_head(conn: Connection, seq: int, digest: str, ts: float) -> None:
    h = audit_head.c
    moved = conn.execute(
        audit_head.update().where(h.id == HEAD_ID)
        .values(seq=seq, hash=digest, rows=h.rows + 1, ts=ts)
    ).rowcount  # fmt: skip
    if not moved:  # the first row (a racing first writer meets the primary key: retried)
        conn.execute(audit_head.insert().values(id=HEAD_ID, seq=seq, hash=digest, rows=1, ts=ts))


def recorded_head(conn: Connection) -> tuple[int, str, int] | None:
    """(seq, hash, rows) of the head record, None if there is none."""
    h = audit_head.c
    row = conn.execute(sa.select(h.seq, h.hash, h.rows).where(h.id == HEAD_ID)).first()
    return None if row is None else (int(row.seq), str(row.hash), int(row.rows))


@dataclass(frozen=True, slots=True)
class AuditCheck:
    """What ``verify`` found: rows read, the head, and each problem in words."""

    rows: int
    head: tuple[int, str]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(engine: Engine, anchors: Iterable[tuple[int, str, str]] = ()) -> AuditCheck:
    """Walk the whole chain and hold it to the head record and to ``anchors`` ((seq, hash,
    where recorded), e.g. the heads issued reports saw): rows deleted from the end are found."""
    problems: list[str] = []
    expected, prev, count = 1, GENESIS, 0
    hashes: dict[int, str] = {}
    q = sa.select(audit_log).order_by(a.seq)
    with engine.connect() as conn:
        for r in conn.execute(q):
            count += 1
            seq = int(r.seq)
            if seq != expected:
                problems.append(f"rows {expected}..{seq - 1} are missing (deleted)")
            elif r.prev_hash != prev:
                problems.append(f"row {seq}: does not follow row {seq - 1} (chain broken)")
            digest = row_hash(seq, r.ts, r.actor, r.action, r.subject, r.detail, r.prev_hash)
            if digest != r.hash:
                problems.append(f"row {seq} ({r.action} {r.subject}): content changed")
            expected, prev = seq + 1, str(r.hash)
            hashes[seq] = str(r.hash)
        recorded = recorded_head(conn)
    last = (expected - 1, prev)
    problems += _against_head(recorded, last[0], count, hashes)
    for seq, digest, where in anchors:
        if seq > last[0]:
            problems.append(f"{seq - last[0]} row(s) after row {last[0]} are missing: {where} "
                            f"saw the log at row {seq} (deleted from the end)")  # fmt: skip
        elif hashes.get(seq) != digest:
            problems.append(f"row {seq}, recorded by {where}, is missing or changed")
    return AuditCheck(count, last, tuple(problems))


def _against_head(
    recorded: tuple[int, str, int] | None, last: int, count: int, hashes: Mapping[int, str]
) -> list[str]:
    if recorded is None:
        if not count:
            return []
        return [f"the head record is missing ({count} rows in the log): it was deleted"]
    seq, digest, rows = recorded
    if seq > last:
        return [f"{seq - last} row(s) after row {last} are missing: the head record says the "
                f"log reached row {seq} (deleted from the end)"]  # fmt: skip
    if hashes.get(seq) != digest:
        return [f"row {seq} does not match the head record (the row or the record was changed)"]
    problems = []
    if last > seq:
        problems.append(f"rows {seq + 1}..{last} were not written by threenines (the head "
                        f"record ends at row {seq})")  # fmt: skip
    if rows != seq and not problems:
        problems.append(f"the head record counts {rows} rows for {seq} (it was changed)")
    return problems


def rows(engine: Engine, subject_prefix: str = "", limit: int = 100) -> list[dict[str, Any]]:
    """The newest rows first (``subject_prefix``: e.g. ``maintenance:``)."""
    q = sa.select(audit_log).order_by(a.seq.desc()).limit(limit)
    if subject_prefix:
        q = q.where(a.subject.startswith(subject_prefix, autoescape=True))
    with engine.connect() as conn:
        out = []
        for r in conn.execute(q):
            d = dict(r._mapping)
            d["detail"] = json.loads(d["detail"])
            out.append(d)
        return out
