"""DR drills: announce, tag the period, inject the fault, let detection and failover happen,
fail back, and record the timeline.

Scenarios: ``dc-cut`` and ``service-stop`` inject a real fault (``failover.faults``: the lab's
faults when the lab is up, otherwise the plan's fault playbooks); ``tabletop`` injects nothing
and runs the failover and failback playbooks in check mode. Drill events carry the ``drill`` tag
(alerts send them to the drill route; on-call is not paged) and the period is written to the
availability engine's ``drill_periods`` so it is excluded from SLA figures: append-only, as
maintenance (``availability.history``): the drill's end is a new record, not an update.
A finished drill is signed off (``sign_off``: one name per role, an audit-chain row).

The real detection and decision do the work: when ``threenines run`` is up its failover loop
sees the drill (``Ledger.active_drill``) and its run is the drill's; without a service the drill
evaluates the plan itself. Either way the plan's lease makes it one run, and the drill reads
that run's times from the store.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from threenines.availability.history import end_drill_period
from threenines.availability.schedule import Exclusion
from threenines.availability.store import add_drill
from threenines.core.tables import results
from threenines.failover import observe, preflight
from threenines.failover.config import Plan
from threenines.failover.decide import FailoverDecision
from threenines.failover.drill_facts import SIGN_ROLES
from threenines.failover.faults import Faults
from threenines.failover.orchestrator import Orchestrator, RunOutcome
from threenines.failover.quorum import evaluate_trigger
from threenines.failover.store import drill_marks, drill_signoffs, drills, failover_runs
from threenines.failover.timeline import MARKS, Mark, summarise

SCENARIOS = ("dc-cut", "service-stop", "tabletop")
# Refusals worth waiting out during a drill (the rest end it, as a problem in the report).
_TRANSIENT = frozenset({"quorum_not_met", "needs_approval"})

__all__ = ["SCENARIOS", "DrillRunner", "Faults", "SignOffError", "load_marks", "sign_off"]


class SignOffError(ValueError):
    """A refused sign-off, in words for the user."""


class DrillRunner:
    def __init__(
        self,
        orch: Orchestrator,
        *,
        poll: float = 0.5,
        max_wait: float | None = None,
        faults: Callable[[Plan], Faults] | None = None,
    ):
        self.orch, self.poll, self.max_wait = orch, poll, max_wait
        self.faults = faults or (lambda plan: Faults(orch, plan))
        self.engine = orch.engine

    def mark(
        self, drill_id: int, kind: str, message: str = "", ts: float | None = None, **details: Any
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                drill_marks.insert().values(
                    drill_id=drill_id,
                    ts=ts if ts is not None else self.orch.clock(),
                    kind=kind,
                    message=message or MARKS.get(kind, kind),
                    details=details,
                )
            )

    async def run(self, name: str, scenario: str, *, by: str, service: str = "portal") -> int:
        plan = self.orch.plan(name)
        now = self.orch.clock()
        drill_id = await asyncio.to_thread(self._open, plan, scenario, by, now)
        problems: list[str] = []
        try:
            if scenario == "tabletop":
                await self._tabletop(plan, drill_id, by, problems)
            else:
                await self._real(plan, scenario, service, drill_id, by, problems)
        except Exception as exc:  # recorded in the report; the drill still closes its period
            problems.append(f"drill stopped: {exc}")
        await asyncio.to_thread(self._close, plan, drill_id, scenario, problems)
        return drill_id

    def _limit(self, plan: Plan) -> float:
        return self.max_wait or plan.objectives.rto * 3

    def _open(self, plan: Plan, scenario: str, by: str, now: float) -> int:
        row = {"plan": plan.name, "scenario": scenario, "state": "running", "started": now}
        with self.engine.begin() as conn:
            res = conn.execute(drills.insert().values(actor=by, summary={}, **row))
            drill_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        what = f"DR drill {scenario} of {plan.name}"
        if scenario != "tabletop":  # a tabletop injects no fault: its time stays counted
            window = Exclusion(
                now, now + 3 * self._limit(plan) + 600, f"drill-{drill_id}", what, (),
                (plan.primary, plan.mirror),
            )  # fmt: skip
            period = add_drill(self.engine, window, now=now, created_by=by)
            with self.engine.begin() as conn:
                conn.execute(drills.update().where(drills.c.id == drill_id)
                             .values(summary={"period_id": period}))  # fmt: skip
        self.mark(drill_id, "announced", f"{what} by {by}", ts=now)
        text = f"DR drill {drill_id} ({scenario}) starts - this is an exercise"
        self.orch.ledger.stage(
            now, plan.name, "drill_started", text, severity="major", drill_id=drill_id, actor=by
        )
        return drill_id

    async def _tabletop(self, plan: Plan, drill_id: int, by: str, problems: list[str]) -> None:
        await asyncio.to_thread(self.mark, drill_id, "decision", "tabletop: failover assumed")
        out = await self.orch.run_manual(plan.name, by=by, check=True, drill_id=drill_id)
        if isinstance(out, RunOutcome):
            await asyncio.to_thread(self._record_run, drill_id, out.run_id, problems)
        else:
            problems.append(f"no failover run: {out.message if out else 'lease held elsewhere'}")
        back = await self.orch.failback(plan.name, by=by, check=True, drill_id=drill_id)
        if back is not None:
            await asyncio.to_thread(
                self.mark, drill_id, "failback_done", f"failback run {back.run_id}: {back.state}"
            )

    async def _real(
        self, plan: Plan, scenario: str, service: str, drill_id: int, by: str, problems: list[str]
    ) -> None:
        faults = self.faults(plan)
        fault_at = self.orch.clock()
        what = await asyncio.to_thread(faults.inject, scenario, service)
        await asyncio.to_thread(self.mark, drill_id, "fault_injected", what, fault_at)
        try:
            await self._until_failed_over(plan, drill_id, by, fault_at, problems)
        finally:
            await asyncio.to_thread(faults.clear)
            await asyncio.to_thread(self.mark, drill_id, "fault_cleared")
        if not await self._wait(lambda: self._trigger(plan).status == "healthy", plan):
            problems.append("the primary was not healthy after the fault was cleared: no failback")
            return
        back = await self.orch.failback(plan.name, by=by, drill_id=drill_id)
        state = back.state if back else "not run (lease held)"
        if back is None or back.state != "succeeded":
            problems.append(f"failback: {state}")
        await asyncio.to_thread(self.mark, drill_id, "failback_done", f"failback: {state}")

    async def _until_failed_over(
        self, plan: Plan, drill_id: int, by: str, fault_at: float, problems: list[str]
    ) -> None:
        deadline = time.monotonic() + self._limit(plan)
        seen: set[str] = set()
        while time.monotonic() < deadline:
            await asyncio.to_thread(self._detect, plan, drill_id, fault_at, seen)
            if "confirmed_down" in seen:
                run = await asyncio.to_thread(self._run_since, plan, fault_at)
                if run is not None and run.state != "running":
                    await asyncio.to_thread(self._record_run, drill_id, run.id, problems)
                    return
                if run is None and not await self._act(plan, drill_id, by, problems):
                    return
            await asyncio.sleep(self.poll)
        problems.append("gave up waiting for detection and failover")

    async def _act(self, plan: Plan, drill_id: int, by: str, problems: list[str]) -> bool:
        """Evaluate the plan as the service would (a no-op if the service runs it first).
        False when the decision is a refusal the drill cannot wait out."""
        result: RunOutcome | FailoverDecision = await self.orch.tick(plan.name, drill_id=drill_id)
        if isinstance(result, FailoverDecision) and result.reason == "needs_approval":
            await asyncio.to_thread(
                self.orch.approve, plan.name, f"drill:{by}", f"drill {drill_id}"
            )
            return True
        if isinstance(result, FailoverDecision) and result.reason == "mode_off":
            result = await self.orch.run_manual(plan.name, by=by, drill_id=drill_id)
        refused = isinstance(result, FailoverDecision) and result.action == "refuse"
        if refused and result.reason not in _TRANSIENT:  # type: ignore[union-attr]
            problems.append(f"refused: {result.reason}: {result.message}")  # type: ignore[union-attr]
            return False
        return True

    def _run_since(self, plan: Plan, since: float) -> sa.Row | None:
        r = failover_runs.c
        q = (
            sa.select(failover_runs)
            .where(r.plan == plan.name, r.kind == "failover", r.check_mode.is_(False))
            .where(r.started >= since)
            .order_by(r.id.desc())
            .limit(1)
        )
        with self.engine.connect() as conn:
            return conn.execute(q).first()

    def _trigger(self, plan: Plan) -> Any:
        subjects = self.orch.subjects(plan)
        mine = [subjects.specs[s] for s in subjects.trigger]
        obs = observe.observations(self.engine, mine)
        return evaluate_trigger(
            plan.trigger, subjects.trigger, subjects.specs, obs, self.orch.clock()
        )

    def _detect(self, plan: Plan, drill_id: int, fault_at: float, seen: set[str]) -> None:
        if "first_failed_probe" not in seen:
            checks = [f"{s}/%" for s in self.orch.subjects(plan).trigger]
            q = sa.select(sa.func.min(results.c.ts)).where(
                results.c.ts >= fault_at,
                results.c.status == "down",
                sa.or_(*(results.c.check_id.like(c) for c in checks)),
            )
            with self.engine.connect() as conn:
                ts = conn.execute(q).scalar()
            if ts is not None:
                self.mark(drill_id, "first_failed_probe", ts=ts)
                seen.add("first_failed_probe")
        trig = self._trigger(plan)
        if trig.status == "confirmed" and trig.since is not None:
            now = self.orch.clock()
            at = max(self._confirmed_at(plan, trig) or now, fault_at)
            self.mark(
                drill_id, "confirmed_down", trig.message, ts=at,
                vantages=list(trig.down_vantages), observed_at=now,
            )  # fmt: skip
            facts = preflight.measure(plan)
            self.mark(
                drill_id,
                "preflight",
                "pre-flight figures",
                replication_lag=facts.replication_lag,
                capacity=facts.capacity,
                lag_error=facts.lag_error,
            )
            seen.add("confirmed_down")

    def _confirmed_at(self, plan: Plan, trig: Any) -> float | None:
        """When the results completing the confirmation were measured: per service, the K-th
        earliest first "down" result at or after ``held_since + confirm_for`` among the vantage
        points seeing it down (independent of when this drill polled)."""
        times = []
        for q in trig.services:
            if q.held_since is None:
                continue
            start = q.held_since + plan.trigger.confirm_for
            firsts = []
            for vantage in q.down:
                sel = sa.select(sa.func.min(results.c.ts)).where(
                    results.c.check_id.like(f"{q.service}/%"), results.c.vantage == vantage,
                    results.c.status == "down", results.c.ts >= start,
                )  # fmt: skip
                with self.engine.connect() as conn:
                    ts = conn.execute(sel).scalar()
                if ts is not None:
                    firsts.append(float(ts))
            if len(firsts) >= q.needed:
                times.append(sorted(firsts)[q.needed - 1])
        if not times:
            return None
        return max(times) if plan.trigger.require == "all" else min(times)

    def _record_run(self, drill_id: int, run_id: int, problems: list[str]) -> None:
        """The run's marks, from the store (whichever instance ran it)."""
        row = self.orch.ledger.run(run_id)
        assert row is not None  # the run row is written before the playbook starts
        self.mark(drill_id, "decision", f"run {run_id} ({row.trigger}) by {row.owner}", row.started)
        if row.playbook_started is not None:
            self.mark(drill_id, "playbook_start", ts=row.playbook_started)
        if row.playbook_finished is not None:
            self.mark(drill_id, "playbook_end", f"run {run_id}", row.playbook_finished)
        first_pass: dict[str, float] = {}
        for audit in self.orch.ledger.audit_rows(run_id=run_id):
            if audit.action in ("verified", "failed"):
                first_pass.update((audit.details or {}).get("first_pass") or {})
        if first_pass:
            self.mark(drill_id, "first_user_probe_ok", ts=min(first_pass.values()))
        if row.verified_at is not None:
            self.mark(drill_id, "all_journeys_green", ts=row.verified_at)
        if row.state not in ("verified", "succeeded"):
            problems.append(f"failover run {run_id}: {row.state}: {row.error or ''}".rstrip())

    async def _wait(self, cond: Callable[[], bool], plan: Plan) -> bool:
        deadline = time.monotonic() + self._limit(plan)
        while time.monotonic() < deadline:
            if await asyncio.to_thread(cond):
                return True
            await asyncio.sleep(self.poll)
        return False

    def _close(self, plan: Plan, drill_id: int, scenario: str, problems: list[str]) -> None:
        now = self.orch.clock()
        self.mark(drill_id, "finished", ts=now)
        marks = load_marks(self.engine, drill_id)
        summary = summarise(plan, marks, problems, tabletop=scenario == "tabletop")
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(drills).where(drills.c.id == drill_id)).one()
            period = (row.summary or {}).get("period_id")
            conn.execute(
                drills.update()
                .where(drills.c.id == drill_id)
                .values(
                    state="failed" if summary.problems else "done",
                    finished=now,
                    summary={"period_id": period, **summary.as_dict()},
                )
            )
            if period is not None:  # a new record ends the period: the first one stays as written
                end_drill_period(
                    conn, int(period), end=now, now=now, by=str(row.actor),
                    reason=f"DR drill {drill_id} finished: its period ends when it did",
                )  # fmt: skip
        rto = f"RTO {summary.rto:.1f}s" if summary.rto is not None else "RTO not reached"
        outcome = "; ".join(summary.problems) or "no problems"
        self.orch.ledger.stage(
            now, plan.name, "drill_finished", f"DR drill {drill_id} finished: {rto}; {outcome}",
            severity="major", drill_id=drill_id,
        )  # fmt: skip


def drill_outcome(engine: sa.Engine, drill_id: int) -> dict[str, Any] | None:
    """A drill's outcome as ``drill run`` prints it and the API's drill job holds it: state,
    objectives (measured, target, met) and problems; None if there is no such drill."""
    with engine.connect() as conn:
        row = conn.execute(sa.select(drills).where(drills.c.id == drill_id)).first()
    if row is None:
        return None
    summary = row.summary or {}
    return {
        "drill_id": drill_id,
        "plan": row.plan,
        "state": row.state,
        "objectives": list(summary.get("objectives", [])),
        "problems": list(summary.get("problems", [])),
    }


def sign_off(
    engine: sa.Engine, drill_id: int, *, role: str, by: str, now: float, note: str = ""
) -> int:
    """Record ``by``'s sign-off of finished drill ``drill_id`` as ``role`` (one per role, never
    changed) and its row in the hash-chained audit log, in one transaction; returns its id."""
    from sqlalchemy.exc import IntegrityError

    from threenines.core import audit

    if role not in SIGN_ROLES:
        raise SignOffError(f"unknown role {role!r} (one of: {', '.join(SIGN_ROLES)})")
    if not by.strip():
        raise SignOffError("a sign-off needs --by NAME")
    s = drill_signoffs.c
    with engine.begin() as conn:
        row = conn.execute(sa.select(drills.c.state).where(drills.c.id == drill_id)).first()
        if row is None:
            raise LookupError(f"no drill {drill_id}")
        if row.state == "running":
            raise SignOffError(f"drill {drill_id} is still running: sign it off once it ends")
        try:
            with conn.begin_nested():
                res = conn.execute(drill_signoffs.insert().values(
                    drill_id=drill_id, role=role, name=by, signed_at=now, note=note))  # fmt: skip
        except IntegrityError:
            name = conn.execute(sa.select(s.name).where(s.drill_id == drill_id, s.role == role)
                                ).scalar()  # fmt: skip
            raise SignOffError(f"drill {drill_id} was signed off as {role} by {name}: a "
                               "sign-off is never changed") from None  # fmt: skip
        audit.append(conn, ts=now, actor=by[:64], action="drill_signed",
                     subject=f"drill-signoff:{drill_id}",
                     detail={"drill": drill_id, "role": role, "note": note})  # fmt: skip
        return int(res.inserted_primary_key[0])  # type: ignore[index]


def load_marks(engine: sa.Engine, drill_id: int) -> list[Mark]:
    q = sa.select(drill_marks).where(drill_marks.c.drill_id == drill_id).order_by(drill_marks.c.ts)
    with engine.connect() as conn:
        return [Mark(r.ts, r.kind, r.message, r.details or {}) for r in conn.execute(q)]
