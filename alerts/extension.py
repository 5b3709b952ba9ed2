"""Plug the alerts into ``threenines run``: ``setup(ctx)`` is the area's
``Area.setup`` hook (``area.py``).

It creates the ``AlertService`` on the service's config and engine, subscribes it to the
writer's flips, runs it as a background task, registers its metrics, and feeds it the
availability engine's maintenance windows (config and stored) and DR drill periods, refreshed
off the event loop.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from threenines.alerts.config import alerts_config
from threenines.alerts.metrics import register_metrics
from threenines.alerts.model import Window
from threenines.alerts.service import AlertService
from threenines.availability.history import DRILLS, exclusions_config, windows
from threenines.availability.schedule import Exclusion, expand_all
from threenines.availability.store import drill_periods, maintenance_windows

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from sqlalchemy import Engine

    from threenines.core.config import Config
    from threenines.core.context import ServiceContext

HORIZON = 86400.0


def windows_from(exclusions: list[Exclusion]) -> list[Window]:
    """An availability ``Exclusion`` (services/sites, empty = everything) as alert windows."""
    out: list[Window] = []
    for e in exclusions:
        if not e.services and not e.sites:
            out.append(Window(e.start, e.end, "*"))
        out += [Window(e.start, e.end, f"service:{s}") for s in e.services]
        out += [Window(e.start, e.end, f"site:{s}") for s in e.sites]
    return out


class MaintenanceFeed:
    """Callable ``(now) -> windows``; ``refresh()`` (blocking: call it in a thread) reloads."""

    def __init__(self, cfg: Config, engine: Engine):
        self.cfg = cfg
        self.engine = engine
        self.windows: list[Window] = []
        self.refreshed = 0.0

    def refresh(self) -> None:
        now = time.time()
        excl = expand_all(self.cfg.maintenance, self.cfg.tz, now - HORIZON, now + HORIZON)
        policy = exclusions_config(self.cfg)  # the windows in effect, as availability counts
        stored = windows(self.engine, maintenance_windows, policy, now - HORIZON, now + HORIZON)
        # A DR drill's induced outage must not page on-call: its period holds alerts like
        # maintenance (the drill's own failover events carry no site, so they are not held and
        # go to the drill route)
        stored += windows(self.engine, drill_periods, DRILLS, now - HORIZON, now + HORIZON)
        self.windows = windows_from([*excl, *stored])
        self.refreshed = now

    def __call__(self, now: float) -> list[Window]:
        return [w for w in self.windows if w.start <= now < w.end]


def setup(ctx: ServiceContext) -> AlertService | None:
    if not alerts_config(ctx.config).enabled:
        return None
    feed = MaintenanceFeed(ctx.config, ctx.engine)
    svc = AlertService(ctx.config, ctx.engine, maintenance=feed, active=lambda: ctx.active)
    ctx.subscribe_flips(svc.on_flips, singleton=True)

    def reload(cfg: Config) -> Awaitable[None]:  # the ``alerts`` section itself is held
        feed.cfg = cfg
        return svc.reconfigure(cfg)

    ctx.on_reload(reload)
    ctx.add_task("alerts", lambda: svc.run(ctx.stopping), singleton=True)
    register_metrics(ctx.metrics.registry, ctx.engine, svc.sender.stats)
    return svc
