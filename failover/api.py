"""Failover over HTTP, under ``/api/v1/failover``: the same operations as ``threenines failover``.

Every route needs a token: reading (status, history, a run's stages and Ansible task events)
a viewer token; approving a failover or cancelling a run an operator token, whose name goes
into the audit log. Approve and cancel only write to the database (an approval row, a cancel
request); the service's failover loop, on whichever instance holds the plan's lease, acts on
them at its next evaluation, exactly as when they come from the CLI.

Ids and names follow ``threenines.core.deps`` (a run id out of range is 422, an absent one 404).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field

from threenines.core.context import ServiceContext
from threenines.core.deps import (
    Key,
    PlainText,
    RowCursor,
    RowId,
    context,
    require_operator,
    require_viewer,
    responses,
)
from threenines.failover.config import failover_config
from threenines.failover.lease import holder
from threenines.failover.orchestrator import Orchestrator

router = APIRouter(
    prefix="/api/v1/failover",
    tags=["failover"],
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 503),
)
MAX_LIMIT = 1000
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many runs")]


class Note(BaseModel):
    note: PlainText = Field("", max_length=2000, description="Why (kept in the audit log)")


def _orch(ctx: ServiceContext, actor: str | None = None) -> Orchestrator:
    return Orchestrator(ctx.config, ctx.engine, actor=actor)


def _known(ctx: ServiceContext, plan: str) -> None:
    if failover_config(ctx.config).plan(plan) is None:
        raise HTTPException(404, f"no failover plan {plan!r}")


def _row(row: sa.Row | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


def _status(orch: Orchestrator) -> list[dict[str, Any]]:
    out = []
    for plan in failover_config(orch.cfg).plans:
        d = orch.decide_now(plan)
        rows = orch.ledger.run_rows(plan.name, limit=1)
        lease = holder(orch.engine, f"plan:{plan.name}")
        out.append(
            {
                "plan": plan.name,
                "primary": plan.primary,
                "mirror": plan.mirror,
                "mode": plan.guards.mode,
                "decision": {"action": d.action, "reason": d.reason, "message": d.message},
                "trigger": d.trigger.status if d.trigger else None,
                "down_vantages": list(d.trigger.down_vantages) if d.trigger else [],
                "last_run": _row(rows[0]) if rows else None,
                "lease": _row(lease),
            }
        )
    return out


@router.get("")
async def status(ctx: ServiceContext = Depends(context)) -> list[dict[str, Any]]:
    """Each plan's decision now (evaluated, never acted on), last run and lease holder."""
    return await asyncio.to_thread(_status, _orch(ctx))


@router.get("/history")
async def history(
    plan: Key | None = None, limit: Limit = 50, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    rows = await asyncio.to_thread(_orch(ctx).ledger.run_rows, plan, limit)
    return [dict(r._mapping) for r in rows]


@router.get("/runs/{run_id}", responses=responses(404))
async def run(run_id: RowId, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """One run and its stages (the audit rows: decided, started, play, finished, ...)."""
    ledger = _orch(ctx).ledger
    row = await asyncio.to_thread(ledger.run, run_id)
    if row is None:
        raise HTTPException(404, f"no run {run_id}")
    stages = await asyncio.to_thread(ledger.audit_rows, None, run_id)
    return {**row._mapping, "stages": [dict(s._mapping) for s in stages]}


@router.get("/runs/{run_id}/events", responses=responses(404))
async def run_events(
    run_id: RowId, after: RowCursor = 0, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    """The run's Ansible task events after event id ``after`` (poll with the last id to follow)."""
    ledger = _orch(ctx).ledger
    if await asyncio.to_thread(ledger.run, run_id) is None:
        raise HTTPException(404, f"no run {run_id}")
    return [dict(e._mapping) for e in await asyncio.to_thread(ledger.events_after, run_id, after)]


@router.post("/{plan}/approve", responses=responses(400, 404, 413))
async def approve(
    plan: Key,
    body: Note | None = None,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """Approve a failover of ``plan`` (approve mode); used at the next evaluation, or expires."""
    _known(ctx, plan)
    name = f"api:{who}"
    note = body.note if body is not None else ""
    approval = await asyncio.to_thread(_orch(ctx, name).approve, plan, name, note)
    ttl = failover_config(ctx.config).plan(plan).guards.approval_ttl  # type: ignore[union-attr]
    return {"plan": plan, "approval": approval, "by": name, "valid_for": ttl}


@router.post("/{plan}/cancel", responses=responses(404))
async def cancel(
    plan: Key, who: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Ask the instance running ``plan``'s playbook to stop it (within about a second)."""
    _known(ctx, plan)
    name = f"api:{who}"
    ids = await asyncio.to_thread(_orch(ctx, name).cancel, plan, name)
    return {"plan": plan, "canceled": ids, "by": name}
