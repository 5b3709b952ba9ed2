"""The security area's tables, and the rows every security store writes along with a change.

``security_findings`` holds one row per finding key and its lifecycle (``store.SecurityStore``);
``security_audit`` records people's decisions (accepting, resolving, baselines, forgotten ARP
bindings). ``finding_event`` is the ``events`` row that announces a finding's change, so the
alerts engine routes security findings like any other event; ``write_audit`` adds an audit row
to a transaction. The findings store, the baselines store and the ARP bindings store all write
these, so they live here rather than in any one of them.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from threenines.core import audit as chain
from threenines.core.clean import clean_row
from threenines.core.quarantine import Quarantine, is_outage
from threenines.core.tables import Id, events, metadata
from threenines.security.findings import Change

findings = sa.Table(
    "security_findings",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("key", sa.String(300), nullable=False, unique=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("status", sa.String(10), nullable=False),  # open | accepted | resolved
    sa.Column("check", sa.String(120), nullable=False),  # the producer, e.g. arp:dc-main
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
    sa.Index(None, "status", "severity"),
    sa.Index(None, "check"),
)

audit = sa.Table(
    "security_audit",
    metadata,
    sa.Column("id", Id, primary_key=True, autoincrement=True),
    sa.Column("ts", sa.Float, nullable=False),
    sa.Column("actor", sa.String(64), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("details", sa.JSON, nullable=False),
    sa.Index(None, "ts"),
)


def effective_status(now: float) -> sa.ColumnElement[str]:
    """A finding's status at ``now``: "accepted" past ``accepted_until`` reads as "open"."""
    past = (findings.c.status == "accepted") & (findings.c.accepted_until <= now)
    return sa.case((past, sa.literal("open")), else_=findings.c.status)


def finding_event(row: dict[str, Any], change: Change, now: float, **extra: Any) -> dict[str, Any]:
    """The ``events`` row announcing ``change``. Opening, re-opening, expiry and severity
    changes carry the finding's kind and severity; resolving or accepting is "<kind>_cleared"
    at severity info (see ``ALERT_RESOLVES``), so alerts clear the incident rather than page."""
    cleared = change in (Change.RESOLVED, Change.ACCEPTED)
    return clean_row(
        events,
        {
            "ts": now,
            "source": "security",
            "kind": f"{row['kind']}_cleared" if cleared else row["kind"],
            "severity": "info" if cleared else row["severity"],
            "category": "security",
            "site": row.get("site"),
            "device": None,
            "subject": row["key"],
            "message": f"[{change.value}] {row['message']}",
            "details": {
                "finding_id": row.get("id"),
                "change": change.value,
                "status": row["status"],
                "finding_severity": row["severity"],
                "check": row["check"],
                "target": row["subject"],
                "evidence": row.get("evidence") or {},
                **extra,
            },
        },
    )


def write_audit(
    conn: sa.Connection, ts: float, actor: str, action: str, subject: str, details: dict[str, Any]
) -> None:
    """Add an audit row to ``conn``'s transaction (after its first write); a row the database
    refuses goes to the quarantine instead, so the decision it records still commits. The
    decision is also a row of the core's hash-chained audit log (``audit verify``)."""
    raw = {"ts": ts, "actor": actor, "action": action, "subject": subject, "details": details}
    try:
        with conn.begin_nested():
            conn.execute(audit.insert().values(**clean_row(audit, raw)))
            chain.append(conn, ts=ts, actor=actor[:64], action=f"security_{action}"[:64],
                         subject=f"security:{subject}"[:200], detail=details)  # fmt: skip
    except Exception as exc:
        if is_outage(exc):
            raise
        Quarantine(conn.engine).put("security_audit", [(raw, exc)], conn=conn)
