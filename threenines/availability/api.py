"""Current state: ``GET /api/v1/status``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

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
from threenines.core.deps import (
    PlainText,
    RowId,
    context,
    public_view,
    require_admin,
    require_viewer,
    responses,
)

router = APIRouter()


@router.get("/api/v1/status", responses=responses(503))
async def status(
    ctx: ServiceContext = Depends(context), public: dict[str, Any] | None = Depends(public_view)
) -> dict[str, Any]:
    """Every service's state by the state rule, and every configured check at every vantage
    point, from the store. (The database away: 503, by the API's outage handler.) An anonymous
    caller gets only the public status page's content (``deps.public_view``)."""
    if public is not None:
        return public
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


@router.get(
    "/api/v1/maintenance",
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 503),
)
async def maintenance(ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """Every maintenance record (append-only): who made it, when, why, whether it is
    retroactive, its approval, and whether it is in effect."""
    from threenines.availability.history import effective, exclusions_config, records

    recs = await asyncio.to_thread(records, ctx.engine)
    live = {r.id for r in effective(recs, exclusions_config(ctx.config)).values()}
    return {
        "records": [
            {
                "record": r.id, "window": r.window_id, "action": r.action, "name": r.window.name,
                "start": r.window.start, "end": r.window.end, "services": list(r.window.services),
                "sites": list(r.window.sites), "reason": r.window.reason,
                "created_by": r.created_by, "created_at": r.created_at,
                "retroactive": r.retroactive, "status": r.label() or None,
                "approved_by": r.approval.by if r.approval else None,
                "approved_at": r.approval.at if r.approval else None,
                "in_effect": r.id in live,
            }
            for r in recs
        ]
    }  # fmt: skip


class Approval(BaseModel):
    note: PlainText = Field("", max_length=2000, description="Why (kept with the approval)")


@router.post(
    "/api/v1/maintenance/{record_id}/approve",
    responses=responses(400, 401, 403, 404, 409, 413, 503),
)
async def approve_record(
    record_id: RowId,
    body: Approval | None = None,
    who: str = Depends(require_admin),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """A second person's approval of a retroactive maintenance record (an admin token, not the
    record's author): from now on it counts. 404: no such record; 409: not retroactive,
    already approved, or the approver made it."""
    from threenines.availability.history import HistoryError, approve

    note = body.note if body is not None else ""
    try:
        rec = await asyncio.to_thread(approve, ctx.engine, record_id, now=time.time(), by=who,
                                      role="admin", note=note)  # fmt: skip
    except HistoryError as exc:
        raise HTTPException(404 if str(exc).startswith("no ") else 409, str(exc)) from None
    return {"record": rec.id, "approved_by": who, "status": rec.label()}
