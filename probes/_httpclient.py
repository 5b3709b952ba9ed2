"""The HTTP machinery shared by the http and journey probes.

httpx builds requests and follows redirects (with cookies); ``probes._transport`` underneath
resolves the name itself (the ``dns`` phase), connects to that address with the URL's host for
SNI and certificate checks — the way blackbox_exporter does it — and times ``connect``, ``tls``,
``ttfb`` and ``transfer``. Every probe run gets a new client and transport: no connection is
ever shared between runs, because a probe measures connecting.
"""

from __future__ import annotations

import re
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx

from threenines.probes import _tls
from threenines.probes._common import first_ssl_error, root_cause, status_matches
from threenines.probes._connect import IpProtocol
from threenines.probes._transport import ProbeTransport, resolve

__all__ = [
    "ClientOptions",
    "Fetched",
    "Timings",
    "classify_error",
    "fetch",
    "make_client",
    "resolve",
]

USER_AGENT = "threenines/0.1 (synthetic probe)"
MAX_BODY = 1 << 20  # assertions look at the first MiB; a probe must not buffer a huge download


@dataclass
class Timings:
    """Phase durations summed over every request (redirect hops included) of one probe."""

    phases: dict[str, float] = field(default_factory=dict)
    stage: str = "dns"
    connected: bool = False
    urls: list[str] = field(default_factory=list)
    address: str | None = None  # the address that answered (or, if none did, the first tried)
    attempts: list[dict[str, str]] = field(default_factory=list)  # addresses that failed first

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds


class ClientOptions(Protocol):
    """The connection settings the http and journey configs share (read-only: frozen models)."""

    @property
    def verify(self) -> bool: ...
    @property
    def ca_file(self) -> Path | None: ...
    @property
    def follow_redirects(self) -> bool: ...
    @property
    def max_redirects(self) -> int: ...
    @property
    def ip_protocol(self) -> IpProtocol: ...
    @property
    def ip_protocol_fallback(self) -> bool: ...


def make_client(
    timings: Timings,
    cfg: ClientOptions,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
) -> httpx.AsyncClient:
    """A fresh client (new connections: a probe measures connecting, it must not reuse one)."""
    ca_file = str(cfg.ca_file) if cfg.ca_file else None
    transport = ProbeTransport(
        timings,
        _tls.client_context(cfg.verify, ca_file),
        cfg.ip_protocol,
        cfg.ip_protocol_fallback,
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(timeout),
        follow_redirects=cfg.follow_redirects,
        max_redirects=cfg.max_redirects,
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
        not_after, iso = _tls.expiry(der)
        facts["cert_not_after"] = iso
        facts["cert_days_left"] = round((not_after - _tls.utc_now()) / 86400, 2)
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
    tried = _tried(timings)
    if isinstance(cause, ConnectionRefusedError):
        return "refused", f"connection refused by {_netloc(where)}{tried}"
    if isinstance(exc, httpx.ConnectError) or not timings.connected:
        if isinstance(cause, OSError):
            return "unreachable", f"{_netloc(where)}: {cause.strerror or cause}{tried}"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.DecodingError | httpx.ReadError):
        return "protocol", f"bad response from {_netloc(where)}: {exc or type(exc).__name__}"
    if isinstance(exc, httpx.LocalProtocolError | httpx.UnsupportedProtocol):
        return "protocol", f"request could not be sent: {type(exc).__name__}"
    if isinstance(exc, httpx.TransportError | OSError):
        return "protocol", f"{_netloc(where)}: {type(cause).__name__}: {cause}"
    raise exc  # not a network failure: a bug, reported as 'internal' at the probe boundary


def _tried(timings: Timings) -> str:
    """`` (::1: refused; 127.0.0.1: refused)`` when more than one address was tried."""
    if len(timings.attempts) < 2:
        return ""
    return " (" + "; ".join(f"{a['address']}: {a['error']}" for a in timings.attempts) + ")"


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
