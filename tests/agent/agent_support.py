"""Helpers for the agent tests: configs, an in-process service on loopback, processes."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from threenines.agents.tokens import TokenStore
from threenines.app.config import Config
from threenines.app.db import migrate
from threenines.app.service import build_context, serve
from threenines.core.service import bind


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_yaml(
    tmp: Path,
    port: int,
    checks: dict[str, list[str]],
    extra: str = "",
    listen: int = 0,
    interval: str = "200ms",
) -> str:
    """A server config: vantages ``central``, ``v1``, ``v2``; ``checks`` maps a check name
    to its vantages; every check is a tcp check against ``port`` every ``interval``."""
    lines = []
    for name, vantages in checks.items():
        lines.append(
            f"      - {{name: {name}, type: tcp, host: 127.0.0.1, port: {port}, "
            f"interval: {interval}, timeout: 1s, retries: 0, vantage: [{', '.join(vantages)}]}}"
        )
    return f"""
organisation: Test Council
storage:
  url: sqlite:///{tmp}/server.db
  flush_interval: 100ms
  spool: {tmp}/spool.jsonl
server:
  listen: 127.0.0.1:{listen}
sites:
  - {{name: dc1, kind: datacentre}}
  - {{name: lib, kind: site}}
vantage_points:
  - {{name: central, site: dc1}}
  - {{name: v1, site: lib}}
  - {{name: v2, site: lib}}
services:
  - name: web
    site: dc1
    checks:
{chr(10).join(lines)}
{extra}
"""


def load(text: str) -> Config:
    from threenines.core.config.loader import parse_text

    return parse_text(text, Config)


@contextlib.asynccontextmanager
async def service(cfg: Config) -> AsyncIterator[tuple[Any, str]]:
    """The real service (scheduler, writer, HTTP) in this loop on 127.0.0.1:<free>."""
    ctx = build_context(cfg)
    migrate(ctx.engine)
    sock = bind("127.0.0.1:0")
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    task = asyncio.create_task(serve(ctx, sock, extensions=[]))
    try:
        async with httpx.AsyncClient() as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                await asyncio.sleep(0.02)
        yield ctx, url
    finally:
        ctx.stopping.set()
        await asyncio.wait_for(task, 30)


def token(ctx: Any, role: str, vantage: str | None = None, name: str = "") -> tuple[str, str]:
    """A new token: (id, plaintext)."""
    p, plain = TokenStore(ctx.engine).create(role, now=time.time(), vantage=vantage, name=name)
    return p.id, plain


def rows(db: Path, vantage: str | None = None) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        sql = "select id, check_id, vantage, ts, status from results"
        if vantage:
            return conn.execute(sql + " where vantage = ? order by id", (vantage,)).fetchall()
        return conn.execute(sql + " order by id").fetchall()


def result(check_id: str, ts: float | None = None, **kw: Any) -> dict[str, Any]:
    base = {
        "check_id": check_id, "ts": time.time() if ts is None else ts, "status": "up",
        "error": None, "reason": "ok", "duration": 0.01, "attempts": 1,
        "phases": {"connect": 0.001}, "details": {},
    }  # fmt: skip
    return {**base, **kw}


class Listener:
    """A TCP listener on loopback that accepts and closes (a target that is "up")."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, _r: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def __aenter__(self) -> Listener:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


@contextlib.asynccontextmanager
async def tls_front(backend_port: int, cert_dir: Path) -> AsyncIterator[tuple[int, Path]]:
    """A TLS-terminating forwarder on 127.0.0.1 (as a reverse proxy would be) to the service;
    yields its port and the CA file that signs its certificate (trustme)."""
    import ssl

    import trustme

    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_ctx)
    ca_file = cert_dir / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, ssl.SSLError):
            pass
        finally:
            w.close()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        br, bw = await asyncio.open_connection("127.0.0.1", backend_port)
        await asyncio.gather(pipe(r, bw), pipe(br, w))

    server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_ctx)
    try:
        yield server.sockets[0].getsockname()[1], ca_file
    finally:
        server.close()
