"""The console's pages and the public status page (FastAPI routes, Jinja2 templates).

Pages are server-rendered and work without JavaScript; the overview's live part is htmx with
its server-sent-events extension (vendored under ``static/`` with their licences). Every form
carries the session's CSRF token (the sign-in form a double-submit cookie's), checked before
anything else; sign-in failures are throttled per client address and per user name.

``GET /api/v1/status`` (the availability area's route) asks ``deps.public_view``, filled in
here: an anonymous caller gets the public view (what ``/status`` shows, nothing internal); a
caller with a viewer token or a console session gets the full view.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import time
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from threenines.alerts.store import AlertStore
from threenines.console import views
from threenines.console.config import ConsoleConfig
from threenines.console.identity import Identity, Session, SessionStore, Throttle, UserStore
from threenines.console.live import LiveViews, live_of
from threenines.core import audit, deps
from threenines.core.context import ServiceContext
from threenines.core.deps import Key, RowId, context

HERE = Path(__file__).resolve().parent
COOKIE = "tn_session"
LOGIN_CSRF = "tn_login_csrf"
FORM_MAX = 8192
LIVE_IDLE = 5.0  # seconds with no new overview before a live stream sends an idle comment
LIVE_FOR = 1800.0  # a live stream ends after this; htmx's extension reconnects
ACK_WAIT = 5.0
COMPACT_AT = 60  # more public services than this: one line each, the bars on each group's page

env = Environment(loader=FileSystemLoader(HERE / "templates"),
                  autoescape=select_autoescape(["html"]))  # fmt: skip
router = APIRouter(include_in_schema=False)


def _console_cfg(ctx: ServiceContext) -> ConsoleConfig:
    value = getattr(ctx.config, "console", None)
    return value if isinstance(value, ConsoleConfig) else ConsoleConfig()


def _when(ts: float | None, ctx: ServiceContext) -> str:
    if ts is None:
        return "never"
    return datetime.fromtimestamp(ts, ctx.config.tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    s = max(0, int(now - ts))
    for unit, n in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= n:
            return f"{s // n} {unit} ago"
    return f"{s} s ago"


def render(name: str, ctx: ServiceContext, **values: Any) -> str:
    now = time.time()
    return env.get_template(name).render(
        org=ctx.config.organisation, now=now, when=lambda t: _when(t, ctx),
        ago=lambda t: _ago(t, now), **values)  # fmt: skip


def _page(name: str, ctx: ServiceContext, status: int = 200, **values: Any) -> HTMLResponse:
    return _headers(HTMLResponse(render(name, ctx, **values), status_code=status))


def _headers(resp: HTMLResponse) -> HTMLResponse:
    resp.headers["Content-Security-Policy"] = (
        "default-src 'self'; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
    return resp


def _secure(request: Request, cfg: ConsoleConfig) -> bool:
    if cfg.secure_cookies == "always" or request.url.scheme == "https":
        return True
    host = request.client.host if request.client else ""
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True


async def _form(request: Request) -> dict[str, str]:
    body = await request.body()
    if len(body) > FORM_MAX:
        raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode(), max_num_fields=20, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "not a form") from None
    return {k: v[0] for k, v in fields.items()}


async def session_of(request: Request, ctx: ServiceContext) -> Session | None:
    token = request.cookies.get(COOKIE, "")
    if not token:
        return None
    return await asyncio.to_thread(SessionStore(ctx.engine).get, token, now=time.time())


async def _session_identity(request: Request) -> tuple[str, str] | None:
    """``deps.session_identity``: the signed-in user's (name, role), for the API's reads."""
    session = await session_of(request, request.app.state.ctx)
    return None if session is None else (session.identity.name, session.identity.role)


class SignIn(Exception):
    """Raised by ``signed_in`` for a browser with no session: answered with a redirect."""


async def signed_in(request: Request, ctx: ServiceContext = Depends(context)) -> Session:
    s = await session_of(request, ctx)
    if s is None:
        raise SignIn()
    return s


def _check_csrf(form: dict[str, str], session: Session) -> None:
    if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")


# -- public -----------------------------------------------------------------------------------


async def _public(request: Request, ctx: ServiceContext) -> views.PublicStatus:
    """The public view: built in the background at most every second or so however many
    anonymous callers there are (the page is public: its cost must not scale with its
    audience), see ``threenines.console.live``."""
    return await live_of(ctx).public_view(ctx)


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, ctx: ServiceContext = Depends(context)) -> HTMLResponse:
    view = await _public(request, ctx)
    total = sum(len(svcs) for _, svcs in view.groups)
    try:
        only = int(request.query_params.get("group", "0"))
    except ValueError:
        only = 0
    only = only if 1 <= only <= len(view.groups) else 0

    def make() -> str:  # the same for everyone: rendered once per view and group
        return render("status.html", ctx, view=view, total=total, compact=total > COMPACT_AT,
                      only=only)  # fmt: skip

    html: str = await live_of(ctx).rendered_public(("html", only), view, make)
    return _headers(HTMLResponse(html))


async def anonymous_view(
    request: Request, ctx: ServiceContext = Depends(context)
) -> dict[str, Any] | None:
    """``deps.public_view``: for a caller with neither a console session nor a bearer token, the
    public page's content; otherwise ``None`` (the full view). A wrong token is a 401."""
    from threenines.agents.auth import authenticate

    if await session_of(request, ctx) is not None:
        return None
    if request.headers.get("authorization"):
        await authenticate(request, ctx)
        return None
    view = await _public(request, ctx)
    found: dict[str, Any] = await live_of(ctx).rendered_public("json", view, view.to_dict)
    return found


# -- sign-in ----------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, ctx: ServiceContext = Depends(context)) -> HTMLResponse:
    return _login(request, ctx, "")


def _login(request: Request, ctx: ServiceContext, error: str, status: int = 200) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    resp = _page("login.html", ctx, status, csrf=token, error=error)
    resp.set_cookie(LOGIN_CSRF, token, httponly=True, samesite="strict",
                    secure=_secure(request, _console_cfg(ctx)), path="/login")  # fmt: skip
    return resp


@router.post("/login", response_model=None)
async def login(request: Request, ctx: ServiceContext = Depends(context)) -> Response:
    form = await _form(request)
    if not hmac.compare_digest(form.get("csrf", "x"), request.cookies.get(LOGIN_CSRF, "")):
        raise HTTPException(403, "missing or wrong CSRF token; reload the page and try again")
    cfg = _console_cfg(ctx)
    throttle: Throttle = request.app.state.console_throttle
    name, password, now = form.get("name", ""), form.get("password", ""), time.time()
    keys = (f"ip:{request.client.host if request.client else '?'}", f"user:{name}")
    if throttle.blocked(keys, now):
        return _login(request, ctx, "Too many failed sign-ins: wait a few minutes.", 429)
    identity = await asyncio.to_thread(UserStore(ctx.engine).verify, name, password)
    if identity is None:
        throttle.failed(keys, now)
        return _login(request, ctx, "Wrong user name or password.", 401)
    token, _session = await asyncio.to_thread(
        SessionStore(ctx.engine).start, identity, now=now, ttl=cfg.session_ttl
    )
    resp = RedirectResponse("/", status_code=303)
    resp.set_cookie(COOKIE, token, max_age=int(cfg.session_ttl), httponly=True,
                    samesite="strict", secure=_secure(request, cfg), path="/")  # fmt: skip
    resp.delete_cookie(LOGIN_CSRF, path="/login")
    return resp


@router.post("/logout", response_model=None)
async def logout(request: Request, session: Session = Depends(signed_in),
                 ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    _check_csrf(await _form(request), session)
    await asyncio.to_thread(SessionStore(ctx.engine).end, request.cookies.get(COOKIE, ""))
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(COOKIE, path="/")
    return resp


# -- the console ------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
async def overview_page(session: Session = Depends(signed_in),
                        ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    """The overview: the view is the server's (the same for everyone, built in the background),
    the page rendered for this user (their role's buttons, their CSRF token), in a thread."""
    live = live_of(ctx)
    view = await live.overview_view(ctx)
    body = await _overview_body(live, ctx, view, session)
    html = await asyncio.to_thread(render, "overview.html", ctx, body=Markup(body),
                                   me=session.identity, csrf=session.csrf,
                                   here="overview")  # fmt: skip
    return _headers(HTMLResponse(html))


async def _overview_body(live: LiveViews, ctx: ServiceContext, view: views.Overview,
                         session: Session) -> str:  # fmt: skip
    """The overview's live part for this reader, rendered once per view and kind of reader:
    it shows who reads it only through their role's buttons and their CSRF token."""
    operator = session.identity.may("operator")
    reader = Identity("", "operator" if operator else "viewer")

    def make(slot: str) -> str:
        return render("_overview.html", ctx, view=view, me=reader, csrf=slot)

    return await live.overview_body(view, operator, session.csrf, make)


@router.get("/events")
async def events(request: Request, session: Session = Depends(signed_in),
                 ctx: ServiceContext = Depends(context)) -> StreamingResponse:  # fmt: skip
    """Server-sent events: the overview's body each time what it shows changes (woken by each
    new overview the background task builds; an idle comment at least every LIVE_IDLE s)."""
    live = live_of(ctx)

    async def stream() -> AsyncIterator[str]:
        last: Any = None
        end = time.monotonic() + LIVE_FOR
        live.streams += 1
        try:
            while time.monotonic() < end and not await request.is_disconnected():
                view = await live.overview_view(ctx)
                if view.fingerprint() != last:
                    last = view.fingerprint()
                    html = await _overview_body(live, ctx, view, session)
                    data = "".join(f"data: {line}\n" for line in html.splitlines())
                    yield f"event: overview\n{data}\n"
                else:
                    yield ": idle\n\n"
                await live.next_overview(LIVE_IDLE)
        finally:
            live.streams -= 1

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


def _operator(session: Session, what: str) -> Identity:
    me: Identity = session.identity
    if not me.may("operator"):
        raise HTTPException(403, f"an operator may {what}; you are a {me.role}")
    return me


def _next(form: dict[str, str], default: str) -> str:
    """Where to go after a form: a path on this site only (never another host)."""
    target = form.get("next", "")
    ok = target.startswith("/") and not target.startswith("//") and "\\" not in target
    return target if ok else default


@router.get("/incidents", response_class=HTMLResponse)
async def incidents_page(request: Request, session: Session = Depends(signed_in),
                         ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    status = request.query_params.get("status", "")
    wanted = [status] if status in ("open", "acknowledged", "resolved") else None
    rows = await asyncio.to_thread(AlertStore(ctx.engine).incidents, wanted, 500)
    return _page("incidents.html", ctx, rows=rows, filter=status if wanted else "",
                 here="incidents", me=session.identity, csrf=session.csrf)  # fmt: skip


@router.get("/incidents/{ref}", response_class=HTMLResponse)
async def incident_page(ref: RowId, session: Session = Depends(signed_in),
                        ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    from threenines.console.incident_view import incident_page as view

    found = await asyncio.to_thread(view, ctx.engine, str(ref))
    if found is None:
        raise HTTPException(404, "no such incident")
    row, timeline = found
    return _page("incident.html", ctx, i=row, timeline=timeline, here="incidents",
                 me=session.identity, csrf=session.csrf)  # fmt: skip


@router.post("/incidents/{ref}/{op}", response_model=None)
async def incident_command(ref: RowId, op: str, request: Request,
                           session: Session = Depends(signed_in),
                           ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Acknowledge or resolve an incident as the signed-in operator: the alerts area's command
    queue (what ``threenines alerts ack|resolve`` and ``POST /api/v1/alerts/{ref}/ack|resolve``
    use), and an audit row. Add a note (the console's own record) or silence the incident's
    service (``alerts.silencing.add_silence``, what ``threenines alerts silence`` calls)."""
    if op not in ("ack", "resolve", "note", "silence"):
        raise HTTPException(404, "no such action")
    form = await _form(request)
    _check_csrf(form, session)
    words = {"ack": "acknowledge incidents", "resolve": "resolve incidents",
             "note": "add notes", "silence": "silence alerts"}  # fmt: skip
    me = _operator(session, words[op])
    store = AlertStore(ctx.engine)
    row = await asyncio.to_thread(store.incident, str(ref))
    if row is None:
        raise HTTPException(404, "no such incident")
    back = f"/incidents/{row['id']}"
    if op == "note":
        from threenines.console.notes import add_note

        try:
            text, public = form.get("text", ""), form.get("public") == "1"
            await asyncio.to_thread(add_note, ctx.engine, row["uid"], me.name, text, public,
                                    time.time(), me.provider)  # fmt: skip
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        return RedirectResponse(back, status_code=303)
    if op == "silence":
        return await _silence(ctx, me, row, form, back)
    note = form.get("note", "")[:500]
    args = {"incident": row["uid"], "who": me.name, "note": note}
    cid = await asyncio.to_thread(store.add_command, op, args, time.time())
    deadline = time.monotonic() + ACK_WAIT
    result = None
    while result is None and time.monotonic() < deadline:
        result = await asyncio.to_thread(store.command_result, cid)
        if result is None:
            await asyncio.sleep(0.1)
    if result not in (None, "ok"):
        raise HTTPException(409, result)
    await asyncio.to_thread(_audit, ctx, me, f"incident_{op}", row["uid"],
                            {"note": note, "command": cid})  # fmt: skip
    return RedirectResponse(_next(form, back), status_code=303)


async def _silence(ctx: ServiceContext, me: Identity, row: dict[str, Any], form: dict[str, str],
                   back: str) -> Response:  # fmt: skip
    from threenines.alerts.silencing import add_silence
    from threenines.core.durations import parse_duration

    if not row.get("service"):
        raise HTTPException(400, "this incident names no service to silence")
    comment = form.get("comment", "").strip()[:500]
    if not comment:
        raise HTTPException(400, "say why the alerts are silenced")
    try:
        seconds = parse_duration(form.get("for", ""))
    except ValueError as exc:
        raise HTTPException(400, str(exc)) from None
    if not 0 < seconds <= 7 * 86400:
        raise HTTPException(400, "a silence from the console lasts at most 7 days")
    now = time.time()
    s = await asyncio.to_thread(add_silence, AlertStore(ctx.engine), {"service": row["service"]},
                                seconds, me.name, comment, now)  # fmt: skip
    await asyncio.to_thread(_audit, ctx, me, "incident_silence", row["uid"],
                            {"silence": s.id, "comment": comment, "until": s.ends_at,
                             "until_text": _when(s.ends_at, ctx)})  # fmt: skip
    return RedirectResponse(back, status_code=303)


def _audit(ctx: ServiceContext, me: Identity, action: str, uid: str,
           detail: dict[str, Any]) -> None:  # fmt: skip
    with ctx.engine.begin() as conn:
        audit.append(conn, ts=time.time(), actor=me.name[:64], action=action,
                     subject=f"incident:{uid}"[:200],
                     detail={**detail, "via": "console", "provider": me.provider})  # fmt: skip


@router.get("/services/{name}", response_class=HTMLResponse)
async def service_page(name: Key, session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    from threenines.console.service_view import service_page as view

    try:
        page = await asyncio.to_thread(view, ctx.engine, ctx.config, name)
    except KeyError:
        raise HTTPException(404, f"no service {name!r}") from None
    return _page("service.html", ctx, p=page, here="service", me=session.identity,
                 csrf=session.csrf, services={s.name for s in ctx.config.services})  # fmt: skip


# -- failover ---------------------------------------------------------------------------------


@router.get("/failover", response_class=HTMLResponse)
async def failover_page(session: Session = Depends(signed_in),
                        ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    from threenines.console import failover_view

    plans = await asyncio.to_thread(failover_view.plans, ctx.engine, ctx.config)
    drills = await asyncio.to_thread(failover_view.drills, ctx.engine)
    return _page("failover.html", ctx, plans=plans, drills=drills, here="failover",
                 me=session.identity, csrf=session.csrf)  # fmt: skip


@router.get("/failover/drills/{drill_id}/report", response_model=None)
async def drill_report(drill_id: RowId, request: Request, session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """A drill's report (``threenines drill report``): HTML inline, or a PDF download."""
    from threenines.console import failover_view

    fmt = "pdf" if request.query_params.get("format") == "pdf" else "html"
    data = await asyncio.to_thread(failover_view.drill_report, ctx.engine, ctx.config,
                                   drill_id, fmt)  # fmt: skip
    if data is None:
        raise HTTPException(404, f"no drill {drill_id}")
    media = "application/pdf" if fmt == "pdf" else "text/html; charset=utf-8"
    how = "attachment" if fmt == "pdf" else "inline"
    headers = {"Content-Disposition": f'{how}; filename="drill-{drill_id}.{fmt}"'}
    return Response(data, media_type=media, headers=headers)


async def _plan(ctx: ServiceContext, plan: str) -> Any:
    from threenines.console import failover_view

    found = [p for p in await asyncio.to_thread(failover_view.plans, ctx.engine, ctx.config)
             if p.name == plan]  # fmt: skip
    if not found:
        raise HTTPException(404, f"no failover plan {plan!r}")
    return found[0]


@router.get("/failover/{plan}/approve", response_class=HTMLResponse)
async def approve_confirm(plan: Key, session: Session = Depends(signed_in),
                          ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    """The confirmation step: what would happen, and the form that approves."""
    _operator(session, "approve a failover")
    p = await _plan(ctx, plan)
    return _page("failover_confirm.html", ctx, p=p, here="failover", me=session.identity,
                 csrf=session.csrf)  # fmt: skip


@router.post("/failover/{plan}/approve", response_model=None)
async def approve(plan: Key, request: Request, session: Session = Depends(signed_in),
                  ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Approve a failover (approve mode) through the failover area's approve, as
    ``console:<user>`` (its audit rows name the operator); only with the confirmation."""
    from threenines.console import failover_view

    form = await _form(request)
    _check_csrf(form, session)
    me = _operator(session, "approve a failover")
    p = await _plan(ctx, plan)
    if form.get("confirm") != "yes":
        return RedirectResponse(f"/failover/{plan}/approve", status_code=303)
    if p.mode != "approve":
        raise HTTPException(409, f"plan {plan!r} is in {p.mode} mode, not approve mode")
    note = form.get("note", "").strip()[:2000]
    if not note:
        raise HTTPException(400, "say why you approve the failover")
    await asyncio.to_thread(failover_view.approve, ctx.engine, ctx.config, plan,
                            f"console:{me.name}", note)  # fmt: skip
    return RedirectResponse("/failover", status_code=303)


@router.get("/failover/runs/{run_id}", response_class=HTMLResponse)
async def failover_run(run_id: RowId, session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    """A run's stages and its Ansible task events (the page follows a running run)."""
    from threenines.console import failover_view

    r = await asyncio.to_thread(failover_view.run_detail, ctx.engine, ctx.config, run_id)
    if r is None:
        raise HTTPException(404, f"no run {run_id}")
    return _page("failover_run.html", ctx, r=r, here="failover", me=session.identity,
                 csrf=session.csrf)  # fmt: skip


# -- devices ----------------------------------------------------------------------------------


@router.get("/devices", response_class=HTMLResponse)
async def devices_page(session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    from threenines.console.devices_view import devices

    found = await asyncio.to_thread(devices, ctx.engine, ctx.config)
    return _page("devices.html", ctx, devices=found, here="devices", me=session.identity,
                 csrf=session.csrf)  # fmt: skip


# -- security findings ------------------------------------------------------------------------


@router.get("/security", response_class=HTMLResponse)
async def security_page(request: Request, session: Session = Depends(signed_in),
                        ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    """Findings by status (``threenines security findings``: the security store's ``find``)."""
    from threenines.security.store import SecurityStore

    shown = request.query_params.get("status", "open")
    shown = shown if shown in ("open", "accepted", "resolved", "all") else "open"
    rows = await asyncio.to_thread(SecurityStore(ctx.engine).find,
                                   None if shown == "all" else shown)  # fmt: skip
    return _page("security.html", ctx, rows=rows, filter=shown, here="security",
                 me=session.identity, csrf=session.csrf)  # fmt: skip


@router.post("/security/{finding_id}/{op}", response_model=None)
async def security_decide(finding_id: RowId, op: str, request: Request,
                          session: Session = Depends(signed_in),
                          ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Accept a finding's risk (with a reason, for a while or until revoked) or resolve it, as
    ``threenines security accept|resolve`` do (the store audits it with the operator's name)."""
    from threenines.core.durations import parse_duration
    from threenines.security.store import SecurityStore

    if op not in ("accept", "resolve"):
        raise HTTPException(404, "no such action")
    form = await _form(request)
    _check_csrf(form, session)
    me = _operator(session, "decide on security findings")
    reason = form.get("reason", "").strip()[:500]
    if not reason:
        raise HTTPException(400, "give a reason (it is kept in the audit log)")
    store, now = SecurityStore(ctx.engine), time.time()
    if op == "accept":
        try:
            until = now + parse_duration(form["until"]) if form.get("until") else None
        except ValueError as exc:
            raise HTTPException(400, str(exc)) from None
        ok = await asyncio.to_thread(store.accept, finding_id, by=me.name, reason=reason,
                                     until=until, now=now)  # fmt: skip
    else:
        ok = await asyncio.to_thread(store.resolve, finding_id, by=me.name, reason=reason,
                                     now=now)  # fmt: skip
    if not ok:
        raise HTTPException(409, f"finding {finding_id} is not open" + (
            "" if op == "accept" else " or accepted"))  # fmt: skip
    return RedirectResponse("/security?status=all", status_code=303)


# -- reports ----------------------------------------------------------------------------------


@router.get("/reports", response_class=HTMLResponse)
async def reports_page(session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    from threenines.reports.deliver import FORMATS

    local = datetime.fromtimestamp(time.time(), ctx.config.tz)
    last = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return _page("reports.html", ctx, period=f"{last[0]}-{last[1]:02d}", formats=FORMATS,
                 sites=[s.name for s in ctx.config.sites], tz=ctx.config.timezone,
                 here="reports", me=session.identity, csrf=session.csrf)  # fmt: skip


@router.get("/reports/render", response_model=None)
async def report_render(request: Request, session: Session = Depends(signed_in),
                        ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """The report, rendered by the reports area's ``render_report`` (what ``threenines report``
    and ``GET /api/v1/reports/{period}`` call): HTML inline, the other formats downloaded."""
    from threenines.availability.periods import PeriodError
    from threenines.reports.deliver import FORMATS, MEDIA_TYPES, render_report

    q = request.query_params
    period, fmt, site = q.get("period", "").strip(), q.get("format", "html"), q.get("site") or None
    if fmt not in FORMATS:
        raise HTTPException(400, f"unknown format {fmt!r} (one of: {', '.join(FORMATS)})")
    if not period or len(period) > 64:
        raise HTTPException(400, "give a period, e.g. 2026-10")
    try:
        data, name = await asyncio.to_thread(render_report, ctx.config, ctx.engine, period, fmt,
                                             now=time.time(), site=site)  # fmt: skip
    except (PeriodError, ValueError) as exc:
        raise HTTPException(400, str(exc)) from None
    disposition = "inline" if fmt == "html" else "attachment"
    headers = {"Content-Disposition": f'{disposition}; filename="{name}"',
               "X-Content-Type-Options": "nosniff"}  # fmt: skip
    return Response(data, media_type=MEDIA_TYPES[fmt], headers=headers)


# -- users (admin) ----------------------------------------------------------------------------


def _admin(session: Session) -> Identity:
    me: Identity = session.identity
    if not me.may("admin"):
        raise HTTPException(403, f"an admin manages users; you are a {me.role}")
    return me


def _users_page(ctx: ServiceContext, session: Session, rows: list[dict[str, Any]],
                status: int = 200, error: str = "", done: str = "") -> HTMLResponse:  # fmt: skip
    from threenines.console.identity import NAME_MAX, PASSWORD_MAX, PASSWORD_MIN, ROLES

    return _page("users.html", ctx, status, rows=rows, roles=ROLES, error=error, done=done,
                 name_max=NAME_MAX, pw=(PASSWORD_MIN, PASSWORD_MAX), here="users",
                 me=session.identity, csrf=session.csrf)  # fmt: skip


@router.get("/users", response_class=HTMLResponse)
async def users_page(request: Request, session: Session = Depends(signed_in),
                     ctx: ServiceContext = Depends(context)) -> HTMLResponse:  # fmt: skip
    """The local accounts (``threenines user list``: ``UserStore.users``); admins only."""
    _admin(session)
    rows = await asyncio.to_thread(UserStore(ctx.engine).users)
    done = request.query_params.get("done", "")
    return _users_page(ctx, session, rows, done=done if done in ("added", "disabled") else "")


@router.post("/users", response_model=None)
async def user_add(request: Request, session: Session = Depends(signed_in),
                   ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Add an account as ``threenines user add`` does (``UserStore.add``, which audits it
    with the admin's name). A refusal re-shows the form with the store's one-line reason."""
    from threenines.console.identity import UserError

    form = await _form(request)
    _check_csrf(form, session)
    me = _admin(session)
    store = UserStore(ctx.engine)
    name, role = form.get("name", "").strip(), form.get("role", "")
    try:
        await asyncio.to_thread(store.add, name, role, form.get("password", ""),
                                now=time.time(), by=me.name)  # fmt: skip
    except UserError as exc:
        msg = str(exc).removeprefix("--role: ")
        rows = await asyncio.to_thread(store.users)
        return _users_page(ctx, session, rows, 409 if "exists" in msg else 400, error=msg)
    return RedirectResponse("/users?done=added", status_code=303)


@router.post("/users/{name}/disable", response_model=None)
async def user_disable(name: str, request: Request, session: Session = Depends(signed_in),
                       ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Disable an account as ``threenines user disable`` does (``UserStore.disable``: sign-ins
    refused, sessions ended, audited with the admin's name). Not one's own account."""
    form = await _form(request)
    _check_csrf(form, session)
    me = _admin(session)
    if name == me.name and me.provider == "local":
        raise HTTPException(409, "you cannot disable your own account; ask another admin")
    ok = await asyncio.to_thread(UserStore(ctx.engine).disable, name, now=time.time(),
                                 by=me.name)  # fmt: skip
    if not ok:
        raise HTTPException(404, f"no enabled user {name[:64]!r}")
    return RedirectResponse("/users?done=disabled", status_code=303)


def install(app: FastAPI) -> None:
    """The pages, the static files, the sign-in redirect, and the anonymous caller's view of
    ``GET /api/v1/status`` (the availability area's route, through ``deps.public_view``)."""
    cfg = _console_cfg(app.state.ctx)
    app.state.console_throttle = Throttle(cfg.login_attempts, cfg.login_window)
    setattr(app.state, deps.SESSION_LOOKUP, _session_identity)  # deps.session_identity: reads
    live_of(app.state.ctx)  # the views the background task keeps (``console.live``)
    app.dependency_overrides[deps.public_view] = anonymous_view

    async def to_login(request: Request, exc: SignIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(SignIn, to_login)  # type: ignore[arg-type]
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
