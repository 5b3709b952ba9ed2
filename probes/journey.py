"""Journey probe: a multi-step HTTP user journey sharing one cookie jar.

Each step has the http check's expectations (``_assert.ResponseExpectations``, judged by
``_assert.judge``, the http probe's own code). Typical use: load the login page, ``extract`` its
CSRF token, post the login form with ``{csrf}`` and a secret ``{password}``, then assert the
dashboard text. Each step is timed (phase
name = step name) and asserted; the first failing step makes the result ``down`` with a reason
naming that step. A whole journey slower than ``degraded_after`` is ``degraded``/``slow``.

Contract: ``probe`` never raises for a failing target. Variable values (secrets and extracted
tokens) are never put in results or errors: reasons quote the step's templates, not their
rendering.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Literal

import httpx
from pydantic import Field, field_validator, model_validator

from threenines.core.config.base import CheckBase, Name
from threenines.core.config.loader import LocatedError
from threenines.core.config.secrets import Secret
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult
from threenines.probes import _httpclient as hc
from threenines.probes._assert import ResponseExpectations, judge
from threenines.probes._common import (
    Headers,
    HttpUrl,
    Regex,
    SecretHeaders,
    guarded,
)

_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def render(template: str, variables: dict[str, str]) -> str:
    """Replace ``{name}`` with its value; other braces (JSON bodies) are left alone."""
    return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), template)


class Step(ResponseExpectations):
    """One request; its expectations are the http check's own (``_assert.judge``)."""

    name: Name
    method: Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] = "GET"
    url: str = Field(description="Absolute, or relative to the journey's base_url; {var} allowed")
    headers: Headers = Field(default_factory=dict)
    form: dict[str, str] | None = Field(None, description="Sent url-encoded; {var} allowed")
    body: str | None = None
    extract: dict[str, Regex] = Field(
        default_factory=dict,
        description='variable -> regex, e.g. csrf: \'name="csrf" value="([^"]+)"\'; the value '
        "is the group named like the variable, else group 1, else the whole match",
    )

    @field_validator("extract")
    @classmethod
    def _names(cls, value: dict[str, re.Pattern[str]]) -> dict[str, re.Pattern[str]]:
        for name in value:
            if not _IDENT.match(name):
                raise ValueError(f"{name!r} is not a variable name (letters, digits, '_')")
        return value

    @model_validator(mode="after")
    def _one_payload(self) -> Step:
        if self.form is not None and self.body is not None:
            raise ValueError("give either form or body, not both")
        return self

    def templates(self) -> list[tuple[tuple[str, ...], str]]:
        """(loc within the step, text) of every value where ``{var}`` is substituted."""
        out: list[tuple[tuple[str, ...], str]] = [
            (("url",), self.url),
            (("body",), self.body or ""),
        ]
        out += [(("headers", k), v) for k, v in self.headers.items()]
        return out + [(("form", k), v) for k, v in (self.form or {}).items()]


class Config(CheckBase, hc.ClientOptions):
    type: Literal["journey"]
    base_url: HttpUrl | None = None
    variables: dict[str, Secret] = Field(
        default_factory=dict, description="e.g. credentials: ${ENV_VAR} or file:/path"
    )
    headers: SecretHeaders = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    degraded_after: Duration | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        known = set(self.variables)
        seen: set[str] = set()
        for i, step in enumerate(self.steps):
            if step.name in seen or step.name == "total":
                raise LocatedError(
                    ("steps", i, "name"),
                    f"step names must be unique and not 'total': {step.name!r}",
                )
            seen.add(step.name)
            for loc, template in step.templates():
                for var in _VAR.findall(template):
                    if var not in known:
                        raise LocatedError(
                            ("steps", i, *loc),
                            f"unknown variable {{{var}}} (define it in variables, or extract it "
                            "in an earlier step)",
                        )
            _check_url(self.base_url, step.url, i)
            known |= set(step.extract)
        return self

    def target(self) -> str:
        first = self.base_url or _VAR.sub("x", self.steps[0].url)
        return httpx.URL(first).netloc.decode()


def _check_url(base_url: str | None, url: str, i: int) -> None:
    url = _VAR.sub("x", url)
    try:
        full = httpx.URL(base_url).join(url) if base_url else httpx.URL(url)
    except httpx.InvalidURL:
        raise LocatedError(("steps", i, "url"), "not a valid URL") from None
    if full.scheme not in ("http", "https") or not full.host:
        raise LocatedError(
            ("steps", i, "url"), "not a valid URL (make it absolute, or set base_url)"
        )


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    steps = [{"name": "get", "url": target}]
    return Config.model_validate({"type": "journey", "name": name, "steps": steps, **options})


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    timings = hc.Timings()
    variables = {k: v.get_secret_value() for k, v in cfg.variables.items()}
    headers = {k: v.get_secret_value() for k, v in cfg.headers.items()}
    client = hc.make_client(timings, cfg, timeout=timeout, headers=headers)
    start = time.perf_counter()  # after set-up: total is the target's time, not ours
    steps: list[dict[str, Any]] = []
    phases: dict[str, float] = {}
    step, t = cfg.steps[0], start
    try:
        async with client, asyncio.timeout(timeout):
            for step in cfg.steps:
                t = time.perf_counter()
                request = _request(client, cfg, step, variables)
                got = await hc.fetch(client, request, timings, step.body_limit)
                phases[step.name] = time.perf_counter() - t
                steps.append({"name": step.name, "status_code": got.status, "url": _bare(got.url)})
                failure = _assert(step, got, variables)
                if failure is not None:
                    return _result(cfg, start, phases, steps, timings, (step.name, *failure))
    except Exception as exc:
        phases[step.name] = time.perf_counter() - t
        code, reason = hc.classify_error(exc, timings, timeout)
        return _result(cfg, start, phases, steps, timings, (step.name, code, reason))
    return _result(cfg, start, phases, steps, timings, None)


def _request(
    client: httpx.AsyncClient, cfg: Config, step: Step, variables: dict[str, str]
) -> httpx.Request:
    url = render(step.url, variables)
    if cfg.base_url:
        url = str(httpx.URL(cfg.base_url).join(url))
    form = {k: render(v, variables) for k, v in step.form.items()} if step.form else None
    return client.build_request(
        step.method,
        url,
        headers={k: render(v, variables) for k, v in step.headers.items()},
        data=form,
        content=render(step.body, variables) if step.body is not None else None,
    )


def _bare(url: str) -> str:
    """The URL without its query: extracted tokens may travel there."""
    return str(httpx.URL(url).copy_with(query=None, fragment=None))


def _assert(step: Step, got: hc.Fetched, variables: dict[str, str]) -> tuple[str, str] | None:
    failure = judge(step, got)
    if failure is not None:
        return failure
    for name, regex in step.extract.items():
        match = regex.search(got.text)
        if match is None:
            return "expect_mismatch", f"nothing to extract into {{{name}}} with /{regex.pattern}/"
        if name in regex.groupindex:
            variables[name] = match.group(name) or ""
        else:
            variables[name] = match.group(1 if regex.groups else 0) or ""
    return None


def _result(
    cfg: Config,
    start: float,
    phases: dict[str, float],
    steps: list[dict[str, Any]],
    timings: hc.Timings,
    failure: tuple[str, str, str] | None,
) -> ProbeResult:
    total = time.perf_counter() - start
    phases = {**phases, "total": total}
    details: dict[str, Any] = {"steps": steps, "network": dict(timings.phases)}
    if failure is not None:
        name, code, reason = failure
        details["failed_step"] = name
        return ProbeResult.down(
            total, code, f"step {name!r}: {reason}", phases=phases, details=details
        )
    if cfg.degraded_after is not None and total > cfg.degraded_after:
        reason = f"journey took {total * 1000:.0f} ms, above {cfg.degraded_after * 1000:g} ms"
        return ProbeResult.degraded(total, "slow", reason, phases=phases, details=details)
    reason = f"{len(cfg.steps)} steps in {total * 1000:.0f} ms"
    return ProbeResult.up(total, reason, phases=phases, details=details)
