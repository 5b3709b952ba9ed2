"""Prometheus metrics for alerts, read from the database at scrape time (so they are right
across restarts and instances): open alerts by severity, notifications sent / failed /
retried, outbox depth. ``register_metrics(registry, engine)`` adds them to a registry."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from threenines.alerts.model import SEVERITIES
from threenines.alerts.outbox_store import OutboxStore


class AlertCollector(Collector):
    def __init__(self, engine: Engine, stats: Mapping[str, int] | None = None):
        self.store = OutboxStore(engine)
        self.stats = stats

    def collect(self) -> Iterator[Metric]:
        try:
            open_by = self.store.open_by_severity()
            counts = self.store.counts()
        except Exception:  # database away: report nothing rather than fail the scrape
            return
        g = GaugeMetricFamily(
            "threenines_alerts_open", "Open (unresolved) alerts by severity", labels=["severity"]
        )
        for sev in SEVERITIES:
            g.add_metric([sev], open_by.get(sev, 0))
        yield g
        c = CounterMetricFamily(
            "threenines_alert_notifications",
            "Notification deliveries (per receiver) by outcome; retried counts extra attempts",
            labels=["outcome"],
        )
        for outcome in ("sent", "failed", "retried"):
            c.add_metric([outcome], counts.get(outcome, 0))
        yield c
        yield GaugeMetricFamily(
            "threenines_alert_outbox_depth",
            "Deliveries waiting in the outbox (pending or being sent)",
            value=counts.get("pending", 0) + counts.get("sending", 0),
        )
        if self.stats is not None:
            p = CounterMetricFamily(
                "threenines_alert_process_notifications",
                "Deliveries by outcome made by this process since it started",
                labels=["outcome"],
            )
            for outcome, n in sorted(self.stats.items()):
                p.add_metric([outcome], n)
            yield p


def register_metrics(
    registry: CollectorRegistry, engine: Engine, stats: Mapping[str, int] | None = None
) -> AlertCollector:
    collector = AlertCollector(engine, stats)
    registry.register(collector)
    return collector
