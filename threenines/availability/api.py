"""Current state: ``GET /api/v1/status``."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from threenines.core.context import ServiceContext
from threenines.core.deps import (
    KEY_PATTERN,
    Key,
    PlainText,
    RowId,
    context,
    public_view,
    require_admin,
    require_operator,
    require_viewer,
    responses,
    start_job,
)

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from threenines.core.config import Config

router = APIRouter()


@router.get("/api/v1/status", responses=responses(401, 503))
async def status(
    ctx: ServiceContext = Depends(context), public: dict[str, Any] | None = Depends(public_view)
) -> dict[str, Any]:
    """Every service's state by the state rule, and every configured check at every vantage
    point, from the store. (The database away: 503, by the API's outage handler.) An anonymous
    caller gets only the public status page's content (``deps.public_view``); a wrong token is
    a 401."""
    if public is not None:
        return public
    from threenines.availability.status import status_document

    return await asyncio.to_thread(status_document, ctx.engine, ctx.config, time.time())


Window = Annotated[str, StringConstraints(max_length=32, pattern=KEY_PATTERN)]


@router.get(
    "/api/v1/availability",
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 404, 503),
)
async def availability(
    window: Annotated[Window | None, Query(description="A rolling window ending now: 1h")] = None,
    period: Annotated[Window | None, Query(description="A period: 2026-10, 2026-Q4")] = None,
    service: Annotated[Key | None, Query(description="One service and its checks")] = None,
    site: Annotated[Key | None, Query(description="One site and its services")] = None,
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """Availability, error budget and burn rates over a window or a period (default the last
    30 days): the same figures as ``threenines availability --json``, by the same function.
    404: unknown service or site; 422: a window or period that cannot be read."""
    from threenines.availability.query import QueryError, figures_document

    try:
        return await asyncio.to_thread(figures_document, ctx.engine, ctx.config, time.time(),
                                       service=service, site=site, window=window,
                                       period=period)  # fmt: skip
    except QueryError as exc:
        raise _refusal(exc, "query") from None


def _refusal(exc: Exception, where: str = "body") -> Exception:
    """A history or query refusal: 404 for a name or row that is not there, a 422 (as for any
    invalid input) when the input cannot be read, 409 when the history's rules refuse it."""
    from threenines.availability.query import QueryError

    text = str(exc)
    if text.startswith(("no ", "unknown ")):
        return HTTPException(404, text)
    if isinstance(exc, QueryError):
        return RequestValidationError([{"loc": (where,), "msg": text, "type": "value_error"}])
    return HTTPException(409, text)


@router.get(
    "/api/v1/maintenance",
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 503),
)
async def maintenance(
    current: Annotated[bool, Query(description="Only current and future windows and records "
                                   "waiting for approval (as `maintenance list`)")] = False,
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:  # fmt: skip
    """Maintenance records (append-only): who made each, when, why, whether it is
    retroactive, its approval, and whether it is in effect."""
    from threenines.availability.query import maintenance_document

    return await asyncio.to_thread(maintenance_document, ctx.engine, ctx.config, time.time(),
                                   current=current)  # fmt: skip


Moment = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=KEY_PATTERN)]


class NewWindow(BaseModel):
    name: Key = Field(description="Short name, e.g. core-switch-upgrade")
    start: Moment = Field(description="ISO 8601; without an offset, in the config's time zone")
    end: Moment | None = Field(None, description="ISO 8601 (or give duration)")
    duration: Window | None = Field(None, description="A length, e.g. 2h (or give end)")
    services: list[Key] = Field([], max_length=200, description="In scope (none: all)")
    sites: list[Key] = Field([], max_length=200, description="In scope (none: all)")
    reason: PlainText = Field("", max_length=2000, description="Needed if it starts in the past")


class WindowChange(BaseModel):
    start: Moment
    end: Moment | None = None
    duration: Window | None = None
    reason: PlainText = Field(min_length=1, max_length=2000, description="Why it changes")


class Removal(BaseModel):
    reason: PlainText = Field(min_length=1, max_length=2000, description="Why it is removed")


WRITE = responses(400, 401, 403, 404, 409, 413, 503)


@router.post("/api/v1/maintenance", status_code=201, responses=WRITE)
async def add_maintenance(
    body: NewWindow, who: str = Depends(require_operator), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Record a maintenance window (an operator token: its name is recorded as who made it).
    One starting in the past is retroactive: it needs a reason and counts only once a second
    admin approves it (``POST /api/v1/maintenance/{record}/approve``). 404: an unknown
    service or site; 409: refused by the history's rules; 422: a span that cannot be read."""
    from threenines.availability.history import HistoryError
    from threenines.availability.maintenance import add
    from threenines.availability.query import QueryError

    try:
        wid, line = await asyncio.to_thread(
            add, ctx.engine, ctx.config, body.name, body.start, body.end, body.duration,
            list(body.services), list(body.sites), body.reason, by=who, now=time.time(),
        )  # fmt: skip
    except (HistoryError, QueryError) as exc:
        raise _refusal(exc) from None
    return {"window": wid, "by": who, "message": line}


@router.post("/api/v1/maintenance/{window_id}/change", responses=WRITE)
async def change_maintenance(
    window_id: RowId,
    body: WindowChange,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """A new version of a window (same name and scope); the old one stays in the history."""
    from threenines.availability.history import HistoryError
    from threenines.availability.maintenance import change
    from threenines.availability.query import QueryError

    try:
        rid = await asyncio.to_thread(
            change, ctx.engine, ctx.config, window_id, body.start, body.end, body.duration,
            body.reason, by=who, now=time.time(),
        )  # fmt: skip
    except (HistoryError, QueryError) as exc:
        raise _refusal(exc) from None
    return {"window": window_id, "record": rid, "by": who}


@router.post("/api/v1/maintenance/{window_id}/remove", responses=WRITE)
async def remove_maintenance(
    window_id: RowId,
    body: Removal,
    who: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """A removal record for a window: it leaves the figures, its history is kept."""
    from threenines.availability.history import HistoryError, exclusions_config, remove_window

    try:
        rid = await asyncio.to_thread(remove_window, ctx.engine, window_id, now=time.time(),
                                      by=who, reason=body.reason,
                                      policy=exclusions_config(ctx.config))  # fmt: skip
    except HistoryError as exc:
        raise _refusal(exc) from None
    return {"window": window_id, "record": rid, "by": who}


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


MAX_SUMMARY_DAYS = 3660


def summarise_document(engine: Engine, cfg: Config, days: int, now: float) -> dict[str, Any]:
    """``availability summarise``: write the daily summaries (per check and service) of the
    last ``days`` complete local days before ``now``; how many rows, and the days covered."""
    from threenines.availability.load import summarise_days

    today = datetime.fromtimestamp(now, cfg.tz).date()
    first, last = today - timedelta(days=days), today - timedelta(days=1)
    written = summarise_days(engine, cfg, first, last, now)
    return {"written": written, "first": first.isoformat(), "last": last.isoformat()}


class Summarise(BaseModel):
    days: int = Field(7, ge=1, le=MAX_SUMMARY_DAYS, description="Local days back from today")


@router.post(
    "/api/v1/availability/summaries",
    status_code=202,
    responses=responses(400, 401, 403, 409, 413, 429, 503)
    | {202: {"description": "Started: the job, to poll at /api/v1/jobs/{id}"}},
)
async def summarise(
    request: Request,
    body: Summarise | None = None,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Write the daily summaries of the last ``days`` complete local days, as ``threenines
    availability summarise`` does (an operator token): 202 with a job whose result is how many
    were written. 409: the same days are being summarised by another job."""
    days = (body or Summarise()).days
    cfg, now = ctx.config, time.time()

    async def work() -> dict[str, Any]:
        return await asyncio.to_thread(summarise_document, ctx.engine, cfg, days, now)

    return start_job(request, "availability.summarise", f"{days}d", operator, work)
