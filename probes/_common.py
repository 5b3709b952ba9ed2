"""Helpers shared by probe modules: config field types checked at load, and the probe boundary.

Regexes, status-code specs and URLs are validated (and regexes compiled) when the config is
loaded, so a typo fails ``threenines validate`` instead of every probe run.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar, cast

import httpx
from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

from threenines.core.config.secrets import Secret
from threenines.core.results import ProbeResult

log = logging.getLogger(__name__)


def compile_regex(value: Any) -> re.Pattern[str]:
    if isinstance(value, re.Pattern):
        return value
    if not isinstance(value, str):
        raise ValueError("a regex must be a string")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(f"invalid regex {value!r}: {exc}") from None


Regex = Annotated[
    re.Pattern[str],
    BeforeValidator(compile_regex),
    PlainSerializer(lambda p: p.pattern, return_type=str),
    WithJsonSchema({"type": "string", "format": "regex"}),
]
"""A regular expression, compiled once at config load."""

_STATUS = re.compile(r"^(?:([1-5])xx|([1-5]\d\d)(?:-([1-5]\d\d))?)$")


def _status_spec(value: Any) -> str:
    text = str(value).strip().lower() if isinstance(value, int | str) else ""
    if isinstance(value, bool) or not _STATUS.match(text):
        raise ValueError(f"{value!r} is not a status code spec (e.g. 200, 2xx, 200-299)")
    return text


StatusSpec = Annotated[
    str, BeforeValidator(_status_spec), WithJsonSchema({"type": ["integer", "string"]})
]
"""One expected HTTP status: ``200``, ``"2xx"`` or ``"200-299"``."""


def status_matches(code: int, specs: list[str]) -> bool:
    for spec in specs:
        m = _STATUS.match(spec)
        if m is None:  # specs are validated at load
            continue
        if m.group(1):
            if code // 100 == int(m.group(1)):
                return True
        elif int(m.group(2)) <= code <= int(m.group(3) or m.group(2)):
            return True
    return False


# The URLs almost every check has (a 10,000-check file: a sixth of its validation in httpx.URL):
# a host of letters, digits, dots and hyphens, an optional port, a path of visible ASCII.
# httpx accepts each of them; anything else is httpx's to judge.
_PLAIN_URL = re.compile(
    r"https?://(?=[A-Za-z0-9])[A-Za-z0-9.-]{1,253}(?::(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|"
    r"6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?#][!-~]*)?"
)


def _http_url(value: str) -> str:
    if _PLAIN_URL.fullmatch(value):
        return value
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError):
        raise ValueError("not a valid URL") from None
    if url.scheme not in ("http", "https"):
        raise ValueError("not a valid URL (it must start with http:// or https://)")
    if not url.host:
        raise ValueError("not a valid URL (no host)")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url), WithJsonSchema({"type": "string"})]
"""An absolute http:// or https:// URL."""


def _readable_file(value: Path) -> Path:
    if not value.is_file():
        raise ValueError(f"{str(value)!r} is not a readable file")
    return value


CaFile = Annotated[Path, AfterValidator(_readable_file)]
"""A PEM CA bundle to trust instead of the system store (checked to exist at load)."""

_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


def check_headers(headers: dict[str, Any]) -> None:
    """Header names must be tokens and values free of control characters.

    Checked at load so a bad (possibly secret) value never reaches httpx, whose errors would
    echo it. Messages name the header, never its value.
    """
    for name, value in headers.items():
        if not _TOKEN.match(name):
            raise ValueError(f"{name!r} is not a valid HTTP header name")
        text = value.get_secret_value() if hasattr(value, "get_secret_value") else str(value)
        if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in text):
            raise ValueError(f"header {name!r} has a control character in its value")


H = TypeVar("H", bound=dict[str, Any])


def _checked_headers(headers: H) -> H:
    check_headers(headers)
    return headers


Headers = Annotated[dict[str, str], AfterValidator(_checked_headers)]
"""Request headers, names and values checked at load (see ``check_headers``)."""

SecretHeaders = Annotated[dict[str, Secret], AfterValidator(_checked_headers)]
"""Request headers whose values are ``Secret``s (``${ENV}``/``file:``), checked at load."""


def first_ssl_error(exc: BaseException | None) -> BaseException | None:
    """The first ``ssl.SSLError`` in an exception's cause/context chain (httpx wraps them)."""
    import ssl

    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, ssl.SSLError):
            return exc
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return None


def root_cause(exc: BaseException) -> BaseException:
    seen = 0
    while (exc.__cause__ or exc.__context__) is not None and seen < 10:
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
        seen += 1
    return exc


F = TypeVar("F", bound=Callable[..., Awaitable[ProbeResult]])


def guarded(fn: F) -> F:
    """Wrap a probe so a bug becomes a ``down``/``internal`` result instead of an exception.

    Cancellation still propagates: the scheduler must be able to stop a probe.
    """

    @functools.wraps(fn)
    async def wrapper(cfg: Any, *, timeout: float) -> ProbeResult:
        start = time.perf_counter()
        try:
            return await fn(cfg, timeout=timeout)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("probe %s raised; reported as 'internal'", getattr(cfg, "name", "?"))
            return ProbeResult.down(
                time.perf_counter() - start,
                "internal",
                f"probe bug: {type(exc).__name__}: {str(exc)[:200]}",
            )

    return cast(F, wrapper)
