"""The alert policy's data: inputs, incidents, pending notices, notifications, policy state.

Everything here is an immutable value. The policy (``alerts.policy.decide``) takes a
``PolicyState`` and inputs and returns a new ``PolicyState`` plus actions; the orchestrator
(``alerts.service``) persists and delivers. Times are UTC epoch seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

Severity = Literal["critical", "major", "minor", "info"]
Category = Literal["availability", "security", "capacity"]
Kind = Literal["service", "site", "datacentre", "device", "check", "event"]
NoticeKind = Literal["firing", "resolved", "reopened", "flapping", "escalation", "reminder"]

SEVERITIES: tuple[Severity, ...] = ("critical", "major", "minor", "info")
CATEGORIES: tuple[Category, ...] = ("availability", "security", "capacity")
BAD = frozenset({"down", "degraded"})


def severity_rank(severity: str) -> int:
    """0 for critical ... 3 for info (lower is worse)."""
    return SEVERITIES.index(severity) if severity in SEVERITIES else len(SEVERITIES)


@dataclass(frozen=True, slots=True)
class ConditionUpdate:
    """A confirmed state of a thing (after quorum and confirmation), fed by the orchestrator.

    ``key`` is the dedup key, e.g. ``service:payroll`` or ``site:library-north``. ``status`` is
    up / degraded / down / no_quorum / unknown; no_quorum (too few fresh vantage points) and
    unknown (no data) never open nor resolve an incident: an unconfirmed state never pages.
    ``severity`` overrides the derived one (``alerts.topology.severity_for``).
    """

    key: str
    kind: Kind
    status: str
    since: float
    cause: str = ""
    vantages: tuple[str, ...] = ()
    site: str | None = None
    service: str | None = None
    tags: tuple[str, ...] = ()
    title: str = ""
    affected: tuple[str, ...] = ()
    severity: Severity | None = None
    category: Category = "availability"


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """One row of the ``events`` table (an SNMP trap, a security finding...)."""

    id: int
    ts: float
    source: str
    kind: str
    severity: str
    category: str = "availability"
    site: str | None = None
    device: str | None = None
    subject: str | None = None
    message: str = ""
    tags: tuple[str, ...] = ()  # from ``details.tags``, e.g. failover drills: ("failover", "drill")


@dataclass(frozen=True, slots=True)
class Ack:
    incident: str  # incident uid or dedup key
    who: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Resolve:
    incident: str
    who: str
    note: str = ""


@dataclass(frozen=True, slots=True)
class Silence:
    """Matchers: label -> glob (``site: library-*``), all must match; active in [starts, ends)."""

    id: str
    matchers: MappingProxyType[str, str]
    starts_at: float
    ends_at: float
    author: str
    comment: str
    removed: bool = False

    @classmethod
    def make(
        cls,
        id: str,
        matchers: dict[str, str],
        starts_at: float,
        ends_at: float,
        author: str,
        comment: str,
    ) -> Silence:
        return cls(id, MappingProxyType(dict(matchers)), starts_at, ends_at, author, comment)

    def active(self, now: float) -> bool:
        return not self.removed and self.starts_at <= now < self.ends_at


@dataclass(frozen=True, slots=True)
class AddSilence:
    silence: Silence


@dataclass(frozen=True, slots=True)
class RemoveSilence:
    id: str
    who: str = ""


Input = ConditionUpdate | AlertEvent | Ack | Resolve | AddSilence | RemoveSilence


@dataclass(frozen=True, slots=True)
class Window:
    """A maintenance window from the availability engine: ``scope`` is ``*``, ``site:X``,
    ``service:X``, ``device:X``, or a bare name matching a site, service or device."""

    start: float
    end: float
    scope: str = "*"


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident; ``key`` is the stable dedup key, ``uid`` names this occurrence."""

    uid: str
    key: str
    kind: str
    title: str
    severity: Severity
    category: Category
    status: Literal["open", "acknowledged", "resolved"]
    opened_at: float
    since: float
    updated_at: float
    condition: str = "down"
    cause: str = ""
    affected: tuple[str, ...] = ()
    vantages: tuple[str, ...] = ()
    site: str | None = None
    service: str | None = None
    tags: tuple[str, ...] = ()
    acked_by: str | None = None
    acked_at: float | None = None
    ack_note: str = ""
    resolved_at: float | None = None
    resolved_by: str | None = None
    reopen_count: int = 0
    count: int = 1  # occurrences folded into this incident (events)
    notified: bool = False  # a firing notice for it reached some receiver
    held: str | None = None  # why its last notice was held: silence:ID | maintenance | ...
    parent: str | None = None  # the firing ancestor it is listed under, if any
    routes: tuple[str, ...] = ()
    escalation: tuple[str, ...] = ()  # routes escalated to, in order
    notified_at: float | None = None  # first notice of this occurrence: escalation clock
    escalated_at: float | None = None
    last_notice_at: float | None = None

    @property
    def active(self) -> bool:
        return self.status != "resolved"

    def labels(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "severity": self.severity,
            "category": self.category,
            "site": self.site or "",
            "service": self.service or "",
            "tags": self.tags,
        }


@dataclass(frozen=True, slots=True)
class Notice:
    """Something to tell a route about one incident, waiting in a group."""

    incident: str  # dedup key
    kind: NoticeKind
    at: float


@dataclass(frozen=True, slots=True)
class Group:
    """Alertmanager-style aggregation: per (route, site) notices wait, then flush together."""

    route: str
    label: str
    due: float | None = None
    last_flush: float | None = None
    notices: tuple[Notice, ...] = ()


@dataclass(frozen=True, slots=True)
class Flap:
    changes: tuple[float, ...] = ()
    flapping: bool = False


@dataclass(frozen=True, slots=True)
class Item:
    """One incident inside a notification, with the suppressed children listed under it."""

    kind: NoticeKind
    incident: Incident
    children: tuple[Incident, ...] = ()


@dataclass(frozen=True, slots=True)
class Notification:
    """Action: render and deliver to ``receivers`` (or record only, when ``held``)."""

    uid: str
    route: str
    group: str
    receivers: tuple[str, ...]
    items: tuple[Item, ...]
    created_at: float
    held: str | None = None

    @property
    def kind(self) -> str:
        kinds = {i.kind for i in self.items}
        return kinds.pop() if len(kinds) == 1 else "mixed"


@dataclass(frozen=True, slots=True)
class PolicyState:
    incidents: MappingProxyType[str, Incident] = field(default_factory=lambda: MappingProxyType({}))
    groups: MappingProxyType[tuple[str, str], Group] = field(
        default_factory=lambda: MappingProxyType({})
    )
    flaps: MappingProxyType[str, Flap] = field(default_factory=lambda: MappingProxyType({}))
    silences: MappingProxyType[str, Silence] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's answer: the new state, incidents that changed, notifications to send/record."""

    state: PolicyState
    changed: tuple[Incident, ...]
    notifications: tuple[Notification, ...]
    errors: tuple[str, ...] = ()
