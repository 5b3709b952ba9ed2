"""The server side of what agents tell about themselves: read it from each request, keep it
(``agents.health``), raise the clock events, and give every answer the server's time.

A report is written at most every ``EVERY`` seconds per vantage point, and at once when it
says something new (a queue error, results held back) or the clock verdict may change; a
failed write is logged, never fails the request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from threenines.agents.config import agents_config
from threenines.agents.health import HealthStore, Report, is_skewed, parse

if TYPE_CHECKING:
    from fastapi import Request

    from threenines.core.context import ServiceContext

log = logging.getLogger("threenines.ingest")
EVERY = 5.0
SENT, STATE, SERVER_TIME = "x-threenines-sent", "x-threenines-agent", "X-Threenines-Time"


def server_time() -> dict[str, str]:
    """The header every answer to an agent carries: the server's clock, now."""
    return {SERVER_TIME: f"{time.time():.6f}"}


class HealthRecorder:
    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx
        self._last: dict[str, tuple[float, tuple[bool, bool], bool]] = {}
        self.sites = {v.name: v.site for v in ctx.config.vantage_points}

    async def note(self, vantage: str, request: Request, now: float) -> Report:
        """Read the agent's clock and state from ``request``'s headers; keep them if due."""
        report = parse(request.headers.get(SENT), request.headers.get(STATE), now)
        bound = agents_config(self.ctx.config).max_clock_skew
        last_at, last_key, was = self._last.get(vantage, (0.0, (False, False), False))
        skewed = is_skewed(report.skew, bound, was)
        if now - last_at < EVERY and report.key == last_key and skewed == was:
            return report
        self._last[vantage] = (now, report.key, skewed)
        try:
            store = HealthStore(self.ctx.engine)
            site = self.sites.get(vantage)
            kind = await asyncio.to_thread(store.record, vantage, report, now=now, bound=bound,
                                           site=site)  # fmt: skip
        except Exception as exc:  # a report is never worth failing a request for
            self._last.pop(vantage, None)
            log.warning("report from agent %s not recorded: %s", vantage, type(exc).__name__)
            return report
        if kind == "agent_clock_skew":
            log.error("agent %s: its clock is %+.1fs off the server's (more than %gs); event "
                      "agent_clock_skew raised", vantage, report.skew, bound)  # fmt: skip
        elif kind == "agent_clock_ok":
            log.warning("agent %s: its clock is right again (%+.1fs)", vantage, report.skew)
        return report
