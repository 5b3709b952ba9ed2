"""Prometheus metrics for the probe engine, on a registry of our own (never the global default).

Every name starts with ``threenines_`` (blackbox_exporter's ``probe_success`` and
``probe_duration_seconds`` mean one probe of one target per scrape; ours are the last counted
result of a scheduled check, so they are ``threenines_check_up`` and
``threenines_check_duration_seconds``). Every per-check series carries the labels
``service``, ``site``, ``check``, ``vantage`` and ``type`` (the probe kind: the same word as
its module and config ``type``). Scheduler lag is one histogram per vantage, not per check, so
10,000 checks do not multiply its buckets.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily

from threenines.core.results import ProbeResult, Status

# No ``<counter>_created`` gauges beside every counter: they double the series and no rule
# or dashboard of ours reads them (prometheus_client's switch is process-wide).
disable_created_metrics()

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


_UP_HELP = "1 if the last counted probe was up or degraded"
_DURATION_HELP = (
    "Duration of the last counted probe, per phase (total, dns, connect, tls, ttfb, ...)"
)
_ATTEMPTS_HELP = "Attempts (1 + confirmation retries) of the last counted probe"
_STATE_HELP = "Current state of the check (1: the state it is in)"


class _Check:
    """One check's last counted result, as its series show it."""

    __slots__ = ("attempts", "phases", "state", "success")

    def __init__(self) -> None:
        self.success: float | None = None
        self.attempts: float | None = None
        self.state = Status.UNKNOWN.value
        self.phases: dict[str, float] = {}


class _CheckSeries:
    """The per-check series, kept as plain values and turned into samples at scrape time.

    Four gauges with label children per check (about ten ``Gauge`` children, each with its own
    lock) were most of the memory and much of the CPU per result at 50,000 checks; the names,
    labels and values exposed are the same."""

    def __init__(self) -> None:
        self.checks: dict[CheckLabels, _Check] = {}

    def describe(self) -> list[Any]:
        return self._families()

    def _families(self) -> list[Any]:
        g = GaugeMetricFamily
        return [
            g("threenines_check_up", _UP_HELP, labels=CHECK_LABELS),
            g("threenines_check_duration_seconds", _DURATION_HELP, labels=(*CHECK_LABELS, "phase")),
            g("threenines_check_attempts", _ATTEMPTS_HELP, labels=CHECK_LABELS),
            g("threenines_check_state", _STATE_HELP, labels=(*CHECK_LABELS, "state")),
        ]

    def collect(self) -> Iterator[Any]:
        up, duration, attempts, state = self._families()
        for labels, c in list(self.checks.items()):  # a copy: results come in while scraped
            values = list(labels.values())
            if c.success is not None:
                up.add_metric(values, c.success)
            if c.attempts is not None:
                attempts.add_metric(values, c.attempts)
            for phase, seconds in list(c.phases.items()):
                duration.add_metric([*values, phase], seconds)
            current = c.state
            for name in STATES:
                state.add_metric([*values, name], 1.0 if name == current else 0.0)
        yield from (up, duration, attempts, state)


class Metrics:
    """All threenines metrics. Other areas may add theirs to ``registry``."""

    def __init__(self, registry: CollectorRegistry | None = None):
        self.registry = registry or CollectorRegistry(auto_describe=True)
        r = self.registry
        self._series = _CheckSeries()
        r.register(self._series)
        self.scheduler_lag = Histogram(
            "threenines_scheduler_lag_seconds",
            "Actual start minus planned start of a scheduled probe",
            ("vantage",),
            buckets=LAG_BUCKETS,
            registry=r,
        )
        self.results_written = Counter(
            "threenines_results_written", "Results written to the database", registry=r
        )
        self.results_buffered = Gauge(
            "threenines_results_buffered",
            "Results held in memory waiting to be written",
            registry=r,
        )
        self.results_dropped = Counter(
            "threenines_results_dropped", "Results that could not be written and were dropped",
            ("reason",), registry=r,
        )  # fmt: skip
        self.db_up = Gauge(
            "threenines_database_up", "1 if the last database write succeeded", registry=r
        )
        self.db_up.set(1)

    def observe(self, labels: CheckLabels, result: ProbeResult, attempts: int = 1) -> None:
        """Record one counted result."""
        c = self._series.checks.get(labels)
        if c is None:
            c = self._series.checks[labels] = _Check()
        c.success = 1.0 if result.ok else 0.0
        c.attempts = float(attempts)
        c.state = result.status.value
        phases = c.phases
        phases["total"] = result.duration
        for phase, seconds in result.phases.items():
            if phase != "total":
                phases[phase] = seconds

    def forget(self, labels: CheckLabels) -> None:
        """A check no longer run from here (a reload removed it or changed its labels): its
        series go, so no dashboard shows its last result as if it were current."""
        self._series.checks.pop(labels, None)

    def declare(self, labels: CheckLabels) -> None:
        """Create a check's series before its first result, so dashboards see it as unknown."""
        if labels not in self._series.checks:
            self._series.checks[labels] = _Check()
