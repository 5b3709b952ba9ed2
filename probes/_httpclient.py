"""The HTTP machinery shared by the http and journey probes.

httpx builds requests and follows redirects (with cookies); ``probes._transport`` underneath
resolves the name itself (the ``dns`` phase), connects to that address with the URL's host for
SNI and certificate checks — the way blackbox_exporter does it — and times ``connect``, ``tls``,
``ttfb`` and ``transfer``. Every probe run gets a new client and transport: no connection is
ever shared between runs, because a probe measures connecting.
"""

from __future__ import annotations

import asyncio
import re
import socket
import ssl
from dataclasses import dataclass, field
from typing import Annotated, Any

import httpx
from pydantic import AfterValidator, Field

from threenines.core.config.secrets import Secret, is_unset
from threenines.probes import _tls
from threenines.probes._common import first_ssl_error, root_cause
from threenines.probes._connect import AddressOptions
from threenines.probes._dial import Dialer
from threenines.probes._transport import ProbeTransport, resolve

__all__ = [
    "ClientOptions",
    "Fetched",
    "ProbeTransport",
    "Timings",
    "classify_error",
    "fetch",
    "make_client",
    "make_transport",
    "read",
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
    via: str | None = None  # HOST:PORT of the proxy in use, if any

    def add(self, phase: str, seconds: float) -> None:
        self.phases[phase] = self.phases.get(phase, 0.0) + seconds


def _proxy_url(value: Secret | None) -> Secret | None:
    if value is not None and not is_unset(value):  # unset (validate without secrets): no URL
        try:
            url = httpx.URL(value.get_secret_value())
        except (httpx.InvalidURL, TypeError):
            raise ValueError("proxy is not a valid URL") from None  # never echo it: credentials
        if url.scheme != "http" or not url.host:
            raise ValueError("proxy must be an http://HOST:PORT URL (user:password@ allowed)")
    return value


class ClientOptions(AddressOptions, _tls.TlsOptions):
    """The connection fields the http and journey checks share."""

    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=50)
    proxy: Annotated[Secret | None, AfterValidator(_proxy_url)] = Field(
        None, description="http://[user:password@]HOST:PORT, https tunnelled by CONNECT"
    )
    proxy_from_env: bool = Field(
        False, description="Use HTTP_PROXY/HTTPS_PROXY/NO_PROXY from the environment"
    )
    http2: bool = Field(False, description="Offer HTTP/2 by ALPN (https); else HTTP/1.1 only")


_ALPN_H2 = ("h2", "http/1.1")


def alpn_for(cfg: object) -> tuple[str, ...]:
    """The ALPN protocols a check offers: h2 and HTTP/1.1 with ``http2: true``, else none."""
    return _ALPN_H2 if getattr(cfg, "http2", False) else ()


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, but a response without ``Set-Cookie``/``Set-Cookie2`` (the headers
    ``CookieJar.extract_cookies`` reads, and nothing else) is not wrapped in urllib's request
    and response adapters: that wrapping was a tenth of an HTTP probe's CPU, for nothing."""

    def extract_cookies(self, response: httpx.Response) -> None:
        headers = response.headers
        if "set-cookie" in headers or "set-cookie2" in headers:
            super().extract_cookies(response)


def make_transport(timings: Timings, cfg: ClientOptions, *, timeout: float) -> ProbeTransport:
    """A fresh transport (new connections: a probe measures connecting, it must not reuse one)."""
    proxy = httpx.URL(cfg.proxy.get_secret_value()) if cfg.proxy is not None else None
    ip_protocol, fallback, resolver = cfg.resolve_with()
    dialer = Dialer(
        ip_protocol,
        fallback,
        cfg.server_name,
        proxy,
        cfg.proxy_from_env,
        resolver,
        asyncio.get_running_loop().time() + timeout,
    )
    return ProbeTransport(timings, cfg.tls_context(alpn_for(cfg)), dialer)


def make_client(
    timings: Timings,
    cfg: ClientOptions,
    *,
    timeout: float,
    headers: dict[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A fresh client on a fresh transport (or on ``transport``, made for this probe run)."""
    client = httpx.AsyncClient(
        transport=transport or make_transport(timings, cfg, timeout=timeout),
        timeout=httpx.Timeout(timeout),
        follow_redirects=cfg.follow_redirects,
        max_redirects=cfg.max_redirects,
        trust_env=False,
        headers={"User-Agent": USER_AGENT, **(headers or {})},
    )
    client._cookies = _Cookies()  # the setter would copy it into a plain httpx.Cookies
    return client


@dataclass(frozen=True)
class Fetched:
    """What assertions look at: the final response's status, text and transport facts."""

    status: int
    text: str
    url: str
    redirects: int
    http_version: str
    tls: dict[str, Any]
    headers: httpx.Headers
    truncated: bool = False  # the body went on past the limit: only ``text`` was looked at
    limit: int = MAX_BODY


async def fetch(
    client: httpx.AsyncClient, request: httpx.Request, timings: Timings, limit: int = MAX_BODY
) -> Fetched:
    """Send ``request`` and read at most ``limit`` bytes of its (decoded) body."""
    return await read(await client.send(request, stream=True), timings, limit)


async def read(response: httpx.Response, timings: Timings, limit: int = MAX_BODY) -> Fetched:
    """Read at most ``limit`` bytes of a streamed response's (decoded) body, then close it."""
    try:
        tls = _tls_facts(response)
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                break
        timings.stage = "done"
        text = b"".join(chunks)[:limit].decode(response.encoding or "utf-8", "replace")
    finally:
        await response.aclose()
    return Fetched(
        status=response.status_code,
        text=text,
        url=str(response.url),
        redirects=len(response.history),
        http_version=response.http_version,
        tls=tls,
        headers=response.headers,
        truncated=size > limit,
        limit=limit,
    )


def check_body(
    got: Fetched,
    contains: str | None,
    regex: re.Pattern[str] | None,
    not_contains: str | None = None,
    not_regex: re.Pattern[str] | None = None,
) -> tuple[str, str] | None:
    """The body expectations (must / must not contain or match); when the body went on past
    the limit, a failed must-match says so."""
    if contains is not None and contains not in got.text:
        return "expect_mismatch", f"body does not contain {_short(contains)!r}{_cut(got)}"
    if regex is not None and not regex.search(got.text):
        return "expect_mismatch", f"body does not match /{_short(regex.pattern)}/{_cut(got)}"
    if not_contains is not None and not_contains in got.text:
        return "expect_mismatch", f"body contains {_short(not_contains)!r}"
    if not_regex is not None and not_regex.search(got.text):
        return "expect_mismatch", f"body matches /{_short(not_regex.pattern)}/"
    return None


def _cut(got: Fetched) -> str:
    if not got.truncated:
        return ""
    return f" in its first {_size(got.limit)} (body_limit reached; the rest was not read)"


def _size(n: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale} {unit}"
    return f"{n} bytes"


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tls_facts(response: httpx.Response) -> dict[str, Any]:
    """``tls_version`` and certificate expiry; empty when the response came without TLS."""
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
    if isinstance(exc, httpx.ProxyError):
        return "proxy", str(exc)
    cause = root_cause(exc)
    if timings.via and not timings.connected:
        where = f"http://{timings.via}/"  # the proxy could not be reached: name it
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
