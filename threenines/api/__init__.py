"""The HTTP side of ``threenines run``: ``/metrics``, ``/healthz`` and the JSON API under /api/v1.

To add routes for an area: write ``threenines/api/<area>.py`` exporting ``router`` (a FastAPI
``APIRouter``; get the service with ``Depends(threenines.api.deps.context)``) and add it to
``ROUTERS`` below, one line. Routes needing a token (``threenines.api.auth``: bearer tokens
with roles) are included by ``auth.install``; /metrics, /healthz and /api/v1/status stay open,
so ``server.listen`` defaults to loopback.
"""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from prometheus_client.exposition import choose_encoder

from threenines.api import auth, failover, status
from threenines.context import ServiceContext

ROUTERS = [
    status.router,
    failover.router,  # its own token checks (viewer to read, operator to act)
    # one line per area, e.g. reports.router
]


def create_app(ctx: ServiceContext) -> FastAPI:
    app = FastAPI(title="threenines", version="1", docs_url="/api/docs", redoc_url=None)
    app.state.ctx = ctx
    registry = ctx.metrics.registry

    # A plain (threaded) route rather than a mount: no /metrics -> /metrics/ redirect, and
    # rendering 10,000 checks' series never runs on the event loop.
    @app.get("/metrics", include_in_schema=False)
    def metrics(request: Request) -> Response:
        encoder, content_type = choose_encoder(request.headers.get("accept", ""))
        return Response(encoder(registry), media_type=content_type)

    for router in ROUTERS:
        app.include_router(router)
    auth.install(app)  # token-protected routers: agents, alerts, security
    return app
