"""Quorum over vantage points for a failover trigger (pure).

A service counts as down only when at least ``quorum`` vantage points (and, by default, a
majority of those with fresh results) see it down. Stale observations are unknown, never down:
a vantage point whose own WAN link is cut goes silent and so cannot vote for a failover.

The quorum has held since the K-th earliest ``since`` among the vantage points that see the
service down (from that instant on, K of them did), and is *known* to hold until the K-th latest
``last_seen`` among them (until then, K of them still reported it down). Confirmation needs
evidence: the quorum must be known to hold for ``confirm_for`` (``held_until - held_since``),
not merely have begun that long ago. A single failed probe per vantage point, whose "down"
interval stays open until the next result arrives, therefore never confirms an outage on its
own, however late the evaluation runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from threenines.failover.config import Trigger

HEALTHY = frozenset({"up", "degraded"})


@dataclass(frozen=True, slots=True)
class Observation:
    """``service`` as seen from ``vantage``: in ``state`` since ``since``, last confirmed then."""

    service: str
    vantage: str
    state: str  # up | degraded | down | unknown
    since: float
    last_seen: float


@dataclass(frozen=True, slots=True)
class ServiceQuorum:
    service: str
    down: tuple[str, ...]  # vantage points seeing it down (fresh)
    fresh: int  # vantage points with fresh results
    needed: int
    held_since: float | None  # when the quorum started to hold, None if it does not
    held_until: float | None = None  # the latest time K vantage points are known to see it down


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


def fresh_observations(
    service: str,
    observations: Iterable[Observation],
    now: float,
    fresh_within: float,
    vantages: Sequence[str] | None = None,
) -> list[Observation]:
    """The latest fresh, known observation per vantage point for ``service``."""
    latest: dict[str, Observation] = {}
    for o in observations:
        if o.service != service or (vantages is not None and o.vantage not in vantages):
            continue
        if o.state == "unknown" or now - o.last_seen > fresh_within or o.since > now:
            continue
        if o.vantage not in latest or o.since > latest[o.vantage].since:
            latest[o.vantage] = o
    return list(latest.values())


def healthy_vantages(
    service: str, observations: Iterable[Observation], now: float, fresh_within: float
) -> list[str]:
    return sorted(
        o.vantage
        for o in fresh_observations(service, observations, now, fresh_within)
        if o.state in HEALTHY
    )


def service_quorum(
    trigger: Trigger, service: str, observations: Iterable[Observation], now: float
) -> ServiceQuorum:
    fresh = fresh_observations(
        service, observations, now, trigger.fresh_within, trigger.vantage_points
    )
    down = sorted((o for o in fresh if o.state == "down"), key=lambda o: o.since)
    needed = trigger.quorum
    if trigger.majority:
        needed = max(needed, len(fresh) // 2 + 1)
    if len(down) < needed:
        return ServiceQuorum(service, tuple(o.vantage for o in down), len(fresh), needed, None)
    held = down[needed - 1].since
    until = sorted((o.last_seen for o in down), reverse=True)[needed - 1]
    return ServiceQuorum(
        service, tuple(o.vantage for o in down), len(fresh), needed, held, max(until, held)
    )


def evaluate_trigger(
    trigger: Trigger, services: Sequence[str], observations: Sequence[Observation], now: float
) -> TriggerState:
    """Classify the trigger: healthy, no data, partial (below quorum), confirming, confirmed."""
    quorums = tuple(service_quorum(trigger, s, observations, now) for s in services)
    if not quorums or all(q.fresh == 0 for q in quorums):
        return TriggerState("no_data", "no fresh results for the trigger services", None, quorums)
    held = [q for q in quorums if q.held_since is not None]
    spans = [(q.held_since or 0.0, q.held_until or 0.0) for q in held]
    if trigger.require == "all":
        holds = len(held) == len(quorums)
        since = max((a for a, _ in spans), default=None) if holds else None
        until = min((b for _, b in spans), default=None) if holds else None
    else:  # the service known down the longest
        holds = bool(held)
        best = max(spans, key=lambda ab: ab[1] - ab[0], default=None)
        since, until = best if best is not None else (None, None)
    if not holds:
        seen = [q for q in quorums if q.down]
        if not seen:
            return TriggerState("healthy", "the primary is up", None, quorums)
        parts = ", ".join(f"{q.service} {len(q.down)}/{q.needed}" for q in seen)
        return TriggerState("partial", f"down below quorum: {parts}", None, quorums)
    assert since is not None and until is not None
    age = max(0.0, until - since)
    names = ", ".join(q.service for q in held)
    if age < trigger.confirm_for:
        msg = f"down by quorum, seen for {age:.0f}s of {trigger.confirm_for:.0f}s: {names}"
        return TriggerState("confirming", msg, since, quorums, until)
    msg = f"down by quorum, seen for {age:.0f}s: {names}"
    return TriggerState("confirmed", msg, since, quorums, until)
