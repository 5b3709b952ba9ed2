"""DR drills: announce, tag the period, inject the fault, let detection and failover happen,
fail back, and record the timeline.

Scenarios: ``dc-cut`` and ``service-stop`` inject a real fault (the lab's faults when the lab is
up, otherwise the plan's fault playbooks); ``tabletop`` injects nothing and runs the failover
and failback playbooks in check mode. Drill events carry the ``drill`` tag (alerts send them to
the drill route; on-call is not paged) and the period is written to the availability engine's
``drill_periods`` so it is excluded from SLA figures.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from failover import observe, preflight
from failover.config import Plan
from failover.decide import FailoverDecision
from failover.orchestrator import Orchestrator, RunOutcome
from failover.quorum import evaluate_trigger
from failover.timeline import MARKS, Mark, summarise
from threenines.availability.schedule import Exclusion
from threenines.store.availability import add_drill, drill_periods
from threenines.store.failover import drill_marks, drills
from threenines.store.tables import results

SCENARIOS = ("dc-cut", "service-stop", "tabletop")


class Faults:
    """Fault injection: the lab's Python API when the lab is up, else the plan's playbooks."""

    def __init__(self, orch: Orchestrator, plan: Plan, lab_dir: Path | None = None):
        self.orch, self.plan, self.lab_dir = orch, plan, lab_dir
        self.lab_fault: int | None = None

    def _lab(self) -> Any:
        try:
            import lab
        except ImportError:
            return None
        root = self.lab_dir or lab.DEFAULT_DIR
        return lab if Path(root).is_dir() and (Path(root) / "haproxy.sock").exists() else None

    def inject(self, scenario: str, service: str) -> str:
        lab = self._lab()
        if lab is not None:
            value = service if scenario == "service-stop" else None
            fault = lab.fault_add(scenario, self.plan.primary, value)
            self.lab_fault = fault.id
            return f"lab fault {fault.id}: {fault.describe()}"
        spec = self.plan.faults.dc_cut if scenario == "dc-cut" else self.plan.faults.service_stop
        if spec is None:
            raise RuntimeError(f"no lab and no fault playbook for {scenario} in the plan's faults")
        out = self._play(spec, "fault")
        if not out.ok:
            raise RuntimeError(f"fault playbook failed: {out.error}")
        return f"fault playbook {spec.path}"

    def clear(self) -> None:
        if self.lab_fault is not None:
            self._lab().fault_clear(self.lab_fault)
        elif self.plan.faults.clear is not None:
            self._play(self.plan.faults.clear, "clear")

    def _play(self, spec: Any, what: str) -> Any:
        cfg = self.orch.cfg.failover
        return self.orch.run_playbook(
            spec,
            project_dir=cfg.project_dir,
            data_dir=cfg.data_dir,
            ident=f"drill-{what}-{time.time_ns()}",
        )


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

    def _open(self, plan: Plan, scenario: str, by: str, now: float) -> int:
        limit = self.max_wait or plan.objectives.rto * 3
        row = {"plan": plan.name, "scenario": scenario, "state": "running", "started": now}
        with self.engine.begin() as conn:
            res = conn.execute(drills.insert().values(actor=by, summary={}, **row))
            drill_id = int(res.inserted_primary_key[0])  # type: ignore[index]
        period = add_drill(
            self.engine,
            Exclusion(
                now,
                now + limit + 600,
                f"drill-{drill_id}",
                f"DR drill {scenario} of {plan.name}",
                (),
                (plan.primary, plan.mirror),
            ),
            now=now,
            created_by=by,
        )
        with self.engine.begin() as conn:
            conn.execute(
                drills.update().where(drills.c.id == drill_id).values(summary={"period_id": period})
            )
        self.mark(drill_id, "announced", f"DR drill {scenario} of {plan.name} by {by}", ts=now)
        self.orch.ledger.stage(
            now,
            plan.name,
            "drill",
            f"DR drill {drill_id} ({scenario}) starts - this is an exercise",
            site=plan.primary,
            drill_id=drill_id,
        )
        return drill_id

    async def _tabletop(self, plan: Plan, drill_id: int, by: str, problems: list[str]) -> None:
        self.mark(drill_id, "decision", "tabletop: failover assumed decided")
        out = await self.orch.run_manual(plan.name, by=by, check=True, drill_id=drill_id)
        self._record_run(drill_id, out, problems)
        back = await self.orch.failback(plan.name, by=by, check=True, drill_id=drill_id)
        if back is not None:
            self.mark(drill_id, "failback_done", f"failback run {back.run_id}: {back.state}")

    async def _real(
        self, plan: Plan, scenario: str, service: str, drill_id: int, by: str, problems: list[str]
    ) -> None:
        faults = self.faults(plan)
        fault_at = self.orch.clock()
        what = await asyncio.to_thread(faults.inject, scenario, service)
        self.mark(drill_id, "fault_injected", what, ts=fault_at)
        try:
            await self._until_failed_over(plan, drill_id, by, fault_at, problems)
        finally:
            await asyncio.to_thread(faults.clear)
            self.mark(drill_id, "fault_cleared")
        await self._wait(lambda: self._trigger(plan).status == "healthy", plan)
        back = await self.orch.failback(plan.name, by=by, drill_id=drill_id)
        if back is None or back.state != "succeeded":
            problems.append(f"failback: {back.state if back else 'not run (lease held)'}")
        self.mark(drill_id, "failback_done", f"failback: {back.state if back else 'not run'}")

    async def _until_failed_over(
        self, plan: Plan, drill_id: int, by: str, fault_at: float, problems: list[str]
    ) -> None:
        deadline = time.monotonic() + (self.max_wait or plan.objectives.rto * 3)
        seen: set[str] = set()
        while time.monotonic() < deadline:
            await asyncio.to_thread(self._detect, plan, drill_id, fault_at, seen)
            if "confirmed_down" in seen:
                result = await self.orch.tick(plan.name, drill_id=drill_id)
                if isinstance(result, FailoverDecision) and result.reason == "needs_approval":
                    self.orch.approve(plan.name, by=f"drill:{by}", note=f"drill {drill_id}")
                    continue
                if isinstance(result, FailoverDecision) and result.reason == "mode_off":
                    result = await self.orch.run_manual(plan.name, by=by, drill_id=drill_id)
                if isinstance(result, RunOutcome):
                    self._record_run(drill_id, result, problems)
                    return
                if result.action == "refuse":
                    problems.append(f"refused: {result.reason}: {result.message}")
                    if result.reason not in ("cooldown", "quorum_not_met"):
                        return
            await asyncio.sleep(self.poll)
        problems.append("gave up waiting for detection and failover")

    def _trigger(self, plan: Plan) -> Any:
        subjects = self.orch.subjects(plan)
        obs = observe.observations(self.engine, subjects.trigger)
        return evaluate_trigger(plan.trigger, subjects.trigger, obs, self.orch.clock())

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
            at = max(trig.since + plan.trigger.confirm_for, fault_at)
            self.mark(
                drill_id, "confirmed_down", trig.message, ts=at, vantages=list(trig.down_vantages)
            )
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

    def _record_run(
        self, drill_id: int, out: RunOutcome | FailoverDecision | None, problems: list[str]
    ) -> None:
        if not isinstance(out, RunOutcome):
            problems.append(f"no failover run: {out.message if out else 'lease held elsewhere'}")
            return
        row = self.orch.ledger.run(out.run_id)
        assert row is not None  # the run row is written before the playbook starts
        self.mark(drill_id, "decision", f"run {out.run_id} ({row.trigger})", ts=row.started)
        self.mark(drill_id, "playbook_start", ts=out.playbook.started)
        self.mark(
            drill_id, "playbook_end", f"{out.playbook.changed} change(s)", ts=out.playbook.finished
        )
        v = out.verification
        if v is not None and v.first_green_at is not None:
            self.mark(drill_id, "first_user_probe_ok", ts=v.first_green_at)
        if v is not None and v.all_green_at is not None:
            self.mark(drill_id, "all_journeys_green", ts=v.all_green_at)
        if out.state not in ("verified", "succeeded"):
            problems.append(f"failover run {out.run_id}: {out.state}: {out.playbook.error or ''}")

    async def _wait(self, cond: Callable[[], bool], plan: Plan) -> bool:
        deadline = time.monotonic() + (self.max_wait or plan.objectives.rto * 3)
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
            if period is not None:
                conn.execute(
                    drill_periods.update().where(drill_periods.c.id == period).values(end=now)
                )
        self.orch.ledger.stage(
            now,
            plan.name,
            "drill",
            f"DR drill {drill_id} finished",
            site=plan.primary,
            drill_id=drill_id,
        )


def load_marks(engine: sa.Engine, drill_id: int) -> list[Mark]:
    q = sa.select(drill_marks).where(drill_marks.c.drill_id == drill_id).order_by(drill_marks.c.ts)
    with engine.connect() as conn:
        return [Mark(r.ts, r.kind, r.message, r.details or {}) for r in conn.execute(q)]
