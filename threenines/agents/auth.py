"""API authentication: bearer tokens with roles (see ``threenines.agents.tokens``).

``require_role(*roles)`` is a FastAPI dependency returning the request's ``Principal``:
no token, a wrong or a revoked one -> 401; a valid token whose role does not satisfy any of
``roles`` -> 403. The hierarchy is admin >= operator >= viewer; agent tokens satisfy only
``"agent"`` (agent endpoints), and nothing else accepts them. Refusals are logged with the
token's short id or fingerprint, never the token.

A request without a token may be a signed-in console user's read (GET/HEAD): the core's seam
``deps.session_identity`` (backed by the console area) names them and their role; writes
always need a token.

``install(app)`` puts the token check in front of the areas written with the injectable
``deps.require_operator`` (alerts, security): their reads need a viewer token, their decisions
an operator token whose name goes into the audit trail.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from fastapi import Depends, FastAPI, HTTPException, Request

from threenines.agents.tokens import Principal, TokenStore, fingerprint, role_allows
from threenines.core import deps
from threenines.core.context import ServiceContext
from threenines.core.deps import context
from threenines.core.quarantine import is_outage

log = logging.getLogger("threenines.auth")
MAX_TOKEN = 200


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"


def _refuse(request: Request, status: int, why: str, detail: str) -> HTTPException:
    log.warning(
        "%d %s %s from %s: %s", status, request.method, request.url.path, _client(request), why
    )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return HTTPException(status, detail, headers=headers)


async def authenticate(request: Request, ctx: ServiceContext) -> Principal:
    """The principal of the request's bearer token, or a 401 (cached for the request)."""
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        signed_in = await deps.session_identity(request)  # a console session, on reads only
        if signed_in is None:
            raise _refuse(request, 401, "no bearer token", "a bearer token is required")
        name, role = signed_in
        request.state.principal = Principal("session", name, role, None)
        return request.state.principal
    if len(token) > MAX_TOKEN:
        raise _refuse(request, 401, "oversized token", "invalid or revoked token")
    try:
        principal, why = await asyncio.to_thread(
            TokenStore(ctx.engine).verify, token, now=time.time()
        )
    except Exception as exc:
        if is_outage(exc):
            raise  # the API's one outage answer: 503 with Retry-After (threenines.core.api)
        log.exception("token check failed: %s", type(exc).__name__)
        raise HTTPException(500, "cannot check tokens") from None
    if principal is None:
        raise _refuse(request, 401, f"{why} token fp={fingerprint(token)}",
                      "invalid or revoked token")  # fmt: skip
    request.state.principal = principal
    return principal


def require_role(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting tokens whose role satisfies one of ``roles``."""

    async def dependency(request: Request, ctx: ServiceContext = Depends(context)) -> Principal:
        principal = await authenticate(request, ctx)
        if not role_allows(principal.role, roles):
            raise _refuse(
                request, 403, f"token id={principal.id} role={principal.role} not in {roles}",
                f"a {' or '.join(roles)} token is required",
            )  # fmt: skip
        return principal

    return dependency


require_viewer = require_role("viewer")
require_operator = require_role("operator")
require_admin = require_role("admin")
require_agent = require_role("agent")


async def operator_name(principal: Principal = Depends(require_operator)) -> str:
    """For the areas whose ``require_operator`` returns a name for their audit trail."""
    return principal.label


async def admin_name(principal: Principal = Depends(require_admin)) -> str:
    """``deps.require_admin`` backed by the admin-token check: the admin's name."""
    return principal.label


async def viewer_check(principal: Principal = Depends(require_viewer)) -> None:
    """``deps.require_viewer`` backed by the viewer-token check."""


def install(app: FastAPI) -> None:
    """Back the core's auth seams with token checks, and add the agents' and tokens' routes."""
    from threenines.agents import api

    app.dependency_overrides[deps.require_viewer] = viewer_check
    app.dependency_overrides[deps.require_operator] = operator_name
    app.dependency_overrides[deps.require_admin] = admin_name
    api.install(app)
