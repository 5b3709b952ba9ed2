"""The result every probe and collector returns.

A failing target is a ``ProbeResult`` with ``status=DOWN`` and a machine-readable ``error`` code,
never an exception: exceptions mean bugs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any


class Status(StrEnum):
    UP = "up"
    DEGRADED = "degraded"
    DOWN = "down"
    UNKNOWN = "unknown"


# Machine-readable error codes shared by every probe kind. A probe may add its own, but these
# are the ones dashboards, alerts and tests match on.
ERROR_CODES = frozenset(
    {
        "dns",  # name did not resolve
        "refused",  # TCP RST
        "connect_timeout",
        "timeout",  # overall deadline hit after connecting
        "unreachable",
        "tls_handshake",
        "tls_expired",
        "tls_untrusted",
        "tls_hostname",
        "tls_protocol",
        "http_status",
        "expect_mismatch",  # body/banner/JSON/DNS answer did not match
        "too_many_redirects",
        "protocol",  # malformed response
        "packet_loss",
        "slow",  # degraded: above latency threshold
        "expiring",  # degraded: certificate near expiry
        "no_answer",
        "auth",
        "internal",  # a bug caught at the probe boundary; reported, never raised
    }
)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    """Outcome of one probe attempt.

    ``phases`` maps a phase name (``dns``, ``connect``, ``tls``, ``ttfb``, ``total``, or a
    journey step name) to seconds. ``details`` carries kind-specific facts (status code,
    certificate expiry, RTTs) and must be JSON-serialisable.
    """

    status: Status
    duration: float
    error: str | None = None
    reason: str = ""
    phases: MappingProxyType[str, float] = field(default_factory=lambda: MappingProxyType({}))
    details: MappingProxyType[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    @classmethod
    def up(cls, duration: float, reason: str = "ok", **kw: Any) -> ProbeResult:
        return cls.make(Status.UP, duration, None, reason, **kw)

    @classmethod
    def degraded(cls, duration: float, error: str, reason: str, **kw: Any) -> ProbeResult:
        return cls.make(Status.DEGRADED, duration, error, reason, **kw)

    @classmethod
    def down(cls, duration: float, error: str, reason: str, **kw: Any) -> ProbeResult:
        return cls.make(Status.DOWN, duration, error, reason, **kw)

    @classmethod
    def make(
        cls,
        status: Status,
        duration: float,
        error: str | None,
        reason: str,
        phases: dict[str, float] | None = None,
        details: dict[str, Any] | None = None,
    ) -> ProbeResult:
        return cls(
            status=status,
            duration=duration,
            error=error,
            reason=reason,
            phases=MappingProxyType(dict(phases or {})),
            details=MappingProxyType(dict(details or {})),
        )

    @property
    def ok(self) -> bool:
        return self.status in (Status.UP, Status.DEGRADED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status.value,
            "duration": self.duration,
            "error": self.error,
            "reason": self.reason,
            "phases": dict(self.phases),
            "details": dict(self.details),
        }
