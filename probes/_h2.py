"""HTTP/2 for ``probes._transport``, when the server picks ``h2`` by ALPN (``http2: true``).

The protocol (framing, HPACK, flow control, settings) is the ``h2`` library's state machine;
this module only moves its bytes over the connection the probe dialled and timed, and turns
its events into an ``httpx.Response``. Why not httpcore's ``AsyncHTTP2Connection``: on every
new connection it takes its stream semaphore 99 times through anyio, which made an HTTP/2
probe cost 1.5x blackbox_exporter's CPU (``python -m bench.spine --parts http2``); a probe
always opens a new connection and sends one request at a time. HTTP/1.1 keeps its own lean
path (``_transport``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import httpx

if TYPE_CHECKING:
    from threenines.probes._httpclient import Timings

READ_SIZE = 64 * 1024
_CONFIG = h2.config.H2Configuration(client_side=True, header_encoding=None)
# connection-specific headers are forbidden in HTTP/2 (RFC 9113 §8.2.2); Host becomes :authority
_DROP = {b"host", b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding",
         b"upgrade", b"te"}  # fmt: skip


class H2Conn:
    """One HTTP/2 connection; requests to the same origin in one probe run share it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, host: str):
        self.reader, self.writer = reader, writer
        self.host = host
        self.h2 = h2.connection.H2Connection(config=_CONFIG)
        self.h2.initiate_connection()
        self.events: dict[int, list[h2.events.Event]] = {}

    def get_extra_info(self, name: str) -> Any:
        return self.writer.get_extra_info(name)

    async def _flush(self) -> None:
        data = self.h2.data_to_send()
        if data:
            self.writer.write(data)
            await self.writer.drain()

    async def next_event(self, stream_id: int) -> h2.events.Event:
        """The next event of ``stream_id``, reading (and answering settings/pings) as needed."""
        queue = self.events[stream_id]
        while not queue:
            try:
                data = await self.reader.read(READ_SIZE)
            except OSError as exc:
                raise httpx.ReadError(str(exc) or type(exc).__name__) from exc
            if not data:
                raise httpx.RemoteProtocolError("Server disconnected without ending the stream.")
            try:
                events = self.h2.receive_data(data)
            except h2.exceptions.ProtocolError as exc:
                raise httpx.RemoteProtocolError(f"HTTP/2: {exc}") from exc
            for event in events:
                if isinstance(event, h2.events.ConnectionTerminated):
                    raise httpx.RemoteProtocolError(f"HTTP/2 GOAWAY ({event.error_code!r})")
                sid = getattr(event, "stream_id", 0)
                if sid in self.events:
                    self.events[sid].append(event)
            await self._flush()
        return queue.pop(0)

    async def exchange(self, t: Timings, request: httpx.Request) -> httpx.Response:
        t.stage = "request"
        sent = time.perf_counter()
        url = request.url
        stream_id = self.h2.get_next_available_stream_id()
        self.events[stream_id] = []
        authority = request.headers.get("host", url.netloc.decode()).encode()
        head = [
            (b":method", request.method.encode()),
            (b":authority", authority),
            (b":scheme", b"https"),
            (b":path", url.raw_path),
        ]
        head += [(k.lower(), v) for k, v in request.headers.raw if k.lower() not in _DROP]
        assert isinstance(request.stream, httpx.AsyncByteStream)
        body = b"".join([chunk async for chunk in request.stream])
        try:
            self.h2.send_headers(stream_id, head, end_stream=not body)
            if body:
                await self._send_body(stream_id, body)
            await self._flush()
        except h2.exceptions.ProtocolError as exc:
            raise httpx.LocalProtocolError(f"HTTP/2: {exc}") from exc
        t.stage = "ttfb"
        event = await self.next_event(stream_id)
        while not isinstance(event, h2.events.ResponseReceived):  # 1xx, window updates
            if isinstance(event, h2.events.StreamReset):
                raise httpx.RemoteProtocolError(f"HTTP/2 stream reset ({event.error_code!r})")
            event = await self.next_event(stream_id)
        t.add("ttfb", time.perf_counter() - sent)
        status = next(int(v) for k, v in event.headers if k == b":status")
        return httpx.Response(
            status,
            headers=[(k, v) for k, v in event.headers if not k.startswith(b":")],
            stream=_Body(self, t, stream_id),
            extensions={"http_version": b"HTTP/2", "network_stream": self},
        )

    async def _send_body(self, stream_id: int, body: bytes) -> None:
        for _ in range(10_000):  # bounded: a probe's body is small
            if not body:
                break
            window = self.h2.local_flow_control_window(stream_id)
            size = min(window, self.h2.max_outbound_frame_size, len(body))
            if size <= 0:
                await self._flush()
                await self.next_event(stream_id)  # a WindowUpdated, most likely
                continue
            self.h2.send_data(stream_id, body[:size])
            body = body[size:]
        self.h2.end_stream(stream_id)


class _Body(httpx.AsyncByteStream):
    """The response body; its reading time is the ``transfer`` phase."""

    def __init__(self, conn: H2Conn, t: Timings, stream_id: int):
        self._conn, self._t, self._id = conn, t, stream_id

    async def __aiter__(self) -> AsyncIterator[bytes]:
        self._t.stage = "transfer"
        start = time.perf_counter()
        conn = self._conn
        while True:
            event = await conn.next_event(self._id)
            if isinstance(event, h2.events.DataReceived):
                conn.h2.acknowledge_received_data(event.flow_controlled_length, self._id)
                yield event.data
            elif isinstance(event, h2.events.StreamEnded):
                break
            elif isinstance(event, h2.events.StreamReset):
                raise httpx.RemoteProtocolError(f"HTTP/2 stream reset ({event.error_code!r})")
        self._t.add("transfer", time.perf_counter() - start)

    async def aclose(self) -> None:
        self._conn.events.pop(self._id, None)
