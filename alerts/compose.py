"""From flips (per check, per vantage point) to service conditions, until the availability
engine's quorum and composition functions are wired in its place.

Rule (the same defaults as the availability issue): a check is down when at least K of its
vantage points with a known state see it down (K = the service's ``quorum`` or a majority),
degraded likewise with down-or-degraded; a service is the worst of its checks. Any object with
``seed(rows)`` and ``on_flips(changes) -> list[ConditionUpdate]`` can replace this one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from threenines.alerts.model import ConditionUpdate
from threenines.core.store import StateChange

if TYPE_CHECKING:
    from threenines.core.config.schema import Config, Service

_WORST = {"down": 0, "degraded": 1, "up": 2, "unknown": 3}


class FlipComposer:
    def __init__(self, cfg: Config):
        self.services = {s.name: s for s in cfg.services}
        self.seen: dict[str, dict[str, tuple[str, str]]] = {}  # check_id -> vantage -> (st, why)
        self.status: dict[str, str] = {}

    def _note(
        self, check_id: str, vantage: str, state: str, error: str | None, reason: str
    ) -> None:
        why = ": ".join(x for x in (error, reason) if x)
        self.seen.setdefault(check_id, {})[vantage] = (state, why)

    def seed(self, rows: Iterable[tuple[str, str, str, str | None, str]]) -> None:
        """Current (check_id, vantage, state, error, reason), e.g. open state intervals."""
        for check_id, vantage, state, error, reason in rows:
            self._note(check_id, vantage, state, error, reason)
        for name in self.services:
            self.status[name] = self._service(name)[0]

    def _check(self, svc: Service, check_id: str) -> tuple[str, tuple[str, ...], str]:
        states = {v: s for v, s in self.seen.get(check_id, {}).items() if s[0] != "unknown"}
        if not states:
            return "unknown", (), ""
        quorum: Any = getattr(svc, "quorum", None)
        k = int(quorum) if quorum else len(states) // 2 + 1
        down = sorted(v for v, s in states.items() if s[0] == "down")
        bad = sorted(v for v, s in states.items() if s[0] in ("down", "degraded"))
        why = next((states[v][1] for v in bad), "")
        if len(down) >= k:
            return "down", tuple(down), why
        if len(bad) >= k:
            return "degraded", tuple(bad), why
        return "up", (), ""

    def _service(self, name: str) -> tuple[str, tuple[str, ...], str]:
        svc = self.services[name]
        worst: tuple[str, tuple[str, ...], str] = ("unknown", (), "")
        for check in svc.checks:
            status, vantages, why = self._check(svc, f"{name}/{check.name}")
            if _WORST[status] < _WORST[worst[0]]:
                worst = (status, vantages, f"check {check.name}: {why}" if why else "")
        return worst

    def on_flips(self, changes: Sequence[StateChange]) -> list[ConditionUpdate]:
        touched: dict[str, float] = {}
        for ch in changes:
            self._note(ch.check_id, ch.vantage, ch.new.value, ch.error, ch.reason)
            service = ch.check_id.partition("/")[0]
            if service in self.services:
                touched[service] = max(touched.get(service, ch.ts), ch.ts)
        out: list[ConditionUpdate] = []
        for name, ts in sorted(touched.items()):
            status, vantages, cause = self._service(name)
            if status == self.status.get(name, "up" if status != "unknown" else "unknown"):
                continue
            self.status[name] = status
            svc = self.services[name]
            out.append(
                ConditionUpdate(
                    key=f"service:{name}",
                    kind="service",
                    status=status,
                    since=ts,
                    cause=cause,
                    vantages=vantages,
                    site=svc.site,
                    service=name,
                    tags=tuple(svc.tags),
                    title=f"service {name}",
                )
            )
        return out
