"""Helpers for the spine tests: records, a real banner TCP server on loopback, configs."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from threenines.app.config import Config
from threenines.core.results import ProbeResult, Status
from threenines.core.store import ResultRecord


def rec(check: str, ts: float, status: Status = Status.UP, vantage: str = "central", **kw: Any):
    result = ProbeResult.make(status, 0.01, None if status == Status.UP else "refused", "r")
    return ResultRecord(check, vantage, ts, result, **kw)


@dataclass
class BannerServer:
    """A TCP server on loopback that answers each connection with ``banner(n)`` after ``delay``.

    Counts connections and the peak number held at once (to check concurrency limits).
    """

    host: str = "127.0.0.1"
    delay: float = 0.0
    banner: Callable[[int], bytes] = lambda n: b"OK\n"
    connections: int = 0
    current: int = 0
    peak: int = 0
    port: int = 0
    _server: asyncio.Server | None = field(default=None, repr=False)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        n = self.connections
        self.current += 1
        self.peak = max(self.peak, self.current)
        try:
            await asyncio.sleep(self.delay)
            writer.write(self.banner(n))
            await writer.drain()
        except ConnectionError:
            pass
        finally:
            self.current -= 1
            writer.close()

    async def __aenter__(self) -> BannerServer:
        self._server = await asyncio.start_server(self._handle, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


def tcp_config(checks: list[dict[str, Any]], **sections: Any) -> Config:
    """A config with one site and one service ``web`` holding ``checks`` (tcp by default)."""
    return Config.model_validate(
        {
            "sites": [{"name": "dc1", "kind": "datacentre"}],
            "services": [
                {"name": "web", "site": "dc1", "checks": [{"type": "tcp", **c} for c in checks]}
            ],
            **sections,
        }
    )


@contextmanager
def outage(db_url: str) -> Iterator[None]:
    """Make writes fail for real: SQLite locked by another connection; PostgreSQL's table gone."""
    if db_url.startswith("sqlite"):
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    admin = sa.create_engine(db_url)
    with admin.begin() as conn:
        conn.execute(sa.text("ALTER TABLE results RENAME TO results_away"))
    try:
        yield
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text("ALTER TABLE results_away RENAME TO results"))
        admin.dispose()
