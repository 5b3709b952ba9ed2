"""Prometheus metrics for the SNMP poller and trap receiver, on a registry passed in.

Every reading is a gauge ``snmp_<metric>{device, site[, ifName|cpu|storage|...]}``. Series a
device stops reporting (an interface removed, a device that stopped answering) are removed,
so a dashboard never shows a stale temperature as if it were current.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from threenines.collectors.snmp_profiles import PROFILES

BASE = ("device", "site")
TRAP_OUTCOMES = (
    "accepted",
    "bad_community",
    "unknown_user",
    "bad_auth",
    "discovery",
    "malformed",
    "oversized",
    "queue_full",
    "other",
    "error",
)


class SnmpMetrics:
    def __init__(self, registry: CollectorRegistry):
        self.registry = registry
        self.gauges: dict[str, Gauge] = {}
        self._labels: dict[str, str | None] = {}
        for profile in PROFILES.values():
            for spec in profile.metrics:
                labels = BASE + ((spec.label,) if spec.label else ())
                self.gauges[spec.name] = Gauge(
                    f"snmp_{spec.name}", spec.help, labels, registry=registry
                )
                self._labels[spec.name] = spec.label
        self._series: dict[str, set[tuple[str, str]]] = {}  # device -> {(metric, subject)}
        self.poll_duration = Histogram(
            "snmp_poll_duration_seconds",
            "Time to poll all profiles of a device",
            BASE,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.poll_errors = Counter(
            "snmp_poll_errors_total", "Failed polls by reason", (*BASE, "reason"), registry=registry
        )
        self.varbinds = Counter(
            "snmp_varbinds_total", "Variable bindings received", BASE, registry=registry
        )
        self.traps = Counter(
            "snmp_traps_total",
            "Datagrams at the trap receiver by outcome",
            ("outcome",),
            registry=registry,
        )
        for outcome in TRAP_OUTCOMES:
            self.traps.labels(outcome)
        self.trap_events = Counter(
            "snmp_trap_events_total", "Events made from traps", ("kind",), registry=registry
        )
        self.trap_queue = Gauge(
            "snmp_trap_queue_depth", "Datagrams waiting to be decoded", registry=registry
        )
        self.trap_kernel_drops = Gauge(
            "snmp_trap_socket_drops",
            "Datagrams the kernel dropped on the trap socket (receive buffer full)",
            registry=registry,
        )

    def update(self, device: str, site: str, readings: Iterable[tuple[str, str, float]]) -> None:
        """Set this poll's readings and remove the device's series it no longer reports."""
        fresh: set[tuple[str, str]] = set()
        for metric, subject, value in readings:
            gauge = self.gauges.get(metric)
            if gauge is None:
                continue
            if self._labels[metric]:
                gauge.labels(device, site, subject).set(value)
            else:
                gauge.labels(device, site).set(value)
            fresh.add((metric, subject))
        for metric, subject in self._series.get(device, set()) - fresh:
            self._remove(device, site, metric, subject)
        self._series[device] = fresh

    def _remove(self, device: str, site: str, metric: str, subject: str) -> None:
        labels = (device, site, subject) if self._labels[metric] else (device, site)
        try:
            self.gauges[metric].remove(*labels)
        except KeyError:
            pass

    def set_up(self, device: str, site: str, up: bool) -> None:
        self.gauges["up"].labels(device, site).set(1.0 if up else 0.0)


def register_metrics(registry: CollectorRegistry) -> SnmpMetrics:
    """The one call the service makes: SNMP metrics on the service's registry."""
    return SnmpMetrics(registry)
