"""Connection use of the http and journey probes, seen from a loopback server that counts them.

A probe measures connecting, so every run must open its own connection; within one run,
redirect hops and journey steps to the same origin share one (as browsers and httpx do).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from threenines.core.results import Status
from threenines.probes import http, journey

# every test on both paths of the http probe (conftest.http_path)
pytestmark = pytest.mark.usefixtures("http_path")


class CountingServer:
    """Keep-alive HTTP/1.1 on 127.0.0.1 counting connections: ``/go`` redirects to ``/ok``,
    ``/ftp`` to an ftp:// URL; anything else is ``200 ok``."""

    def __init__(self) -> None:
        self.connections = 0
        self.requests: list[str] = []

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                path = head.split(b" ", 2)[1].decode()
                self.requests.append(path)
                if path in ("/go", "/ftp"):
                    where = b"/ok" if path == "/go" else b"ftp://127.0.0.1/x"
                    writer.write(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\nLocation: " + where)
                    writer.write(b"\r\n\r\n")
                else:
                    writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def counting() -> AsyncIterator[tuple[CountingServer, str]]:
    state = CountingServer()
    server = await asyncio.start_server(state.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield state, f"http://127.0.0.1:{port}"
    server.close()


async def test_each_probe_run_opens_its_own_connection(counting) -> None:
    state, base = counting
    c = http.Config.model_validate({"type": "http", "name": "t", "url": f"{base}/ok"})
    for _ in range(3):
        r = await http.probe(c, timeout=5)
        assert r.status is Status.UP and r.phases["connect"] > 0, r
    assert (state.connections, len(state.requests)) == (3, 3)


async def test_redirect_hops_and_journey_steps_share_the_runs_connection(counting) -> None:
    state, base = counting
    c = http.Config.model_validate({"type": "http", "name": "t", "url": f"{base}/go"})
    r = await http.probe(c, timeout=5)
    assert (r.status, r.details["redirects"]) == (Status.UP, 1), r
    assert (state.connections, state.requests) == (1, ["/go", "/ok"])
    steps = [{"name": "a", "url": "/ok"}, {"name": "b", "url": "/go"}]
    j = journey.Config.model_validate(
        {"type": "journey", "name": "j", "base_url": base, "steps": steps}
    )
    r = await journey.probe(j, timeout=5)
    assert r.status is Status.UP, r
    assert (state.connections, len(state.requests)) == (2, 5)


async def test_redirect_to_another_scheme_is_a_protocol_error(counting) -> None:
    _, base = counting
    c = http.Config.model_validate({"type": "http", "name": "t", "url": f"{base}/ftp"})
    r = await http.probe(c, timeout=5)
    assert (r.status, r.error) == (Status.DOWN, "protocol"), r
    assert "UnsupportedProtocol" in r.reason
