"""Security findings store: one row per finding key, its lifecycle, and an event per change.

``record`` applies ``collectors.security.findings.transition`` to every key a run reported
(and, for a complete run, to the producer's open keys it did not report) in one transaction,
and writes an ``events`` row (source ``security``, category ``security``) for each change, so
the alerts engine routes security findings like any other event. Synchronous: call it from a
thread (``asyncio.to_thread``), never on the event loop.

Text is cleaned on the way in (``threenines.core.clean``). A finding the database refuses does
not hold up the run: the others are applied one batch at a time (bisecting) and the refused one
goes to the quarantine (source ``security_findings``); an audit row the database refuses goes
there too (``security_audit``) and the decision it records still stands. The tables, the event
row and the audit writer are in ``threenines.security.tables``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.core.clean import clean_row
from threenines.core.quarantine import Quarantine, is_outage, write_isolating
from threenines.core.tables import events
from threenines.security.findings import Change, Finding, RunResult, State, transition
from threenines.security.tables import (
    audit,
    effective_status,
    finding_event,
    findings,
    write_audit,
)


def _state(row: Any) -> State:
    return State(
        row.status,
        row.severity,
        row.first_seen,
        row.last_seen,
        row.resolved_at,
        row.accepted_until,
        row.occurrences,
    )


class SecurityStore:
    """Findings lifecycle and audit trail on SQLite or PostgreSQL."""

    def __init__(self, engine: Engine, quarantine: Quarantine | None = None):
        self.engine = engine
        self.quarantine = quarantine or Quarantine(engine)

    def record(self, run: RunResult, now: float) -> list[tuple[dict[str, Any], Change]]:
        """Apply one producer run; returns the changed rows and what changed."""
        try:
            return self._record(run, run.findings, run.complete, now)
        except Exception as exc:
            if is_outage(exc) or not run.findings:
                raise
        # one finding the database refuses must not hold up the others: isolate it
        out = write_isolating(run.findings, lambda part: self._record(run, part, False, now))
        changes = [c for _part, done in out.done for c in done]
        if out.refused:
            self.quarantine.put("security_findings", [(_raw(f), e) for f, e in out.refused])
        if out.outage is not None:
            raise out.outage
        if run.complete:  # resolve what the run did not report (a refused one was reported)
            reported = {f.key for f in run.findings}
            changes += self._record(run, [], True, now, reported)
        return changes

    def _record(
        self,
        run: RunResult,
        reported: Sequence[Finding],
        complete: bool,
        now: float,
        skip: set[str] | frozenset[str] = frozenset(),
    ) -> list[tuple[dict[str, Any], Change]]:
        seen = {f.key: f for f in reported}
        with self.engine.begin() as conn:
            q = sa.select(findings).where(findings.c.key.in_(list(seen)))
            rows = {r.key: r for r in conn.execute(q)}
            if complete:  # the producer's live findings it did not report this time
                q = sa.select(findings).where(
                    findings.c.check == run.check, findings.c.status != "resolved"
                )
                rows.update(
                    {
                        r.key: r
                        for r in conn.execute(q)
                        if r.key not in skip and r.key not in seen and run.observed(r.key)
                    }
                )
            changes: list[tuple[dict[str, Any], Change]] = []
            for key in sorted(set(seen) | set(rows)):
                changed = self._apply(conn, rows.get(key), seen.get(key), now)
                if changed:
                    changes.append(changed)
            if changes:
                conn.execute(events.insert(), [finding_event(r, c, now) for r, c in changes])
        return changes

    def _apply(
        self, conn: sa.Connection, row: Any, seen: Finding | None, now: float
    ) -> tuple[dict[str, Any], Change] | None:
        sticky = bool(row.sticky) if row is not None else False
        new, change = transition(_state(row) if row is not None else None, seen, now, sticky)
        if new is None:
            return None
        values: dict[str, Any] = {
            "status": new.status,
            "severity": new.severity,
            "last_seen": new.last_seen,
            "resolved_at": new.resolved_at,
            "accepted_until": new.accepted_until,
            "occurrences": new.occurrences,
        }
        if seen is not None:
            values.update(
                message=seen.message,
                evidence=dict(seen.evidence),
                subject=seen.subject,
                site=seen.site,
                sticky=seen.sticky,
            )
        if row is None:
            assert seen is not None
            values.update(key=seen.key, kind=seen.kind, check=seen.check, first_seen=now)
            values = clean_row(findings, values, exact=("key",))
            pk = conn.execute(findings.insert().values(**values)).inserted_primary_key
            values["id"] = pk[0] if pk else None
        else:
            values = clean_row(findings, values)
            conn.execute(findings.update().where(findings.c.id == row.id).values(**values))
            values = {**row._asdict(), **values}
        return (values, change) if change else None

    # -- reading --------------------------------------------------------------------------

    def find(
        self,
        status: str | None = "open",
        severity: str | None = None,
        kind: str | None = None,
        limit: int = 500,
        now: float | None = None,
    ) -> list[dict[str, Any]]:
        """Findings by their status at ``now`` (default: the clock): an acceptance past its
        ``until`` reads as open at once, not at the next scan."""
        eff = effective_status(time.time() if now is None else now)
        q = (
            sa.select(*[c for c in findings.c if c.name != "status"], eff.label("status"))
            .order_by(findings.c.last_seen.desc())
            .limit(limit)
        )
        for col, value in ((eff, status), (findings.c.severity, severity), (findings.c.kind, kind)):
            if value:
                q = q.where(col == value)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def get(self, finding_id: int, now: float | None = None) -> dict[str, Any] | None:
        eff = effective_status(time.time() if now is None else now)
        q = sa.select(*[c for c in findings.c if c.name != "status"], eff.label("status"))
        with self.engine.connect() as conn:
            row = conn.execute(q.where(findings.c.id == finding_id)).first()
        return dict(row._mapping) if row else None

    def expire(self, now: float) -> list[tuple[dict[str, Any], Change]]:
        """Reopen every acceptance past its ``until`` (conditionally, so two instances never
        both announce one), with an ``acceptance_expired`` event each: the monitor's timer."""
        due = (findings.c.status == "accepted") & (findings.c.accepted_until <= now)
        out: list[tuple[dict[str, Any], Change]] = []
        with self.engine.begin() as conn:
            for row in conn.execute(sa.select(findings).where(due)).all():
                done = conn.execute(
                    findings.update()
                    .where(findings.c.id == row.id, findings.c.status == "accepted")
                    .values(status="open", accepted_until=None)
                ).rowcount
                if done:
                    data = {**row._asdict(), "status": "open", "accepted_until": None}
                    conn.execute(events.insert().values(**finding_event(data, Change.EXPIRED, now)))
                    out.append((data, Change.EXPIRED))
        return out

    def audit_log(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            q = sa.select(audit).order_by(audit.c.id.desc()).limit(limit)
            return [dict(r._mapping) for r in conn.execute(q)]

    # -- people's decisions (audited) -----------------------------------------------------

    def accept(
        self, finding_id: int, *, by: str, reason: str, until: float | None, now: float
    ) -> bool:
        """Accept the risk of an open finding until ``until`` (None: indefinitely)."""
        self.expire(now)  # an acceptance past its time is open again, and may be re-accepted
        return self._decide(
            finding_id,
            "open",
            "accepted",
            Change.ACCEPTED,
            by,
            reason,
            now,
            accepted_until=until,
            accepted_reason=reason,
            accepted_by=by,
        )

    def resolve(self, finding_id: int, *, by: str, reason: str, now: float) -> bool:
        """Close a finding by hand (the way sticky spoofing findings are closed)."""
        self.expire(now)
        ok = self._decide(
            finding_id, "open", "resolved", Change.RESOLVED, by, reason, now, resolved_at=now
        )
        return ok or self._decide(
            finding_id, "accepted", "resolved", Change.RESOLVED, by, reason, now, resolved_at=now
        )

    def _decide(
        self,
        finding_id: int,
        old: str,
        new: str,
        change: Change,
        by: str,
        reason: str,
        now: float,
        **values: Any,
    ) -> bool:
        with self.engine.begin() as conn:
            # Conditional update: two operators (or instances) never both apply a decision.
            done = conn.execute(
                findings.update()
                .where(findings.c.id == finding_id, findings.c.status == old)
                .values(status=new, **clean_row(findings, values))
            ).rowcount
            if not done:
                return False
            row = conn.execute(sa.select(findings).where(findings.c.id == finding_id)).one()
            data = dict(row._mapping)
            conn.execute(
                events.insert().values(**finding_event(data, change, now, by=by, reason=reason))
            )
            write_audit(
                conn,
                now,
                by,
                f"finding_{change.value}",
                data["key"],
                {"finding_id": finding_id, "reason": reason, **values},
            )
        return True


def _raw(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "key": f.key, "severity": f.severity, "check": f.check,
            "subject": f.subject, "message": f.message, "evidence": dict(f.evidence),
            "site": f.site, "sticky": f.sticky}  # fmt: skip
