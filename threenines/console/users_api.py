"""Console users over HTTP (admin tokens only): ``/api/v1/users`` lists, adds and disables
the local accounts through the console area's store (``threenines.console.identity.UserStore``,
as ``threenines user add`` does): the password is stored as an argon2id hash only and is never
in an answer or a log.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StringConstraints

from threenines.console.identity import NAME_MAX, PASSWORD_MAX, ROLES, UserError, UserStore
from threenines.core.context import ServiceContext
from threenines.core.deps import KEY_PATTERN, Key, context, require_admin, responses

log = logging.getLogger("threenines.console")
router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=responses(401, 403, 503))
UserName = Annotated[str, StringConstraints(min_length=1, max_length=NAME_MAX,
                                            pattern=KEY_PATTERN)]  # fmt: skip


class UserRow(BaseModel):
    name: str
    role: str
    created: float
    disabled: float | None


class NewUser(BaseModel):
    name: UserName
    role: Key = Field(description=f"One of: {', '.join(ROLES)}")
    password: str = Field(max_length=PASSWORD_MAX, description="Stored as an argon2id hash only")


@router.get("", response_model=list[UserRow])
async def list_users(
    admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> list[dict[str, Any]]:
    """Every local console account (never its password hash), oldest first."""
    return await asyncio.to_thread(UserStore(ctx.engine).users)


@router.post("", status_code=201, response_model=UserRow, responses=responses(400, 409, 413))
async def add_user(
    body: NewUser, admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Add a local console account. 409: the name is taken; 422: an unknown role, a bad name
    or a password of the wrong length."""
    store, now = UserStore(ctx.engine), time.time()
    try:
        await asyncio.to_thread(store.add, body.name, body.role, body.password, now=now, by=admin)
    except UserError as exc:
        if "exists" in str(exc):
            raise HTTPException(409, str(exc)) from None
        msg = str(exc).removeprefix("--role: ")
        raise RequestValidationError(
            [{"loc": ("body",), "msg": msg, "type": "value_error"}]
        ) from None
    log.info("console user %s (%s) added by %s", body.name, body.role, admin)
    return {"name": body.name, "role": body.role, "created": now, "disabled": None}


@router.post("/{name}/disable", responses=responses(404))
async def disable_user(
    name: UserName, admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
) -> dict[str, Any]:
    """Disable an account: its sign-ins are refused and its sessions end now. 404: no enabled
    account of that name."""
    if not await asyncio.to_thread(UserStore(ctx.engine).disable, name, now=time.time(), by=admin):
        raise HTTPException(404, f"no enabled user {name!r}")
    log.info("console user %s disabled by %s", name, admin)
    return {"name": name, "disabled_by": admin}


def install(app: FastAPI) -> None:
    app.include_router(router)
