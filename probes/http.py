"""HTTP(S) probe: one request (following redirects), checked against status, HTTP version,
TLS use, headers, body (must / must not match), and JSON paths.

Contract: ``probe`` returns a ProbeResult for every outcome and never raises for a failing
target. Error codes: ``dns``, ``refused``, ``unreachable``, ``connect_timeout``, ``timeout``,
``proxy``, ``tls_expired``, ``tls_untrusted``, ``tls_hostname``, ``tls_protocol``,
``tls_client_cert`` (the server wants a, or another, client certificate), ``tls_handshake``,
``http_status``, ``http_version``, ``tls_used``/``tls_missing`` (``fail_if_ssl``/
``fail_if_not_ssl``), ``expect_mismatch``, ``too_many_redirects``, ``protocol``; ``slow`` is
degraded (``degraded_after``). Phases: dns, connect, proxy, tls, ttfb (request sent to response
headers), transfer, total; summed over redirect hops. Body expectations read at most
``body_limit`` bytes (default 1 MiB, at most 64 MiB) and say so when the body went on.

Header values, ``basic_auth`` passwords, ``bearer_token`` and ``proxy`` are ``Secret``s
(``${ENV}``/``file:``): they are sent, never echoed in results, errors or ``repr``.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import time
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from threenines.core.config.base import CheckBase, StrictModel
from threenines.core.config.secrets import Secret
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes import _httpclient as hc
from threenines.probes._assert import MAX_BODY_LIMIT as MAX_BODY_LIMIT  # README quotes it
from threenines.probes._assert import ResponseExpectations, judge
from threenines.probes._common import (
    HttpUrl,
    SecretHeaders,
    guarded,
)

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)  # immutable; parsing it is a tenth of the request's CPU, once is enough


class BasicAuth(StrictModel):
    username: str
    password: Secret = Field(description="${ENV_VAR} or file:/path; never echoed")


class Config(CheckBase, hc.ClientOptions, ResponseExpectations):
    type: Literal["http"]
    url: HttpUrl
    method: Method = "GET"
    headers: SecretHeaders = Field(
        default_factory=dict, description="Values may be ${ENV_VAR} or file:/path; never echoed"
    )
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: Secret | None = Field(None, description="Sent as Authorization: Bearer ...")
    degraded_after: Duration | None = Field(None, gt=0, description="Slower than this: degraded")

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        auth = {k.lower() for k in self.headers} & {"authorization"}
        if sum((bool(auth), self.basic_auth is not None, self.bearer_token is not None)) > 1:
            raise ValueError("give one of basic_auth, bearer_token, an Authorization header")
        return self

    def target(self) -> str:
        return httpx.URL(self.url).netloc.decode()

    def request_headers(self) -> dict[str, str]:
        if not self.headers and self.basic_auth is None and self.bearer_token is None:
            return {}
        headers = {k: v.get_secret_value() for k, v in self.headers.items()}
        if self.basic_auth is not None:
            pair = f"{self.basic_auth.username}:{self.basic_auth.password.get_secret_value()}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif self.bearer_token is not None:
            headers["Authorization"] = "Bearer " + self.bearer_token.get_secret_value()
        return headers


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    return Config.model_validate({"type": "http", "name": name, "url": target, **options})


def plain(cfg: Config) -> bool:
    """Whether the first request may skip httpx's client (see ``_fetch_plain``): no body, no
    proxy, no HTTP/2. Everything else in the check qualifies."""
    return cfg.body is None and cfg.proxy is None and not cfg.proxy_from_env and not cfg.http2


_BUILDER: httpx.AsyncClient | None = None


@functools.lru_cache(maxsize=4096)
def _request(method: str, url: str, headers: tuple[tuple[str, str], ...]) -> httpx.Request:
    """The first request as the probe's client would build it (same headers, same order);
    only read by the transport, so one is shared by every run of the check."""
    global _BUILDER
    if _BUILDER is None:  # builds requests only: it never sends, so it holds no connection
        _BUILDER = hc.make_client(hc.Timings(), hc.ClientOptions(), timeout=1.0,
                                  transport=httpx.AsyncBaseTransport())  # fmt: skip
    return _BUILDER.build_request(method, _parsed(url), headers=dict(headers))


class _Replay(httpx.AsyncBaseTransport):
    """The probe's transport, answering the client's first request with the response already
    fetched: httpx then follows the redirect (cookies, method, headers, limits) itself."""

    def __init__(self, transport: hc.ProbeTransport, first: httpx.Response):
        self._transport = transport
        self._first: httpx.Response | None = first

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        first, self._first = self._first, None
        if first is not None:
            return first
        return await self._transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._transport.aclose()


async def _fetch_plain(
    cfg: Config, timings: hc.Timings, headers: dict[str, str], timeout: float
) -> hc.Fetched:
    """The first request straight through the probe's own transport (``probes._transport``,
    as under httpx), without building an httpx client: on loopback that client was a third
    of the probe's CPU. A redirect to follow goes back to httpx with the response in hand."""
    transport = hc.make_transport(timings, cfg, timeout=timeout)
    try:
        request = _request(cfg.method, cfg.url, tuple(headers.items()))
        response = await transport.handle_async_request(request)
        response.request = request
        if cfg.follow_redirects and response.has_redirect_location:
            client = hc.make_client(
                timings, cfg, timeout=timeout, transport=_Replay(transport, response)
            )
            async with client:
                again = client.build_request(cfg.method, _parsed(cfg.url), headers=headers)
                return await hc.fetch(client, again, timings, cfg.body_limit)
        return await hc.read(response, timings, cfg.body_limit)
    finally:
        await transport.aclose()


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    timings = hc.Timings()
    headers = cfg.request_headers()
    start = time.perf_counter()  # after set-up: total is the target's time, not ours
    try:
        if plain(cfg):
            async with asyncio.timeout(timeout):
                got = await _fetch_plain(cfg, timings, headers, timeout)
        else:
            client = hc.make_client(timings, cfg, timeout=timeout)
            start = time.perf_counter()
            async with client, asyncio.timeout(timeout):
                request = client.build_request(
                    cfg.method, _parsed(cfg.url), headers=headers, content=cfg.body
                )
                got = await hc.fetch(client, request, timings, cfg.body_limit)
    except Exception as exc:
        code, reason = hc.classify_error(exc, timings, timeout)
        return _result(None, code, reason, timings, start)
    failure = judge(cfg, got)
    if failure is not None:
        return _result(got, *failure, timings, start)
    total = time.perf_counter() - start
    if cfg.degraded_after is not None and total > cfg.degraded_after:
        reason = f"{total * 1000:.0f} ms, above degraded_after {cfg.degraded_after * 1000:g} ms"
        return _result(got, "slow", reason, timings, start, degraded=True)
    return _result(got, None, f"HTTP {got.status} in {total * 1000:.0f} ms", timings, start)


def _result(
    got: hc.Fetched | None,
    error: str | None,
    reason: str,
    timings: hc.Timings,
    start: float,
    degraded: bool = False,
) -> ProbeResult:
    total = time.perf_counter() - start
    phases = {**timings.phases, "total": total}
    details: dict[str, Any] = {"address": timings.address} if timings.address else {}
    if timings.attempts:
        details["failed_addresses"] = timings.attempts
    if got is not None:
        details |= {"status_code": got.status, "url": got.url, "redirects": got.redirects}
        details |= {"http_version": got.http_version, **got.tls}
    if error is None:
        return ProbeResult.up(total, reason, phases=phases, details=details)
    if degraded:
        return ProbeResult.degraded(total, error, reason, phases=phases, details=details)
    return ProbeResult.down(total, error, reason, phases=phases, details=details)
