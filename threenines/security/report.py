"""Figures for the board report's security section, for one period.

``security_summary(engine, start, end)`` -> ``SecuritySummary``: findings opened and resolved
in ``[start, end)``, open critical findings at ``end``, and the mean time to resolve of the
findings resolved in the period. Pure arithmetic on rows read once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.security.tables import findings


@dataclass(frozen=True, slots=True)
class SecuritySummary:
    start: float
    end: float
    opened: int
    resolved: int
    open_critical: int
    mean_time_to_resolve: float | None  # seconds; None when nothing was resolved
    opened_by_severity: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarise(rows: list[dict[str, Any]], start: float, end: float) -> SecuritySummary:
    opened = [r for r in rows if start <= r["first_seen"] < end]
    resolved = [r for r in rows if r["resolved_at"] is not None and start <= r["resolved_at"] < end]
    # "Open at end": seen before the end and not resolved by then. Re-opened findings keep
    # their first_seen, so this counts them once.
    open_critical = [
        r
        for r in rows
        if r["severity"] == "critical"
        and r["first_seen"] < end
        and (r["status"] != "resolved" or (r["resolved_at"] or 0) >= end)
    ]
    durations = [r["resolved_at"] - r["first_seen"] for r in resolved]
    by_sev: dict[str, int] = {}
    for r in opened:
        by_sev[r["severity"]] = by_sev.get(r["severity"], 0) + 1
    return SecuritySummary(
        start,
        end,
        len(opened),
        len(resolved),
        len(open_critical),
        sum(durations) / len(durations) if durations else None,
        by_sev,
    )


def security_summary(engine: Engine, start: float, end: float) -> SecuritySummary:
    cols = [findings.c[n] for n in ("severity", "status", "first_seen", "resolved_at")]
    q = sa.select(*cols).where(
        findings.c.first_seen < end,
        sa.or_(findings.c.resolved_at.is_(None), findings.c.resolved_at >= start),
    )
    with engine.connect() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return summarise(rows, start, end)
