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

import json
import logging
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, HTTPException, Request, Response
from fastapi.exceptions import RequestValidationError
from prometheus_client.exposition import choose_encoder
from sqlalchemy.exc import SQLAlchemyError
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from threenines.core.context import ServiceContext
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


def create_app(ctx: ServiceContext, install: Callable[[FastAPI], None]) -> FastAPI:
    """The service's HTTP app; ``install`` adds the areas' routes (the composition's)."""
    app = FastAPI(title="threenines", version="1", docs_url="/api/docs", redoc_url=None)
    app.state.ctx = ctx
    app.state.body_limits = {}
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
        }

    @app.get("/api/v1/ha")
    def ha_status() -> dict[str, Any]:
        """The nodes on this store, their roles and the active node's lease (open, as
        /healthz: it says which node to send operators to)."""
        from threenines.core.ha import nodes

        return nodes(ctx.engine)

    install(app)
    return app
