"""The policy's scratch pad for one ``decide`` call: copies of the state, changes, output.

``decide`` copies the immutable ``PolicyState`` into a ``Work``, the policy modules change the
copy, and ``Work.result`` freezes it again, so callers only ever see values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from zoneinfo import ZoneInfo

from threenines.alerts.config import AlertsConfig
from threenines.alerts.model import (
    Decision,
    Flap,
    Group,
    Incident,
    Notice,
    Notification,
    PolicyState,
    Silence,
    Window,
)
from threenines.alerts.topology import Topology

UTC = ZoneInfo("UTC")


@dataclass(frozen=True)
class PolicyContext:
    """What the policy reads but never changes: config, topology, maintenance, time zone."""

    config: AlertsConfig
    topology: Topology = field(default_factory=Topology)
    maintenance: Sequence[Window] = ()
    tz: ZoneInfo = UTC


class Work:
    def __init__(self, state: PolicyState, now: float, ctx: PolicyContext):
        self.now = now
        self.ctx = ctx
        self.cfg = ctx.config
        self.incidents: dict[str, Incident] = dict(state.incidents)
        self.groups: dict[tuple[str, str], Group] = dict(state.groups)
        # while deciding, each group's notices live here (incident key -> newest notice)
        self.pending: dict[tuple[str, str], dict[str, Notice]] = {
            k: {n.incident: n for n in g.notices} for k, g in state.groups.items() if g.notices
        }
        self.flaps: dict[str, Flap] = dict(state.flaps)
        self.silences: dict[str, Silence] = dict(state.silences)
        self.changed: dict[str, Incident] = {}
        self.out: list[Notification] = []
        self.errors: list[str] = []
        self._seq = 0

    def put(self, inc: Incident) -> Incident:
        self.incidents[inc.key] = inc
        self.changed[inc.uid] = inc
        return inc

    def find(self, ref: str) -> Incident | None:
        """An incident by dedup key or uid (the newest occurrence of a key)."""
        if ref in self.incidents:
            return self.incidents[ref]
        return next((i for i in self.incidents.values() if i.uid == ref), None)

    def uid(self, prefix: str) -> str:
        self._seq += 1
        return f"{prefix}@{round(self.now * 1000)}.{self._seq}"

    def result(self) -> Decision:
        groups: dict[tuple[str, str], Group] = {}
        for k, g in self.groups.items():
            notices = tuple(self.pending.get(k, {}).values())
            if notices or (g.last_flush or 0) > self.now - 86400:  # forget idle groups
                groups[k] = replace(g, notices=notices)
        state = PolicyState(
            incidents=MappingProxyType(self.incidents),
            groups=MappingProxyType(groups),
            flaps=MappingProxyType(self.flaps),
            silences=MappingProxyType(self.silences),
        )
        return Decision(state, tuple(self.changed.values()), tuple(self.out), tuple(self.errors))
