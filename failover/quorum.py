"""Quorum over vantage points for a failover trigger (pure).

A service counts as down only when at least ``quorum`` vantage points (and, by default, a
majority of those with fresh results) see it down. Stale observations are unknown, never down:
a vantage point whose own WAN link is cut goes silent and so cannot vote for a failover.

The time the quorum has held since is the K-th earliest ``since`` among the vantage points
that see the service down: from that instant on, K of them did.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from failover.config import Trigger

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


@dataclass(frozen=True, slots=True)
class TriggerState:
    status: Literal["healthy", "no_data", "partial", "confirming", "confirmed"]
    message: str
    since: float | None = None  # the trigger condition has held since
    services: tuple[ServiceQuorum, ...] = field(default_factory=tuple)

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
    held = down[needed - 1].since if len(down) >= needed else None
    return ServiceQuorum(service, tuple(o.vantage for o in down), len(fresh), needed, held)


def evaluate_trigger(
    trigger: Trigger, services: Sequence[str], observations: Sequence[Observation], now: float
) -> TriggerState:
    """Classify the trigger: healthy, no data, partial (below quorum), confirming, confirmed."""
    quorums = tuple(service_quorum(trigger, s, observations, now) for s in services)
    if not quorums or all(q.fresh == 0 for q in quorums):
        return TriggerState("no_data", "no fresh results for the trigger services", None, quorums)
    held = [q for q in quorums if q.held_since is not None]
    if trigger.require == "all":
        holds = len(held) == len(quorums)
        since = max((q.held_since for q in held), default=None) if holds else None  # type: ignore[type-var]
    else:
        holds = bool(held)
        since = min((q.held_since for q in held), default=None)  # type: ignore[type-var]
    if not holds:
        seen = [q for q in quorums if q.down]
        if not seen:
            return TriggerState("healthy", "the primary is up", None, quorums)
        parts = ", ".join(f"{q.service} {len(q.down)}/{q.needed}" for q in seen)
        return TriggerState("partial", f"down below quorum: {parts}", None, quorums)
    assert since is not None
    age = now - since
    names = ", ".join(q.service for q in held)
    if age < trigger.confirm_for:
        msg = f"down by quorum for {age:.0f}s of {trigger.confirm_for:.0f}s: {names}"
        return TriggerState("confirming", msg, since, quorums)
    return TriggerState("confirmed", f"down by quorum for {age:.0f}s: {names}", since, quorums)
