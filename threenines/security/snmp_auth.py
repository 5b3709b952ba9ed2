"""SNMP authenticationFailure traps counted per source, from the shared ``events`` table.

The trap receiver (``collectors/snmp_traps.py``) stores each trap as an event with
``kind="auth_failure"``; a device that keeps failing authentication (someone guessing
communities, or a misconfigured poller) becomes a finding.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.tables import events
from threenines.security.findings import Finding

AUTH_KINDS = ("auth_failure", "authentication_failure", "authenticationFailure")
MAX_ROWS = 100_000  # bounded read; a flood larger than this is counted as at least this


def _source(row: Any) -> str:
    details = row.details if isinstance(row.details, dict) else {}
    return str(row.device or details.get("source") or details.get("address") or row.subject or "?")


def count_by_source(engine: Engine, since: float, until: float) -> dict[str, int]:
    """Number of authenticationFailure events per source (device, else source address)."""
    q = (
        sa.select(events.c.device, events.c.subject, events.c.details)
        .where(events.c.kind.in_(AUTH_KINDS), events.c.ts >= since, events.c.ts < until)
        .limit(MAX_ROWS)
    )
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for row in conn.execute(q):
            src = _source(row)
            counts[src] = counts.get(src, 0) + 1
    return counts


def findings(counts: dict[str, int], threshold: int, window: float, check: str) -> list[Finding]:
    """Pure: one major finding per source at or above ``threshold`` in the window."""
    return [
        Finding.make(
            "snmp_auth_failures",
            src,
            "major",
            check,
            src,
            f"{n} SNMP authentication failures from {src} in {window / 60:g} min",
            {"source": src, "count": n, "window": window},
        )
        for src, n in sorted(counts.items())
        if n >= threshold
    ]
