"""The agents' side of the API: ``POST /api/v1/ingest``, ``GET /api/v1/agent/config``, and
``GET /api/v1/agents`` (who was heard from when).

Ingest acknowledges only stored data: accepted results go to the service's ``BatchWriter``
(the same path, state intervals and flips as the server's own probes) and the 200 is sent once
the writer has committed them. A refused batch stores nothing: 403 wrong vantage, 413 too large
(``agents.max_body`` bytes, ``agents.max_batch`` results), 400 when any result can never be
stored (``threenines.agents.wire``: unknown check, time far off, a number that is not finite).
The whole batch is refused, never part of it, and the 400 names each refused
result by index (``rejected``), so the agent drops exactly those, logged at ERROR, and sends the
rest again; a 400 naming none (the body is not JSON) makes it halve the batch until the bad
result is alone. So nothing is acknowledged and then lost to validation. 503 (database down,
service stopping, or not stored within ``agents.ingest_wait``) means "keep it and retry", so an
agent never drops on a 5xx. A 200's ``rejected`` counts results the database refused although
they passed validation (a bug: logged at ERROR here, kept by the writer in the quarantine table,
source ``results``). A result dated more than ``agents.max_clock_skew`` in the server's future
is held back with 425 (nothing stored, the agent keeps it, ``wire.early``): the server decides.
Delivery is at-least-once and storage exactly-once: a result is one (check, vantage, ts), so a
batch sent again (the server committed it, the agent died before the reply) is acknowledged
and not stored twice (``ResultStore.write_batch``).

Every request tells the agent's clock and state (``threenines.agents.reporting``: clock skew
flagged, ``agent_clock_skew`` events); every answer carries the server's time
(``X-Threenines-Time``), by which the agent dates its results.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError

from threenines.agents import payload, wire
from threenines.agents.auth import _client, require_agent, require_viewer
from threenines.agents.config import agents_config
from threenines.agents.reporting import HealthRecorder, server_time
from threenines.agents.tokens import HeartbeatStore, Principal
from threenines.core.api import body_limit
from threenines.core.config import Config
from threenines.core.context import ServiceContext
from threenines.core.deps import Key, context, responses
from threenines.core.metrics import CheckLabels
from threenines.core.scheduler import jobs_for
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.ingest")
router = APIRouter(tags=["agents"], responses=responses(401, 403, 503))
INGEST = "/api/v1/ingest"
HEARTBEAT_EVERY = 5.0  # seconds between heartbeat writes per vantage (counts are carried over)


class _Pending:
    def __init__(self, records: list[ResultRecord]):
        self.records = records  # held so their ids stay unique while pending
        self.left = len(records)
        self.rejected = 0
        self.done = asyncio.get_running_loop().create_future()


class AgentPlane:
    """Per-app state: write tracking, per-vantage caches and heartbeat throttling."""

    def __init__(self, ctx: ServiceContext):
        self.ctx = ctx
        self._pending: dict[int, _Pending] = {}
        self._known: dict[str, dict[str, float]] = {}
        self._labels: dict[tuple[str, str], CheckLabels] = {}
        self._docs: dict[str, dict[str, Any]] = {}
        self._beats: dict[str, tuple[float, int]] = {}
        self.health = HealthRecorder(ctx)
        ctx.writer.on_written.append(self._written)
        ctx.on_reload(self._reloaded)

    def _reloaded(self, cfg: Config) -> None:
        """A reloaded config (``threenines.core.reload``): each vantage's checks and the
        document its agent fetches are built again on next use (labels stay: a batch in
        flight may still carry a removed check's results)."""
        self._known.clear()
        self._docs.clear()
        self.health.sites = {v.name: v.site for v in cfg.vantage_points}

    def _written(self, records: Sequence[ResultRecord], stored: bool) -> None:
        for rec in records:
            p = self._pending.pop(id(rec), None)
            if p is None:
                continue
            p.left -= 1
            p.rejected += not stored
            if p.left == 0 and not p.done.done():
                p.done.set_result(None)

    async def store(self, records: list[ResultRecord], wait: float) -> int | None:
        """Submit and wait until written; the number rejected by the database, or None."""
        if self.ctx.stopping.is_set():  # checked with no await before submit: the writer's
            return None  # final flush (after ``stopping``) is then sure to include these
        p = _Pending(records)
        for rec in records:
            self._pending[id(rec)] = p
            self.ctx.writer.submit(rec)
        try:
            await asyncio.wait_for(asyncio.shield(p.done), wait)
        except TimeoutError:
            for rec in records:
                self._pending.pop(id(rec), None)
            return None
        return p.rejected

    def known(self, vantage: str) -> dict[str, float]:
        """The vantage's check ids and their max_gap (as its scheduler would have them)."""
        if vantage not in self._known:
            jobs = jobs_for(self.ctx.config, vantage)
            self._known[vantage] = {j.check_id: j.max_gap for j in jobs}
            self._labels.update({(j.check_id, vantage): j.labels for j in jobs})
            for j in jobs:
                self.ctx.metrics.declare(j.labels)
        return self._known[vantage]

    def observe(self, records: list[ResultRecord]) -> None:
        """The newest result per check goes to /metrics, as the server's own probes do."""
        newest = {(r.check_id, r.vantage): r for r in sorted(records, key=lambda r: r.ts)}
        for key, rec in newest.items():
            self.ctx.metrics.observe(self._labels[key], rec.result, rec.attempts)

    def document(self, vantage: str) -> dict[str, Any]:
        if vantage not in self._docs:
            self._docs[vantage] = payload.build(self.ctx.config, vantage)
        return self._docs[vantage]

    async def heard(self, vantage: str, kind: str, address: str, results: int = 0) -> None:
        now = time.time()
        last, carried = self._beats.get(vantage, (0.0, 0))
        if kind == "ingest" and now - last < HEARTBEAT_EVERY:
            self._beats[vantage] = (last, carried + results)
            return
        self._beats[vantage] = (now, 0)
        try:
            await asyncio.to_thread(
                HeartbeatStore(self.ctx.engine).heard,
                vantage, now=now, kind=kind, address=address, results=carried + results,
            )  # fmt: skip
        except Exception as exc:  # a heartbeat is never worth failing a request for
            log.warning("heartbeat for %s not recorded: %s", vantage, type(exc).__name__)


def plane(request: Request, ctx: ServiceContext = Depends(context)) -> AgentPlane:
    state = request.app.state
    if getattr(state, "agent_plane", None) is None:
        state.agent_plane = AgentPlane(ctx)
    p: AgentPlane = state.agent_plane
    return p


def _batch_schema() -> dict[str, Any]:
    """``WireBatch``'s JSON schema with its definitions inlined (the OpenAPI request body)."""
    schema = wire.WireBatch.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        return [inline(v) for v in node] if isinstance(node, list) else node

    out: dict[str, Any] = inline(schema)
    return out


class _Refused(BaseModel):
    index: int
    reason: str


class RejectionBody(BaseModel):
    """A 400 from ingest: why, and which results (by index in the batch) can never be stored."""

    detail: str
    rejected: list[_Refused]


_INGEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _batch_schema()}},
    }
}


@router.post(
    INGEST,
    response_model=None,
    openapi_extra=_INGEST_DOC,
    responses={
        400: {"model": RejectionBody, "description": "Refused, nothing stored"},
        425: {"model": RejectionBody, "description": "Dated in the server's future: not yet"},
        **responses(413),
    },
)
async def ingest(
    request: Request,
    agent: Principal = Depends(require_agent),
    ap: AgentPlane = Depends(plane),
) -> dict[str, Any] | JSONResponse:
    ctx, limits, now = ap.ctx, agents_config(ap.ctx.config), time.time()
    assert agent.vantage is not None  # require_agent: an agent token is bound to one
    await ap.health.note(agent.vantage, request, now)
    if ctx.stopping.is_set() or not ctx.writer.db_ok:
        raise _unavailable("not accepting results now (stopping or database down); retry")
    body = await request.body()  # bounded by ``agents.max_body`` (``install``)
    try:
        batch = wire.WireBatch.model_validate_json(body, strict=True)
    except ValidationError as exc:
        rej = wire.validation_rejection(exc)
        log.warning("400 ingest from %s (token %s): %s", agent.vantage, agent.id, rej.message)
        return _answer(rej.to_dict(), 400)
    if batch.vantage != agent.vantage:
        log.warning("403 ingest: token %s is bound to %r, batch is for %r",
                    agent.id, agent.vantage, batch.vantage)  # fmt: skip
        raise HTTPException(403, f"this token may only submit results for {agent.vantage!r}")
    if len(batch.results) > limits.max_batch:
        raise HTTPException(413, f"{len(batch.results)} results; at most {limits.max_batch}")
    known = ap.known(batch.vantage)
    refused = wire.check(batch, known, now)
    if refused is not None:
        log.warning("400 ingest from %s: %s", batch.vantage, refused.message)
        return _answer(refused.to_dict(), 400)
    early = wire.early(batch, now, limits.max_clock_skew)
    if early is not None:
        log.info("425 ingest from %s: %s", batch.vantage, early.message)
        return _answer(early.to_dict(), 425)
    records = wire.records(batch, known)
    rejected = await ap.store(records, limits.ingest_wait)
    await ap.heard(batch.vantage, "ingest", _client(request), len(records))
    if rejected is None:
        raise _unavailable("results not stored (service stopping or database slow); retry")
    if rejected:
        log.error("ingest from %s: the database refused %d of %d valid result(s)",
                  batch.vantage, rejected, len(records))  # fmt: skip
    ap.observe(records)
    return _answer({"stored": len(records) - rejected, "rejected": rejected}, 200)


def _answer(body: dict[str, Any], status: int) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers=server_time())


def _unavailable(detail: str) -> HTTPException:
    return HTTPException(503, detail, headers=server_time())


@router.get(
    "/api/v1/agent/config",
    response_model=None,
    responses={304: {"description": "Unchanged since the ETag in If-None-Match"}},
)
async def agent_config(
    request: Request,
    vantage: Key,
    agent: Principal = Depends(require_agent),
    ap: AgentPlane = Depends(plane),
) -> Response:
    if vantage != agent.vantage:
        raise HTTPException(403, f"this token is bound to vantage {agent.vantage!r}")
    doc = ap.document(vantage)
    etag = f'"{doc["version"]}"'
    await ap.health.note(vantage, request, time.time())
    await ap.heard(vantage, "config", _client(request))
    headers = {"ETag": etag, "Cache-Control": "no-store", **server_time()}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return JSONResponse(doc, headers=headers)


@router.get("/api/v1/agents", dependencies=[Depends(require_viewer)])
async def agents(ctx: ServiceContext = Depends(context)) -> list[dict[str, Any]]:
    from threenines.agents.status import read_agents

    rows = await asyncio.to_thread(read_agents, ctx.engine, ctx.config, time.time())
    return [r.to_dict() for r in rows]


def install(app: FastAPI) -> None:
    """Add the agents' and the tokens' routes; ingest bodies may be up to ``agents.max_body``
    bytes."""
    from threenines.agents import tokens_api

    app.include_router(router)
    app.include_router(tokens_api.router)
    body_limit(app, INGEST, agents_config(app.state.ctx.config).max_body)
