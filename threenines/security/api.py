"""Security findings and baselines over HTTP, under ``/api/v1/security``.

Reading needs a viewer token. Every decision (accepting a baseline change, accepting or
resolving a finding) depends on ``deps.require_operator``, the operator's name for the audit
trail, which ``threenines.agents.auth.install`` backs with the operator-token check.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from threenines.core.context import ServiceContext
from threenines.core.deps import context, require_operator
from threenines.security.config import security_config
from threenines.security.store import SecurityStore
from threenines.security.store_baselines import BaselineStore

router = APIRouter(prefix="/api/v1/security", tags=["security"])


class Decision(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class Acceptance(Decision):
    until: float | None = Field(None, description="Epoch seconds when the acceptance expires")


@router.get("/findings")
async def list_findings(
    status: str | None = "open",
    severity: str | None = None,
    kind: str | None = None,
    limit: int = 500,
    ctx: ServiceContext = Depends(context),
) -> list[dict[str, Any]]:
    store = SecurityStore(ctx.engine)
    status = None if status == "all" else status
    return await asyncio.to_thread(store.find, status, severity, kind, min(limit, 5000))


@router.get("/findings/{finding_id}")
async def get_finding(finding_id: int, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    row = await asyncio.to_thread(SecurityStore(ctx.engine).get, finding_id)
    if row is None:
        raise HTTPException(404, f"no finding {finding_id}")
    return row


@router.post("/findings/{finding_id}/accept")
async def accept_finding(
    finding_id: int,
    body: Acceptance,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    store = SecurityStore(ctx.engine)
    ok = await asyncio.to_thread(
        store.accept, finding_id, by=operator, reason=body.reason, until=body.until, now=time.time()
    )
    if not ok:
        raise HTTPException(409, f"finding {finding_id} is not open")
    return {"id": finding_id, "status": "accepted", "by": operator}


@router.post("/findings/{finding_id}/resolve")
async def resolve_finding(
    finding_id: int,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    store = SecurityStore(ctx.engine)
    ok = await asyncio.to_thread(
        store.resolve, finding_id, by=operator, reason=body.reason, now=time.time()
    )
    if not ok:
        raise HTTPException(409, f"finding {finding_id} is not open or accepted")
    return {"id": finding_id, "status": "resolved", "by": operator}


@router.get("/baseline")
async def baseline(
    state: str | None = "pending", ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    b = security_config(ctx.config).baselines
    rows = await asyncio.to_thread(
        BaselineStore(ctx.engine).find, None if state == "all" else state
    )
    return {
        "configured": {
            "roles": {k: list(v) for k, v in b.roles.items()},
            "hosts": {k: list(v) for k, v in b.hosts.items()},
        },
        "changes": rows,
    }


async def _decide(ctx: ServiceContext, change_id: int, accept: bool, who: str, why: str) -> None:
    store = BaselineStore(ctx.engine)
    ok = await asyncio.to_thread(
        store.decide, change_id, accept=accept, by=who, reason=why, now=time.time()
    )
    if not ok:
        raise HTTPException(409, f"baseline change {change_id} is not pending")


@router.post("/baseline/{change_id}/accept")
async def accept_change(
    change_id: int,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    await _decide(ctx, change_id, True, operator, body.reason)
    return {"id": change_id, "state": "accepted", "by": operator}


@router.post("/baseline/{change_id}/reject")
async def reject_change(
    change_id: int,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    await _decide(ctx, change_id, False, operator, body.reason)
    return {"id": change_id, "state": "rejected", "by": operator}


@router.get("/summary")
async def summary(
    start: float, end: float | None = None, ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Board-report figures for ``[start, end)`` (epoch seconds; end defaults to now)."""
    from threenines.security.report import security_summary

    result = await asyncio.to_thread(security_summary, ctx.engine, start, end or time.time())
    return result.to_dict()
