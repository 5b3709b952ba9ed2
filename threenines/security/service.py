"""Service extension: ``setup(ctx)`` plugs security monitoring into ``threenines run``.

Registers the findings metrics and, when the ``security:`` section configures anything to do,
a background task running ``SecurityMonitor.run_forever`` until the service stops. ARP sweeps,
passive listening and SYN scans need root; without it, SYN scans fall back to connect scans and
ARP work reports an incomplete run (and a log line) instead of failing the service.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from threenines.core.quarantine import Quarantine
from threenines.security import metrics
from threenines.security.config import security_config

if TYPE_CHECKING:
    from threenines.core.context import ServiceContext


def setup(ctx: ServiceContext) -> None:
    sec = security_config(ctx.config)
    metrics.register(ctx.metrics.registry, ctx.engine)
    if not (sec.sites or sec.scans or sec.posture):
        return
    from threenines.security.runner import SecurityMonitor

    monitor = SecurityMonitor(
        sec, ctx.engine, quarantine=Quarantine(ctx.engine, registry=ctx.metrics.registry)
    )
    ctx.add_task("security", lambda: monitor.run_forever(ctx.stopping), singleton=True)
