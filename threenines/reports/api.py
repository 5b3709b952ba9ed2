"""Reports over HTTP: ``GET /api/v1/reports/{period}`` renders the Digital Board report of a
period, as ``threenines report --period P --format F`` does, by the same renderer
(``reports.deliver.render_report``); a viewer token.

``GET /api/v1/reports/deliveries`` (viewer) lists scheduled deliveries, ``POST
/api/v1/reports/verify`` (viewer) checks a report file against the issued ones, and ``POST
/api/v1/reports/schedules/{schedule}/send`` (operator) sends a scheduled report now as a job
(``threenines.core.jobs``). Each answers the document its command prints locally, built by the
same function here (``deliveries_document``, ``verify_document``, ``send_document``), so
``threenines report deliveries|verify|send --server URL`` prints what the local mode prints.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Path, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from threenines.core.context import ServiceContext
from threenines.core.deps import (
    KEY_PATTERN,
    Key,
    context,
    require_operator,
    require_viewer,
    responses,
    start_job,
)
from threenines.reports.deliver import MEDIA_TYPES

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy import Engine

    from threenines.availability.periods import Period
    from threenines.core.config.schema import Config
    from threenines.reports.config import ReportSchedule

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require_viewer)],
    responses=responses(401, 403, 503),
)
PeriodText = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=KEY_PATTERN)]
Format = Annotated[str, StringConstraints(max_length=4, pattern=r"^(html|pdf|csv|json)$")]
MAX_VERIFY_FILE = 16 << 20  # bytes of a report file checked by POST /verify
VERIFY_PATH = "/api/v1/reports/verify"
_B64_MAX = 4 * ((MAX_VERIFY_FILE + 2) // 3)


# -- the documents the commands print, local or through the API ----------------------------


def deliveries_document(engine: Engine, cfg: Config, schedule: str | None) -> dict[str, Any]:
    """``report deliveries``: the time zone its times are shown in, and one row per schedule,
    period and receiver (oldest period first)."""
    from threenines.reports.store import ReportDeliveryStore

    return {"timezone": cfg.timezone, "rows": ReportDeliveryStore(engine).rows(schedule)}


def verify_document(engine: Engine, tz: ZoneInfo, data: bytes, name: str) -> dict[str, Any]:
    """``report verify``: whether ``data`` is byte for byte an issued report with its audit row
    intact (``ok``), and the verdict's lines naming ``name``."""
    from threenines.reports.issue import verify_file

    check = verify_file(engine, data, tz, name)
    return {"ok": check.ok, "lines": list(check.lines)}


class SendRefused(ValueError):
    """``report send`` asked for a schedule that is not configured (``missing``) or a period
    that cannot be read."""

    def __init__(self, text: str, missing: bool):
        super().__init__(text)
        self.missing = missing


def send_plan(cfg: Config, schedule: str, period: str | None,
              now: float) -> tuple[ReportSchedule, Period]:  # fmt: skip
    """The schedule and the period ``report send`` sends (default: the schedule's last period
    that ended by ``now``); ``SendRefused`` if either cannot be had."""
    from threenines.availability.periods import PeriodError, parse_period
    from threenines.reports.config import reports_config
    from threenines.reports.schedule import latest_complete

    sched = reports_config(cfg).schedule(schedule)
    if sched is None:
        names = ", ".join(s.name for s in reports_config(cfg).schedules) or "none configured"
        raise SendRefused(f"unknown schedule {schedule!r} (reports.schedules: {names})", True)
    try:
        when = parse_period(period, cfg.tz) if period else None
    except PeriodError as exc:
        raise SendRefused(str(exc), False) from None
    return sched, when or latest_complete(sched.period, now, cfg.tz)


async def send_document(cfg: Config, engine: Engine, sched: ReportSchedule,
                        when: Period) -> dict[str, Any]:  # fmt: skip
    """Send ``sched``'s report of ``when`` now (recorded, so the scheduler does not send it
    again): the schedule, the period, its receivers and each receiver's outcome (a receiver
    with none is being sent to by another instance)."""
    from threenines.reports.sender import ReportSender

    outcomes = await ReportSender(cfg, engine).send_now(sched.name, when)
    return {
        "schedule": sched.name,
        "period": when.label,
        "receivers": list(sched.receivers),
        "outcomes": [{"receiver": o.receiver, "state": o.state, "error": o.error}
                     for o in outcomes],
    }  # fmt: skip


# -- routes --------------------------------------------------------------------------------


@router.get("/deliveries")
async def deliveries(
    schedule: Annotated[Key | None, Query(description="Only this schedule")] = None,
    ctx: ServiceContext = Depends(context),
) -> dict[str, Any]:
    """Scheduled report deliveries, one row per schedule, period and receiver (state,
    attempts, when sent, last error), as ``threenines report deliveries --json`` lists them."""
    return await asyncio.to_thread(deliveries_document, ctx.engine, ctx.config, schedule)


class VerifyRequest(BaseModel):
    content: str = Field(
        max_length=_B64_MAX, pattern=r"^[A-Za-z0-9+/]*={0,2}$",
        description=f"The file's bytes, base64 (at most {MAX_VERIFY_FILE} bytes)",
    )  # fmt: skip
    name: Key = Field("the file", description="How the verdict names the file")


class Verdict(BaseModel):
    ok: bool = Field(description="Byte for byte an issued report, its audit row intact")
    lines: list[str] = Field(description="The verdict, as `threenines report verify` prints it")


@router.post(VERIFY_PATH.removeprefix("/api/v1/reports"), responses=responses(400, 413))
async def verify(body: VerifyRequest, ctx: ServiceContext = Depends(context)) -> Verdict:
    """Check a report file against the issued reports' stored SHA-256, as ``threenines report
    verify`` does: 200 with the verdict whether or not it matches (``ok``). 422: content that
    is not base64."""
    try:
        data = base64.b64decode(body.content, validate=True)
    except (binascii.Error, ValueError):
        loc = ("body", "content")
        bad = [{"loc": loc, "msg": "not base64", "type": "value_error"}]
        raise RequestValidationError(bad) from None
    doc = await asyncio.to_thread(verify_document, ctx.engine, ctx.config.tz, data, body.name)
    return Verdict(**doc)


class SendRequest(BaseModel):
    period: PeriodText | None = Field(
        None, description="2026-10 | 2026-Q4 | 2026 (default: the schedule's last one ended)"
    )


@router.post(
    "/schedules/{schedule}/send",
    status_code=202,
    responses=responses(400, 404, 409, 413, 429)
    | {202: {"description": "Started: the job, to poll at /api/v1/jobs/{id}"}},
)
async def send(
    request: Request,
    schedule: Annotated[Key, Path(description="A schedule name from reports.schedules")],
    body: SendRequest | None = None,
    operator: str = Depends(require_operator),
    ctx: ServiceContext = Depends(context),
) -> JSONResponse:
    """Send a scheduled report now to its receivers, as ``threenines report send`` does (an
    operator token): 202 with a job whose result is each receiver's outcome. 404: no such
    schedule; 409: that schedule's period is being sent by another job; 422: a period that
    cannot be read."""
    cfg = ctx.config
    try:
        sched, when = send_plan(cfg, schedule, (body or SendRequest()).period, time.time())
    except SendRefused as exc:
        if exc.missing:
            raise HTTPException(404, str(exc)) from None
        loc = ("body",)
        bad = [{"loc": loc, "msg": str(exc), "type": "value_error"}]
        raise RequestValidationError(bad) from None

    async def work() -> dict[str, Any]:
        return await send_document(cfg, ctx.engine, sched, when)

    return start_job(request, "reports.send", f"{sched.name} {when.label}", operator, work)


@router.get(
    "/{period}",
    response_class=Response,
    responses={
        200: {
            "description": "The report, as a download (Content-Disposition names its file)",
            "content": {m.split(";")[0]: {} for m in MEDIA_TYPES.values()},
        },
        **responses(404),
    },
)
async def render(
    period: Annotated[PeriodText, Path(description="2026-10 | 2026-Q4 | 2026 | A..B (dates)")],
    format: Annotated[Format, Query(description="html | pdf | csv | json")] = "html",
    site: Annotated[Key | None, Query(description="Only this site or data centre")] = None,
    ctx: ServiceContext = Depends(context),
) -> Response:
    """The board report of ``period`` (dates local to the configured time zone) in
    ``format``. 404: an unknown site; 422: a period that cannot be read."""
    from threenines.availability.periods import PeriodError
    from threenines.reports.deliver import render_report

    try:
        data, name = await asyncio.to_thread(render_report, ctx.config, ctx.engine, period,
                                             format, now=time.time(), site=site)  # fmt: skip
    except (PeriodError, ValueError) as exc:
        text = str(exc)
        if text.startswith("unknown site"):
            raise HTTPException(404, text) from None
        loc = ("path", "period")
        raise RequestValidationError([{"loc": loc, "msg": text, "type": "value_error"}]) from None
    disposition = "inline" if format == "html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{name}"'}
    return Response(data, media_type=MEDIA_TYPES[format], headers=headers)


def install(app: FastAPI) -> None:
    """The reports routes; a file to verify may be up to ``MAX_VERIFY_FILE`` bytes."""
    from threenines.core.api import body_limit

    app.include_router(router)
    body_limit(app, VERIFY_PATH, _B64_MAX + 64 * 1024)
