"""A drill's timeline and what it proves (pure): RTO, detection time, RPO, capacity, problems.

Marks are (time, kind) pairs recorded while the drill runs. The figures are differences
between marks; objectives are met or missed (or "not measured" when a mark is missing, which
a report must show as such, never as met).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from threenines.failover.config import Plan

# The marks, in the order a drill normally produces them, with the label a report shows.
MARKS: dict[str, str] = {
    "announced": "Drill announced",
    "fault_injected": "Fault injected",
    "first_failed_probe": "First failed probe",
    "confirmed_down": "Confirmed down (quorum)",
    "decision": "Failover decided",
    "playbook_start": "Playbook started",
    "playbook_end": "Playbook finished",
    "first_user_probe_ok": "First user probe OK via the mirror",
    "all_journeys_green": "All user journeys green (RTO)",
    "fault_cleared": "Fault cleared",
    "failback_done": "Failback done",
    "finished": "Drill finished",
}


@dataclass(frozen=True, slots=True)
class Mark:
    ts: float
    kind: str
    message: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Objective:
    name: str
    target: str
    measured: str
    met: bool | None  # None: not measured


@dataclass(frozen=True, slots=True)
class DrillSummary:
    rto: float | None
    detection: float | None
    rpo: float | None
    capacity: float | None
    objectives: tuple[Objective, ...]
    problems: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "rto": self.rto,
            "detection": self.detection,
            "rpo": self.rpo,
            "capacity": self.capacity,
            "objectives": [
                {"name": o.name, "target": o.target, "measured": o.measured, "met": o.met}
                for o in self.objectives
            ],
            "problems": list(self.problems),
        }


def first(marks: Sequence[Mark], kind: str) -> Mark | None:
    return min((m for m in marks if m.kind == kind), key=lambda m: m.ts, default=None)


def _between(marks: Sequence[Mark], a: str, b: str) -> float | None:
    ma, mb = first(marks, a), first(marks, b)
    return None if ma is None or mb is None else mb.ts - ma.ts


def _lag_text(lag: float | None, error: str | None) -> str:
    if lag is not None:
        return f"{lag:.1f}s"
    return f"not measured ({error})" if error else "not measured"


def summarise(
    plan: Plan, marks: Sequence[Mark], problems: Sequence[str] = (), *, tabletop: bool = False
) -> DrillSummary:
    """The drill's figures and objectives. A tabletop drill injects no fault: only the
    playbook marks are expected, and RTO is "not reached" by design."""
    rto = _between(marks, "fault_injected", "all_journeys_green")
    detection = _between(marks, "fault_injected", "confirmed_down")
    facts = first(marks, "preflight")
    rpo = facts.details.get("replication_lag") if facts else None
    lag_error = facts.details.get("lag_error") if facts else None
    capacity = facts.details.get("capacity") if facts else None
    rpo_target = plan.objectives.rpo or plan.preflight.rpo
    objectives = [
        Objective(
            "RTO (fault to all user journeys green)",
            f"<= {plan.objectives.rto:g}s",
            "not reached" if rto is None else f"{rto:.1f}s",
            None if rto is None else rto <= plan.objectives.rto,
        ),
        Objective(
            "RPO (data loss window: replication lag)",
            "not set" if rpo_target is None else f"<= {rpo_target:g}s",
            _lag_text(rpo, lag_error),
            None if rpo is None or rpo_target is None else rpo <= rpo_target,
        ),
        Objective(
            "Capacity on the mirror (share of users)",
            f">= {plan.objectives.capacity:.0%}",
            "not measured" if capacity is None else f"{capacity:.0%}",
            None if capacity is None else capacity >= plan.objectives.capacity,
        ),
    ]
    found = list(problems)
    expected = (
        ("playbook_end",) if tabletop else ("confirmed_down", "playbook_end", "all_journeys_green")
    )
    for kind in expected:
        if first(marks, kind) is None:
            found.append(f"never reached: {MARKS[kind]}")
    return DrillSummary(rto, detection, rpo, capacity, tuple(objectives), tuple(found))
