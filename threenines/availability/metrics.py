"""Prometheus gauges for availability: 30-day ratio, error budget left, burn rates.

``register_availability_metrics(registry)`` creates the gauges on the service's registry;
``update_availability_metrics(gauges, engine, cfg, now)`` recomputes them from the store (it
is the one I/O edge of this package: call it from a thread every few minutes). ``publish``
sets them from an already built ``Estate`` and is pure apart from the gauges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Gauge

from threenines.availability.engine import Estate

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config.schema import Config

WINDOW = 30 * 86400.0
WINDOW_LABEL = "30d"


@dataclass(frozen=True)
class AvailabilityGauges:
    ratio: Gauge
    budget_remaining: Gauge
    budget_remaining_ratio: Gauge
    burn_rate: Gauge
    nodata: Gauge
    no_quorum: Gauge
    site_ratio: Gauge


def register_availability_metrics(registry: CollectorRegistry) -> AvailabilityGauges:
    labels = ("service", "site", "window")
    return AvailabilityGauges(
        ratio=Gauge(
            "availability_ratio",
            "Time-weighted availability over the window (NaN: no counted time)",
            labels,
            registry=registry,
        ),
        budget_remaining=Gauge(
            "availability_error_budget_remaining_seconds",
            "Downtime the target still allows over the window (negative: overspent)",
            labels,
            registry=registry,
        ),
        budget_remaining_ratio=Gauge(
            "availability_error_budget_remaining_ratio",
            "Share of the window's error budget left (1 = untouched, < 0 = overspent)",
            labels,
            registry=registry,
        ),
        burn_rate=Gauge(
            "availability_burn_rate",
            "Error budget burn rate over the trailing window (1 = exactly on budget)",
            labels,
            registry=registry,
        ),
        nodata=Gauge(
            "availability_nodata_seconds",
            "Counted time with no data over the window (excluded from the ratio)",
            labels,
            registry=registry,
        ),
        no_quorum=Gauge(
            "availability_no_quorum_seconds",
            "Counted time when fewer vantage points than the quorum had fresh results "
            '("quorum not reached", excluded from the ratio)',
            labels,
            registry=registry,
        ),
        site_ratio=Gauge(
            "availability_site_ratio",
            "Service-time pooled availability of a site or data centre over the window",
            ("site", "window"),
            registry=registry,
        ),
    )


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def publish(gauges: AvailabilityGauges, est: Estate) -> None:
    """Set every gauge from ``est`` (built over at least the last 30 days)."""
    start = est.end - WINDOW
    for name, svc in est.services.items():
        site = svc.config.site
        f = est.service(name, start, est.end)
        key = (name, site, WINDOW_LABEL)
        gauges.ratio.labels(*key).set(_nan(f.availability))
        gauges.budget_remaining.labels(*key).set(f.remaining)
        share = f.remaining / f.allowed if f.allowed > 0 else None
        gauges.budget_remaining_ratio.labels(*key).set(_nan(share))
        gauges.nodata.labels(*key).set(f.nodata)
        gauges.no_quorum.labels(*key).set(f.no_quorum)
        for label, rate in est.burn_rates(name).items():
            gauges.burn_rate.labels(name, site, label).set(_nan(rate))
    for conf in est.cfg.sites:
        f = est.site(conf.name, start, est.end)
        gauges.site_ratio.labels(conf.name, WINDOW_LABEL).set(_nan(f.availability))


def update_availability_metrics(
    gauges: AvailabilityGauges, engine: Engine, cfg: Config, now: float
) -> Estate:
    """Load the last 30 days from the store and publish; returns the estate it built."""
    from threenines.availability.load import load_estate

    est = load_estate(engine, cfg, now - WINDOW, now, now)
    publish(gauges, est)
    return est
