"""API tokens over HTTP (admin tokens only): ``/api/v1/tokens`` lists, creates and revokes
them through the tokens area's store (``threenines.agents.tokens.TokenStore``), as
``threenines token list|create|revoke`` does. A token's value is in the answer that creates it
and nowhere else; listings carry only ids, names and dates.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException
from pydantic import BaseModel, Field, StringConstraints

from threenines.agents.tokens import ROLES, TokenError, TokenStore
from threenines.core.context import ServiceContext
from threenines.core.deps import KEY_PATTERN, Key, context, require_admin, responses

log = logging.getLogger("threenines.auth")
router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"], responses=responses(401, 403, 503))
TokenId = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=KEY_PATTERN)]


class TokenRow(BaseModel):
    id: str
    name: str
    role: str
    vantage: str | None
    created: float
    last_used: float | None
    revoked: float | None


class NewToken(BaseModel):
    role: Key = Field(description=f"One of: {', '.join(ROLES)}")
    name: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")] = Field(
        "", description="Who or what holds it (shown in audit trails)"
    )
    vantage: Key | None = Field(None, description="The vantage point (agent tokens only)")


class MadeToken(BaseModel):
    id: str
    name: str
    role: str
    vantage: str | None
    token: str = Field(description="The token itself: shown this once, only its hash is kept")


@router.get("", response_model=list[TokenRow])
async def list_tokens(
    admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    """Every token (never its value), oldest first."""
    return await asyncio.to_thread(TokenStore(ctx.engine).list)


@router.post("", status_code=201, response_model=MadeToken, responses=responses(400, 413))
async def create_token(
    body: NewToken, admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """A new token; its value is in this answer only. 422: an unknown role or vantage point, or
    a vantage point on a token that is not an agent's."""
    known = {v.name for v in ctx.config.vantage_points} | {ctx.config.server.vantage}
    problem = None
    if body.vantage is not None and body.vantage not in known:
        problem = f"{body.vantage!r} is not a vantage point"
    else:
        try:
            p, plain = await asyncio.to_thread(TokenStore(ctx.engine).create, body.role,
                                               now=time.time(), vantage=body.vantage,
                                               name=body.name, by=admin)  # fmt: skip
        except TokenError as exc:
            problem = str(exc)
    if problem is not None:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError([{"loc": ("body",), "msg": problem, "type": "value_error"}])
    log.info("token id=%s role=%s created by %s", p.id, p.role, admin)
    return {"id": p.id, "name": p.name, "role": p.role, "vantage": p.vantage, "token": plain}


@router.delete("/{token_id}", responses=responses(404))
async def revoke_token(
    token_id: TokenId, admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Revoke a token: every request with it is refused (401) from now on. 404: no active
    token with this id."""
    if not await asyncio.to_thread(
        TokenStore(ctx.engine).revoke, token_id, now=time.time(), by=admin
    ):
        raise HTTPException(404, f"no active token with id {token_id!r}")
    log.info("token id=%s revoked by %s", token_id, admin)
    return {"id": token_id, "revoked_by": admin}
