"""Alerts over HTTP, under ``/api/v1/alerts``: the same operations as ``threenines alerts``.

Reading needs a viewer token. Acknowledging, resolving, silencing and test sends depend on
``deps.require_operator``, the operator's name for the audit trail, which
``threenines.agents.auth.install`` backs with the operator-token check.
Acks and resolves are applied by the alerts service (through ``alert_commands``), exactly as
from the CLI; the request waits up to ``wait`` seconds for the outcome (202 if still queued).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Response
from pydantic import BaseModel, Field, field_validator

from threenines.alerts import silencing
from threenines.alerts.matching import SILENCE_LABELS
from threenines.alerts.sendtest import send_test
from threenines.alerts.store import AlertStore
from threenines.core.context import ServiceContext
from threenines.core.deps import context, require_operator
from threenines.core.durations import parse_duration

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"])


class Note(BaseModel):
    note: str = Field("", max_length=2000)


class NewSilence(BaseModel):
    matchers: dict[str, str] = Field(min_length=1)
    duration: str = "2h"
    comment: str = Field(min_length=1, max_length=2000)

    @field_validator("matchers")
    @classmethod
    def _labels(cls, value: dict[str, str]) -> dict[str, str]:
        bad = sorted(set(value) - SILENCE_LABELS)
        if bad:
            raise ValueError(f"unknown labels {bad}; use {sorted(SILENCE_LABELS)}")
        return value

    @field_validator("duration")
    @classmethod
    def _duration(cls, value: str) -> str:
        if parse_duration(value) <= 0:
            raise ValueError("a silence must last longer than 0s")
        return value


def _store(ctx: ServiceContext) -> AlertStore:
    return AlertStore(ctx.engine)


@router.get("")
async def list_alerts(
    status: str = "active", limit: int = 100, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    wanted = {"active": ["open", "acknowledged"], "all": None}.get(status, [status])
    rows = await asyncio.to_thread(_store(ctx).incidents, wanted, min(limit, 5000))
    return [{k: v for k, v in r.items() if k != "data"} for r in rows]


@router.get("/silences")
async def list_silences(
    all: bool = False, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(_store(ctx).silences, time.time(), all)


@router.post("/silences", status_code=201)
async def add_silence(
    body: NewSilence,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    store, now, seconds = _store(ctx), time.time(), parse_duration(body.duration)
    s = await asyncio.to_thread(
        silencing.add_silence, store, body.matchers, seconds, operator, body.comment, now
    )
    return {"id": s.id, "ends_at": s.ends_at, "author": operator}


@router.delete("/silences/{uid}")
async def remove_silence(
    uid: str, operator: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    store, now = _store(ctx), time.time()
    if not await asyncio.to_thread(silencing.remove_silence, store, uid, operator, now):
        raise HTTPException(404, f"no active silence {uid!r}")
    return {"id": uid, "removed_by": operator}


@router.post("/test/{route}")
async def test_route(
    route: str, operator: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    try:
        return await send_test(ctx.config, ctx.engine, route, who=operator)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{ref}")
async def show_alert(ref: str, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    store = _store(ctx)
    row = await asyncio.to_thread(store.incident, ref)
    if row is None:
        raise HTTPException(404, f"no incident {ref!r}")
    notes = await asyncio.to_thread(store.notifications_for, row["uid"])
    return {**{k: v for k, v in row.items() if k != "data"}, "notifications": notes}


async def _command(
    ctx: ServiceContext,
    op: str,
    ref: str,
    operator: str,
    note: str,
    response: Response,
    wait: float,
) -> dict[str, Any]:
    store = _store(ctx)
    row = await asyncio.to_thread(store.incident, ref)
    if row is None:
        raise HTTPException(404, f"no incident {ref!r}")
    args = {"incident": row["uid"], "who": operator, "note": note}
    cid = await asyncio.to_thread(store.add_command, op, args, time.time())
    deadline = time.monotonic() + min(wait, 30.0)
    while time.monotonic() < deadline:
        result = await asyncio.to_thread(store.command_result, cid)
        if result == "ok":
            return {"uid": row["uid"], "op": op, "by": operator, "status": "done"}
        if result is not None:
            raise HTTPException(409, result)
        await asyncio.sleep(0.1)
    response.status_code = 202
    return {"uid": row["uid"], "op": op, "by": operator, "status": "queued", "command": cid}


@router.post("/{ref}/ack")
async def ack_alert(
    ref: str,
    body: Note,
    response: Response,
    wait: float = 5.0,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    return await _command(ctx, "ack", ref, operator, body.note, response, wait)


@router.post("/{ref}/resolve")
async def resolve_alert(
    ref: str,
    body: Note,
    response: Response,
    wait: float = 5.0,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    return await _command(ctx, "resolve", ref, operator, body.note, response, wait)
