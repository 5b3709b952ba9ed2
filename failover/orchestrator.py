"""The failover orchestrator: decision -> approval -> lease -> playbook -> verification -> audit.

It performs what ``decide`` returns. Every stage is an ``events`` row (source ``failover``, kind
decided/approved/started/play/finished/verified/failed) for the alerts engine to route, and an
audit row. Blocking work (database, ansible-runner, commands) runs in worker threads, so the
event loop that also runs the probes never stalls.

Single flight: the playbook runs only while this instance holds the plan's lease, and the
decision is taken again under the lease, so a second instance (or a second operator) finds
the run already done and does nothing. A run whose instance died stays 'running' with an
expired lease: ``recover`` marks it 'interrupted' and pages; it is never re-run automatically.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from threenines.availability.state import specs
from threenines.core.config.schema import Config
from threenines.core.quarantine import Quarantine
from threenines.failover import actions, observe, preflight
from threenines.failover.config import (
    Plan,
    PlaybookRun,
    failover_config,
    mirror_services,
    trigger_services,
)
from threenines.failover.decide import DAY, FailoverDecision, PreflightFacts, Subjects, decide
from threenines.failover.execute import run_stages
from threenines.failover.lease import Heartbeat, Lease
from threenines.failover.ledger import Ledger
from threenines.failover.quorum import evaluate_trigger
from threenines.failover.runner import PlaybookResult, run_playbook
from threenines.failover.verify import VerifyResult, resolve, verify

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunOutcome:
    run_id: int
    state: str
    playbook: PlaybookResult
    verification: VerifyResult | None = None


NOT_RUN = "another instance holds this plan's lease or has just run it; nothing done"
SUCCEEDED = ("verified", "succeeded")  # a run's states that are success (exit 0)


def outcome_doc(result: RunOutcome | FailoverDecision | None) -> dict[str, Any]:
    """What a run, failback or decision came to, as the CLI prints it and the API's job holds
    it: ``outcome`` is ``run``, ``decision`` (nothing was run, and why) or ``not_run``."""
    if result is None:
        return {"outcome": "not_run", "why": NOT_RUN}
    if isinstance(result, FailoverDecision):
        return {"outcome": "decision", "action": result.action, "reason": result.reason,
                "message": result.message}  # fmt: skip
    pb, v = result.playbook, result.verification
    return {
        "outcome": "run",
        "run_id": result.run_id,
        "state": result.state,
        "changed": pb.changed,
        "rc": pb.rc,
        "error": pb.error,
        "not_verified": dict(v.last_error) if v is not None and not v.ok else {},
    }


def default_actor() -> str:
    return f"threenines@{socket.gethostname()}:{os.getpid()}"


class Orchestrator:
    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        *,
        clock: Callable[[], float] = time.time,
        actor: str | None = None,
        quarantine: Quarantine | None = None,
    ):
        self.cfg = cfg
        self.clock = clock
        self.actor = actor or default_actor()
        self.ledger = Ledger(engine, self.actor, quarantine)
        self.engine = engine
        self._last: dict[str, tuple[str, str]] = {}

    def plan(self, name: str) -> Plan:
        plan = failover_config(self.cfg).plan(name)
        if plan is None:
            raise KeyError(f"no failover plan {name!r}")
        return plan

    def subjects(self, plan: Plan) -> Subjects:
        trigger = tuple(trigger_services(plan, self.cfg))
        mirror = tuple(mirror_services(plan, self.cfg))
        return Subjects(trigger, mirror, specs(self.cfg, trigger + mirror))

    # -- start-up ------------------------------------------------------------------------

    def recover(self) -> list[int]:
        """Mark runs left 'running' by a dead instance as interrupted, and page. Never re-run."""
        return actions.recover(self)

    # -- deciding ------------------------------------------------------------------------

    def gather(self, plan: Plan, now: float, *, measure: bool = True) -> dict[str, Any]:
        """The decision's inputs, read from the store (and measured, once the trigger holds)."""
        subjects = self.subjects(plan)
        obs = observe.observations(self.engine, subjects.specs.values())
        trig = evaluate_trigger(plan.trigger, subjects.trigger, subjects.specs, obs, now)
        facts = preflight.measure(plan) if measure and trig.status == "confirmed" else None
        return {
            "subjects": subjects,
            "observations": obs,
            "runs": self.ledger.runs(plan.name, now - DAY),
            "approvals": self.ledger.approvals(plan.name, now),
            "facts": facts,
        }

    def decide_now(
        self,
        plan: Plan,
        *,
        manual: bool = False,
        force: bool = False,
        facts: PreflightFacts | None = None,
    ) -> FailoverDecision:
        now = self.clock()
        inputs = self.gather(plan, now, measure=facts is None)
        if facts is not None:
            inputs["facts"] = facts
        if manual and inputs["facts"] is None:
            inputs["facts"] = preflight.measure(plan)
        return decide(plan, now=now, manual=manual, force=force, **inputs)

    def note(self, plan: Plan, d: FailoverDecision, drill_id: int | None = None) -> None:
        """Emit a 'decided' event when the decision changes (not on every evaluation)."""
        if self._last.get(plan.name) == d.key():
            return
        self._last[plan.name] = d.key()
        confirmed = d.trigger is not None and d.trigger.status == "confirmed"
        severity = "info"
        if d.action == "fail_over":
            severity = "major"
        elif d.action == "refuse" and confirmed:
            severity = "critical"  # the primary is down and we will not move: page someone
        self.ledger.stage(
            self.clock(),
            plan.name,
            "decided",
            f"{d.action}: {d.reason}: {d.message}",
            severity=severity,
            site=plan.primary,
            drill_id=drill_id,
            details={
                "action": d.action,
                "reason": d.reason,
                "down_vantages": list(d.trigger.down_vantages) if d.trigger else [],
            },
        )

    async def tick(self, name: str, drill_id: int | None = None) -> RunOutcome | FailoverDecision:
        """Evaluate one plan once; fail over if the decision says so.

        While a DR drill of the plan is on (from any process: ``threenines drill run``), the
        decision and the run belong to it, so their events carry the drill tag.
        """
        plan = self.plan(name)
        if drill_id is None:
            drill_id = await asyncio.to_thread(self.ledger.active_drill, name, self.clock())
        d = await asyncio.to_thread(self.decide_now, plan)
        await asyncio.to_thread(self.note, plan, d, drill_id)
        if d.action != "fail_over":
            return d
        trigger = "approved" if d.approval_id is not None else "auto"
        out = await self.execute(plan, "failover", trigger=trigger, decision=d, drill_id=drill_id)
        return out if out is not None else d

    async def serve(self, stop: asyncio.Event) -> None:
        """The automatic loop (one task per plan), for the service runner."""
        await asyncio.to_thread(self.recover)
        await asyncio.gather(*(self._loop(p.name, stop) for p in failover_config(self.cfg).plans))

    async def _loop(self, name: str, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.tick(name)
            except Exception:  # a bug or a database outage must not end the loop
                log.exception("failover evaluation of %s failed", name)
            try:
                await asyncio.wait_for(stop.wait(), failover_config(self.cfg).evaluate_every)
            except TimeoutError:
                pass

    # -- operator actions ----------------------------------------------------------------

    def approve(self, name: str, by: str, note: str = "") -> int:
        return actions.approve(self, name, by, note)

    async def run_manual(
        self,
        name: str,
        *,
        by: str,
        check: bool = False,
        force: bool = False,
        drill_id: int | None = None,
    ) -> RunOutcome | FailoverDecision:
        plan = self.plan(name)
        d = await asyncio.to_thread(self.decide_now, plan, manual=True, force=force)
        if d.action != "fail_over" and not check:
            await asyncio.to_thread(self.note, plan, d)
            return d
        trigger = "drill" if drill_id is not None else "manual"
        out = await self.execute(
            plan,
            "failover",
            trigger=trigger,
            decision=d,
            check=check,
            manual=True,
            force=force,
            drill_id=drill_id,
            by=by,
        )
        return out if out is not None else d

    async def failback(
        self, name: str, *, by: str, check: bool = False, drill_id: int | None = None
    ) -> RunOutcome | None:
        plan = self.plan(name)
        trigger = "drill" if drill_id is not None else "manual"  # a drill's failback is the drill's
        return await self.execute(
            plan, "failback", trigger=trigger, check=check, drill_id=drill_id, by=by
        )

    def cancel(self, name: str | None = None, by: str | None = None) -> list[int]:
        """Ask whichever instance runs them to stop the running runs (audited)."""
        return actions.cancel(self, name, by)

    # -- executing -----------------------------------------------------------------------

    async def execute(
        self,
        plan: Plan,
        kind: str,
        *,
        trigger: str,
        check: bool = False,
        decision: FailoverDecision | None = None,
        manual: bool = False,
        force: bool = False,
        drill_id: int | None = None,
        by: str | None = None,
    ) -> RunOutcome | None:
        """Run the plan's playbook under its lease; None when another run holds or did it."""
        requested = self.clock()
        lease = Lease(
            self.engine, f"plan:{plan.name}", self.actor, failover_config(self.cfg).lease_ttl
        )
        if not await asyncio.to_thread(lease.acquire, requested):
            return None
        lost = threading.Event()
        try:
            with Heartbeat(lease, self.clock, lost.set):
                if not check and not await asyncio.to_thread(
                    self._still_wanted, plan, kind, decision, manual, force, requested
                ):
                    return None
                return await self._execute(
                    plan, kind, trigger, check, decision, drill_id, by, lease, lost
                )
        finally:
            await asyncio.to_thread(lease.release)

    def _still_wanted(
        self,
        plan: Plan,
        kind: str,
        decision: FailoverDecision | None,
        manual: bool,
        force: bool,
        requested: float,
    ) -> bool:
        """The decision again, under the lease: another instance may have just done it."""
        runs = self.ledger.runs(plan.name, requested - DAY)
        if any(r.started >= requested - 1 and r.kind == kind for r in runs):
            return False
        if kind == "failback":
            return True
        facts = None
        if decision is not None and decision.trigger is not None:
            facts = self.gather(plan, self.clock(), measure=False)["facts"]
        again = self.decide_now(plan, manual=manual, force=force, facts=facts)
        return again.action == "fail_over"

    async def _execute(
        self,
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
        return await run_stages(
            self, plan, kind, trigger, check, decision, drill_id, by, lease, lost
        )

    # used by failover.execute
    def spec(self, plan: Plan, kind: str) -> PlaybookRun:
        return plan.playbook if kind == "failover" else plan.failback

    def checks(self, plan: Plan) -> list[Any]:
        return resolve(self.cfg, plan.verification.checks)

    run_playbook = staticmethod(run_playbook)
    verify = staticmethod(verify)
