"""Failover records: runs, their task events, approvals, the audit log and stage events.

Every stage of a run is written twice: as a row in the shared ``events`` table (source
``failover``) which the alerts engine consumes and routes, and as an audit-log row. The event's
subject names the plan and the run (or the decision's reason), so each run's stages are their
own alert incidents. Drill events carry ``details.tags = ["failover", "drill"]`` (alert routes
match tags: a ``tags: [drill]`` route ahead of on-call keeps drills off the pager),
``details.drill_id``, and no site, so the drill period, which holds the induced outage's alerts
like maintenance, does not hold them.

Text is cleaned on the way in (``threenines.core.clean``: Ansible output may hold anything). A
stage's event or audit row that the database refuses goes to the quarantine (sources
``failover_events``, ``failover_audit``, ``failover_run_events``) and the other row is written.

Synchronous: call from a worker thread when on the event loop.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import groupby
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.availability.history import DRILLS, windows
from threenines.availability.store import drill_periods
from threenines.core import audit as chain
from threenines.core.clean import clean_row
from threenines.core.quarantine import Quarantine, write_isolating
from threenines.core.tables import events
from threenines.failover.decide import ApprovalRecord, RunRecord
from threenines.failover.runner import TaskEvent
from threenines.failover.store import (
    drills,
    failover_approvals,
    failover_audit,
    failover_leases,
    failover_run_events,
    failover_runs,
)


class Ledger:
    def __init__(self, engine: Engine, actor: str, quarantine: Quarantine | None = None):
        self.engine = engine
        self.actor = actor
        self.quarantine = quarantine or Quarantine(engine)

    def _insert(self, rows: list[tuple[str, sa.Table, dict[str, Any]]]) -> None:
        """Insert ``(source, table, row)`` rows in one transaction; if the database refuses
        one, write the others and quarantine it. Raises on an outage."""
        out = write_isolating(rows, self._insert_all)
        for (source, _table, row), err in out.refused:
            self.quarantine.put(source, [(row, err)])
        if out.outage is not None:
            raise out.outage

    def _insert_all(self, rows: list[tuple[str, sa.Table, dict[str, Any]]]) -> None:
        """One transaction; each failover audit row is also a row of the core's hash-chained
        audit log (``audit verify``), committed with it or not at all."""
        with self.engine.begin() as conn:
            for table, group in groupby(rows, key=lambda r: r[1]):
                clean = [clean_row(table, row) for _s, _t, row in group]
                conn.execute(table.insert(), clean)
                if table is failover_audit:
                    for row in clean:
                        _chain(conn, row)

    # -- stage events and audit -----------------------------------------------------------

    def stage(
        self,
        now: float,
        plan: str,
        kind: str,
        message: str,
        *,
        severity: str = "info",
        site: str | None = None,
        run_id: int | None = None,
        drill_id: int | None = None,
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> None:
        """Emit an event (for alerts) and an audit row for one stage, in one transaction.

        ``kind``: decided, approved, started, play, finished, verified, failed, cancel;
        drill_started and drill_finished for a drill's announcement and its end.
        """
        info: dict[str, Any] = {"plan": plan, "run_id": run_id, **(details or {})}
        info["tags"] = ["failover", *(["drill"] if drill_id is not None else [])]
        if drill_id is not None:
            info["drill_id"] = drill_id
            site = None
        event = {"ts": now, "source": "failover", "kind": kind, "severity": severity,
                 "category": "availability", "site": site, "message": message, "details": info,
                 "subject": _subject(plan, kind, run_id, drill_id, info)}  # fmt: skip
        entry = {"ts": now, "plan": plan, "run_id": run_id, "actor": actor or self.actor,
                 "action": kind, "message": message, "details": info}  # fmt: skip
        self._insert(
            [("failover_events", events, event), ("failover_audit", failover_audit, entry)]
        )

    def audit_rows(self, plan: str | None = None, run_id: int | None = None) -> list[sa.Row]:
        q = sa.select(failover_audit).order_by(failover_audit.c.id)
        if plan is not None:
            q = q.where(failover_audit.c.plan == plan)
        if run_id is not None:
            q = q.where(failover_audit.c.run_id == run_id)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    # -- runs --------------------------------------------------------------------------------

    def create_run(self, now: float, plan: str, kind: str, **fields: Any) -> int:
        values = {"check_mode": False, "trigger": "auto", "decision": {}, **fields}
        with self.engine.begin() as conn:
            res = conn.execute(
                failover_runs.insert().values(
                    plan=plan, kind=kind, state="running", owner=self.actor, started=now, **values
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def update_run(self, run_id: int, *, only_if: str | None = "running", **fields: Any) -> bool:
        """Set fields; by default only while the run is still running (a conditional write)."""
        q = failover_runs.update().where(failover_runs.c.id == run_id)
        if only_if is not None:
            q = q.where(failover_runs.c.state == only_if)
        with self.engine.begin() as conn:
            return conn.execute(q.values(**clean_row(failover_runs, fields))).rowcount == 1

    def run(self, run_id: int) -> sa.Row | None:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(failover_runs).where(failover_runs.c.id == run_id)
            ).first()

    def run_rows(self, plan: str | None = None, limit: int = 50) -> list[sa.Row]:
        q = sa.select(failover_runs).order_by(failover_runs.c.id.desc()).limit(limit)
        if plan is not None:
            q = q.where(failover_runs.c.plan == plan)
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def runs(self, plan: str, since: float) -> list[RunRecord]:
        """Runs for the decision: every run that is still open or started after ``since``."""
        q = sa.select(failover_runs).where(
            failover_runs.c.plan == plan,
            sa.or_(failover_runs.c.started >= since, failover_runs.c.state == "running"),
        )
        with self.engine.connect() as conn:
            rows = list(conn.execute(q))
        # The newest completed switch decides whether we are failed over, however old it is.
        with self.engine.connect() as conn:
            last = conn.execute(
                sa.select(failover_runs)
                .where(failover_runs.c.plan == plan, failover_runs.c.check_mode.is_(False))
                .where(failover_runs.c.state.in_(("verified", "unverified", "succeeded")))
                .order_by(failover_runs.c.started.desc())
                .limit(1)
            ).first()
        if last is not None and all(r.id != last.id for r in rows):
            rows.append(last)
        return [
            RunRecord(r.id, r.plan, r.kind, r.state, r.started, r.finished, bool(r.check_mode))
            for r in rows
            if r.kind in ("failover", "failback")
        ]

    def add_events(self, run_id: int, batch: Iterable[TaskEvent]) -> None:
        rows = [
            {
                "run_id": run_id,
                "seq": e.seq,
                "ts": e.ts,
                "event": e.event,
                "play": (e.play or "")[:200] or None,
                "task": (e.task or "")[:200] or None,
                "host": (e.host or "")[:200] or None,
                "changed": e.changed,
                "failed": e.failed,
                "stdout": e.stdout,
            }
            for e in batch
        ]
        if rows:
            self._insert([("failover_run_events", failover_run_events, r) for r in rows])

    def events_after(self, run_id: int, after_id: int = 0) -> list[sa.Row]:
        q = (
            sa.select(failover_run_events)
            .where(failover_run_events.c.run_id == run_id, failover_run_events.c.id > after_id)
            .order_by(failover_run_events.c.id)
        )
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def request_cancel(self, now: float, plan: str | None = None) -> list[int]:
        q = failover_runs.update().where(failover_runs.c.state == "running")
        if plan is not None:
            q = q.where(failover_runs.c.plan == plan)
        with self.engine.begin() as conn:
            ids = [r.id for r in conn.execute(sa.select(failover_runs.c.id).where(q.whereclause))]  # type: ignore[arg-type]
            conn.execute(q.values(cancel_requested=now))
        return ids

    def cancel_requested(self, run_id: int) -> bool:
        row = self.run(run_id)
        return row is not None and row.cancel_requested is not None

    def interrupted_candidates(self, now: float) -> list[sa.Row]:
        """Runs still 'running' whose lease is gone, expired, or held for another run."""
        r, lease = failover_runs, failover_leases
        q = (
            sa.select(r)
            .select_from(r.outerjoin(lease, lease.c.name == sa.literal("plan:") + r.c.plan))
            .where(r.c.state == "running")
            .where(
                sa.or_(
                    lease.c.name.is_(None),
                    lease.c.expires_at < now,
                    lease.c.run_id.is_(None),
                    lease.c.run_id != r.c.id,
                )
            )
        )
        with self.engine.connect() as conn:
            return list(conn.execute(q))

    def active_drill(self, plan: str, now: float) -> int | None:
        """The drill of ``plan`` under way now: still running and inside its tagged period as
        in effect (so a drill whose runner died stops claiming runs when its period ends)."""
        q = (sa.select(drills.c.id).where(drills.c.plan == plan, drills.c.state == "running")
             .order_by(drills.c.id.desc()))  # fmt: skip
        with self.engine.connect() as conn:
            running = [int(x) for x in conn.execute(q).scalars()]
        if not running:
            return None
        live = {w.name for w in windows(self.engine, drill_periods, DRILLS, now) if w.start <= now}
        return next((d for d in running if f"drill-{d}" in live), None)

    # -- approvals ---------------------------------------------------------------------------

    def approve(self, now: float, plan: str, by: str, ttl: float, note: str = "") -> int:
        with self.engine.begin() as conn:
            res = conn.execute(
                failover_approvals.insert().values(
                    plan=plan, granted_at=now, expires_at=now + ttl, by=by, note=note
                )
            )
            return int(res.inserted_primary_key[0])  # type: ignore[index]

    def approvals(self, plan: str, now: float) -> list[ApprovalRecord]:
        q = sa.select(failover_approvals).where(
            failover_approvals.c.plan == plan, failover_approvals.c.expires_at > now
        )
        with self.engine.connect() as conn:
            return [
                ApprovalRecord(a.id, a.plan, a.granted_at, a.expires_at, a.by, a.used_by_run)
                for a in conn.execute(q)
            ]

    def use_approval(self, approval_id: int, run_id: int) -> bool:
        """Consume an approval once (conditional write): False if another run took it."""
        with self.engine.begin() as conn:
            res = conn.execute(
                failover_approvals.update()
                .where(failover_approvals.c.id == approval_id)
                .where(failover_approvals.c.used_by_run.is_(None))
                .values(used_by_run=run_id)
            )
            return res.rowcount == 1


def _subject(
    plan: str, kind: str, run_id: int | None, drill_id: int | None, info: Mapping[str, Any]
) -> str:
    """``failover/PLAN/run-N`` (or ``/REASON`` for a decision), ``/drill-N`` for a drill."""
    parts = [f"failover/{plan}"]
    if run_id is not None:
        parts.append(f"run-{run_id}")
    elif kind == "decided" and info.get("reason"):
        parts.append(str(info["reason"]))
    if drill_id is not None:
        parts.append(f"drill-{drill_id}")
    return "/".join(parts)[:200]


def _chain(conn: sa.Connection, row: Mapping[str, Any]) -> None:
    """A failover audit row as a row of the hash-chained audit log (the same transaction)."""
    details = dict(row.get("details") or {})
    subject = f"failover:{row['plan']}"
    if row.get("run_id") is not None:
        subject += f"/run-{row['run_id']}"
    if details.get("drill_id") is not None:
        subject += f"/drill-{details['drill_id']}"
    chain.append(conn, ts=float(row["ts"]), actor=str(row["actor"])[:64],
                 action=f"failover_{row['action']}"[:64], subject=subject[:200],
                 detail={"message": row.get("message", ""), "details": details})  # fmt: skip
