"""HTTP(S) probe: one request (following redirects), checked against status, body and JSON.

Contract: ``probe`` returns a ProbeResult for every outcome — DNS failure, refused, timeouts,
TLS problems (expired / untrusted / wrong host name), bad status, body or JSON mismatch, too
many redirects, malformed responses — and never raises for a failing target. A response slower
than ``degraded_after`` is ``degraded`` with error ``slow``. Phases: dns, connect, tls, ttfb
(request sent to response headers), transfer, total; summed over redirect hops.

Header values are ``Secret``s (``${ENV}``/``file:``): they are sent, never echoed in results,
errors or ``repr``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import Any, Literal

import httpx
from jsonpath_ng.ext import parse as jsonpath_parse
from pydantic import Field, field_validator

from threenines.core.config.base import CheckBase, StrictModel
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes import _httpclient as hc
from threenines.probes._common import CaFile, HttpUrl, Regex, SecretHeaders, StatusSpec, guarded
from threenines.probes._connect import AddressOptions

Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@functools.lru_cache(maxsize=4096)
def _parsed(url: str) -> httpx.URL:
    return httpx.URL(url)  # immutable; parsing it is a tenth of the request's CPU, once is enough


@functools.lru_cache(maxsize=1024)
def _jsonpath(expr: str) -> Any:
    return jsonpath_parse(expr)  # jsonpath-ng parsing is slow (ply): once per expression


class JsonAssertion(StrictModel):
    """``path`` must match; with ``equals``/``contains``/``regex`` one match must satisfy it."""

    path: str
    equals: str | int | float | bool | None = None
    contains: str | None = None
    regex: Regex | None = None
    exists: bool = Field(True, description="false: the path must NOT match anything")

    @field_validator("path")
    @classmethod
    def _parse(cls, value: str) -> str:
        try:
            _jsonpath(value)
        except Exception as exc:  # jsonpath-ng raises several unrelated types
            raise ValueError(f"invalid JSON path {value!r}: {exc}") from None
        return value

    def failure(self, doc: Any) -> str | None:
        values = [m.value for m in _jsonpath(self.path).find(doc)]
        if not self.exists:
            return f"{self.path} exists" if values else None
        if not values:
            return f"{self.path} not found"
        if "equals" in self.model_fields_set and self.equals not in values:
            return f"{self.path} is {_show(values)}, expected {self.equals!r}"
        if self.contains is not None and not any(self.contains in str(v) for v in values):
            return f"{self.path} is {_show(values)}, expected to contain {self.contains!r}"
        if self.regex is not None and not any(self.regex.search(str(v)) for v in values):
            return f"{self.path} is {_show(values)}, expected to match /{self.regex.pattern}/"
        return None


def _show(values: list[Any]) -> str:
    text = json.dumps(values[0] if len(values) == 1 else values, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


class Config(CheckBase, AddressOptions):
    type: Literal["http"]
    url: HttpUrl
    method: Method = "GET"
    headers: SecretHeaders = Field(
        default_factory=dict, description="Values may be ${ENV_VAR} or file:/path; never echoed"
    )
    body: str | None = None
    follow_redirects: bool = True
    max_redirects: int = Field(10, ge=0, le=50)
    verify: bool = Field(True, description="Verify the TLS certificate chain and host name")
    ca_file: CaFile | None = Field(None, description="CA bundle to trust instead of the system's")
    expect_status: list[StatusSpec] = Field(default_factory=lambda: ["2xx"], min_length=1)
    body_contains: str | None = None
    body_regex: Regex | None = None
    json_: list[JsonAssertion] = Field(default_factory=list, alias="json")
    degraded_after: Duration | None = Field(None, gt=0, description="Slower than this: degraded")

    def target(self) -> str:
        return httpx.URL(self.url).netloc.decode()


def from_target(target: str, name: str = "adhoc") -> Config:
    return Config.model_validate({"type": "http", "name": name, "url": target})


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    timings = hc.Timings()
    headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
    client = hc.make_client(timings, cfg, timeout=timeout)
    start = time.perf_counter()  # after set-up: total is the target's time, not ours
    try:
        async with client, asyncio.timeout(timeout):
            request = client.build_request(
                cfg.method, _parsed(cfg.url), headers=headers, content=cfg.body
            )
            got = await hc.fetch(client, request, timings)
    except Exception as exc:
        code, reason = hc.classify_error(exc, timings, timeout)
        return _result(None, code, reason, timings, start)
    failure = hc.check_response(got, cfg.expect_status, cfg.body_contains, cfg.body_regex)
    if failure is None and cfg.json_:
        failure = _check_json(got.text, cfg.json_)
    if failure is not None:
        return _result(got, *failure, timings, start)
    total = time.perf_counter() - start
    if cfg.degraded_after is not None and total > cfg.degraded_after:
        reason = f"{total * 1000:.0f} ms, above degraded_after {cfg.degraded_after * 1000:g} ms"
        return _result(got, "slow", reason, timings, start, degraded=True)
    return _result(got, None, f"HTTP {got.status} in {total * 1000:.0f} ms", timings, start)


def _check_json(text: str, assertions: list[JsonAssertion]) -> tuple[str, str] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return "expect_mismatch", "body is not valid JSON"
    for assertion in assertions:
        problem = assertion.failure(doc)
        if problem is not None:
            return "expect_mismatch", f"JSON {problem}"
    return None


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
