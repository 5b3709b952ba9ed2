"""Dependencies shared by the API routers: the service context, the two auth seams, and the
parameter types that keep bad input out of every area's routes.

Areas protect their routes with ``require_viewer`` and ``require_operator`` from here, never by
importing the tokens area; the tokens area fills both in when the API is built.

The input rule, the same in every area (a violation is 422 before the route runs, so no bad
value reaches a database): an id (``RowId``) is 1 to 2**63-1, what SQLite's INTEGER and
PostgreSQL's bigint hold; a well-formed id that names no row is the route's 404. A name or a
reference in a path or a query (``Key``) is 1 to 200 characters with no control character. Free
text in a body (``PlainText``, with the field's own ``max_length``) has no NUL, which
PostgreSQL cannot store. A time (``Epoch``) is finite epoch seconds within what ``datetime``
can hold. Each area bounds its own ``limit`` with ``Field(ge=1, le=...)``; bodies are bounded by
``threenines.core.api.BodyLimit``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints

from threenines.core.context import ServiceContext

ROW_ID_MAX = 2**63 - 1  # a signed 64-bit integer
EPOCH_MAX = 253402300799.0  # 9999-12-31T23:59:59Z, the last second ``datetime`` can hold
KEY_PATTERN = r"^[^\x00-\x1f\x7f]+$"
TEXT_PATTERN = r"^[^\x00]*$"

RowId = Annotated[int, Field(ge=1, le=ROW_ID_MAX, description="A row id, 1 to 2**63-1")]
RowCursor = Annotated[
    int, Field(ge=0, le=ROW_ID_MAX, description="Rows after this id (0: from the first)")
]
Key = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=KEY_PATTERN)]
PlainText = Annotated[str, StringConstraints(pattern=TEXT_PATTERN)]
Epoch = Annotated[
    float, Field(ge=0, le=EPOCH_MAX, allow_inf_nan=False, description="Epoch seconds")
]


class Problem(BaseModel):
    """An error's body: what was wrong, in words (never a token, an input or a traceback)."""

    detail: str


WHY = {
    400: "A malformed request: an invalid Content-Length, or a body that is not UTF-8 (a body "
    "that is not JSON is a 422)",
    401: "No bearer token, or an unknown or revoked one",
    403: "The token's role may not do this",
    404: "No such row or name",
    409: "The row is not in a state that allows this",
    413: "The body is larger than this route accepts",
    429: "As many long operations run as the server allows; retry when one has ended",
    503: "The database is unavailable; retry",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error statuses a route may answer (``APIRouter(responses=...)``
    or a route's ``responses=``), each with a ``Problem`` body."""
    return {code: {"model": Problem, "description": WHY[code]} for code in codes}


def context(request: Request) -> ServiceContext:
    """FastAPI dependency: the running service's context (``Depends(context)``)."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


def require_viewer(request: Request) -> None:
    """Auth dependency of the areas' read routes. This default refuses with 401; the tokens area
    (``threenines.agents.auth.install``) overrides it with the viewer-token check
    (``app.dependency_overrides[require_viewer] = ...``)."""
    raise HTTPException(401, "viewer token required (API tokens are not configured)")


def require_admin(request: Request) -> str:
    """Auth dependency of decisions only an admin may take (approving a retroactive exclusion):
    the admin's name. This default refuses with 401; the tokens area overrides it."""
    raise HTTPException(401, "admin token required (API tokens are not configured)")


def require_operator(request: Request) -> str:
    """Auth dependency of the areas' decisions: the operator's name, for the audit trail. This
    default refuses with 401; the tokens area overrides it with the operator-token check."""
    raise HTTPException(401, "operator token required (API tokens are not configured)")


SESSION_LOOKUP = "session_identity"  # app.state attribute: the console's session lookup
READS = ("GET", "HEAD")


async def session_identity(request: Request) -> tuple[str, str] | None:
    """The seam for a signed-in person on the API (Swagger UI at /api/docs in the console's
    browser): (name, role) of the request's session, or None. The console area sets the lookup
    (``app.state.session_identity``); core knows no session. Only reads: a cookie never
    authenticates a write, so a cross-site form cannot act with it (CSRF); writes need a token."""
    lookup = getattr(request.app.state, SESSION_LOOKUP, None)
    if lookup is None or request.method not in READS:
        return None
    found: tuple[str, str] | None = await lookup(request)
    return found


async def public_view(request: Request) -> dict[str, Any] | None:
    """The seam for ``GET /api/v1/status``: what an anonymous caller may see, or ``None`` for
    the full view. This default gives ``None``; the console area overrides it with the public
    status page's content for callers with neither a token nor a console session."""
    return None


def start_job(
    request: Request,
    kind: str,
    key: str,
    by: str,
    work: Callable[[], Awaitable[dict[str, Any]]],
) -> JSONResponse:
    """Start a long operation (``threenines.core.jobs``) and answer 202 with its job, to poll
    at ``/api/v1/jobs/{id}``; 409 if one of the same kind and key still runs, 429 when the
    server runs as many as it allows."""
    from threenines.core.jobs import JobExists, JobsBusy

    try:
        job = context(request).jobs.start(kind, key, by, work)
    except JobExists as exc:
        raise HTTPException(409, str(exc)) from None
    except JobsBusy as exc:
        raise HTTPException(429, str(exc)) from None
    headers = {"Location": f"/api/v1/jobs/{job.id}"}
    return JSONResponse(job.doc(), status_code=202, headers=headers)
