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
from typing import Annotated, Any, Literal

import httpx
from pydantic import BeforeValidator, ByteSize, Field, model_validator

from threenines.core.config.base import CheckBase, StrictModel
from threenines.core.config.secrets import Secret
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes import _httpclient as hc
from threenines.probes._assert import HeaderAssertion, JsonAssertion, check_json
from threenines.probes._common import (
    HttpUrl,
    Regex,
    SecretHeaders,
    StatusSpec,
    guarded,
    status_matches,
)

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)  # immutable; parsing it is a tenth of the request's CPU, once is enough


HttpVersion = Literal["HTTP/1.0", "HTTP/1.1", "HTTP/2"]
MAX_BODY_LIMIT = 64 << 20


def _version(value: Any) -> Any:
    return "HTTP/2" if value in ("HTTP/2.0", "h2") else value  # blackbox writes HTTP/2.0


class BasicAuth(StrictModel):
    username: str
    password: Secret = Field(description="${ENV_VAR} or file:/path; never echoed")


class Config(CheckBase, hc.ClientOptions):
    type: Literal["http"]
    url: HttpUrl
    method: Method = "GET"
    headers: SecretHeaders = Field(
        default_factory=dict, description="Values may be ${ENV_VAR} or file:/path; never echoed"
    )
    body: str | None = None
    basic_auth: BasicAuth | None = None
    bearer_token: Secret | None = Field(None, description="Sent as Authorization: Bearer ...")
    expect_status: list[StatusSpec] = Field(default_factory=lambda: ["2xx"], min_length=1)
    valid_http_versions: list[Annotated[HttpVersion, BeforeValidator(_version)]] = Field(
        default_factory=list, description="e.g. [HTTP/2]: any other version is down"
    )
    fail_if_ssl: bool = Field(False, description="Down if the final response came over TLS")
    fail_if_not_ssl: bool = Field(False, description="Down if it did not")
    expect_headers: list[HeaderAssertion] = Field(default_factory=list)
    body_limit: ByteSize = Field(
        ByteSize(hc.MAX_BODY),
        gt=0,
        le=MAX_BODY_LIMIT,
        description="Body expectations look at this much of the body (e.g. 4MiB); said if hit",
    )
    body_contains: str | None = None
    body_regex: Regex | None = None
    body_not_contains: str | None = Field(None, description="Down if the body contains this")
    body_not_regex: Regex | None = Field(None, description="Down if the body matches this")
    json_: list[JsonAssertion] = Field(default_factory=list, alias="json")
    degraded_after: Duration | None = Field(None, gt=0, description="Slower than this: degraded")

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        auth = {k.lower() for k in self.headers} & {"authorization"}
        if sum((bool(auth), self.basic_auth is not None, self.bearer_token is not None)) > 1:
            raise ValueError("give one of basic_auth, bearer_token, an Authorization header")
        if self.fail_if_ssl and self.fail_if_not_ssl:
            raise ValueError("fail_if_ssl and fail_if_not_ssl cannot both be true")
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


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    timings = hc.Timings()
    headers = cfg.request_headers()
    client = hc.make_client(timings, cfg, timeout=timeout)
    start = time.perf_counter()  # after set-up: total is the target's time, not ours
    try:
        async with client, asyncio.timeout(timeout):
            request = client.build_request(
                cfg.method, _parsed(cfg.url), headers=headers, content=cfg.body
            )
            got = await hc.fetch(client, request, timings, cfg.body_limit)
    except Exception as exc:
        code, reason = hc.classify_error(exc, timings, timeout)
        return _result(None, code, reason, timings, start)
    failure = _judge(cfg, got)
    if failure is not None:
        return _result(got, *failure, timings, start)
    total = time.perf_counter() - start
    if cfg.degraded_after is not None and total > cfg.degraded_after:
        reason = f"{total * 1000:.0f} ms, above degraded_after {cfg.degraded_after * 1000:g} ms"
        return _result(got, "slow", reason, timings, start, degraded=True)
    return _result(got, None, f"HTTP {got.status} in {total * 1000:.0f} ms", timings, start)


def _judge(cfg: Config, got: hc.Fetched) -> tuple[str, str] | None:
    """The first failed expectation, in blackbox_exporter's order: status, version, TLS,
    headers, body."""
    if not status_matches(got.status, cfg.expect_status):
        return "http_status", f"status {got.status} not in [{', '.join(cfg.expect_status)}]"
    if cfg.valid_http_versions and got.http_version not in cfg.valid_http_versions:
        wanted = ", ".join(cfg.valid_http_versions)
        return "http_version", f"answered in {got.http_version}, not in [{wanted}]"
    if cfg.fail_if_ssl and got.tls:
        return "tls_used", f"final response came over TLS ({got.url}) and fail_if_ssl is set"
    if cfg.fail_if_not_ssl and not got.tls:
        return "tls_missing", f"final response came without TLS ({got.url}), fail_if_not_ssl"
    for header in cfg.expect_headers:
        problem = header.failure(got.headers)
        if problem is not None:
            return "expect_mismatch", problem
    failure = hc.check_body(
        got,
        cfg.body_contains,
        cfg.body_regex,
        cfg.body_not_contains,
        cfg.body_not_regex,
    )
    if failure is None and cfg.json_:
        failure = check_json(got.text, cfg.json_)
    return failure


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
