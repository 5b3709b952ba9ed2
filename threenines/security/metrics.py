"""Prometheus metrics for security findings, read from the store at scrape time.

``register(registry, engine)`` adds ``threenines_security_findings_open{severity,kind}`` (open
findings; accepted ones are reported separately as ``..._accepted``). A database error at scrape
time yields no samples rather than a failed scrape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from threenines.security.tables import effective_status, findings

log = logging.getLogger(__name__)


class FindingsCollector(Collector):
    def __init__(self, engine: Engine):
        self.engine = engine

    def collect(self) -> Iterator[Metric]:
        open_ = GaugeMetricFamily(
            "threenines_security_findings_open",
            "Open security findings",
            labels=["severity", "kind"],
        )
        accepted = GaugeMetricFamily(
            "threenines_security_findings_accepted",
            "Security findings whose risk is accepted",
            labels=["severity", "kind"],
        )
        status = effective_status(time.time())  # an expired acceptance counts as open
        q = (
            sa.select(status, findings.c.severity, findings.c.kind, sa.func.count())
            .where(findings.c.status != "resolved")
            .group_by(status, findings.c.severity, findings.c.kind)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("security metrics: %s", exc)
            rows = []
        for status, severity, kind, n in rows:
            (open_ if status == "open" else accepted).add_metric([severity, kind], n)
        yield open_
        yield accepted

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected lazily: no samples needed at registration


def register(registry: CollectorRegistry, engine: Engine) -> FindingsCollector:
    collector = FindingsCollector(engine)
    registry.register(collector)
    return collector
