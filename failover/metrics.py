"""Prometheus metrics for failover, read from the store at scrape time (right across restarts
and instances): ``threenines_failover_plan_info`` for each configured plan, runs by plan, kind
and state, and when each plan's last run of each kind started. A database error at scrape time
yields no run samples rather than a failed scrape."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import sqlalchemy as sa
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry
from sqlalchemy import Engine

from threenines.failover.config import FailoverConfig
from threenines.failover.store import failover_runs

log = logging.getLogger(__name__)
KINDS = ("failover", "failback")


class FailoverCollector(Collector):
    def __init__(self, engine: Engine, cfg: FailoverConfig):
        self.engine, self.cfg = engine, cfg

    def describe(self) -> Iterator[Metric]:
        return iter(())  # collected lazily: no query at registration

    def collect(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "threenines_failover_plan_info", "A configured failover plan (always 1)",
            labels=["plan", "primary", "mirror", "mode"],
        )  # fmt: skip
        plans = [p.name for p in self.cfg.plans]
        for p in self.cfg.plans:
            info.add_metric([p.name, p.primary, p.mirror, p.guards.mode], 1)
        yield info
        r = failover_runs.c
        q = (
            sa.select(r.plan, r.kind, r.state, sa.func.count(), sa.func.max(r.started))
            .where(r.plan.in_(plans), r.check_mode.is_(False))
            .group_by(r.plan, r.kind, r.state)
        )
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(q).all()
        except sa.exc.SQLAlchemyError as exc:
            log.warning("failover metrics: %s", exc)
            return
        runs = GaugeMetricFamily(
            "threenines_failover_runs", "Failover and failback runs by state (check-mode "
            "rehearsals left out)", labels=["plan", "kind", "state"],
        )  # fmt: skip
        last = GaugeMetricFamily(
            "threenines_failover_last_run_timestamp_seconds",
            "When the plan's last run of this kind started", labels=["plan", "kind"],
        )  # fmt: skip
        seen: dict[tuple[str, str, str], int] = {(p, k, "running"): 0 for p in plans for k in KINDS}
        newest: dict[tuple[str, str], float] = {}
        for plan, kind, state, n, started in rows:
            seen[(plan, kind, state)] = n
            newest[(plan, kind)] = max(newest.get((plan, kind), 0.0), started)
        for labels, n in sorted(seen.items()):
            runs.add_metric(list(labels), n)
        for (plan, kind), ts in sorted(newest.items()):
            last.add_metric([plan, kind], ts)
        yield runs
        yield last


def register(registry: CollectorRegistry, engine: Engine, cfg: FailoverConfig) -> None:
    registry.register(FailoverCollector(engine, cfg))
