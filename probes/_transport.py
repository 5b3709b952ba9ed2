"""A lean, timed HTTP/1.1 transport for httpx: asyncio sockets and h11, no pool machinery.

Why not httpx's own transport: per probe it builds an httpcore pool and wraps every read and
write in anyio cancel scopes and locks. On loopback that cost 0.6 ms of CPU for a connect,
request and close that asyncio + h11 (httpcore's own parser) do in 0.25 ms, which put the
http probe above blackbox_exporter's CPU per probe (``python -m bench.spine``). httpx above
this still builds requests and handles URLs, redirects, cookies and content decoding.

Contract: one ``ProbeTransport`` per probe run. ``probes._dial`` opens each connection
(``dns``, ``connect`` with Happy Eyeballs, ``proxy``, ``tls`` phases; the address that
answered is ``Timings.address``); this module speaks HTTP/1.1 on it and adds ``ttfb`` and
``transfer``. When ALPN picks ``h2`` (offered only with ``http2: true``) the connection goes
to ``probes._h2`` instead. Connections live only as long as the transport: redirect hops and
journey steps to the same origin share one (as with httpx's pool), and ``aclose`` closes them
all, so a probe never rides on a connection another probe opened. Failures raise httpx
exceptions chained to the OS/ssl/h11 cause, as httpx's transport does; a TLS 1.3 connection
reset before its first response is looked at again by ``Dialer.diagnose``.
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
from threenines.probes._common import first_ssl_error as _first_ssl_error
from threenines.probes._dial import Dialer, proxy_authorization

if TYPE_CHECKING:
    from threenines.probes._h2 import H2Conn

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

    __slots__ = ("absolute", "fresh", "h11", "proxy_auth", "reader", "tls13", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader, self.writer = reader, writer
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_EVENT)
        self.fresh = True  # no exchange completed on it yet
        self.tls13 = False
        self.absolute = False  # requests in absolute form, to an HTTP proxy
        self.proxy_auth: str | None = None

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

    def __init__(self, timings: Timings, ssl_context: ssl.SSLContext, dialer: Dialer):
        self._t = timings
        self._ssl = ssl_context
        self._dialer = dialer
        self._idle: dict[_Key, _Conn] = {}
        self._open: set[_Conn] = set()
        self._h2: dict[_Key, H2Conn] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        t, url = self._t, request.url
        t.urls.append(str(url))
        if url.scheme not in ("http", "https"):  # a redirect may point anywhere
            raise httpx.UnsupportedProtocol(f"unsupported protocol {url.scheme!r}")
        port = url.port or (443 if url.scheme == "https" else 80)
        key = (url.scheme, url.host, port)
        h2 = self._h2.get(key)
        if h2 is not None:
            return await h2.exchange(t, request)
        conn = self._idle.pop(key, None)
        if conn is not None and not conn.idle_ok():
            self._drop(conn)
            conn = None
        if conn is None:
            made = await self._connect(key)
            if not isinstance(made, _Conn):
                return await made.exchange(t, request)
            conn = made
        try:
            return await self._exchange(conn, key, request)
        except (httpx.TransportError, OSError) as exc:
            self._drop(conn)
            if conn.fresh and conn.tls13 and _first_ssl_error(exc) is None:
                await self._diagnose(key, exc)
            raise
        except BaseException:
            self._drop(conn)
            raise

    async def _connect(self, key: _Key) -> _Conn | H2Conn:
        scheme, host, port = key
        ctx = self._ssl if scheme == "https" else None
        reader, writer, proxy = await self._dialer.dial(self._t, scheme, host, port, ctx)
        ssl_object = writer.get_extra_info("ssl_object")
        if ssl_object is not None and ssl_object.selected_alpn_protocol() == "h2":
            from threenines.probes._h2 import H2Conn  # the h2 library: only when h2 is chosen

            h2 = self._h2[key] = H2Conn(reader, writer, host)
            return h2
        conn = _Conn(reader, writer)
        conn.tls13 = ssl_object is not None and ssl_object.version() == "TLSv1.3"
        if proxy is not None and scheme == "http":
            conn.proxy_auth = proxy_authorization(proxy)
            conn.absolute = True
        self._open.add(conn)
        return conn

    async def _diagnose(self, key: _Key, exc: BaseException) -> None:
        """A TLS 1.3 reset before any response: ask again, writing nothing (``_dial``)."""
        _scheme, host, port = key
        address = self._t.address
        if address is None or self._dialer.proxy_for("https", host) is not None:
            return
        alert = await self._dialer.diagnose(address, port, host, self._ssl)
        if alert is not None:
            raise httpx.ConnectError(str(alert)) from alert

    async def _exchange(self, conn: _Conn, key: _Key, request: httpx.Request) -> httpx.Response:
        t = self._t
        t.stage = "request"
        sent = time.perf_counter()
        try:
            headers = request.headers.raw
            target = request.url.raw_path
            if conn.absolute:  # to an HTTP proxy: the whole URL, and its credentials
                target = str(request.url.copy_with(fragment=None)).encode("ascii")
                if conn.proxy_auth:
                    headers = [*headers, (b"Proxy-Authorization", conn.proxy_auth.encode())]
            head = h11.Request(method=request.method, target=target, headers=headers)
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
        conn.fresh = False
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
        for h2 in self._h2.values():
            h2.writer.transport.abort()  # no GOAWAY exchange left running
        self._h2.clear()


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
