"""Shared helpers for the alerts tests: a policy simulator and config builders (no I/O)."""

from __future__ import annotations

from typing import Any

from threenines.alerts.config import AlertsConfig
from threenines.alerts.model import ConditionUpdate, Input, Notification, PolicyState, Window
from threenines.alerts.policy import PolicyContext, decide
from threenines.alerts.topology import Topology

T0 = 1_780_000_000.0  # a fixed instant (2026-05-28): tests never read the clock


def acfg(**over: Any) -> AlertsConfig:
    base: dict[str, Any] = {
        "receivers": [
            {"name": "ops", "url": "json://127.0.0.1:9/ops"},
            {"name": "oncall", "url": "json://127.0.0.1:9/oncall"},
            {"name": "boss", "url": "json://127.0.0.1:9/boss"},
            {"name": "sec", "url": "json://127.0.0.1:9/sec"},
        ],
        "routes": [
            {
                "name": "ops",
                "receivers": ["ops"],
                "group_wait": "30s",
                "group_interval": "5m",
                "repeat_interval": "0s",
            },
        ],
    }
    base.update(over)
    return AlertsConfig.model_validate(base)


def down(
    key: str, at: float, site: str | None = "lib", status: str = "down", **kw: Any
) -> ConditionUpdate:
    kind = kw.pop("kind", key.partition(":")[0])
    name = key.partition(":")[2]
    return ConditionUpdate(
        key, kind, status, at, site=site, service=name if kind == "service" else None, **kw
    )


def up(key: str, at: float, site: str | None = "lib") -> ConditionUpdate:
    return down(key, at, site, status="up")


class Sim:
    """Drives ``decide`` like the orchestrator does, with an explicit clock."""

    def __init__(
        self,
        cfg: AlertsConfig,
        parents: dict[str, list[str]] | None = None,
        maintenance: tuple[Window, ...] = (),
        criticality: dict[str, str] | None = None,
    ):
        topo = Topology.of(parents or {}, criticality=criticality or {})
        self.ctx = PolicyContext(cfg, topo, maintenance)
        self.state = PolicyState()
        self.sent: list[Notification] = []
        self.held: list[Notification] = []
        self.errors: list[str] = []
        self.now = T0

    def step(self, at: float, *inputs: Input) -> list[Notification]:
        self.now = at
        d = decide(self.state, inputs, at, self.ctx)
        self.state = d.state
        self.errors += d.errors
        out = [n for n in d.notifications if n.held is None]
        self.sent += out
        self.held += [n for n in d.notifications if n.held is not None]
        return out

    def run_until(self, end: float, every: float = 5.0) -> list[Notification]:
        out: list[Notification] = []
        t = self.now
        while t < end:
            t = min(end, t + every)
            out += self.step(t)
        return out

    def incident(self, key: str):
        return self.state.incidents[key]


def summary(n: Notification) -> list[tuple[str, str, int]]:
    return [(i.kind, i.incident.key, len(i.children)) for i in n.items]
