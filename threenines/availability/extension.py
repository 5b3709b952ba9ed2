"""Plugs the availability engine into ``threenines run``: gauges every few minutes, daily summaries.

Both computations read the store and run in a thread, so the probes never wait on them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time

from threenines.availability.metrics import (
    register_availability_metrics,
    update_availability_metrics,
)
from threenines.core.context import ServiceContext

log = logging.getLogger("threenines.availability")
GAUGE_PERIOD = 300.0


def setup(ctx: ServiceContext) -> None:
    gauges = register_availability_metrics(ctx.metrics.registry)

    async def refresh() -> None:
        # imported here: the report package pulls in Jinja2 and friends
        from threenines.availability.load import summarise_days

        summarised: dt.date | None = None
        while True:
            now = time.time()
            await asyncio.to_thread(
                update_availability_metrics, gauges, ctx.engine, ctx.config, now
            )
            yesterday = dt.datetime.fromtimestamp(now, ctx.config.tz).date() - dt.timedelta(days=1)
            if summarised != yesterday:
                await asyncio.to_thread(
                    summarise_days, ctx.engine, ctx.config, yesterday, yesterday, now
                )
                summarised = yesterday
            await asyncio.sleep(GAUGE_PERIOD)

    ctx.add_task("availability", refresh)
