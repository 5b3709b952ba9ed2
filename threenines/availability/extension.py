"""Plugs the availability engine into ``threenines run``: the SLO counters every
``SLO_PERIOD``, the 30-day gauges every ``GAUGE_PERIOD``, daily summaries.

Every computation reads the store and runs in a thread, so the probes never wait on them. The
counters add each stretch of time once, from the service's start, as the state rule counts it
at the end of the stretch. Until every service has counted time (a fresh install), the 30-day
gauges are recomputed at every counter tick, so figures appear as soon as they are known.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from threenines.availability.metrics import (
    register_availability_metrics,
    register_slo_counters,
    update_availability_metrics,
    update_slo_counters,
)
from threenines.core.context import ServiceContext

log = logging.getLogger("threenines.availability")
GAUGE_PERIOD = 300.0
SLO_PERIOD = 10.0


def setup(ctx: ServiceContext) -> None:
    gauges = register_availability_metrics(ctx.metrics.registry)
    counters = register_slo_counters(ctx.metrics.registry)
    counters.declare(ctx.config)

    async def refresh() -> None:
        # imported here: the report package pulls in Jinja2 and friends
        from threenines.availability.load import summarise_days

        summarised: dt.date | None = None
        started = last = time.time()
        gauged, complete = -GAUGE_PERIOD, False
        while True:
            now = time.time()
            cfg = ctx.config  # read each time: a reload may have replaced it
            counters.declare(cfg)
            if now > last:
                await asyncio.to_thread(
                    update_slo_counters, counters, ctx.engine, cfg, last, now, now
                )
                last = now
            if now - gauged >= GAUGE_PERIOD or (not complete and now - started < GAUGE_PERIOD):
                est = await asyncio.to_thread(
                    update_availability_metrics, gauges, ctx.engine, cfg, now
                )
                complete = all(est.service(n).counted > 0 for n in est.services)
                gauged = now
            yesterday = dt.datetime.fromtimestamp(now, cfg.tz).date() - dt.timedelta(days=1)
            if summarised != yesterday:
                await asyncio.to_thread(summarise_days, ctx.engine, cfg, yesterday, yesterday, now)
                summarised = yesterday
            await asyncio.sleep(SLO_PERIOD)

    ctx.add_task("availability", refresh)
