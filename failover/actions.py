"""The orchestrator's bookkeeping actions, split from ``orchestrator`` to keep it small:
marking interrupted runs at start-up, an operator's approval and a cancel request.

Each writes to the store only (conditional updates, stage events, audit rows) and is
synchronous: call it from a worker thread when on the event loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threenines.failover.config import failover_config

if TYPE_CHECKING:
    from threenines.failover.orchestrator import Orchestrator


def recover(orch: Orchestrator) -> list[int]:
    """Mark runs left 'running' by a dead instance as interrupted, and page. Never re-run."""
    now = orch.clock()
    marked = []
    for row in orch.ledger.interrupted_candidates(now):
        msg = f"run {row.id} ({row.kind}) was interrupted: {row.owner} stopped mid-run"
        if orch.ledger.update_run(row.id, state="interrupted", finished=now, error=msg):
            plan = failover_config(orch.cfg).plan(row.plan)
            orch.ledger.stage(
                now,
                row.plan,
                "failed",
                msg + "; it will not be re-run automatically",
                severity="critical",
                site=plan.primary if plan else None,
                run_id=row.id,
                drill_id=row.drill_id,
                details={"state": "interrupted"},
            )
            marked.append(row.id)
    return marked


def approve(orch: Orchestrator, name: str, by: str, note: str = "") -> int:
    """Record an approval (it expires after the plan's ``approval_ttl``); returns its id."""
    plan = orch.plan(name)
    now = orch.clock()
    approval = orch.ledger.approve(now, name, by, plan.guards.approval_ttl, note)
    orch.ledger.stage(
        now,
        name,
        "approved",
        f"approved by {by} for {plan.guards.approval_ttl:.0f}s",
        severity="major",
        site=plan.primary,
        drill_id=orch.ledger.active_drill(name, now),
        details={"approval_id": approval, "note": note},
        actor=by,
    )
    return approval


def cancel(orch: Orchestrator, name: str | None = None, by: str | None = None) -> list[int]:
    """Ask whichever instance runs them to stop the running runs (audited); their ids."""
    now = orch.clock()
    ids = orch.ledger.request_cancel(now, name)
    for run_id in ids:
        row = orch.ledger.run(run_id)
        plan = failover_config(orch.cfg).plan(row.plan) if row is not None else None
        orch.ledger.stage(
            now,
            row.plan if row is not None else str(name),
            "cancel",
            f"cancel of run {run_id} requested by {by or orch.actor}",
            site=plan.primary if plan else None,
            run_id=run_id,
            drill_id=row.drill_id if row is not None else None,
            actor=by,
        )
    return ids
