"""The stages of one run, under the lease: started -> plays -> finished -> verified | failed.

Split from ``orchestrator`` to keep modules small; ``run_stages`` is only called by
``Orchestrator.execute`` once the lease is held and the decision re-checked.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import TYPE_CHECKING

from threenines.failover.config import Plan, failover_config
from threenines.failover.decide import FailoverDecision
from threenines.failover.lease import Lease
from threenines.failover.runner import PlaybookResult, TaskEvent

if TYPE_CHECKING:
    from threenines.failover.orchestrator import Orchestrator, RunOutcome

_STATE = {"successful": "succeeded", "timeout": "timeout", "canceled": "canceled"}


async def run_stages(
    orch: Orchestrator,
    plan: Plan,
    kind: str,
    trigger: str,
    check: bool,
    decision: FailoverDecision | None,
    drill_id: int | None,
    by: str | None,
    lease: Lease,
    lost: threading.Event,
) -> RunOutcome | None:
    from threenines.failover.orchestrator import RunOutcome

    led, now = orch.ledger, orch.clock()
    info = {"action": decision.action, "reason": decision.reason} if decision else {}
    run_id = await asyncio.to_thread(
        led.create_run,
        now,
        plan.name,
        kind,
        check_mode=check,
        trigger=trigger,
        decision=info,
        drill_id=drill_id,
    )
    await asyncio.to_thread(lease.attach, run_id)
    if decision is not None and decision.approval_id is not None:
        if not await asyncio.to_thread(led.use_approval, decision.approval_id, run_id):
            await asyncio.to_thread(
                led.update_run,
                run_id,
                state="canceled",
                finished=orch.clock(),
                error="the approval was used by another run",
            )
            return None
    what = f"{kind}{' (check mode)' if check else ''} of {plan.name}"
    stage = _Stager(orch, plan, run_id, drill_id, by)
    await asyncio.to_thread(stage, "started", f"{what} started ({trigger})", "major")
    result = await _play(orch, plan, kind, run_id, check, lost, stage)
    state = _STATE.get(result.status, "failed")
    await asyncio.to_thread(
        led.update_run,
        run_id,
        playbook_started=result.started,
        playbook_finished=result.finished,
        rc=result.rc,
        error=result.error,
    )
    if state != "succeeded":
        await asyncio.to_thread(
            stage, "failed", f"{what}: {state}: {result.error}", "critical", {"state": state}
        )
        await asyncio.to_thread(led.update_run, run_id, state=state, finished=orch.clock())
        return RunOutcome(run_id, state, result)
    await asyncio.to_thread(
        stage,
        "finished",
        f"{what} finished: {result.changed} change(s)",
        "major",  # every stage notifies through the alert routes (issue 7)
        {"changed": result.changed},
    )
    if kind != "failover" or check:
        await asyncio.to_thread(led.update_run, run_id, state="succeeded", finished=orch.clock())
        return RunOutcome(run_id, "succeeded", result)
    return await _verify(orch, plan, run_id, result, stage)


async def _verify(
    orch: Orchestrator, plan: Plan, run_id: int, result: PlaybookResult, stage: _Stager
) -> RunOutcome:
    from threenines.failover.orchestrator import RunOutcome

    v = plan.verification
    checks = orch.checks(plan)
    outcome = await orch.verify(checks, v.within, v.interval, orch.clock)
    detail = {"first_pass": outcome.first_pass, "last_error": outcome.last_error}
    if outcome.ok:
        await asyncio.to_thread(
            stage, "verified", f"{len(checks)} check(s) pass through the mirror", "major", detail
        )
        state = "verified"
    else:
        failing = ", ".join(f"{k}: {e}" for k, e in outcome.last_error.items())
        msg = f"failed over but not verified within {v.within:.0f}s: {failing}"
        await asyncio.to_thread(stage, "failed", msg, "critical", {**detail, "state": "unverified"})
        state = "unverified"
    await asyncio.to_thread(
        orch.ledger.update_run,
        run_id,
        state=state,
        finished=orch.clock(),
        verified_at=outcome.all_green_at,
    )
    return RunOutcome(run_id, state, result, outcome)


async def _play(
    orch: Orchestrator,
    plan: Plan,
    kind: str,
    run_id: int,
    check: bool,
    lost: threading.Event,
    stage: _Stager,
) -> PlaybookResult:
    led = orch.ledger
    polled = [0.0, False]
    halt = threading.Event()

    def on_event(ev: TaskEvent) -> None:
        led.add_events(run_id, [ev])  # stored at once, so `failover watch` shows it live
        if ev.event == "playbook_on_play_start" and ev.play:
            stage("play", f"play: {ev.play}", "major", {"play": ev.play})

    def should_cancel() -> bool:
        if lost.is_set() or halt.is_set():
            return True  # another instance may take over, or we are stopping: never run unowned
        if time.monotonic() - polled[0] >= 1.0:
            polled[0], polled[1] = time.monotonic(), led.cancel_requested(run_id)
        return bool(polled[1])

    try:
        return await asyncio.to_thread(
            orch.run_playbook,
            orch.spec(plan, kind),
            project_dir=failover_config(orch.cfg).project_dir,
            data_dir=failover_config(orch.cfg).data_dir,
            ident=f"run-{run_id}-{int(orch.clock())}",
            check=check,
            on_event=on_event,
            should_cancel=should_cancel,
        )
    except asyncio.CancelledError:
        # The service is shutting down. The worker thread cannot be cancelled, so make it kill
        # the playbook (within half a second) instead of leaving it running after our lease is
        # released; the run stays 'running' and the next start marks it interrupted and pages.
        halt.set()
        raise


class _Stager:
    """Emits one stage (event + audit row) for this run; callable from any thread."""

    def __init__(
        self, orch: Orchestrator, plan: Plan, run_id: int, drill_id: int | None, by: str | None
    ):
        self.orch, self.plan, self.run_id, self.drill_id, self.by = orch, plan, run_id, drill_id, by

    def __call__(self, kind: str, message: str, severity: str, details: dict | None = None) -> None:
        self.orch.ledger.stage(
            self.orch.clock(),
            self.plan.name,
            kind,
            message,
            severity=severity,
            site=self.plan.primary,
            run_id=self.run_id,
            drill_id=self.drill_id,
            details=details,
            actor=self.by,
        )
