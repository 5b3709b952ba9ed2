"""Opening one HTTP connection for ``probes._transport``: name, addresses, proxy, TLS.

``Dialer.dial`` resolves (the ``dns`` phase), races the addresses (``connect``, Happy Eyeballs
in ``probes._connect``), tunnels through an HTTP proxy with ``CONNECT`` for https (``proxy``
phase; plain http goes to the proxy in absolute form), then does TLS (``tls``) with the URL's
host, or ``server_name``, for SNI and the certificate check.

``Dialer.diagnose`` exists for one case: TLS 1.3 servers judge the client certificate after
the client thinks the handshake is done, so a refused (or missing) client certificate reaches
a client as an alert *or*, when the request it has already written makes the server's close a
reset, as a broken pipe or reset. The measured result flipped between the two. After such a
failure, a second connection handshakes and writes nothing: the server's alert then always
arrives before any reset, and the failure is reported by it (``tls_client_cert``). Bounded by
``DIAGNOSE_LIMIT`` and the probe's deadline; run only after a failure.
"""

from __future__ import annotations

import asyncio
import base64
import socket
import ssl
import time
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx

from threenines.probes import _connect

if TYPE_CHECKING:
    from threenines.probes._httpclient import Timings

DIAGNOSE_LIMIT = 1.0
MAX_PROXY_HEAD = 16 * 1024


class ProxyRefused(httpx.ProxyError):
    """The proxy answered CONNECT with a non-2xx status (or not with HTTP at all)."""


@dataclass(frozen=True, slots=True)
class Dialer:
    """How this probe run connects: address family, SNI override, proxy, deadline."""

    ip_protocol: _connect.IpProtocol = "auto"
    fallback: bool = True
    server_name: str | None = None
    proxy: httpx.URL | None = None
    proxy_from_env: bool = False
    resolver: tuple[str, int] | None = None
    deadline: float = float("inf")  # loop.time() by which the probe must be done

    def proxy_for(self, scheme: str, host: str) -> httpx.URL | None:
        if self.proxy is not None:
            return self.proxy
        if not self.proxy_from_env:
            return None
        found = urllib.request.getproxies_environment().get(scheme)  # HTTP(S)_PROXY, lower too
        if not found or urllib.request.proxy_bypass(host):  # NO_PROXY
            return None
        return httpx.URL(found if "://" in found else f"http://{found}")

    async def dial(
        self, t: Timings, scheme: str, host: str, port: int, ctx: ssl.SSLContext | None
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter, httpx.URL | None]:
        """A connection to host:port (via the proxy, if any); httpx errors chained to causes."""
        proxy = self.proxy_for(scheme, host) if self.proxy or self.proxy_from_env else None
        via_host, via_port = (proxy.host, proxy.port or 80) if proxy else (host, port)
        if proxy is not None:
            t.via = f"{via_host}:{via_port}"
        sock = await self._socket(t, via_host, via_port)
        sni = self.server_name or host
        try:
            if proxy is None or ctx is None:  # TLS straight on the socket: the common path
                if ctx is not None:
                    t.stage = "tls"
                    start = time.perf_counter()
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=ctx, server_hostname=sni if ctx else None
                )
                if ctx is not None:
                    t.add("tls", time.perf_counter() - start)
                return reader, writer, proxy
            reader, writer = await asyncio.open_connection(sock=sock)
        except OSError as exc:  # ssl.SSLError included; classify_error looks at the cause
            sock.close()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            sock.close()
            raise
        try:
            await _tunnel(t, reader, writer, host, port, proxy)
            t.stage = "tls"
            start = time.perf_counter()
            await writer.start_tls(ctx, server_hostname=sni)
            t.add("tls", time.perf_counter() - start)
        except OSError as exc:
            writer.transport.abort()
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from exc
        except BaseException:
            writer.transport.abort()
            raise
        return reader, writer, proxy

    async def _socket(self, t: Timings, host: str, port: int) -> socket.socket:
        t.stage = "dns"
        start = time.perf_counter()
        addresses = await _connect.resolve(
            host, port, self.ip_protocol, self.fallback, self.resolver
        )
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
        return sock

    async def diagnose(
        self, address: str, port: int, host: str, ctx: ssl.SSLContext
    ) -> ssl.SSLError | None:
        """The alert a TLS server sends a client that writes nothing (see the module doc)."""
        budget = min(DIAGNOSE_LIMIT, self.deadline - asyncio.get_running_loop().time() - 0.05)
        if budget <= 0:
            return None
        try:
            async with asyncio.timeout(budget):
                sock = await _connect.connect([address], port, _connect.Attempts())
                reader, writer = await asyncio.open_connection(
                    sock=sock, ssl=ctx, server_hostname=self.server_name or host
                )
                try:
                    await reader.read(1)
                finally:
                    writer.transport.abort()
        except ssl.SSLError as exc:
            return exc
        except (OSError, TimeoutError):
            return None
        return None


async def _tunnel(
    t: Timings,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    host: str,
    port: int,
    proxy: httpx.URL,
) -> None:
    t.stage = "proxy"
    start = time.perf_counter()
    authority = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    head = f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n"
    auth = proxy_authorization(proxy)
    if auth:
        head += f"Proxy-Authorization: {auth}\r\n"
    writer.write((head + "\r\n").encode())
    await writer.drain()
    try:
        answer = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise ProxyRefused(f"proxy {proxy.host} closed or garbled its CONNECT answer") from exc
    status_line = answer.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].startswith("2"):
        raise ProxyRefused(f"proxy {proxy.host} answered CONNECT with {status_line[:80]!r}")
    t.add("proxy", time.perf_counter() - start)


def proxy_authorization(proxy: httpx.URL) -> str | None:
    """Basic credentials from the proxy URL's user info (never shown in a reason)."""
    if not proxy.username:
        return None
    pair = f"{proxy.username}:{proxy.password}".encode()
    return "Basic " + base64.b64encode(pair).decode()
