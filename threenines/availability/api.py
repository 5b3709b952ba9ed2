"""Current state: ``GET /api/v1/status``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends

from threenines.agents.status import read_agents
from threenines.availability.status import (
    compose_status,
    configured_checks,
    latest_intervals,
    overlay,
    service_dict,
    service_states,
)
from threenines.core.context import ServiceContext
from threenines.core.deps import context, responses

router = APIRouter()


@router.get("/api/v1/status", responses=responses(503))
async def status(ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """Every service's state by the state rule, and every configured check at every vantage
    point, from the store. (The database away: 503, by the API's outage handler.)"""
    rows = await asyncio.to_thread(latest_intervals, ctx.engine)
    agents = await asyncio.to_thread(read_agents, ctx.engine, ctx.config, time.time())
    now = time.time()
    checks = overlay(compose_status(configured_checks(ctx.config), rows, now), agents, now)
    services = service_states(ctx.config, rows, now)
    return {
        "generated": now,
        "services": [service_dict(s) for s in services.values()],
        "checks": [c.to_dict() for c in checks],
        "agents": [a.to_dict() for a in agents],
    }
