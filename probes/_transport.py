"""A lean, timed HTTP/1.1 transport for httpx: asyncio sockets and h11, no pool machinery.

Why not httpx's own transport: per probe it builds an httpcore pool and wraps every read and
write in anyio cancel scopes and locks. On loopback that cost 0.6 ms of CPU for a connect,
request and close that asyncio + h11 (httpcore's own parser) do in 0.25 ms, which put the
http probe above blackbox_exporter's CPU per probe (``python -m bench.spine``). httpx above
this still builds requests and handles URLs, redirects, cookies and content decoding.

Contract: one ``ProbeTransport`` per probe run. It resolves each request's host itself (the
``dns`` phase), connects to its addresses with Happy Eyeballs (``probes._connect``; the one
that answered is ``Timings.address``) with the URL's host for SNI and certificate checks,
and adds ``connect``/``tls``/``ttfb``/``transfer`` to the run's ``Timings``. Connections live
only as long as the transport: redirect hops and journey steps to the same origin share one
(as with httpx's pool), and ``aclose`` closes them all, so a probe never rides on a connection
another probe opened. HTTP/1.1 only, no proxies. Failures raise httpx exceptions chained to
the OS/ssl/h11 cause, as httpx's transport does.
"""

from __future__ import annotations

import asyncio
import select
import ssl
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import h11
import httpx

from threenines.probes import _connect

if TYPE_CHECKING:
    from threenines.probes._httpclient import Timings

READ_SIZE = 64 * 1024
MAX_EVENT = 100 * 1024  # largest response head accepted (httpcore's limit)
_Key = tuple[str, str, int]  # scheme, host name (also SNI), port


async def resolve(host: str, port: int) -> str:
    """First address for ``host`` (IP literals pass through). Raises socket.gaierror."""
    return (await _connect.resolve(host, port))[0]


class _Conn:
    """One socket and its h11 state; ``get_extra_info`` serves ``network_stream`` users."""

    __slots__ = ("h11", "reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_EVENT)

    def get_extra_info(self, name: str) -> Any:
        return self.writer.get_extra_info(name)

    async def send(self, event: h11.Event) -> None:
        data = self.h11.send(event)
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self) -> Any:
        while True:
            try:
                event = self.h11.next_event()
            except h11.RemoteProtocolError as exc:
                raise httpx.RemoteProtocolError(str(exc)) from exc
            if event is not h11.NEED_DATA:
                return event
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if not data and self.h11.their_state is h11.SEND_RESPONSE:
                raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
            self.h11.receive_data(data)

    def next_cycle(self) -> bool:
        """Ready for another request if the last exchange completed and the server stayed."""
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        self.h11.start_next_cycle()
        return True

    def idle_ok(self) -> bool:
        """An idle connection may be reused only if nothing (EOF, stray bytes) arrived."""
        if self.writer.is_closing() or self.reader.at_eof():
            return False
        sock = self.writer.get_extra_info("socket")
        poller = select.poll()  # not select.select: descriptors may exceed FD_SETSIZE
        poller.register(sock.fileno(), select.POLLIN)
        return not poller.poll(0)

    def close(self) -> None:
        # abort, not close: no TLS close_notify exchange left running after the probe
        self.writer.transport.abort()


class ProbeTransport(httpx.AsyncBaseTransport):
    """See the module docstring. ``ssl_context`` is used for every https request."""

    def __init__(
        self,
        timings: Timings,
        ssl_context: ssl.SSLContext,
        ip_protocol: _connect.IpProtocol = "auto",
        fallback: bool = True,
        server_name: str | None = None,
    ):
        self._t = timings
        self._ssl = ssl_context
        self._ip = (ip_protocol, fallback)
        self._sni = server_name
        self._idle: dict[_Key, _Conn] = {}
        self._open: set[_Conn] = set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t, url = self._t, request.url
        t.urls.append(str(url))
        if url.scheme not in ("http", "https"):  # a redirect may point anywhere
            raise httpx.UnsupportedProtocol(f"unsupported protocol {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        conn = self._idle.pop(key, None)
        if conn is not None and not conn.idle_ok():
            self._drop(conn)
            conn = None
        if conn is None:
            conn = await self._connect(key)
        try:
            return await self._exchange(conn, key, request)
        except BaseException:
            self._drop(conn)
            raise

    async def _connect(self, key: _Key) -> _Conn:
        scheme, host, port = key
        t = self._t
        t.stage = "dns"
        start = time.perf_counter()
        addresses = await _connect.resolve(host, port, *self._ip)
        t.add("dns", time.perf_counter() - start)
        t.stage = "connect"
        attempts = _connect.Attempts()
        start = time.perf_counter()
        try:
            sock = await _connect.connect(addresses, port, attempts)
        except OSError as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        finally:
            t.address = attempts.address or (attempts.failed[0][0] if attempts.failed else None)
            t.attempts = attempts.summary()
        t.add("connect", time.perf_counter() - start)
        t.connected = True
        ctx = self._ssl if scheme == "https" else None
        try:
            if ctx is not None:
                t.stage = "tls"
                start = time.perf_counter()
            reader, writer = await asyncio.open_connection(
                sock=sock, ssl=ctx, server_hostname=(self._sni or host) if ctx else None
            )
            if ctx is not None:
                t.add("tls", time.perf_counter() - start)
        except OSError as exc:  # ssl.SSLError included; classify_error looks at the cause
            sock.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            sock.close()
            raise
        conn = _Conn(reader, writer)
        self._open.add(conn)
        return conn

    async def _exchange(self, conn: _Conn, key: _Key, request: httpx.Request) -> httpx.Response:
        t = self._t
        t.stage = "request"
        sent = time.perf_counter()
        try:
            head = h11.Request(
                method=request.method, target=request.url.raw_path, headers=request.headers.raw
            )
            await conn.send(head)
            assert isinstance(request.stream, httpx.AsyncByteStream)
            async for chunk in request.stream:
                await conn.send(h11.Data(data=chunk))
            await conn.send(h11.EndOfMessage())
        except h11.LocalProtocolError as exc:  # e.g. a body longer than its Content-Length
            raise httpx.LocalProtocolError(str(exc)) from exc
        except OSError:
            pass  # the server may answer (e.g. 413) before reading it all: read its response
        t.stage = "ttfb"
        event = await conn.next_event()
        while isinstance(event, h11.InformationalResponse):  # 100 Continue and friends
            event = await conn.next_event()
        if not isinstance(event, h11.Response):
            raise httpx.RemoteProtocolError(f"unexpected {type(event).__name__} before response")
        t.add("ttfb", time.perf_counter() - sent)
        return httpx.Response(
            event.status_code,
            headers=event.headers.raw_items(),
            stream=_Body(self, conn, key),
            extensions={
                "http_version": b"HTTP/" + event.http_version,
                "reason_phrase": event.reason,
                "network_stream": conn,
            },
        )

    def _release(self, conn: _Conn, key: _Key) -> None:
        if conn.next_cycle() and key not in self._idle:
            self._idle[key] = conn
        else:
            self._drop(conn)

    def _drop(self, conn: _Conn) -> None:
        self._open.discard(conn)
        conn.close()

    async def aclose(self) -> None:
        for conn in list(self._open):
            self._drop(conn)
        self._idle.clear()


class _Body(httpx.AsyncByteStream):
    """The response body; its reading time is the ``transfer`` phase."""

    def __init__(self, owner: ProbeTransport, conn: _Conn, key: _Key):
        self._owner, self._conn, self._key = owner, conn, key
        self._started: float | None = None
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._owner._t.stage = "transfer"
        self._started = time.perf_counter()
        while True:
            event = await self._conn.next_event()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        self._timed()

    def _timed(self) -> None:
        if self._started is not None:
            self._owner._t.add("transfer", time.perf_counter() - self._started)
            self._started = None

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._timed()
            self._owner._release(self._conn, self._key)
