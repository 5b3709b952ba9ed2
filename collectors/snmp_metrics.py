"""Prometheus metrics for the SNMP poller and trap receiver, on a registry passed in.

Every reading is a gauge ``threenines_snmp_<metric>{device, site[, interface|cpu|storage|...]}``
in base units (``export_name``: a profile's ``_percent`` is exported as a ``_ratio``, ``_bps``
as ``_bytes_per_second``, ``_ps`` as ``_per_second``, minutes as seconds). Series a device
stops reporting (an interface removed, a device that stopped answering) are removed,
so a dashboard never shows a stale temperature as if it were current.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from threenines.collectors.snmp_profiles import PROFILES

BASE = ("device", "site")
PREFIX = "threenines_snmp_"
# A reading name's unit suffix -> the exported suffix and the factor to base units.
UNITS = (
    ("_percent", "_ratio", 0.01, "as a ratio (0 to 1)"),
    ("_bps", "_bytes_per_second", 1 / 8, "in bytes per second"),
    ("_ps", "_per_second", 1.0, ""),
)
RENAMED = {"ups_minutes_remaining": ("ups_remaining_seconds", 60.0, "in seconds")}
LABELS = {"ifName": "interface"}  # Prometheus label names are snake_case (promtool says so)


def export_name(metric: str) -> tuple[str, float, str]:
    """The Prometheus name of reading ``metric``, the factor from its value to base units and
    what to add to its help text (empty when nothing changes)."""
    if metric in RENAMED:
        name, factor, note = RENAMED[metric]
        return PREFIX + name, factor, note
    for suffix, unit, factor, note in UNITS:
        if metric.endswith(suffix):
            return PREFIX + metric.removesuffix(suffix) + unit, factor, note
    return PREFIX + metric, 1.0, ""


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
        self._factor: dict[str, float] = {}
        for profile in PROFILES.values():
            for spec in profile.metrics:
                labels = BASE + ((LABELS.get(spec.label, spec.label),) if spec.label else ())
                name, self._factor[spec.name], note = export_name(spec.name)
                doc = f"{spec.help}, exported {note}" if note else spec.help
                self.gauges[spec.name] = Gauge(name, doc, labels, registry=registry)
                self._labels[spec.name] = spec.label
        self._series: dict[str, set[tuple[str, str]]] = {}  # device -> {(metric, subject)}
        self.poll_duration = Histogram(
            "threenines_snmp_poll_duration_seconds",
            "Time to poll all profiles of a device",
            BASE,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.poll_errors = Counter(
            "threenines_snmp_poll_errors_total",
            "Failed polls by reason",
            (*BASE, "reason"),
            registry=registry,
        )
        self.varbinds = Counter(
            "threenines_snmp_varbinds_total", "Variable bindings received", BASE, registry=registry
        )
        self.traps = Counter(
            "threenines_snmp_traps_total",
            "Datagrams at the trap receiver by outcome",
            ("outcome",),
            registry=registry,
        )
        for outcome in TRAP_OUTCOMES:
            self.traps.labels(outcome)
        self.trap_events = Counter(
            "threenines_snmp_trap_events_total",
            "Events made from traps",
            ("kind",),
            registry=registry,
        )
        self.trap_queue = Gauge(
            "threenines_snmp_trap_queue_datagrams",
            "Datagrams waiting to be decoded",
            registry=registry,
        )
        self.trap_kernel_drops = Gauge(
            "threenines_snmp_trap_socket_dropped_datagrams",
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
            value *= self._factor[metric]
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
