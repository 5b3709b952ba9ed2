"""Security findings and baselines over HTTP, under ``/api/v1/security``.

Reading needs a viewer token. Every decision (accepting a baseline change, accepting or
resolving a finding) depends on ``deps.require_operator``, the operator's name for the audit
trail, which ``threenines.agents.auth.install`` backs with the operator-token check.

Ids, names, times and texts follow ``threenines.core.deps``: a finding or change id out of
range is 422, an absent one 404; a decision on a row already decided is 409.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator

from threenines.core.context import ServiceContext
from threenines.core.deps import (
    Epoch,
    Key,
    PlainText,
    RowId,
    context,
    require_operator,
    responses,
    start_job,
)
from threenines.security.config import security_config
from threenines.security.runner import PARTS
from threenines.security.store import SecurityStore
from threenines.security.store_baselines import BaselineStore, changes

router = APIRouter(prefix="/api/v1/security", tags=["security"], responses=responses(401, 403, 503))
MAX_LIMIT = 5000
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many findings")]
DECISION = responses(400, 404, 409, 413)


class Decision(BaseModel):
    reason: PlainText = Field(min_length=1, max_length=2000)


class Acceptance(Decision):
    until: Epoch | None = Field(
        None, strict=True, description="Epoch seconds when the acceptance expires"
    )


def _found(engine: sa.Engine, what: str, row_id: int) -> bool:
    if what == "finding":
        return SecurityStore(engine).get(row_id) is not None
    with engine.connect() as conn:
        return (
            conn.execute(sa.select(changes.c.id).where(changes.c.id == row_id)).first() is not None
        )


async def _exists(ctx: ServiceContext, what: str, row_id: int) -> None:
    """404 when no row has ``row_id`` (a refused decision is otherwise a 409)."""
    if not await asyncio.to_thread(_found, ctx.engine, what, row_id):
        raise HTTPException(404, f"no {what} {row_id}")


@router.get("/findings")
async def list_findings(
    status: Key | None = "open",
    severity: Key | None = None,
    kind: Key | None = None,
    limit: Limit = 500,
    ctx: ServiceContext = Depends(context),
) -> list[dict[str, Any]]:
    store = SecurityStore(ctx.engine)
    status = None if status == "all" else status
    return await asyncio.to_thread(store.find, status, severity, kind, limit)


@router.get("/findings/{finding_id}", responses=responses(404))
async def get_finding(finding_id: RowId, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    row = await asyncio.to_thread(SecurityStore(ctx.engine).get, finding_id)
    if row is None:
        raise HTTPException(404, f"no finding {finding_id}")
    return row


@router.post("/findings/{finding_id}/accept", responses=DECISION)
async def accept_finding(
    finding_id: RowId,
    body: Acceptance,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    store = SecurityStore(ctx.engine)
    ok = await asyncio.to_thread(
        store.accept, finding_id, by=operator, reason=body.reason, until=body.until, now=time.time()
    )
    if not ok:
        await _exists(ctx, "finding", finding_id)
        raise HTTPException(409, f"finding {finding_id} is not open")
    return {"id": finding_id, "status": "accepted", "by": operator}


@router.post("/findings/{finding_id}/resolve", responses=DECISION)
async def resolve_finding(
    finding_id: RowId,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    store = SecurityStore(ctx.engine)
    ok = await asyncio.to_thread(
        store.resolve, finding_id, by=operator, reason=body.reason, now=time.time()
    )
    if not ok:
        await _exists(ctx, "finding", finding_id)
        raise HTTPException(409, f"finding {finding_id} is not open or accepted")
    return {"id": finding_id, "status": "resolved", "by": operator}


@router.get("/baseline")
async def baseline(
    state: Key | None = "pending", ctx: ServiceContext = Depends(context)
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
        await _exists(ctx, "baseline change", change_id)
        raise HTTPException(409, f"baseline change {change_id} is not pending")


@router.post("/baseline/{change_id}/accept", responses=DECISION)
async def accept_change(
    change_id: RowId,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    await _decide(ctx, change_id, True, operator, body.reason)
    return {"id": change_id, "state": "accepted", "by": operator}


@router.post("/baseline/{change_id}/reject", responses=DECISION)
async def reject_change(
    change_id: RowId,
    body: Decision,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    await _decide(ctx, change_id, False, operator, body.reason)
    return {"id": change_id, "state": "rejected", "by": operator}


@router.get("/summary")
async def summary(
    start: Epoch, end: Epoch | None = None, ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Board-report figures for ``[start, end)`` (epoch seconds; end defaults to now)."""
    from threenines.security.report import security_summary

    result = await asyncio.to_thread(security_summary, ctx.engine, start, end or time.time())
    return result.to_dict()


class ScanRequest(BaseModel):
    parts: list[Key] = Field(
        default_factory=lambda: list(PARTS), min_length=1, max_length=len(PARTS),
        description=f"Which checks to run: any of {', '.join(PARTS)} (default all)",
    )  # fmt: skip

    @field_validator("parts")
    @classmethod
    def _known(cls, parts: list[str]) -> list[str]:
        bad = [p for p in parts if p not in PARTS]
        if bad:
            raise ValueError(f"unknown part(s) {bad}; choose from {list(PARTS)}")
        return parts


@router.post("/scan", status_code=202, responses=responses(409, 413, 429)
             | {202: {"description": "Started: the job, to poll"}})  # fmt: skip
async def scan(
    request: Request,
    body: ScanRequest | None = None,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Run the configured security checks once, as ``threenines security scan``, recording
    what they find: 202 with a job (``/api/v1/jobs/{id}``) whose result is each check's run."""
    from threenines.security.runner import SecurityMonitor, scan_doc

    parts = tuple(dict.fromkeys((body or ScanRequest()).parts))

    async def work() -> dict[str, Any]:
        monitor = SecurityMonitor(security_config(ctx.config), ctx.engine)
        return {"parts": list(parts), "runs": scan_doc(await monitor.run_once(parts))}

    return start_job(request, "security.scan", ",".join(parts), operator, work)
