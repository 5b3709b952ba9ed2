"""The HTTP side of ``threenines run``: ``/metrics``, ``/healthz`` and the JSON API under /api/v1.

An area adds its routes in its ``api.py`` (a FastAPI ``APIRouter``; the service is
``Depends(threenines.core.deps.context)``) and names them in its ``Area.api`` hook. Routes that
need a token depend on ``deps.require_viewer`` / ``deps.require_operator``, which the tokens area
backs with bearer tokens; /metrics, /healthz and /api/v1/status stay open, so ``server.listen``
defaults to loopback.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client.exposition import choose_encoder

from threenines.core.context import ServiceContext


def create_app(ctx: ServiceContext, install: Callable[[FastAPI], None]) -> FastAPI:
    """The service's HTTP app; ``install`` adds the areas' routes (the composition's)."""
    app = FastAPI(title="threenines", version="1", docs_url="/api/docs", redoc_url=None)
    app.state.ctx = ctx
    registry = ctx.metrics.registry

    # A plain (threaded) route rather than a mount: no /metrics -> /metrics/ redirect, and
    # rendering 10,000 checks' series never runs on the event loop.
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    @app.get("/healthz")
    async def healthz() -> dict[str, Any]:
        """The service is alive; says whether the database is writable and what is buffered."""
        return {
            "status": "ok",
            "database": "up" if ctx.writer.db_ok else "unavailable",
            "written": ctx.writer.written,
            "buffered": ctx.writer.buffered,
            "dropped": ctx.writer.dropped,
            "checks": len(ctx.scheduler.jobs),
            "in_flight": ctx.scheduler.in_flight,
            "uptime": round(time.time() - ctx.started, 3),
        }

    install(app)
    return app
