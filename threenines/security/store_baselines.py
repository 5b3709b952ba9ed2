"""Allowed-ports baselines: config gives the start, audited decisions change it per host.

A scan that finds drift proposes a change (``add`` a newly open port, ``remove`` an allowed
port that closed) as ``pending``. An operator accepts it (the baseline changes and the finding
resolves) or rejects it (the baseline stays; the finding stays open until the port is put
right). Every decision is a conditional update plus an audit row.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.clean import clean_row
from threenines.core.tables import Id, events, metadata
from threenines.security.findings import Change
from threenines.security.tables import finding_event, findings, write_audit

changes = sa.Table(
    "security_baseline_changes",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("host", sa.String(64), nullable=False),
    sa.Column("role", sa.String(64)),
    sa.Column("port", sa.Integer, nullable=False),
    sa.Column("proto", sa.String(8), nullable=False),
    sa.Column("change", sa.String(8), nullable=False),  # add | remove
    sa.Column("state", sa.String(10), nullable=False),  # pending | accepted | rejected
    sa.Column("finding_key", sa.String(300)),
    sa.Column("first_seen", sa.Float, nullable=False),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("decided_at", sa.Float),
    sa.Column("decided_by", sa.String(64)),
    sa.Column("reason", sa.Text),
    sa.Index(None, "host", "port", "state"),
)


class BaselineStore:
    def __init__(self, engine: Engine):
        self.engine = engine

    def allowed(self, host: str, configured: set[int]) -> set[int]:
        """Effective allowed ports for ``host``: configured, plus accepted adds, minus removes."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(changes.c.port, changes.c.change)
                .where(changes.c.host == host, changes.c.state == "accepted")
                .order_by(changes.c.decided_at, changes.c.id)
            ).all()
        out = set(configured)
        for port, change in rows:  # later decisions win
            if change == "add":
                out.add(port)
            else:
                out.discard(port)
        return out

    def propose(
        self, host: str, role: str | None, port: int, change: str, finding_key: str, now: float
    ) -> None:
        """Record drift as a pending change, once: a pending one is refreshed, a rejected one
        (the operator already said no) is left alone."""
        with self.engine.begin() as conn:
            hit = conn.execute(
                sa.select(changes.c.id, changes.c.state).where(
                    changes.c.host == host,
                    changes.c.port == port,
                    changes.c.change == change,
                    changes.c.state.in_(["pending", "rejected"]),
                )
            ).first()
            if hit is None:
                row = {"host": host, "role": role, "port": port, "proto": "tcp", "change": change,
                       "state": "pending", "finding_key": finding_key, "first_seen": now,
                       "last_seen": now}  # fmt: skip
                conn.execute(
                    changes.insert().values(
                        **clean_row(changes, row, exact=("host", "finding_key"))
                    )
                )
            elif hit.state == "pending":
                conn.execute(changes.update().where(changes.c.id == hit.id).values(last_seen=now))

    def withdraw(self, host: str, keep: set[tuple[int, str]], scanned: set[int]) -> int:
        """Pending changes for scanned ports that no longer apply (the port went back)."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(changes.c.id, changes.c.port, changes.c.change).where(
                    changes.c.host == host, changes.c.state == "pending"
                )
            ).all()
            stale = [r.id for r in rows if r.port in scanned and (r.port, r.change) not in keep]
            if stale:
                conn.execute(changes.delete().where(changes.c.id.in_(stale)))
        return len(stale)

    def find(self, state: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        q = sa.select(changes).order_by(changes.c.id.desc()).limit(limit)
        if state:
            q = q.where(changes.c.state == state)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def decide(self, change_id: int, *, accept: bool, by: str, reason: str, now: float) -> bool:
        """Accept or reject a pending change; False when it is not pending (already decided)."""
        state = "accepted" if accept else "rejected"
        with self.engine.begin() as conn:
            done = conn.execute(
                changes.update()
                .where(changes.c.id == change_id, changes.c.state == "pending")
                .values(
                    **clean_row(
                        changes,
                        {"state": state, "decided_at": now, "decided_by": by, "reason": reason},
                    )
                )
            ).rowcount
            if not done:
                return False
            row = conn.execute(sa.select(changes).where(changes.c.id == change_id)).one()
            write_audit(
                conn,
                now,
                by,
                f"baseline_{state}",
                f"{row.host}:{row.port}",
                {
                    "change_id": change_id,
                    "change": row.change,
                    "port": row.port,
                    "host": row.host,
                    "reason": reason,
                },
            )
            if accept and row.finding_key:
                self._resolve_finding(conn, row.finding_key, by, reason, now)
        return True

    def _resolve_finding(
        self, conn: sa.Connection, key: str, by: str, reason: str, now: float
    ) -> None:
        done = conn.execute(
            findings.update()
            .where(findings.c.key == key, findings.c.status != "resolved")
            .values(status="resolved", resolved_at=now)
        ).rowcount
        if done:
            row = dict(
                conn.execute(sa.select(findings).where(findings.c.key == key)).one()._mapping
            )
            conn.execute(
                events.insert().values(
                    **finding_event(
                        row, Change.RESOLVED, now, by=by, reason=f"baseline accepted: {reason}"
                    )
                )
            )
