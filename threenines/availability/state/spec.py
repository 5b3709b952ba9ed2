"""What the state rule needs to know of a service, taken from the configuration once.

A ``ServiceSpec`` is plain data: its checks (each with its vantage points, its quorum K and its
grace), how they combine, and the device components it cannot work without. Every consumer
(availability, status, alerts, failover) builds its specs with ``spec_for``, so none of them
reads ``quorum``, ``combine``, ``weights`` or ``devices`` from the configuration itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from threenines.availability import devices
from threenines.availability.state.rule import default_quorum, quorum_for
from threenines.core.config.devices import PREFIX
from threenines.core.scheduler import max_gap

if TYPE_CHECKING:
    from threenines.core.config.schema import Config, Service


def grace(cfg: Config, check_id: str) -> float:
    """How long a result of ``check_id`` holds without a newer one: the write path's
    ``max_gap`` for it (``core.scheduler.max_gap`` for a probe check, ``devices.grace`` for a
    device component). A vantage point whose last result is older does not vote."""
    if check_id.startswith(PREFIX):
        return devices.grace(cfg, check_id)
    service, _, name = check_id.partition("/")
    svc = cfg.service(service)
    check = next((c for c in svc.checks if c.name == name), None) if svc else None
    if check is None:
        raise KeyError(f"no check {check_id!r} in the configuration")
    return max_gap(check)


@dataclass(frozen=True, slots=True)
class CheckSpec:
    name: str
    check_id: str  # "<service>/<check>"
    vantages: tuple[str, ...]  # the vantage points that run it: only they vote
    k: int  # vantage points that must see it down
    grace: float


@dataclass(frozen=True, slots=True)
class PartSpec:
    """A device or uplink the service needs, polled from one vantage point (the server)."""

    component: str  # "device:<name>" or "device:<name>/if:<ifName>"
    vantage: str
    grace: float


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    site: str
    checks: tuple[CheckSpec, ...]
    combine: str = "all"
    weights: Mapping[str, float] = field(default_factory=dict)
    threshold: float = 0.5
    parts: tuple[PartSpec, ...] = ()

    def keys(self) -> list[tuple[str, str]]:
        """Every ``(check_id, vantage)`` whose results the rule reads for this service."""
        out = [(c.check_id, v) for c in self.checks for v in c.vantages]
        return out + [(p.component, p.vantage) for p in self.parts]

    def check(self, name: str) -> CheckSpec:
        return next(c for c in self.checks if c.name == name)

    def counted(
        self, *, k: int = 1, majority: bool = False, vantages: Iterable[str] | None = None
    ) -> ServiceSpec:
        """The same service counted only from ``vantages`` (all when None), each check needing
        ``k`` of them (and a majority of those counted, with ``majority``). A check that none of
        them runs is left out; when none is left of a service that has checks, neither are its
        parts (no evidence from those vantage points: no data).

        Not the service's state: a consumer that asks for more than the rule (a failover
        trigger, a pre-flight's per-vantage view) uses it *besides* the rule's state, never
        instead of it (see ``failover.quorum``).
        """
        allowed = None if vantages is None else set(vantages)
        checks = []
        for c in self.checks:
            counted = tuple(v for v in c.vantages if allowed is None or v in allowed)
            if counted:
                need = max(k, default_quorum(len(counted)) if majority else 1)
                checks.append(replace(c, vantages=counted, k=need))
        parts = self.parts if checks or not self.checks else ()
        return replace(self, checks=tuple(checks), parts=parts)


def spec_for(cfg: Config, svc: Service) -> ServiceSpec:
    """The rule's view of ``svc``: checks with K and grace, combine mode, device parts."""
    checks = []
    for chk in svc.checks:
        vantages = tuple(cfg.vantages_for(chk))
        checks.append(
            CheckSpec(
                name=chk.name,
                check_id=f"{svc.name}/{chk.name}",
                vantages=vantages,
                k=quorum_for(svc.quorum, len(vantages)),
                grace=max_gap(chk),
            )
        )
    parts = tuple(
        PartSpec(c, cfg.server.vantage, devices.grace(cfg, c))
        for c in devices.service_components(cfg, svc)
    )
    return ServiceSpec(
        name=svc.name,
        site=svc.site,
        checks=tuple(checks),
        combine=svc.combine,
        weights=dict(svc.weights),
        threshold=svc.weighted_threshold,
        parts=parts,
    )


def specs(cfg: Config, names: Iterable[str] | None = None) -> dict[str, ServiceSpec]:
    """Specs of ``names`` (every service when None), in configuration order."""
    wanted = None if names is None else set(names)
    return {s.name: spec_for(cfg, s) for s in cfg.services if wanted is None or s.name in wanted}
