"""Dependencies shared by the API routers: the service context and the two auth seams.

Areas protect their routes with ``require_viewer`` and ``require_operator`` from here, never by
importing the tokens area; the tokens area fills both in when the API is built.
"""

from __future__ import annotations

from fastapi import HTTPException, Request

from threenines.core.context import ServiceContext


def context(request: Request) -> ServiceContext:
    """FastAPI dependency: the running service's context (``Depends(context)``)."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def require_viewer(request: Request) -> None:
    """Auth dependency of the areas' read routes. This default refuses with 401; the tokens area
    (``threenines.agents.auth.install``) overrides it with the viewer-token check
    (``app.dependency_overrides[require_viewer] = ...``)."""
    raise HTTPException(401, "viewer token required (API tokens are not configured)")


def require_operator(request: Request) -> str:
    """Auth dependency of the areas' decisions: the operator's name, for the audit trail. This
    default refuses with 401; the tokens area overrides it with the operator-token check."""
    raise HTTPException(401, "operator token required (API tokens are not configured)")
