"""The audit log over HTTP (admin tokens only), as ``threenines audit verify|log``:

- ``GET /api/v1/audit/verify`` walks the hash chain (``threenines.core.audit.verify``) against
  the head record and the heads the areas recorded (``Composition.anchors``). A broken chain is
  an answer, not an error: 200 with ``ok: false`` and each problem in words.
- ``GET /api/v1/audit/log?subject=&limit=`` gives the newest rows first
  (``threenines.core.audit.rows``).

Installed by ``Composition.install_api`` after the areas' routes; the admin check is the tokens
area's (``deps.require_admin``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Engine

from threenines.core import audit
from threenines.core.context import ServiceContext
from threenines.core.deps import TEXT_PATTERN, context, require_admin, responses

MAX_LIMIT = 10000  # as ``threenines audit log --limit``
Anchors = Callable[[Engine], list[tuple[int, str, str]]]
Subject = Annotated[str, StringConstraints(max_length=200, pattern=TEXT_PATTERN)]


class Check(BaseModel):
    ok: bool
    rows: int = Field(description="Rows read")
    seq: int = Field(description="The newest row's seq (0: an empty log)")
    hash: str = Field(description="The newest row's hash")
    problems: list[str] = Field(description="Each edited or deleted row, in words")


def install(app: FastAPI, anchors: Anchors) -> None:
    router = APIRouter(prefix="/api/v1/audit", tags=["audit"],
                       responses=responses(401, 403, 503))  # fmt: skip

    @router.get("/verify", response_model=Check)
    async def verify(
        admin: str = Depends(require_admin), ctx: ServiceContext = Depends(context)
    ) -> dict[str, Any]:
        """Check every row against its hash and its predecessor, and the newest against the
        head record and the heads issued reports saw (``threenines audit verify``)."""

        def check() -> audit.AuditCheck:
            return audit.verify(ctx.engine, anchors(ctx.engine))

        found = await asyncio.to_thread(check)
        seq, digest = found.head
        return {"ok": found.ok, "rows": found.rows, "seq": seq, "hash": digest,
                "problems": list(found.problems)}  # fmt: skip

    @router.get("/log")
    async def log(
        subject: Subject = "",
        limit: Annotated[int, Field(ge=1, le=MAX_LIMIT)] = 50,
        admin: str = Depends(require_admin),
        ctx: ServiceContext = Depends(context),
    ) -> list[dict[str, Any]]:
        """The newest audit rows first; ``subject``: only subjects starting with it."""
        return await asyncio.to_thread(audit.rows, ctx.engine, subject, limit)

    app.include_router(router)
