"""Alerts over HTTP, under ``/api/v1/alerts``: the same operations as ``threenines alerts``.

Reading needs a viewer token. Acknowledging, resolving, silencing and test sends depend on
``deps.require_operator``, the operator's name for the audit trail, which
``threenines.agents.auth.install`` backs with the operator-token check.
Acks and resolves are applied by the alerts service (through ``alert_commands``), exactly as
from the CLI; the request waits up to ``wait`` seconds for the outcome (202 if still queued).

An alert ``ref`` is an incident's numeric id, its uid or its dedup key; names and texts follow
``threenines.core.deps``, and a ref made only of digits is an id, so it must be 1 to 2**63-1
(else 422; an absent incident is 404).
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, field_validator

from threenines.alerts import silencing
from threenines.alerts.incident_doc import incident_document
from threenines.alerts.matching import SILENCE_LABELS
from threenines.alerts.sendtest import send_test
from threenines.alerts.store import AlertStore
from threenines.core.context import ServiceContext
from threenines.core.deps import (
    ROW_ID_MAX,
    Key,
    PlainText,
    context,
    require_operator,
    responses,
)
from threenines.core.durations import parse_duration

router = APIRouter(prefix="/api/v1/alerts", tags=["alerts"], responses=responses(401, 403, 503))
MAX_LIMIT = 5000
LONGEST_SILENCE = "10y"  # longer is not a silence but a change of configuration
MAX_WAIT = 30.0
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description="At most this many incidents")]
Wait = Annotated[
    float,
    Field(ge=0, le=MAX_WAIT, allow_inf_nan=False, description="Seconds to wait for the outcome"),
]
COMMAND = {
    202: {"description": "Queued; not applied within ``wait``"},
    **responses(400, 404, 409, 413),
}


class Note(BaseModel):
    note: PlainText = Field("", max_length=2000)


class NewSilence(BaseModel):
    matchers: dict[str, Key] = Field(min_length=1)
    duration: str = Field("2h", max_length=32)
    comment: PlainText = Field(min_length=1, max_length=2000)

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
        seconds = parse_duration(value)
        if not 0 < seconds <= parse_duration(LONGEST_SILENCE):  # also refuses an infinite one
            raise ValueError(f"a silence must last longer than 0s and at most {LONGEST_SILENCE}")
        return value


def _store(ctx: ServiceContext) -> AlertStore:
    return AlertStore(ctx.engine)


def _ref(ref: str) -> str:
    """``ref`` if it can name an incident: digits only means an id, which must be in range."""
    if ref.isdigit() and not (ref.isascii() and 1 <= int(ref) <= ROW_ID_MAX):
        msg = f"a ref of digits is an incident id, 1 to {ROW_ID_MAX}"
        raise RequestValidationError([{"loc": ("path", "ref"), "msg": msg, "type": "id_range"}])
    return ref


@router.get("")
async def list_alerts(
    status: Key = "active", limit: Limit = 100, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    wanted = {"active": ["open", "acknowledged"], "all": None}.get(status, [status])
    rows = await asyncio.to_thread(_store(ctx).incidents, wanted, limit)
    return [{k: v for k, v in r.items() if k != "data"} for r in rows]


@router.get("/silences")
async def list_silences(
    all: bool = False, ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    return await asyncio.to_thread(_store(ctx).silences, time.time(), all)


@router.post("/silences", status_code=201, responses=responses(400, 413))
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


@router.delete("/silences/{uid}", responses=responses(404))
async def remove_silence(
    uid: Key, operator: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    store, now = _store(ctx), time.time()
    if not await asyncio.to_thread(silencing.remove_silence, store, uid, operator, now):
        raise HTTPException(404, f"no active silence {uid!r}")
    return {"id": uid, "removed_by": operator}


@router.post("/test/{route}", responses=responses(404))
async def test_route(
    route: Key, operator: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    try:
        return await send_test(ctx.config, ctx.engine, route, who=operator)
    except ValueError as exc:
        raise HTTPException(404, str(exc)) from None


@router.get("/{ref}", responses=responses(404))
async def show_alert(ref: Key, ctx: ServiceContext = Depends(context)) -> dict[str, Any]:
    """One incident with its notifications and, for each, its delivery to each receiver (as
    ``threenines alerts show``). 404: no such incident."""
    doc = await asyncio.to_thread(incident_document, _store(ctx), _ref(ref))
    if doc is None:
        raise HTTPException(404, f"no incident {ref!r}")
    return {k: v for k, v in doc.items() if k != "data"}


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
    row = await asyncio.to_thread(store.incident, _ref(ref))
    if row is None:
        raise HTTPException(404, f"no incident {ref!r}")
    args = {"incident": row["uid"], "who": operator, "note": note}
    cid = await asyncio.to_thread(store.add_command, op, args, time.time())
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        result = await asyncio.to_thread(store.command_result, cid)
        if result == "ok":
            return {"uid": row["uid"], "op": op, "by": operator, "status": "done"}
        if result is not None:
            raise HTTPException(409, result)
        await asyncio.sleep(0.1)
    response.status_code = 202
    return {"uid": row["uid"], "op": op, "by": operator, "status": "queued", "command": cid}


@router.post("/{ref}/ack", responses=COMMAND)
async def ack_alert(
    ref: Key,
    body: Note,
    response: Response,
    wait: Wait = 5.0,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    return await _command(ctx, "ack", ref, operator, body.note, response, wait)


@router.post("/{ref}/resolve", responses=COMMAND)
async def resolve_alert(
    ref: Key,
    body: Note,
    response: Response,
    wait: Wait = 5.0,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    return await _command(ctx, "resolve", ref, operator, body.note, response, wait)
