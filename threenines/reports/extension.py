"""Plug scheduled reports into ``threenines run``: ``setup(ctx)`` is the area's
``Area.setup`` hook (``area.py``).

With at least one schedule under ``reports.schedules`` (and ``reports.enabled``), it runs a
``ReportSender`` as a background task and adds a gauge of report deliveries by state, read from
the database at scrape time (right across restarts and instances).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from threenines.reports.config import reports_config
from threenines.reports.sender import ReportSender
from threenines.reports.store import ReportDeliveryStore

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config
    from threenines.core.context import ServiceContext

STATES = ("pending", "sending", "sent", "failed")


class ReportCollector(Collector):
    def __init__(self, engine: Engine):
        self.store = ReportDeliveryStore(engine)

    @staticmethod
    def _family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "threenines_report_deliveries",
            "Scheduled report deliveries (one per schedule, period and receiver) by state",
            labels=["state"],
        )

    def describe(self) -> Iterator[Metric]:
        yield self._family()  # so registering does not query the database

    def collect(self) -> Iterator[Metric]:
        try:
            counts = self.store.counts()
        except Exception:  # database away: report nothing rather than fail the scrape
            return
        g = self._family()
        for state in STATES:
            g.add_metric([state], counts.get(state, 0))
        yield g


def setup(ctx: ServiceContext) -> ReportSender | None:
    reports = reports_config(ctx.config)
    if not reports.enabled or not reports.schedules:
        return None
    sender = ReportSender(ctx.config, ctx.engine)
    ctx.add_task("reports", lambda: sender.run(ctx.stopping), singleton=True)

    def reload(cfg: Config) -> None:  # services, sites, maintenance for the next report
        sender.cfg = cfg  # (the ``reports`` section itself is held: ``area.py``)

    ctx.on_reload(reload)
    ctx.metrics.registry.register(ReportCollector(ctx.engine))
    return sender
