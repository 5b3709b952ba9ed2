"""Prometheus metrics for availability: 30-day ratio, error budget left, burn rates, and the
raw good / bad / counted seconds counters that SLO rules (ours, Sloth's or Pyrra's) are built on.

``register_availability_metrics(registry)`` creates them on the service's registry;
``update_availability_metrics(gauges, engine, cfg, now)`` recomputes the 30-day gauges from the
store and ``update_slo_counters(counters, engine, cfg, start, end, now)`` adds one stretch of
time to the counters (they are the I/O edges of this package: call them from a thread).
``publish`` and ``SloCounters.add`` are pure apart from the metrics.

A figure that is not known is absent, never NaN or 0: with no counted time (a fresh install,
or a service in maintenance all window) there is no ratio, no budget and no burn rate, so a
rule such as "budget remaining <= 0" cannot fire on a service nobody has measured yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from threenines.availability.engine import Estate, target_for

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config.schema import Config

WINDOW = 30 * 86400.0
WINDOW_LABEL = "30d"
PREFIX = "threenines_"
# The counters' names (the generated rules, the dashboard and the README name them from here).
GOOD = PREFIX + "service_good_seconds_total"
BAD = PREFIX + "service_bad_seconds_total"
COUNTED = PREFIX + "service_counted_seconds_total"
TARGET = PREFIX + "service_availability_target_ratio"
SERVICE_LABELS = ("service", "site")


def objective(cfg: Config, service: str) -> Decimal:
    """The service's target as a ratio (0.999), exact: ``target_for`` in percent / 100."""
    svc = next(s for s in cfg.services if s.name == service)
    return Decimal(repr(target_for(cfg, svc))) / Decimal(100)


@dataclass(frozen=True)
class AvailabilityGauges:
    ratio: Gauge
    budget_remaining: Gauge
    budget_remaining_ratio: Gauge
    burn_rate: Gauge
    nodata: Gauge
    no_quorum: Gauge
    site_ratio: Gauge
    target: Gauge


@dataclass(frozen=True)
class SloCounters:
    """Seconds of good, bad and counted (good + bad) time per service, as the accounting
    rules count them (exclusions, no data and no quorum are in none of them). Monotonic:
    each call of ``add`` adds one stretch of time that was not added before."""

    good: Counter
    bad: Counter
    counted: Counter

    def declare(self, cfg: Config) -> None:
        """Create every service's series at 0, so the first stretch is seen by ``rate``."""
        for svc in cfg.services:
            for c in (self.good, self.bad, self.counted):
                c.labels(svc.name, svc.site)

    def add(self, est: Estate, start: float, end: float) -> None:
        for name, svc in est.services.items():
            f = est.service(name, start, end)
            labels = (name, svc.config.site)
            self.good.labels(*labels).inc(max(0.0, f.good))
            self.bad.labels(*labels).inc(max(0.0, f.bad))
            self.counted.labels(*labels).inc(max(0.0, f.counted))


def register_availability_metrics(registry: CollectorRegistry) -> AvailabilityGauges:
    labels = (*SERVICE_LABELS, "window")

    def gauge(name: str, doc: str, names: Iterable[str] = labels) -> Gauge:
        return Gauge(PREFIX + name, doc, tuple(names), registry=registry)

    return AvailabilityGauges(
        ratio=gauge(
            "service_availability_ratio",
            "Time-weighted availability over the window (absent: no counted time)",
        ),
        budget_remaining=gauge(
            "service_error_budget_remaining_seconds",
            "Downtime the target still allows over the window (negative: overspent; "
            "absent: no counted time)",
        ),
        budget_remaining_ratio=gauge(
            "service_error_budget_remaining_ratio",
            "Share of the window's error budget left (1 = untouched, < 0 = overspent)",
        ),
        burn_rate=gauge(
            "service_error_budget_burn_rate",
            "Error budget burn rate over the trailing window (1 = exactly on budget)",
        ),
        nodata=gauge(
            "service_nodata_seconds",
            "Counted time with no data over the window (excluded from the ratio)",
        ),
        no_quorum=gauge(
            "service_no_quorum_seconds",
            "Counted time when fewer vantage points than the quorum had fresh results "
            '("quorum not reached", excluded from the ratio)',
        ),
        site_ratio=gauge(
            "site_availability_ratio",
            "Service-time pooled availability of a site or data centre over the window",
            ("site", "window"),
        ),
        target=Gauge(
            TARGET,
            "The service's availability target (0.999 for 99.9 %)",
            SERVICE_LABELS,
            registry=registry,
        ),
    )


def register_slo_counters(registry: CollectorRegistry) -> SloCounters:
    return SloCounters(
        good=Counter(GOOD, "Counted time the service was up (or degraded, where that counts "
                     "as up)", SERVICE_LABELS, registry=registry),
        bad=Counter(BAD, "Counted time the service was down (or degraded, where that does "
                    "not count as up)", SERVICE_LABELS, registry=registry),
        counted=Counter(COUNTED, "Counted time: good + bad (exclusions, no data and no quorum "
                        "are left out)", SERVICE_LABELS, registry=registry),
    )  # fmt: skip


def _set(gauge: Gauge, labels: tuple[str, ...], value: float | None) -> None:
    """Set ``value``, or remove the series when it is not known."""
    if value is not None:
        gauge.labels(*labels).set(value)
        return
    try:
        gauge.remove(*labels)
    except KeyError:
        pass


def publish(gauges: AvailabilityGauges, est: Estate) -> None:
    """Set every gauge from ``est`` (built over at least the last 30 days)."""
    start = est.end - WINDOW
    for name, svc in est.services.items():
        site = svc.config.site
        gauges.target.labels(name, site).set(float(objective(est.cfg, name)))
        f = est.service(name, start, est.end)
        key = (name, site, WINDOW_LABEL)
        known = f.counted > 0
        _set(gauges.ratio, key, f.availability)
        _set(gauges.budget_remaining, key, f.remaining if known else None)
        _set(gauges.budget_remaining_ratio, key, f.remaining / f.allowed if f.allowed else None)
        gauges.nodata.labels(*key).set(f.nodata)
        gauges.no_quorum.labels(*key).set(f.no_quorum)
        for label, rate in est.burn_rates(name).items():
            _set(gauges.burn_rate, (name, site, label), rate)
    for conf in est.cfg.sites:
        f = est.site(conf.name, start, est.end)
        _set(gauges.site_ratio, (conf.name, WINDOW_LABEL), f.availability)


def update_availability_metrics(
    gauges: AvailabilityGauges, engine: Engine, cfg: Config, now: float
) -> Estate:
    """Load the last 30 days from the store and publish; returns the estate it built."""
    from threenines.availability.load import load_estate

    est = load_estate(engine, cfg, now - WINDOW, now, now)
    publish(gauges, est)
    return est


def update_slo_counters(
    counters: SloCounters, engine: Engine, cfg: Config, start: float, end: float, now: float
) -> None:
    """Add ``[start, end)`` to the counters, as the store and the state rule know it at ``now``."""
    from threenines.availability.load import load_estate

    est = load_estate(engine, cfg, start, end, now)
    counters.add(est, start, end)
