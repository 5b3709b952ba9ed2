"""HTTP/2 for ``probes._transport``, when the server picks ``h2`` by ALPN (``http2: true``).

The HTTP/2 protocol itself is httpcore's ``AsyncHTTP2Connection`` (on the ``h2`` library), the
one httpx uses, run over the connection this probe dialled and timed: only an adapter from
asyncio streams to httpcore's network stream lives here. HTTP/1.1 keeps its own lean path
(``_transport``): this one costs more CPU per request and is taken only when asked for.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any

import httpcore
import httpx

if TYPE_CHECKING:
    from threenines.probes._httpclient import Timings

READ_SIZE = 64 * 1024


class _Stream(httpcore.AsyncNetworkStream):
    """httpcore's view of an asyncio connection (timeouts: the probe's own deadline)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return await self.reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writer.write(buffer)
        await self.writer.drain()

    async def aclose(self) -> None:
        self.writer.transport.abort()

    def get_extra_info(self, info: str) -> Any:
        return self.writer.get_extra_info(info)


class H2Conn:
    """One HTTP/2 connection; requests to the same origin in one probe run share it."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str, port: int
    ):
        self.stream = _Stream(reader, writer)
        origin = httpcore.Origin(b"https", host.encode("ascii"), port)
        self.h2 = httpcore.AsyncHTTP2Connection(origin=origin, stream=self.stream)

    def get_extra_info(self, name: str) -> Any:
        return self.stream.get_extra_info(name)

    async def exchange(self, t: Timings, request: httpx.Request) -> httpx.Response:
        t.stage = "request"
        sent = time.perf_counter()
        url = request.url
        core = httpcore.Request(
            method=request.method.encode("ascii"),
            url=httpcore.URL(
                scheme=b"https", host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
        )
        with _mapped():
            got = await self.h2.handle_async_request(core)
        t.add("ttfb", time.perf_counter() - sent)
        return httpx.Response(
            got.status,
            headers=got.headers,
            stream=_Body(t, got),
            extensions={"http_version": b"HTTP/2", "network_stream": self},
        )

    async def aclose(self) -> None:
        await self.h2.aclose()


class _Body(httpx.AsyncByteStream):
    def __init__(self, t: Timings, got: httpcore.Response):
        self._t, self._got = t, got

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._t.stage = "transfer"
        start = time.perf_counter()
        with _mapped():
            async for chunk in self._got.aiter_stream():
                yield chunk
        self._t.add("transfer", time.perf_counter() - start)

    async def aclose(self) -> None:
        with _mapped():
            await self._got.aclose()


@contextlib.contextmanager
def _mapped() -> Iterator[None]:
    """httpcore's exceptions as httpx's (what ``classify_error`` reads), causes kept."""
    try:
        yield
    except httpcore.LocalProtocolError as exc:
        raise httpx.LocalProtocolError(str(exc)) from exc
    except httpcore.ProtocolError as exc:
        raise httpx.RemoteProtocolError(str(exc) or "HTTP/2 protocol error") from exc
    except httpcore.NetworkError as exc:
        raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
