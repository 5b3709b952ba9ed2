"""The failover decision: a pure function of observations, history and an explicit ``now``.

``decide`` never does I/O and never reads a clock. The orchestrator gathers the inputs (each
check's open interval per vantage point from the store, previous runs and approvals, the
replication-lag and capacity figures) and performs whatever the returned ``FailoverDecision``
says. Service states come only from the state rule (``threenines.availability.state``), through
``failover.quorum``.

Order of the rules (the first that applies wins), for an automatic decision:
1. trigger: healthy, no data or quorum not reached -> wait; some vantage points see it down
   but the trigger does not hold -> refuse ``quorum_not_met``; held for less than
   ``confirm_for`` -> wait;
2. guards: mode off; a run in progress (wait); an interrupted run (an operator must look, it is
   never re-run automatically); already failed over (wait); cooldown; runs per day;
3. pre-flight on the mirror: each service up (or degraded) by the rule and seen so from
   ``min_vantage_points`` vantage points on their own, replication lag within the RPO,
   capacity at least the required share;
4. approve mode: a valid, unused, unexpired approval, else refuse ``needs_approval``.
A manual run (an operator's ``failover run``) skips the trigger, mode, approval, cooldown and
the already-failed-over rule; ``force`` also skips pre-flight and the daily limit.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from threenines.availability.state import LABELS, ServiceSpec
from threenines.failover.config import Plan
from threenines.failover.quorum import (
    HEALTHY,
    Observation,
    TriggerState,
    evaluate_trigger,
    mirror_health,
)

Action = Literal["fail_over", "wait", "refuse"]
DAY = 86400.0
# Run states that mean the playbook changed (or may have changed) the estate.
FAILED_OVER = frozenset({"verified", "unverified"})
FINISHED_OK = frozenset({"verified", "unverified", "succeeded"})


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    plan: str
    kind: Literal["failover", "failback"]
    state: str  # running | verified | unverified | succeeded | failed | timeout | canceled | ...
    started: float
    finished: float | None = None
    check_mode: bool = False


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    id: int
    plan: str
    granted_at: float
    expires_at: float
    by: str = ""
    used_by_run: int | None = None


@dataclass(frozen=True, slots=True)
class PreflightFacts:
    """Measured by the orchestrator just before deciding; ``None`` means "could not measure"."""

    replication_lag: float | None = None
    lag_error: str | None = None
    capacity: float | None = None
    capacity_error: str | None = None


@dataclass(frozen=True, slots=True)
class Subjects:
    """The plan's services, resolved from the config (see ``failover.config``), and what the
    state rule needs of each (``availability.state.spec_for``)."""

    trigger: tuple[str, ...]
    mirror: tuple[str, ...]
    specs: Mapping[str, ServiceSpec] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class FailoverDecision:
    action: Action
    reason: str  # machine-readable code
    message: str
    trigger: TriggerState | None = None
    approval_id: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def key(self) -> tuple[str, str]:
        """What changes when the decision changes (events are emitted on change only)."""
        return (self.action, self.reason)


def _wait(reason: str, message: str, **kw: Any) -> FailoverDecision:
    return FailoverDecision("wait", reason, message, **kw)


def _refuse(reason: str, message: str, **kw: Any) -> FailoverDecision:
    return FailoverDecision("refuse", reason, message, **kw)


def decide(
    plan: Plan,
    subjects: Subjects,
    observations: Sequence[Observation],
    runs: Sequence[RunRecord],
    approvals: Sequence[ApprovalRecord],
    facts: PreflightFacts | None,
    now: float,
    *,
    manual: bool = False,
    force: bool = False,
) -> FailoverDecision:
    """Say whether ``plan`` should fail over now. Pure: same inputs, same answer."""
    trig = evaluate_trigger(plan.trigger, subjects.trigger, subjects.specs, observations, now)
    if not manual:
        early = _trigger_rule(plan, trig)
        if early is not None:
            return early
    real = [r for r in runs if r.plan == plan.name and not r.check_mode]
    guard = _guard_rules(plan, real, now, manual=manual, force=force)
    if guard is not None:
        return _with_trigger(guard, trig)
    if not force:
        pre = _preflight_rules(plan, subjects, observations, facts, now)
        if pre is not None:
            return _with_trigger(pre, trig)
    if manual:
        return FailoverDecision("fail_over", "manual", "an operator asked for it", trig)
    if plan.guards.mode == "approve":
        valid = [
            a
            for a in approvals
            if a.plan == plan.name and a.used_by_run is None and a.granted_at <= now < a.expires_at
        ]
        if not valid:
            return _refuse(
                "needs_approval",
                f"to fail over, run `threenines failover approve {plan.name}` or POST "
                f"/api/v1/failover/{plan.name}/approve with an operator token",
                trigger=trig,
            )
        return FailoverDecision(
            "fail_over", "approved", f"approved by {valid[0].by}", trig, valid[0].id
        )
    return FailoverDecision("fail_over", "confirmed", trig.message, trig)


def _with_trigger(d: FailoverDecision, trig: TriggerState) -> FailoverDecision:
    return FailoverDecision(d.action, d.reason, d.message, trig, d.approval_id, d.details)


def _trigger_rule(plan: Plan, trig: TriggerState) -> FailoverDecision | None:
    if trig.status == "healthy":
        return _wait("primary_healthy", trig.message, trigger=trig)
    if trig.status == "no_data":
        return _wait("no_data", trig.message, trigger=trig)
    if trig.status == "partial":
        return _refuse("quorum_not_met", trig.message, trigger=trig)
    if trig.status == "confirming":
        return _wait("confirming", trig.message, trigger=trig)
    if plan.guards.mode == "off":
        return _refuse("mode_off", f"{trig.message}; automatic failover is off", trigger=trig)
    return None


def _guard_rules(
    plan: Plan, runs: Sequence[RunRecord], now: float, *, manual: bool, force: bool
) -> FailoverDecision | None:
    if any(r.state == "running" for r in runs):
        return _wait("run_in_progress", "a run of this plan is in progress")
    latest = max(runs, key=lambda r: r.started, default=None)
    if not manual and latest is not None and latest.state == "interrupted":
        return _refuse(
            "interrupted",
            f"run {latest.id} was interrupted; check the estate, then run it by hand",
        )
    if not manual and failed_over(runs):
        return _wait("failed_over", "already failed over to the mirror; fail back by hand")
    if not manual and latest is not None:
        since = latest.finished if latest.finished is not None else latest.started
        if now - since < plan.guards.cooldown:
            return _refuse(
                "cooldown",
                f"last run {latest.id} ended {now - since:.0f}s ago "
                f"(cooldown {plan.guards.cooldown:.0f}s)",
            )
    today = [r for r in runs if r.kind == "failover" and now - DAY < r.started <= now]
    if not force and len(today) >= plan.guards.max_runs_per_day:
        return _refuse(
            "limit_reached",
            f"{len(today)} runs in the last 24 h (maximum {plan.guards.max_runs_per_day})",
        )
    return None


def failed_over(runs: Sequence[RunRecord]) -> bool:
    """True when the latest completed switch was a failover, not a failback."""
    done = [r for r in runs if r.state in FINISHED_OK]
    latest = max(done, key=lambda r: r.started, default=None)
    return latest is not None and latest.kind == "failover"


def _preflight_rules(
    plan: Plan,
    subjects: Subjects,
    observations: Sequence[Observation],
    facts: PreflightFacts | None,
    now: float,
) -> FailoverDecision | None:
    pre = plan.preflight
    fresh_within = plan.trigger.fresh_within
    sick = []
    for service in subjects.mirror:
        state, ok = mirror_health(subjects.specs[service], observations, now, fresh_within)
        if state not in HEALTHY or len(ok) < pre.min_vantage_points:
            label = LABELS.get(state, state)
            sick.append(f"{service} ({label}; {len(ok)}/{pre.min_vantage_points} vantage points)")
    if sick or not subjects.mirror:
        what = ", ".join(sick) if sick else "no mirror services configured"
        return _refuse("mirror_unhealthy", f"mirror not healthy: {what}")
    facts = facts or PreflightFacts()
    if pre.replication_lag is not None and pre.rpo is not None:
        if facts.replication_lag is None:
            why = facts.lag_error or "not measured"
            return _refuse("replication_lag_unknown", f"replication lag unknown: {why}")
        if facts.replication_lag > pre.rpo:
            return _refuse(
                "replication_lag",
                f"replication lag {facts.replication_lag:.0f}s exceeds the RPO {pre.rpo:.0f}s",
            )
    if pre.capacity is not None:
        if facts.capacity is None:
            why = facts.capacity_error or "not measured"
            return _refuse("capacity_unknown", f"mirror capacity unknown: {why}")
        if facts.capacity < pre.capacity.required:
            return _refuse(
                "capacity",
                f"mirror serves {facts.capacity:.0%} of users, "
                f"{pre.capacity.required:.0%} required",
            )
    return None
