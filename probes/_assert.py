"""Assertions on an HTTP response beyond status and body text: JSON paths and headers.

Both are parsed and compiled at config load; ``failure`` returns a reason or None and never
raises. Reasons quote header values only for headers that cannot carry a credential.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import httpx
from jsonpath_ng.ext import parse as jsonpath_parse
from pydantic import Field, field_validator, model_validator

from threenines.core.config.base import StrictModel
from threenines.probes._common import Regex

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
