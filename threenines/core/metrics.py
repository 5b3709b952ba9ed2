"""Prometheus metrics for the probe engine, on a registry of our own (never the global default).

Every per-check series carries the labels ``service``, ``site``, ``check``, ``vantage`` and
``type`` (the probe kind: the same word as its module and config ``type``). Scheduler lag is one
histogram per vantage, not per check, so 10,000 checks do not multiply its buckets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

from threenines.core.results import ProbeResult, Status

CHECK_LABELS = ("service", "site", "check", "vantage", "type")
STATES = [s.value for s in Status]
LAG_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(frozen=True, slots=True)
class CheckLabels:
    """The label values of one check as seen from one vantage point."""

    service: str
    site: str
    check: str
    vantage: str
    type: str

    def values(self) -> tuple[str, str, str, str, str]:
        return (self.service, self.site, self.check, self.vantage, self.type)


class _Children:
    """One check's metric children, looked up once."""

    def __init__(self, success: Any, attempts: Any, state: Any, make_phase: Any):
        self.success, self.attempts, self.state = success, attempts, state
        self._make_phase = make_phase
        self._phases: dict[str, Any] = {}

    def phase(self, name: str) -> Any:
        child = self._phases.get(name)
        if child is None:
            child = self._phases[name] = self._make_phase(name)
        return child


class Metrics:
    """All threenines metrics. Other areas may add theirs to ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self.probe_success = Gauge(
            "probe_success", "1 if the last counted probe was up or degraded", CHECK_LABELS,
            registry=r,
        )  # fmt: skip
        self.probe_duration = Gauge(
            "probe_duration_seconds",
            "Duration of the last counted probe, per phase (total, dns, connect, tls, ttfb, ...)",
            (*CHECK_LABELS, "phase"),
            registry=r,
        )
        self.probe_attempts = Gauge(
            "probe_attempts", "Attempts (1 + confirmation retries) of the last counted probe",
            CHECK_LABELS, registry=r,
        )  # fmt: skip
        self.check_state = Enum(
            "check_state", "Current state of the check", CHECK_LABELS, states=STATES, registry=r
        )
        self.scheduler_lag = Histogram(
            "scheduler_lag_seconds",
            "Actual start minus planned start of a scheduled probe",
            ("vantage",),
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.results_written = Counter(
            "results_written", "Results written to the database", registry=r
        )
        self.results_buffered = Gauge(
            "results_buffered", "Results held in memory waiting to be written", registry=r
        )
        self.results_dropped = Counter(
            "results_dropped", "Results that could not be written and were dropped", ("reason",),
            registry=r,
        )  # fmt: skip
        self.db_up = Gauge("database_up", "1 if the last database write succeeded", registry=r)
        self.db_up.set(1)
        self._children: dict[CheckLabels, _Children] = {}

    def observe(self, labels: CheckLabels, result: ProbeResult, attempts: int = 1) -> None:
        """Record one counted result."""
        c = self._children.get(labels) or self._make_children(labels)
        c.success.set(1 if result.ok else 0)
        c.attempts.set(attempts)
        c.state.state(result.status.value)
        c.phase("total").set(result.duration)
        for phase, seconds in result.phases.items():
            if phase != "total":
                c.phase(phase).set(seconds)

    def _make_children(self, labels: CheckLabels) -> _Children:
        # label lookups validate and hash every time: at 10,000 checks, cache the children
        values = labels.values()
        c = _Children(
            self.probe_success.labels(*values),
            self.probe_attempts.labels(*values),
            self.check_state.labels(*values),
            lambda phase: self.probe_duration.labels(*values, phase),
        )
        self._children[labels] = c
        return c

    def declare(self, labels: CheckLabels) -> None:
        """Create a check's series before its first result, so dashboards see it as unknown."""
        c = self._children.get(labels) or self._make_children(labels)
        c.state.state(Status.UNKNOWN.value)
