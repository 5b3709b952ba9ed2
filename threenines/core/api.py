"""The HTTP side of ``threenines run``: ``/metrics``, ``/healthz`` and the JSON API under /api/v1.

An area adds its routes in its ``api.py`` (a FastAPI ``APIRouter``; the service is
``Depends(threenines.core.deps.context)``) and names them in its ``Area.api`` hook. Routes that
need a token depend on ``deps.require_viewer`` / ``deps.require_operator``, which the tokens area
backs with bearer tokens; /metrics, /healthz and /api/v1/status stay open, so ``server.listen``
defaults to loopback.

Bad input never reaches a route: path and query parameters are typed with
``threenines.core.deps`` (ids, names, times), a validation error is a 422 that names the field
and never echoes the input back, and every request body is bounded by ``BodyLimit``
(``MAX_BODY`` unless an area registers a larger limit for its path with ``body_limit``).

A database outage (what ``threenines.core.quarantine.is_outage`` calls one) met by any route is
a 503 ``{"detail": "database unavailable"}`` with a Retry-After: never a 500, and never the
driver's message (it names the server, and may quote the URL). Other database errors stay 500s.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client.exposition import choose_encoder
from pydantic import BaseModel, Field
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threenines.core import deps
from threenines.core.context import ServiceContext
from threenines.core.jobs import KEEP
from threenines.core.logs import summary
from threenines.core.quarantine import is_outage

log = logging.getLogger("threenines.api")
# bytes; the largest body an operator sends (a note of 2,000 characters) is far less
MAX_BODY = 64 * 1024
RETRY_AFTER = 5  # seconds; the writer retries the database about as often


def body_limit(app: FastAPI, path: str, limit: int) -> None:
    """Let requests to ``path`` (exactly) carry bodies of up to ``limit`` bytes."""
    app.state.body_limits[path] = limit


class BodyLimit:
    """ASGI middleware: a request whose body is larger than its path's limit is answered 413
    before any route reads it: at once by its Content-Length, else as soon as the streamed body
    passes the limit (the route's read raises the 413)."""

    def __init__(self, app: ASGIApp, limits: dict[str, int], default: int = MAX_BODY):
        self.app, self.limits, self.default = app, limits, default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limits.get(scope["path"], self.default)
        length = Headers(scope=scope).get("content-length")
        if length is not None and not length.isdigit():
            await _problem(400, "invalid Content-Length")(scope, receive, send)
            return
        if length is not None and int(length) > limit:
            await _problem(413, _too_large(limit))(scope, receive, send)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, _too_large(limit))
            return message

        await self.app(scope, bounded, send)


def _too_large(limit: int) -> str:
    return f"body larger than the {limit}-byte limit"


def _problem(status: int, detail: Any) -> Response:
    # ASCII-only JSON: a lone surrogate in a message can never make the reply itself fail
    return Response(json.dumps({"detail": detail}), status, media_type="application/json")


async def _invalid(request: Request, exc: Exception) -> Response:
    """422 naming each bad field and why, without the input (it may be huge or unprintable)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e["loc"]), "msg": str(e["msg"]), "type": str(e["type"])}
        for e in exc.errors()[:20]
    ]
    return _problem(422, errors)


async def _unavailable(request: Request, exc: Exception) -> Response:
    """503 for a database outage; any other database error is raised on (a 500, logged)."""
    if not is_outage(exc):
        raise exc
    log.warning("503 %s %s: database unavailable (%s)", request.method, request.url.path,
                summary(exc))  # fmt: skip
    reply = _problem(503, "database unavailable")
    reply.headers["Retry-After"] = str(RETRY_AFTER)
    return reply


#: the largest config ``POST /api/v1/config/validate`` takes as its body (bytes)
MAX_CONFIG_BODY = 16 * 1024 * 1024


class ReloadChecks(BaseModel):
    added: list[str]
    removed: list[str]
    changed: list[str]
    unchanged: int


class ReloadAnswer(BaseModel):
    """What a reload did (or, from validate, would do): ``threenines.core.reload``."""

    result: str = Field(description="applied | partial | unchanged | refused")
    file: str
    source: str
    at: float
    summary: str
    problems: list[str] = Field(description="Refused: why (nothing was applied)")
    applied: list[str] = Field(description="The config's sections that changed and were applied")
    not_applied: dict[str, str] = Field(
        description="Changed parts taken at start-up, kept as running: part -> why (a restart "
        "applies them)"
    )
    checks: ReloadChecks
    errors: list[str]


_REFUSED: dict[int | str, dict[str, Any]] = {
    422: {"model": ReloadAnswer, "description": "The config is invalid: nothing applied"}
}


def _config_state(ctx: ServiceContext) -> dict[str, Any]:
    r = ctx.reloader
    if r is None:
        return {"file": None, "reloads": 0, "last_reload": None}
    last = r.last.to_dict() if r.last is not None else None
    return {"file": r.file, "reloads": r.count, "last_reload": last}


def _answer(outcome: Any) -> Response:
    status = 422 if outcome.result == "refused" else 200
    return Response(json.dumps(outcome.to_dict()), status, media_type="application/json")


def install_config_routes(app: FastAPI, ctx: ServiceContext) -> None:
    """``POST /api/v1/config/reload`` and ``/validate`` (admin tokens); only where the
    service can reload (``ctx.reloader``, set by ``threenines run``)."""
    reloader = ctx.reloader
    if reloader is None:
        return
    guard = deps.responses(401, 403, 413)
    body_limit(app, "/api/v1/config/validate", MAX_CONFIG_BODY)

    @app.post(
        "/api/v1/config/reload",
        response_model=ReloadAnswer,
        responses={**guard, **_REFUSED},
        tags=["config"],
    )
    async def reload_config(admin: str = Depends(deps.require_admin)) -> Response:
        """Read the config file again and apply it in place, as SIGHUP does: 200 with what was
        applied (``partial``: some changed parts need a restart, each with why), 422 when the
        file is invalid (the running config is kept; every problem listed)."""
        return _answer(await reloader.reload(f"api ({admin})"))

    @app.post(
        "/api/v1/config/validate",
        response_model=ReloadAnswer,
        responses={**guard, **_REFUSED},
        tags=["config"],
        openapi_extra={
            "requestBody": {
                "required": False,
                "content": {
                    "application/yaml": {
                        "schema": {"type": "object", "description": "A config, as YAML"}
                    }
                },
            }
        },
    )
    async def validate_config(
        request: Request, admin: str = Depends(deps.require_admin)
    ) -> Response:
        """What a reload would do now, without doing it; with a YAML body, that config instead
        of the file. 422 when it is invalid, with every problem."""
        body = await request.body()
        try:
            text = body.decode() if body else None
        except UnicodeDecodeError:
            raise HTTPException(400, "the body is not UTF-8") from None
        return _answer(await asyncio.to_thread(reloader.validate, text))


#: Swagger UI, vendored with its licence (static/VENDORED.md): /api/docs needs no CDN
SWAGGER_UI = Path(__file__).resolve().parent / "static" / "swagger-ui"
DOCS_STATIC = "/api/docs/static"
BEARER = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API token (`threenines token create --role viewer|operator|admin`): "
    "viewer reads, operator acts (its name is recorded), admin also approves and reloads",
}


Security = list[dict[str, list[str]]]


def security_scheme(
    app: FastAPI, name: str, scheme: dict[str, Any], paths: tuple[str, ...], *, reads: bool = False
) -> None:
    """Declare another way to authenticate (an OpenAPI security scheme): on ``paths`` (as well
    as a bearer token, and anonymous callers, whom the route answers as it decides), and with
    ``reads`` on every GET and HEAD that takes a bearer token (as ``deps.session_identity``
    accepts it). The console declares its session cookie this way."""
    app.state.security_schemes[name] = (scheme, paths, reads)


_UNREADABLE = {
    "description": deps.WHY[400],
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document with its security: a bearer token on every route that documents a
    401, and each scheme declared by ``security_scheme`` on its paths; open routes none."""
    if app.openapi_schema:
        return app.openapi_schema
    from fastapi.openapi.utils import get_openapi

    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description=app.description)  # fmt: skip
    extra = app.state.security_schemes
    doc.setdefault("components", {})["securitySchemes"] = {
        "bearer": BEARER,
        **{n: s for n, (s, _, _) in extra.items()},
    }
    for path, ops in doc.get("paths", {}).items():
        others: Security = [{n: []} for n, (_, paths, _) in extra.items() if path in paths]
        for method, op in ops.items():
            if "requestBody" in op:  # every body may be unreadable (``deps.responses``)
                op.setdefault("responses", {}).setdefault("400", _UNREADABLE)
            bearer: Security = [{"bearer": []}] if "401" in op.get("responses", {}) else []
            reading = bearer and method in ("get", "head")
            readers: Security = [
                {n: []} for n, (_, paths, reads) in extra.items()
                if reads and reading and path not in paths
            ]  # fmt: skip
            # a path that also takes another scheme is open to anonymous callers too (its
            # route decides what they see)
            op["security"] = [*bearer, *others, {}] if others else [*bearer, *readers]
    app.openapi_schema = doc
    return doc


def _install_docs(app: FastAPI) -> None:
    from fastapi.openapi.docs import get_swagger_ui_html
    from fastapi.responses import HTMLResponse
    from fastapi.staticfiles import StaticFiles

    @app.get("/api/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title="threenines API",
            swagger_js_url=f"{DOCS_STATIC}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_STATIC}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_STATIC}/favicon-32x32.png",
        )

    app.mount(DOCS_STATIC, StaticFiles(directory=SWAGGER_UI), name="api-docs-static")


def create_app(ctx: ServiceContext, install: Callable[[FastAPI], None]) -> FastAPI:
    """The service's HTTP app; ``install`` adds the areas' routes (the composition's)."""
    app = FastAPI(
        title="threenines",
        version="1",
        description="The JSON API of a threenines service. Every route that answers 401 "
        "takes a bearer token; see each route's role. Interactive docs: /api/docs.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.ctx = ctx
    app.state.body_limits = {}
    app.state.security_schemes = {}
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    _install_docs(app)
    app.add_middleware(BodyLimit, limits=app.state.body_limits)
    app.add_exception_handler(RequestValidationError, _invalid)
    app.add_exception_handler(SQLAlchemyError, _unavailable)
    registry = ctx.metrics.registry

    # A plain (threaded) route rather than a mount: no /metrics -> /metrics/ redirect, and
    # rendering 10,000 checks' series never runs on the event loop.
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    @app.get("/healthz")
    async def healthz(response: Response) -> dict[str, Any]:
        """Alive, and each task's health: 503 when a task has died or keeps failing (a dead
        writer never hides behind a writable database), with this node's role."""
        tasks = {n: {"state": h.state, "restarts": h.restarts, "error": h.error,
                     "singleton": h.singleton} for n, h in ctx.health.items()}  # fmt: skip
        healthy = all(h.healthy for h in ctx.health.values())
        if not healthy:
            response.status_code = 503
        lead = ctx.leadership
        return {
            "status": "ok" if healthy else "degraded",
            "node": ctx.config.server.vantage,
            "role": "active" if ctx.active else "standby",
            "lease_epoch": lead.epoch if lead is not None else None,
            "database": "up" if ctx.writer.db_ok else "unavailable",
            "written": ctx.writer.written,
            "buffered": ctx.writer.buffered,
            "spooled": ctx.writer.spooled,
            "dropped": ctx.writer.dropped,
            "checks": len(ctx.scheduler.jobs),
            "in_flight": ctx.scheduler.in_flight,
            "uptime": round(time.time() - ctx.started, 3),
            "tasks": tasks,
            "config": _config_state(ctx),
        }

    install_config_routes(app, ctx)

    @app.get("/api/v1/ha")
    def ha_status() -> dict[str, Any]:
        """The nodes on this store, their roles and the active node's lease (open, as
        /healthz: it says which node to send operators to)."""
        from threenines.core.ha import nodes

        return nodes(ctx.engine)

    install_job_routes(app)
    install(app)
    return app


def install_job_routes(app: FastAPI) -> None:
    """``/api/v1/jobs``: the long operations started through the API (``threenines.core.jobs``),
    for a viewer to follow."""
    jobs = APIRouter(
        prefix="/api/v1/jobs", tags=["jobs"], dependencies=[Depends(deps.require_viewer)],
        responses=deps.responses(401, 403),
    )  # fmt: skip

    @jobs.get("")
    def job_list(
        limit: Annotated[int, Field(ge=1, le=KEEP, description="At most this many jobs")] = 50,
        ctx: ServiceContext = Depends(deps.context),
    ) -> list[dict[str, Any]]:
        """This server's jobs, newest first (running ones and the last finished ones)."""
        return [j.doc() for j in ctx.jobs.newest(limit)]

    @jobs.get("/{job_id}", responses=deps.responses(404))
    def job(job_id: deps.RowId, ctx: ServiceContext = Depends(deps.context)) -> dict[str, Any]:
        """One job: ``running``, ``done`` (with its result) or ``failed`` (with why)."""
        found = ctx.jobs.get(job_id)
        if found is None:
            raise HTTPException(404, f"no job {job_id} on this server (jobs end with a restart)")
        return found.doc()

    app.include_router(jobs)
