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

from threenines.alerts.store import AlertStore
from threenines.console import views
from threenines.console.config import ConsoleConfig
from threenines.console.identity import Identity, Session, SessionStore, Throttle, UserStore
from threenines.core import audit, deps
from threenines.core.context import ServiceContext
from threenines.core.deps import RowId, context

HERE = Path(__file__).resolve().parent
COOKIE = "tn_session"
LOGIN_CSRF = "tn_login_csrf"
FORM_MAX = 8192
LIVE_EVERY = 0.5  # seconds between the live view's looks at the store
LIVE_FOR = 1800.0  # a live stream ends after this; htmx's extension reconnects
ACK_WAIT = 5.0
PUBLIC_FOR = 2.0  # seconds the public view is reused for

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
    resp = HTMLResponse(render(name, ctx, **values), status_code=status)
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


class PublicCache:
    """The public view, computed at most once per ``PUBLIC_FOR`` seconds however many anonymous
    callers there are (the page is public: its cost must not scale with its audience)."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.view: views.PublicStatus | None = None
        self.at = 0.0


async def _public(request: Request, ctx: ServiceContext) -> views.PublicStatus:
    cache: PublicCache = request.app.state.console_public
    async with cache.lock:
        if cache.view is None or time.monotonic() - cache.at >= PUBLIC_FOR:
            cache.view = await asyncio.to_thread(views.public_status, ctx.engine, ctx.config)
            cache.at = time.monotonic()
        return cache.view


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, ctx: ServiceContext = Depends(context)) -> HTMLResponse:
    view = await _public(request, ctx)
    return _page("status.html", ctx, view=view)


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
    return (await _public(request, ctx)).to_dict()


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
    view = await asyncio.to_thread(views.overview, ctx.engine, ctx.config)
    return _page("overview.html", ctx, view=view, me=session.identity, csrf=session.csrf)


@router.get("/events")
async def events(request: Request, session: Session = Depends(signed_in),
                 ctx: ServiceContext = Depends(context)) -> StreamingResponse:  # fmt: skip
    """Server-sent events: the overview's body each time what it shows changes."""

    async def stream() -> AsyncIterator[str]:
        last: Any = None
        end = time.monotonic() + LIVE_FOR
        while time.monotonic() < end and not await request.is_disconnected():
            view = await asyncio.to_thread(views.overview, ctx.engine, ctx.config)
            if view.fingerprint() != last:
                last = view.fingerprint()
                html = render("_overview.html", ctx, view=view, me=session.identity,
                              csrf=session.csrf)  # fmt: skip
                data = "".join(f"data: {line}\n" for line in html.splitlines())
                yield f"event: overview\n{data}\n"
            else:
                yield ": idle\n\n"
            await asyncio.sleep(LIVE_EVERY)

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.post("/incidents/{ref}/ack", response_model=None)
async def ack(ref: RowId, request: Request, session: Session = Depends(signed_in),
              ctx: ServiceContext = Depends(context)) -> Response:  # fmt: skip
    """Acknowledge an incident as the signed-in operator: the alerts area's command queue (what
    ``threenines alerts ack`` and ``POST /api/v1/alerts/{ref}/ack`` use), and an audit row."""
    form = await _form(request)
    _check_csrf(form, session)
    me: Identity = session.identity
    if not me.may("operator"):
        raise HTTPException(403, "an operator may acknowledge incidents; you are a viewer")
    note = form.get("note", "")[:500]
    store = AlertStore(ctx.engine)
    row = await asyncio.to_thread(store.incident, str(ref))
    if row is None:
        raise HTTPException(404, "no such incident")
    args = {"incident": row["uid"], "who": me.name, "note": note}
    cid = await asyncio.to_thread(store.add_command, "ack", args, time.time())
    deadline = time.monotonic() + ACK_WAIT
    result = None
    while result is None and time.monotonic() < deadline:
        result = await asyncio.to_thread(store.command_result, cid)
        if result is None:
            await asyncio.sleep(0.1)
    if result not in (None, "ok"):
        raise HTTPException(409, result)
    await asyncio.to_thread(_audit_ack, ctx, me, row["uid"], note, cid)
    return RedirectResponse("/", status_code=303)


def _audit_ack(ctx: ServiceContext, me: Identity, uid: str, note: str, cid: int) -> None:
    with ctx.engine.begin() as conn:
        audit.append(conn, ts=time.time(), actor=me.name[:64], action="incident_ack",
                     subject=f"incident:{uid}"[:200],
                     detail={"note": note, "via": "console", "provider": me.provider,
                             "command": cid})  # fmt: skip


def install(app: FastAPI) -> None:
    """The pages, the static files, the sign-in redirect, and the anonymous caller's view of
    ``GET /api/v1/status`` (the availability area's route, through ``deps.public_view``)."""
    cfg = _console_cfg(app.state.ctx)
    app.state.console_throttle = Throttle(cfg.login_attempts, cfg.login_window)
    app.state.console_public = PublicCache()
    app.dependency_overrides[deps.public_view] = anonymous_view

    async def to_login(request: Request, exc: SignIn) -> Response:
        return RedirectResponse("/login", status_code=303)

    app.add_exception_handler(SignIn, to_login)  # type: ignore[arg-type]
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="console-static")
