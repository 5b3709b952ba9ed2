"""Findings and their lifecycle, as pure data and pure decisions (no I/O, explicit ``now``).

A detector returns ``Finding`` objects. The store keeps one row per stable ``key`` and asks
``transition`` what a new observation (or its absence from a completed run) does to that row:
open -> accepted (risk accepted, with expiry) -> resolved, re-opened on recurrence. Only
transitions that matter to people (``Change``) produce an ``events`` row; a recurring finding
merely moves ``last_seen``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import StrEnum
from types import MappingProxyType
from typing import Any

SEVERITIES = ("critical", "major", "minor", "info")
KINDS = (
    "unknown_device", "device_missing", "arp_spoof", "arp_conflict", "arp_gratuitous_burst",
    "port_opened", "port_closed", "tls_expired", "tls_expiring", "tls_self_signed",
    "tls_untrusted", "tls_hostname", "tls_old_protocol", "tls_weak_cipher",
    "http_header_missing", "http_content_drift", "snmp_default_community",
    "snmp_v1v2c_answering", "snmp_auth_failures", "dns_drift", "host_unreachable",
)  # fmt: skip
# A finding that resolves (or whose risk is accepted) is announced as an event of kind
# "<kind>_cleared", severity info; alerts clear the incident of the same subject with this map
# (merge it into ``alerts.events.resolves``).
ALERT_RESOLVES = {f"{k}_cleared": k for k in KINDS}


class Change(StrEnum):
    OPENED = "opened"
    REOPENED = "reopened"
    SEVERITY = "severity_changed"
    EXPIRED = "acceptance_expired"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class Finding:
    """One security problem observed now.

    ``key`` is stable across runs (e.g. ``port_opened/198.18.1.10/23``) so a recurring finding
    updates its row instead of duplicating it. ``check`` names the producer (``arp:dc-main``,
    ``exposure:servers``, ``posture:portal-tls``): when that producer completes a run without
    reporting a key, the finding resolves, unless ``sticky`` (spoofing evidence is kept open
    until a person resolves it). ``evidence`` must be JSON-serialisable.
    """

    kind: str
    key: str
    severity: str
    check: str
    subject: str
    message: str
    evidence: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    site: str | None = None
    sticky: bool = False

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")

    @classmethod
    def make(
        cls,
        kind: str,
        key: str,
        severity: str,
        check: str,
        subject: str,
        message: str,
        evidence: dict[str, Any] | None = None,
        **kw: Any,
    ) -> Finding:
        return cls(
            kind,
            f"{kind}/{key}",
            severity,
            check,
            subject,
            message,
            MappingProxyType(dict(evidence or {})),
            **kw,
        )


@dataclass(frozen=True, slots=True)
class State:
    """What the store holds for one finding key."""

    status: str  # open | accepted | resolved
    severity: str
    first_seen: float
    last_seen: float
    resolved_at: float | None = None
    accepted_until: float | None = None
    occurrences: int = 1


def transition(
    current: State | None, seen: Finding | None, now: float, sticky: bool = False
) -> tuple[State | None, Change | None]:
    """The new state of one finding key and the change to announce (or None).

    ``seen`` is the finding when this run observed it, None when a completed run of its
    producer did not (``sticky`` then keeps it as it is).
    """
    if seen is not None:
        if current is None:
            return State("open", seen.severity, now, now), Change.OPENED
        bumped = replace(
            current, last_seen=now, severity=seen.severity, occurrences=current.occurrences + 1
        )
        if current.status == "resolved":
            return replace(bumped, status="open", resolved_at=None, accepted_until=None), (
                Change.REOPENED
            )
        if current.status == "accepted":
            if current.accepted_until is not None and now >= current.accepted_until:
                return replace(bumped, status="open", accepted_until=None), Change.EXPIRED
            return bumped, None
        return bumped, Change.SEVERITY if seen.severity != current.severity else None
    if current is None or current.status == "resolved" or sticky:
        return current, None
    return replace(current, status="resolved", resolved_at=now), Change.RESOLVED


@dataclass(frozen=True, slots=True)
class RunResult:
    """What one run of one producer saw. Only a ``complete`` run resolves the producer's
    findings that it no longer reports; an incomplete one (target unreachable, capture failed)
    just adds what it saw, so an outage never looks like a fix. ``unobserved`` narrows a
    complete run: keys (or key prefixes ending in "/") it could not see, e.g. every port of a
    host that did not answer, are left as they are."""

    check: str
    findings: list[Finding]
    complete: bool = True
    error: str | None = None
    facts: dict[str, Any] = field(default_factory=dict)
    unobserved: frozenset[str] = frozenset()

    def observed(self, key: str) -> bool:
        """Whether this run could see ``key``'s state (so not reporting it means it is gone)."""
        if key in self.unobserved:
            return False
        parts = key.split("/")
        return not any("/".join(parts[:i]) + "/" in self.unobserved for i in range(1, len(parts)))
