"""Dependencies shared by the API routers."""

from __future__ import annotations

from fastapi import Request

from threenines.context import ServiceContext


def context(request: Request) -> ServiceContext:
    """FastAPI dependency: the running service's context (``Depends(context)``)."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx
