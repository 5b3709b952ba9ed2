"""The failover trigger: the state rule's service state, and how long it is known to hold (pure).

A trigger service counts as down only while the state rule (``threenines.availability.state``)
says the service is down: check by check, a quorum of fresh vantage points, then the service's
``combine`` and ``devices``, exactly as availability counts it. ``no_quorum`` ("quorum not
reached") and no data never trigger. The trigger may ask for more, never for less: it holds
only while, besides the rule, the service is also down when counted with the trigger's own
requirement (``Trigger.quorum`` vantage points per down check, a majority of them with
``majority``, only ``vantage_points`` if given, only results newer than ``fresh_within``).

The trigger has held since the later of the two down runs began, and is *known* to hold until
the results themselves stop showing it: the same two evaluations with each open interval ending
at its last result instead of holding for the grace (``held_until``). Confirmation needs that
evidence: the trigger must be known to hold for ``confirm_for`` (``held_until - held_since``),
not merely have begun that long ago. A single failed probe per vantage point, whose "down"
interval stays open until the next result arrives, therefore never confirms an outage on its
own, however late the evaluation runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from threenines.availability.state import (
    DEGRADED,
    DOWN,
    LABELS,
    NO_DATA,
    UP,
    Rows,
    ServiceSpec,
    service_state_at,
    timeline_of,
)
from threenines.availability.timeline import IntervalRow, Seg, state_at, sweep
from threenines.failover.config import Trigger

HEALTHY = frozenset({UP, DEGRADED})


@dataclass(frozen=True, slots=True)
class Observation:
    """The open state interval of ``check_id`` (or a device component) seen from ``vantage``:
    in ``state`` since ``since``, last confirmed at ``last_seen``."""

    check_id: str
    vantage: str
    state: str  # up | degraded | down | unknown
    since: float
    last_seen: float
    error: str | None = None
    reason: str = ""

    @property
    def service(self) -> str:
        return self.check_id.partition("/")[0]


@dataclass(frozen=True, slots=True)
class ServiceQuorum:
    service: str
    state: str  # the state rule's: up | degraded | down | no_quorum | unknown
    down: tuple[str, ...]  # vantage points the trigger counts that see a check down (fresh)
    fresh: int  # vantage points the trigger counts with fresh results
    needed: int  # vantage points the trigger needs per down check
    held_since: float | None  # when the trigger started to hold, None if it does not
    held_until: float | None = None  # the latest time the results show it holding
    reason: str = ""
    # seen down below quorum: a counted vantage point sees a check down that is not down by
    # both the rule and the trigger, or the rule says down and the trigger does not hold
    below: bool = False

    @property
    def label(self) -> str:
        return LABELS.get(self.state, self.state)


@dataclass(frozen=True, slots=True)
class TriggerState:
    status: Literal["healthy", "no_data", "partial", "confirming", "confirmed"]
    message: str
    since: float | None = None  # the trigger condition has held since
    services: tuple[ServiceQuorum, ...] = field(default_factory=tuple)
    until: float | None = None  # ... and is known to hold until (the evidence's latest time)

    @property
    def down_vantages(self) -> tuple[str, ...]:
        return tuple(sorted({v for s in self.services for v in s.down}))


def rows_of(
    observations: Iterable[Observation],
    *,
    now: float | None = None,
    fresh_within: float | None = None,
) -> dict[tuple[str, str], list[IntervalRow]]:
    """Observations as the rule's input: the newest per (check, vantage); with ``fresh_within``
    (and ``now``) only those confirmed that recently."""
    newest: dict[tuple[str, str], Observation] = {}
    for o in observations:
        if fresh_within is not None and now is not None and now - o.last_seen > fresh_within:
            continue
        key = (o.check_id, o.vantage)
        if key not in newest or o.since > newest[key].since:
            newest[key] = o
    return {
        k: [IntervalRow(o.state, o.since, None, o.last_seen, o.error, o.reason)]
        for k, o in newest.items()
    }  # fmt: skip


def trigger_view(trigger: Trigger, spec: ServiceSpec) -> ServiceSpec:
    """The service counted with the trigger's own requirement (used besides the rule)."""
    return spec.counted(k=trigger.quorum, majority=trigger.majority,
                        vantages=trigger.vantage_points)  # fmt: skip


def _both_down(a: Rows, b: Rows, spec: ServiceSpec, view: ServiceSpec, now: float) -> list[Seg]:
    """Where the rule and the trigger's view both say down, by the results' own evidence."""
    ev = [timeline_of(spec, a, now, evidence=True), timeline_of(view, b, now, evidence=True)]
    return sweep(ev, lambda s: (DOWN, "") if all(x and x.state == DOWN for x in s) else None)


def service_quorum(
    trigger: Trigger, spec: ServiceSpec, observations: Iterable[Observation], now: float
) -> ServiceQuorum:
    """The rule's state of one trigger service and whether (and since when) the trigger holds."""
    obs = list(observations)
    everything = rows_of(obs)
    counted = rows_of(obs, now=now, fresh_within=trigger.fresh_within)
    view = trigger_view(trigger, spec)
    rule = service_state_at(spec, everything, now)
    mine = service_state_at(view, counted, now)
    fresh = {v.vantage for c in mine.checks for v in c.votes if v.state != NO_DATA}
    needed = max((c.k for c in view.checks), default=1)
    base = (spec.name, rule.state, mine.down_vantages, len(fresh), needed)
    if rule.state != DOWN or mine.state != DOWN or rule.since is None or mine.since is None:
        by_rule = {c.name: c.state for c in rule.checks}
        below = rule.state == DOWN or any(
            c.down_vantages and not (c.state == DOWN and by_rule.get(c.name) == DOWN)
            for c in mine.checks
        )
        return ServiceQuorum(*base, None, None, rule.reason, below)
    held = max(rule.since, mine.since)
    seg = state_at(_both_down(everything, counted, spec, view, now), held)
    until = min(seg.end, now) if seg is not None else held
    return ServiceQuorum(*base, held, max(until, held), rule.reason)


def healthy_vantages(
    spec: ServiceSpec, observations: Iterable[Observation], now: float, fresh_within: float
) -> list[str]:
    """Vantage points from which, on their own fresh results, the service is up or degraded
    by the rule: the checks that vantage point runs, each counted from it alone."""
    rows = rows_of(observations, now=now, fresh_within=fresh_within)
    every = sorted({v for c in spec.checks for v in c.vantages} | {p.vantage for p in spec.parts})
    alone = {v: service_state_at(spec.counted(vantages=[v]), rows, now).state for v in every}
    return [v for v in every if alone[v] in HEALTHY]


def mirror_health(
    spec: ServiceSpec, observations: Sequence[Observation], now: float, fresh_within: float
) -> tuple[str, list[str]]:
    """The mirror service's state by the rule, and the vantage points that see it healthy."""
    state = service_state_at(spec, rows_of(observations), now).state
    return state, healthy_vantages(spec, observations, now, fresh_within)


def evaluate_trigger(
    trigger: Trigger,
    services: Sequence[str],
    specs: Mapping[str, ServiceSpec],
    observations: Sequence[Observation],
    now: float,
) -> TriggerState:
    """Classify the trigger: healthy, no data, partial (below quorum), confirming, confirmed."""
    quorums = tuple(service_quorum(trigger, specs[s], observations, now) for s in services)
    held = [q for q in quorums if q.held_since is not None]
    spans = [(q.held_since or 0.0, q.held_until or 0.0) for q in held]
    if trigger.require == "all":
        holds = bool(quorums) and len(held) == len(quorums)
        since = max((a for a, _ in spans), default=None) if holds else None
        until = min((b for _, b in spans), default=None) if holds else None
    else:  # the service known down the longest
        holds = bool(held)
        best = max(spans, key=lambda ab: ab[1] - ab[0], default=None)
        since, until = best if best is not None else (None, None)
    if not holds:
        return _not_holding(quorums)
    assert since is not None and until is not None
    age = max(0.0, until - since)
    names = ", ".join(q.service for q in held)
    if age < trigger.confirm_for:
        msg = f"down by quorum, seen for {age:.0f}s of {trigger.confirm_for:.0f}s: {names}"
        return TriggerState("confirming", msg, since, quorums, until)
    msg = f"down by quorum, seen for {age:.0f}s: {names}"
    return TriggerState("confirmed", msg, since, quorums, until)


def _not_holding(quorums: tuple[ServiceQuorum, ...]) -> TriggerState:
    seen = [q for q in quorums if q.below or q.held_since is not None]
    if seen:
        parts = ", ".join(f"{q.service} {len(q.down)}/{q.needed} ({q.label})" for q in seen)
        return TriggerState("partial", f"down below quorum: {parts}", None, quorums)
    if quorums and all(q.state in HEALTHY for q in quorums):
        return TriggerState("healthy", "the primary is up", None, quorums)
    unknown = ", ".join(f"{q.service} ({q.label})" for q in quorums if q.state not in HEALTHY)
    return TriggerState("no_data", f"no state for the trigger services: {unknown}", None, quorums)
