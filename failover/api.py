"""Failover over HTTP, under ``/api/v1/failover``: the same operations as ``threenines failover``.

Every route needs a token: reading (status, history, a run's stages and Ansible task events)
a viewer token; approving a failover or cancelling a run an operator token, whose name goes
into the audit log. Approve and cancel only write to the database (an approval row, a cancel
request); the service's failover loop, on whichever instance holds the plan's lease, acts on
them at its next evaluation, exactly as when they come from the CLI.

Running a failover or a failback (``POST /{plan}/run``, ``/{plan}/failback``, an operator
token; ``/run/forced`` an admin one) takes as long as the playbook: the server starts it as a job
(``threenines.core.jobs``) and answers 202 at once; ``GET /api/v1/jobs/{id}`` follows it, and
``/runs/{id}/events`` its Ansible tasks once the run has an id. The run itself is the
orchestrator's, under the plan's lease, exactly as ``threenines failover run`` on a host.

Ids and names follow ``threenines.core.deps`` (a run id out of range is 422, an absent one 404).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints, field_validator

from threenines.core.context import ServiceContext
from threenines.core.deps import (
    Key,
    PlainText,
    RowCursor,
    RowId,
    context,
    require_admin,
    require_operator,
    require_viewer,
    responses,
    start_job,
)
from threenines.failover.config import failover_config
from threenines.failover.drill import SCENARIOS
from threenines.failover.lease import holder
from threenines.failover.orchestrator import Orchestrator, outcome_doc
from threenines.failover.store import drill_rows

router = APIRouter(
    prefix="/api/v1/failover",
    tags=["failover"],
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 503),
)
MAX_LIMIT = 1000
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many runs")]


class RunRequest(BaseModel):
    dry_run: bool = Field(False, description="Ansible check mode: change nothing")


class Note(BaseModel):
    note: PlainText = Field("", max_length=2000, description="Why (kept in the audit log)")


def _orch(ctx: ServiceContext, actor: str | None = None) -> Orchestrator:
    return Orchestrator(ctx.config, ctx.engine, actor=actor)


def _known(ctx: ServiceContext, plan: str) -> None:
    if failover_config(ctx.config).plan(plan) is None:
        raise HTTPException(404, f"no failover plan {plan!r}")


def _row(row: sa.Row | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


def plan_status(orch: Orchestrator) -> list[dict[str, Any]]:
    """Each plan's decision now, last run and lease (``failover status`` and its route)."""
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
    return await asyncio.to_thread(plan_status, _orch(ctx))


@router.get("/history")
async def history(
    plan: Key | None = None, limit: Limit = 50, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    rows = await asyncio.to_thread(_orch(ctx).ledger.run_rows, plan, limit)
    return [dict(r._mapping) for r in rows]


@router.get("/drills")
async def drills(
    limit: Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many drills")] = 50,
    ctx: ServiceContext = Depends(context),
) -> list[dict[str, Any]]:
    """Past DR drills, newest first, each with the roles that signed it off (as ``threenines
    drill list``)."""
    return await asyncio.to_thread(drill_rows, ctx.engine, limit)


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


JOB = responses(404, 409, 413, 429) | {202: {"description": "Started: the job, to poll"}}


def _start_run(request: Request, ctx: ServiceContext, plan: str, who: str, kind: str,
               dry_run: bool, force: bool = False) -> JSONResponse:  # fmt: skip
    _known(ctx, plan)
    name = f"api:{who}"

    async def work() -> dict[str, Any]:
        orch = _orch(ctx, name)
        await asyncio.to_thread(orch.recover)
        if kind == "failback":
            return outcome_doc(await orch.failback(plan, by=name, check=dry_run))
        return outcome_doc(await orch.run_manual(plan, by=name, check=dry_run, force=force))

    # one run or failback of a plan at a time from this server (409); the lease does the rest
    return start_job(request, "failover.run", plan, name, work)


@router.post("/{plan}/run", status_code=202, responses=JOB)
async def run_plan(
    plan: Key,
    request: Request,
    body: RunRequest | None = None,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Fail over now, as ``threenines failover run`` (an operator's decision: trigger, mode and
    cooldown do not apply; the pre-flight checks and the daily limit do). 202 with the job."""
    return _start_run(request, ctx, plan, who, "failover", (body or RunRequest()).dry_run)


@router.post("/{plan}/run/forced", status_code=202, responses=JOB)
async def run_plan_forced(
    plan: Key,
    request: Request,
    body: RunRequest | None = None,
    who: str = Depends(require_admin),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """As ``/run`` with ``--force``: pre-flight checks and the daily limit skipped. An admin
    token: the override is an admin's decision alone."""
    dry_run = (body or RunRequest()).dry_run
    return _start_run(request, ctx, plan, who, "failover", dry_run, force=True)


@router.post("/{plan}/failback", status_code=202, responses=JOB)
async def failback_plan(
    plan: Key,
    request: Request,
    body: RunRequest | None = None,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Fail back to the primary, as ``threenines failover failback``. 202 with the job."""
    return _start_run(request, ctx, plan, who, "failback", (body or RunRequest()).dry_run)


class DrillRequest(BaseModel):
    plan: Key
    scenario: Key = Field("tabletop", description=f"One of: {', '.join(SCENARIOS)}")
    service: Key = Field("portal", description="For service-stop: which service")
    max_wait: float | None = Field(None, gt=0, le=3600, description="Seconds to wait per phase")

    @field_validator("scenario")
    @classmethod
    def _scenario(cls, value: str) -> str:
        if value not in SCENARIOS:
            raise ValueError(f"unknown scenario {value!r} (one of: {', '.join(SCENARIOS)})")
        return value


@router.post("/drills", status_code=202, responses=JOB)
async def run_drill(
    body: DrillRequest,
    request: Request,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Run a DR drill, as ``threenines drill run``: 202 with a job whose result is the drill's
    outcome (state, objectives, problems). One drill or run of a plan at a time (409)."""
    from threenines.failover.drill import DrillRunner, drill_outcome

    _known(ctx, body.plan)
    name = f"api:{who}"

    async def work() -> dict[str, Any]:
        orch = _orch(ctx, name)
        await asyncio.to_thread(orch.recover)
        runner = DrillRunner(orch, max_wait=body.max_wait)
        drill_id = await runner.run(body.plan, body.scenario, by=name, service=body.service)
        outcome = await asyncio.to_thread(drill_outcome, ctx.engine, drill_id)
        return outcome or {"drill_id": drill_id, "state": "unknown", "objectives": [],
                           "problems": ["the drill's row is gone"]}  # fmt: skip

    return start_job(request, "failover.run", body.plan, name, work)


DrillFormat = Annotated[str, StringConstraints(max_length=4, pattern=r"^(html|pdf)$")]


@router.get("/drills/{drill_id}/report", responses=responses(404), response_model=None)
async def drill_report(
    drill_id: RowId, format: DrillFormat = "html", ctx: ServiceContext = Depends(context)
) -> Response:
    """A drill's report (objectives, timeline, what went wrong), as ``threenines drill report``."""
    from threenines.failover.drill_report import render_drill, render_pdf
    from threenines.failover.store import drills

    def render() -> bytes | None:
        with ctx.engine.connect() as conn:
            row = conn.execute(sa.select(drills).where(drills.c.id == drill_id)).first()
        if row is None:
            return None
        html = render_drill(ctx.engine, ctx.config, dict(row._mapping))
        return render_pdf(html) if format == "pdf" else html.encode()

    data = await asyncio.to_thread(render)
    if data is None:
        raise HTTPException(404, f"no drill {drill_id}")
    media = "application/pdf" if format == "pdf" else "text/html; charset=utf-8"
    disposition = f'attachment; filename="drill-{drill_id}.{format}"'
    return Response(data, media_type=media, headers={"Content-Disposition": disposition})


class SignOff(BaseModel):
    role: Key = Field(description="DR lead | Service owner | Witness")
    name: PlainText = Field(min_length=1, max_length=64, description="Who signs (shown)")
    note: PlainText = Field("", max_length=2000, description="What the signer says")


@router.post("/drills/{drill_id}/sign", responses=responses(404, 409, 413))
async def sign_drill(
    drill_id: RowId,
    body: SignOff,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """Sign off a finished drill in a role, as ``threenines drill sign``: once per role, never
    changed (409), recorded in the audit chain with the token that signed."""
    import time

    from threenines.failover.drill import SIGN_ROLES, SignOffError, sign_off

    if body.role not in SIGN_ROLES:
        why = f"unknown role {body.role!r} (one of: {', '.join(SIGN_ROLES)})"
        raise RequestValidationError([{"loc": ("body", "role"), "msg": why, "type": "value_error"}])
    signer = f"{body.name} (api:{who})"
    try:
        await asyncio.to_thread(sign_off, ctx.engine, drill_id, role=body.role, by=signer,
                                note=body.note, now=time.time())  # fmt: skip
    except LookupError as exc:
        raise HTTPException(404, str(exc).strip("'\"")) from None
    except SignOffError as exc:
        raise HTTPException(409, str(exc)) from None
    return {"drill_id": drill_id, "role": body.role, "name": signer}
