"""Plugs SNMP polling, the trap receiver and host metrics into ``threenines run``.

Device reachability and uplink states go through the service's writer (same state intervals
as probes); events and summarised readings go through the collectors' own ``StoreSink``.
"""

from __future__ import annotations

import asyncio

from threenines.collectors.config import poll_max_gap, snmp_config
from threenines.collectors.host import register_host_metrics
from threenines.collectors.sink import StoreSink
from threenines.collectors.snmp_metrics import register_metrics
from threenines.collectors.snmp_poll import SnmpPoller
from threenines.collectors.snmp_traps import TrapReceiver
from threenines.core.context import ServiceContext


def setup(ctx: ServiceContext) -> None:
    cfg = ctx.config
    register_host_metrics(ctx.metrics.registry)
    snmp = snmp_config(cfg)
    # device results are written from this vantage point: their silence is "no data" after
    # poll_max_gap (the rule the availability engine applies to them)
    ctx.max_gaps += [poll_max_gap(d.interval or snmp.defaults.interval) for d in snmp.devices]
    if not snmp.devices and not snmp.traps.enabled:
        return
    metrics = register_metrics(ctx.metrics.registry)
    sink = StoreSink(
        ctx.engine,
        submit=ctx.writer.submit,
        summary_period=snmp.defaults.summary_period,
        registry=ctx.metrics.registry,
    )

    async def collect() -> None:
        sink_stop = asyncio.Event()
        sink_task = asyncio.create_task(sink.run(sink_stop))
        parts = []
        if snmp.devices:
            poller = SnmpPoller(snmp, sink, vantage=cfg.server.vantage, metrics=metrics)
            parts.append(poller.run(ctx.stopping))
        if snmp.traps.enabled:
            receiver = TrapReceiver(snmp.traps, sink, devices=snmp.devices, metrics=metrics)
            parts.append(receiver.run(ctx.stopping))
        try:
            await asyncio.gather(*parts)
        finally:
            sink_stop.set()  # after the collectors: their last output is written too
            await sink_task

    ctx.add_task("snmp", collect)
