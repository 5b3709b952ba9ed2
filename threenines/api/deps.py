"""Dependencies shared by the API routers."""

from __future__ import annotations

from fastapi import HTTPException, Request

from threenines.context import ServiceContext


def context(request: Request) -> ServiceContext:
    """FastAPI dependency: the running service's context (``Depends(context)``)."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def require_operator(request: Request) -> str:
    """Auth dependency of the alerts and security routes: the operator's name, for the audit
    trail. This default refuses with 401; ``threenines.api.auth.install`` overrides it with the
    operator-token check (``app.dependency_overrides[require_operator] = ...``)."""
    raise HTTPException(401, "operator token required (API tokens are not configured)")
