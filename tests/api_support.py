"""Helpers for the hostile-input API tests: the full app (every area's routes) on a real
``ServiceContext``, its writer running, served by uvicorn on 127.0.0.1 from a thread of its own
(so plain synchronous tests, schemathesis's among them, can call it), and one token per role.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from threenines.agents.tokens import TokenStore
from threenines.app.api import create_app
from threenines.app.config import parse_config
from threenines.app.db import migrate
from threenines.app.service import build_context
from threenines.core.context import ServiceContext

ROLES = ("viewer", "operator", "admin", "agent")


def config_text(db_url: str, tmp: Path) -> str:
    """A small estate: vantage ``v1`` (an agent's) runs two checks; security has a site and
    baselines; no failover plan, no alert route (so no route ever reaches the outside)."""
    return f"""
organisation: Test Council
storage: {{url: "{db_url}", flush_interval: 50ms, spool: "{tmp}/spool.jsonl"}}
server: {{listen: "127.0.0.1:0"}}
agents: {{ingest_wait: 10s}}
sites:
  - {{name: dc1, kind: datacentre}}
  - {{name: lib, kind: site}}
vantage_points:
  - {{name: central, site: dc1}}
  - {{name: v1, site: lib}}
services:
  - name: web
    site: dc1
    checks:
      - {{name: a, type: tcp, host: 127.0.0.1, port: 9, interval: 1h, timeout: 1s, vantage: [v1]}}
      - {{name: b, type: tcp, host: 127.0.0.1, port: 9, interval: 1h, timeout: 1s, vantage: [v1]}}
security:
  sites: [{{site: dc1, subnets: [198.19.0.0/24]}}]
  baselines: {{roles: {{server: "22,443"}}, hosts: {{198.19.0.10: "22"}}}}
"""


@dataclass
class Api:
    ctx: ServiceContext
    url: str
    tokens: dict[str, str]
    app: FastAPI

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


def openapi_document() -> dict[str, Any]:
    """The app's own OpenAPI document (its routes do not depend on the configuration)."""
    ctx = build_context(parse_config('storage: {url: "sqlite://"}'))
    try:
        return create_app(ctx).openapi()
    finally:
        ctx.engine.dispose()


def make_context(db_url: str, tmp: Path) -> ServiceContext:
    ctx = build_context(parse_config(config_text(db_url, tmp)))
    migrate(ctx.engine)
    return ctx


def make_tokens(ctx: ServiceContext) -> dict[str, str]:
    store, now = TokenStore(ctx.engine), time.time()
    out = {}
    for role in ROLES:
        _, plain = store.create(role, now=now, vantage="v1" if role == "agent" else None,
                                name=f"{role}-1")  # fmt: skip
        out[role] = plain
    return out


async def _serve(
    ctx: ServiceContext, app: FastAPI, sock: socket.socket, started: threading.Event
) -> None:
    config = uvicorn.Config(app, log_level="warning", access_log=False,
                            lifespan="off", loop="none")  # fmt: skip
    server = uvicorn.Server(config)
    writer = asyncio.create_task(ctx.writer.run())
    http = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (uvicorn offers no event to wait on)
        await asyncio.sleep(0.01)
    started.set()
    await ctx.stopping.wait()
    await ctx.writer.close(10.0)
    await writer
    server.should_exit = True
    await http


@contextlib.contextmanager
def served(db_url: str, tmp: Path) -> Iterator[Api]:
    """The full app with a running writer on 127.0.0.1:<free>, and a token of every role."""
    ctx = make_context(db_url, tmp)
    tokens = make_tokens(ctx)
    app = create_app(ctx)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.new_event_loop()
    started = threading.Event()
    thread = threading.Thread(
        target=loop.run_until_complete, args=(_serve(ctx, app, sock, started),), daemon=True
    )
    thread.start()
    try:
        assert started.wait(30), "the API did not start"
        yield Api(ctx, f"http://127.0.0.1:{sock.getsockname()[1]}", tokens, app)
    finally:
        loop.call_soon_threadsafe(ctx.stopping.set)
        thread.join(30)
        loop.close()
        ctx.engine.dispose()
