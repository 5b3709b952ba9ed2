"""The HTTP machinery shared by the http and journey probes.

Phase timings: we resolve the name ourselves (the ``dns`` phase), then let httpx connect to the
address with the original Host header and ``sni_hostname`` — the way blackbox_exporter does
it — and read ``connect``/``tls``/``ttfb`` from httpcore's ``trace`` events. Cookies, redirects
and TLS verification still see the logical URL, because only the inner request is rewritten.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

from probes import _tls
from probes._common import first_ssl_error, root_cause, status_matches

USER_AGENT = "threenines/0.1 (synthetic probe)"
MAX_BODY = 1 << 20  # assertions look at the first MiB; a probe must not buffer a huge download

# httpcore trace event -> our phase name
_PHASES = {
    "connection.connect_tcp": "connect",
    "connection.start_tls": "tls",
    "http11.send_request_headers": "request",
    "http11.send_request_body": "request",
    "http11.receive_response_headers": "ttfb",
    "http11.receive_response_body": "transfer",
}


@dataclass
class Timings:
    """Phase durations summed over every request (redirect hops included) of one probe."""

    phases: dict[str, float] = field(default_factory=dict)
    stage: str = "dns"
    connected: bool = False
    urls: list[str] = field(default_factory=list)
    address: str | None = None
    _started: dict[str, float] = field(default_factory=dict)
    _sent: float = 0.0

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds

    async def trace(self, event: str, info: dict[str, Any]) -> None:
        name, _, edge = event.rpartition(".")
        phase = _PHASES.get(name)
        if phase is None:
            return
        now = time.perf_counter()
        if edge == "started":
            self.stage = phase
            self._started[name] = now
            if name == "http11.send_request_headers":
                self._sent = now
            return
        if edge != "complete":
            return
        if name == "connection.connect_tcp":
            self.connected = True
        if phase == "ttfb":  # from the first request byte sent to the response headers
            self.add("ttfb", now - (self._sent or self._started.get(name, now)))
        elif phase != "request":
            self.add(phase, now - self._started.get(name, now))


async def resolve(host: str, port: int) -> str:
    """First address for ``host`` (IP literals pass through). Raises socket.gaierror."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return str(infos[0][4][0])


class TimedTransport(httpx.AsyncBaseTransport):
    """Resolves each request's host itself (timed) and traces the connection phases."""

    def __init__(self, inner: httpx.AsyncHTTPTransport, timings: Timings):
        self._inner = inner
        self._t = timings

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        self._t.urls.append(str(url))
        self._t.stage = "dns"
        start = time.perf_counter()
        address = await resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
        self._t.add("dns", time.perf_counter() - start)
        self._t.address = address
        inner = httpx.Request(
            request.method,
            url.copy_with(host=address),
            headers=request.headers,  # keeps the original Host header
            stream=request.stream,
            extensions={**request.extensions, "sni_hostname": url.host, "trace": self._t.trace},
        )
        return await self._inner.handle_async_request(inner)

    async def aclose(self) -> None:
        await self._inner.aclose()


def make_client(
    timings: Timings,
    *,
    timeout: float,
    verify: bool,
    ca_file: str | None,
    follow_redirects: bool,
    max_redirects: int,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A fresh client (new connections: a probe measures connecting, it must not reuse one)."""
    ctx = _tls.client_context(verify, ca_file)
    inner = httpx.AsyncHTTPTransport(verify=ctx, retries=0, trust_env=False)
    return httpx.AsyncClient(
        transport=TimedTransport(inner, timings),
        timeout=httpx.Timeout(timeout),
        follow_redirects=follow_redirects,
        max_redirects=max_redirects,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
    )


@dataclass(frozen=True)
class Fetched:
    """What assertions look at: the final response's status, text and transport facts."""

    status: int
    text: str
    url: str
    redirects: int
    http_version: str
    tls: dict[str, Any]


async def fetch(client: httpx.AsyncClient, request: httpx.Request, timings: Timings) -> Fetched:
    """Send ``request`` and read at most MAX_BODY bytes of the body."""
    response = await client.send(request, stream=True)
    try:
        tls = _tls_facts(response)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY:
                break
        timings.stage = "done"
        text = b"".join(chunks)[:MAX_BODY].decode(response.encoding or "utf-8", "replace")
    finally:
        await response.aclose()
    return Fetched(
        status=response.status_code,
        text=text,
        url=str(response.url),
        redirects=len(response.history),
        http_version=response.http_version,
        tls=tls,
    )


def check_response(
    got: Fetched, status: list[str], contains: str | None, regex: re.Pattern[str] | None
) -> tuple[str, str] | None:
    """The first failed expectation as (error code, reason), or None when all hold."""
    if not status_matches(got.status, status):
        return "http_status", f"status {got.status} not in [{', '.join(status)}]"
    if contains is not None and contains not in got.text:
        return "expect_mismatch", f"body does not contain {_short(contains)!r}"
    if regex is not None and not regex.search(got.text):
        return "expect_mismatch", f"body does not match /{_short(regex.pattern)}/"
    return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tls_facts(response: httpx.Response) -> dict[str, Any]:
    stream = response.extensions.get("network_stream")
    ssl_object = stream.get_extra_info("ssl_object") if stream is not None else None
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return {}
    der = ssl_object.getpeercert(binary_form=True)
    facts: dict[str, Any] = {"tls_version": ssl_object.version()}
    if der:
        cert = _tls.cert_facts(der, _tls.utc_now())
        facts["cert_not_after"] = cert["not_after_iso"]
        facts["cert_days_left"] = cert["days_left"]
    return facts


def classify_error(exc: BaseException, timings: Timings, timeout: float) -> tuple[str, str]:
    """Map a failed request (httpx exception, OSError, timeout) to (error code, reason)."""
    # no query string in reasons: journeys may carry extracted tokens there
    where = str(httpx.URL(timings.urls[-1]).copy_with(query=None)) if timings.urls else "?"
    if isinstance(exc, TimeoutError | httpx.TimeoutException):
        return _classify_timeout(timings, timeout, where)
    if isinstance(exc, httpx.TooManyRedirects):
        hops = [str(httpx.URL(u).copy_with(query=None)) for u in timings.urls]
        for i, hop in enumerate(hops):
            if hop in hops[:i]:  # show the cycle, up to its first repeat
                paths = [httpx.URL(h).path or "/" for h in hops[: i + 1]]
                return "too_many_redirects", "redirect loop: " + " -> ".join(paths)
        return "too_many_redirects", f"more than {len(hops) - 1} redirects, last {where}"
    cause = root_cause(exc)
    if isinstance(cause, socket.gaierror | UnicodeError):  # UnicodeError: IDNA-invalid name
        host = httpx.URL(where).host if timings.urls else "?"
        return "dns", f"cannot resolve {host}: {getattr(cause, 'strerror', None) or cause}"
    ssl_error = first_ssl_error(exc)
    if ssl_error is not None:
        return _tls.classify(ssl_error)
    if isinstance(cause, ConnectionRefusedError):
        return "refused", f"connection refused by {_netloc(where)}"
    if isinstance(exc, httpx.ConnectError) or not timings.connected:
        if isinstance(cause, OSError):
            return "unreachable", f"{_netloc(where)}: {cause.strerror or cause}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError | httpx.ReadError):
        return "protocol", f"bad response from {_netloc(where)}: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        return "protocol", f"request could not be sent: {type(exc).__name__}"
    if isinstance(exc, httpx.TransportError | OSError):
        return "protocol", f"{_netloc(where)}: {type(cause).__name__}: {cause}"
    raise exc  # not a network failure: a bug, reported as 'internal' at the probe boundary


def _classify_timeout(timings: Timings, timeout: float, where: str) -> tuple[str, str]:
    stage = timings.stage
    if stage == "dns":
        return "dns", f"resolving {httpx.URL(where).host or where} took over {timeout:g}s"
    if stage == "connect" and not timings.connected:
        return "connect_timeout", f"no connection to {_netloc(where)} within {timeout:g}s"
    what = {"tls": "TLS handshake", "request": "sending the request"}.get(stage, "response")
    return "timeout", f"{what} from {_netloc(where)} not complete within {timeout:g}s"


def _netloc(url: str) -> str:
    try:
        return httpx.URL(url).netloc.decode()
    except (httpx.InvalidURL, TypeError):
        return url
