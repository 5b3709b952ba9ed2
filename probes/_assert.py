"""Assertions on an HTTP response: ``ResponseExpectations`` (the fields) and ``judge`` (the
one place they are decided), shared by the http probe and every step of an HTTP journey.

Everything is parsed and compiled at config load; ``failure``/``judge`` return a reason or None
and never raise. Reasons quote header values only for headers that cannot carry a credential.
"""

from __future__ import annotations

import functools
import json
from typing import Annotated, Any, Literal

import httpx
from jsonpath_ng.ext import parse as jsonpath_parse
from pydantic import BeforeValidator, ByteSize, Field, field_validator, model_validator

from threenines.core.config.base import StrictModel
from threenines.probes._common import Regex, StatusSpec, status_matches
from threenines.probes._httpclient import MAX_BODY, Fetched, check_body

HttpVersion = Literal["HTTP/1.0", "HTTP/1.1", "HTTP/2"]
MAX_BODY_LIMIT = 64 << 20

_PRIVATE = {"set-cookie", "cookie", "authorization", "proxy-authorization", "www-authenticate"}


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


def check_json(text: str, assertions: list[JsonAssertion]) -> tuple[str, str] | None:
    try:
        doc = json.loads(text)
    except ValueError:
        return "expect_mismatch", "body is not valid JSON"
    for assertion in assertions:
        problem = assertion.failure(doc)
        if problem is not None:
            return "expect_mismatch", f"JSON {problem}"
    return None


class HeaderAssertion(StrictModel):
    """``name`` present (or, ``present: false``, absent); with ``equals``/``regex`` one of its
    values must satisfy it (compared as sent, case-sensitive; names are case-insensitive)."""

    name: str = Field(min_length=1)
    present: bool = True
    equals: str | None = None
    regex: Regex | None = None

    @model_validator(mode="after")
    def _sense(self) -> HeaderAssertion:
        if not self.present and (self.equals is not None or self.regex is not None):
            raise ValueError("present: false cannot have equals or regex")
        return self

    def failure(self, headers: httpx.Headers) -> str | None:
        values = headers.get_list(self.name)
        if not self.present:
            return f"header {self.name} is present" if values else None
        if not values:
            return f"header {self.name} is missing"
        shown = "" if self.name.lower() in _PRIVATE else f" is {_short(values[0])!r},"
        if self.equals is not None and self.equals not in values:
            return f"header {self.name}{shown} expected {self.equals!r}"
        if self.regex is not None and not any(self.regex.search(v) for v in values):
            return f"header {self.name}{shown} expected to match /{self.regex.pattern}/"
        return None


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _version(value: Any) -> Any:
    return "HTTP/2" if value in ("HTTP/2.0", "h2") else value  # blackbox writes HTTP/2.0


class ResponseExpectations(StrictModel):
    """What a response must be: the http check's fields, and each journey step's."""

    expect_status: list[StatusSpec] = Field(default_factory=lambda: ["2xx"], min_length=1)
    valid_http_versions: list[Annotated[HttpVersion, BeforeValidator(_version)]] = Field(
        default_factory=list, description="e.g. [HTTP/2]: any other version is down"
    )
    fail_if_ssl: bool = Field(False, description="Down if the final response came over TLS")
    fail_if_not_ssl: bool = Field(False, description="Down if it did not")
    expect_headers: list[HeaderAssertion] = Field(default_factory=list)
    body_limit: ByteSize = Field(
        ByteSize(MAX_BODY),
        gt=0,
        le=MAX_BODY_LIMIT,
        description="Body expectations look at this much of the body (e.g. 4MiB); said if hit",
    )
    body_contains: str | None = None
    body_regex: Regex | None = None
    body_not_contains: str | None = Field(None, description="Down if the body contains this")
    body_not_regex: Regex | None = Field(None, description="Down if the body matches this")
    json_: list[JsonAssertion] = Field(default_factory=list, alias="json")

    @model_validator(mode="after")
    def _tls_sense(self) -> ResponseExpectations:
        if self.fail_if_ssl and self.fail_if_not_ssl:
            raise ValueError("fail_if_ssl and fail_if_not_ssl cannot both be true")
        return self


def judge(exp: ResponseExpectations, got: Fetched) -> tuple[str, str] | None:
    """The first failed expectation as (error code, reason), in blackbox_exporter's order:
    status, version, TLS, headers, body, JSON."""
    if not status_matches(got.status, exp.expect_status):
        return "http_status", f"status {got.status} not in [{', '.join(exp.expect_status)}]"
    if exp.valid_http_versions and got.http_version not in exp.valid_http_versions:
        wanted = ", ".join(exp.valid_http_versions)
        return "http_version", f"answered in {got.http_version}, not in [{wanted}]"
    if exp.fail_if_ssl and got.tls:
        return "tls_used", f"final response came over TLS ({got.url}) and fail_if_ssl is set"
    if exp.fail_if_not_ssl and not got.tls:
        return "tls_missing", f"final response came without TLS ({got.url}), fail_if_not_ssl"
    for header in exp.expect_headers:
        problem = header.failure(got.headers)
        if problem is not None:
            return "expect_mismatch", problem
    failure = check_body(
        got, exp.body_contains, exp.body_regex, exp.body_not_contains, exp.body_not_regex
    )
    if failure is None and exp.json_:
        failure = check_json(got.text, exp.json_)
    return failure
