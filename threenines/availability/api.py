"""Current state: ``GET /api/v1/status``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

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
from threenines.core.deps import context

router = APIRouter()


@router.get("/api/v1/status", response_model=None)
async def status(ctx: ServiceContext = Depends(context)) -> dict[str, Any] | JSONResponse:
    """Every service's state by the state rule, and every configured check at every vantage
    point, from the store."""
    try:
        rows = await asyncio.to_thread(latest_intervals, ctx.engine)
        agents = await asyncio.to_thread(read_agents, ctx.engine, ctx.config, time.time())
    except Exception as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse({"detail": f"database unavailable: {first}"}, status_code=503)
    now = time.time()
    checks = overlay(compose_status(configured_checks(ctx.config), rows, now), agents, now)
    services = service_states(ctx.config, rows, now)
    return {
        "generated": now,
        "services": [service_dict(s) for s in services.values()],
        "checks": [c.to_dict() for c in checks],
        "agents": [a.to_dict() for a in agents],
    }
