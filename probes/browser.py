"""Browser journey probe: a real headless Chromium runs the steps a resident would.

Steps (YAML), each exactly one of: ``goto: URL`` (absolute, or relative to ``base_url``),
``fill: {selector, value}``, ``click: SELECTOR``, ``expect_text: TEXT``,
``expect_element: SELECTOR``, ``expect_url: REGEX``, ``wait: DURATION``; ``{var}`` in URLs and
fill values comes from ``variables`` (secrets: ``${ENV}``/``file:``). Each step is timed (phase
= step name); per page the browser's Web Vitals (TTFB, FCP, LCP, CLS; INP needs real input and
is not measured), console errors and failed requests are reported; a failure comes with a
screenshot (``details.screenshot``, base64 JPEG, at most 256 KiB).

How it runs: each journey is its own process (``probes._browser_worker``, Playwright's sync
API driving Debian's ``/usr/bin/chromium``; browsers are never downloaded), started and
awaited without blocking the event loop. At most ``MAX_BROWSERS`` run at once per process (a
pool: the rest wait their turn, inside their own deadline). The deadline is the parent's: at
the timeout the worker's process group is killed. A browser that crashes or hangs is a result
(``browser_crash``, ``timeout``), never a hang; no browser at all is ``unknown`` with
``browser_unavailable`` (the target was not judged).

Contract: ``probe`` never raises for a failing target. Codes: ``expect_mismatch``,
``element_missing``, ``http_status``, ``refused``, ``dns``, ``tls_*``, ``navigation``,
``console_errors``/``failed_requests`` (when ``fail_on_*`` is set), ``browser_crash``,
``timeout``; ``slow`` (degraded) when the journey or an LCP is over its threshold. Values of
variables never appear in results: reasons quote the step templates.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
import weakref
from pathlib import Path
from typing import Any, Literal

import httpx
from pydantic import Field, model_validator

from threenines.core.config.base import CheckBase, Name, StrictModel
from threenines.core.config.loader import LocatedError
from threenines.core.config.secrets import Secret
from threenines.core.durations import Duration
from threenines.core.results import ProbeResult, Status
from threenines.probes._common import HttpUrl, Regex, guarded

CHROMIUM = Path("/usr/bin/chromium")  # Debian's package (Makefile DEBS)
MAX_BROWSERS = 2  # journeys at once in one process: each is a Chromium of ~150 MB
_POOLS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = (
    weakref.WeakKeyDictionary()
)
_KINDS = ("goto", "fill", "click", "expect_text", "expect_element", "expect_url", "wait")


class Fill(StrictModel):
    selector: str = Field(min_length=1)
    value: str = Field(description="{var} allowed, e.g. {password}")


class Step(StrictModel):
    name: Name | None = Field(None, description="Default: N-kind, e.g. 2-fill")
    goto: str | None = None
    fill: Fill | None = None
    click: str | None = None
    expect_text: str | None = None
    expect_element: str | None = None
    expect_url: Regex | None = None
    wait: Duration | None = Field(None, ge=0, le=60)

    @model_validator(mode="after")
    def _one(self) -> Step:
        given = [k for k in _KINDS if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"a step is exactly one of {', '.join(_KINDS)}")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in _KINDS if getattr(self, k) is not None)

    def job(self, i: int) -> dict[str, Any]:
        arg: Any = getattr(self, self.kind)
        if self.kind == "expect_url":
            arg = arg.pattern
        elif self.kind == "fill":
            arg = arg.model_dump()
        elif self.kind == "expect_text":
            arg = {"text": arg}
        return {"name": self.name or f"{i + 1}-{self.kind}", "kind": self.kind, "arg": arg}


class Config(CheckBase):
    type: Literal["browser"]
    base_url: HttpUrl | None = None
    variables: dict[str, Secret] = Field(default_factory=dict)
    steps: list[Step] = Field(min_length=1)
    verify: bool = Field(True, description="false: accept any certificate")
    viewport: tuple[int, int] = Field((1280, 720), description="[width, height]")
    fail_on_console_errors: bool = False
    fail_on_failed_requests: bool = False
    degraded_after: Duration | None = Field(None, gt=0, description="Journey slower: degraded")
    lcp_degraded_after: Duration | None = Field(None, gt=0, description="Any LCP above: degraded")
    timeout: Duration = Field(30.0, gt=0, description="A browser needs seconds to start")
    step_timeout: Duration = Field(
        10.0, gt=0, description="How long one step (a page load, an expect) may wait"
    )

    @model_validator(mode="after")
    def _consistent(self) -> Config:
        names = [s.job(i)["name"] for i, s in enumerate(self.steps)]
        for i, name in enumerate(names):
            if name in names[:i] or name == "total":
                raise LocatedError(("steps", i, "name"), f"step names must be unique: {name!r}")
        if self.steps[0].goto is None:
            raise LocatedError(("steps", 0), "the first step must be a goto")
        for i, step in enumerate(self.steps):
            if step.goto is not None and "://" not in step.goto and self.base_url is None:
                raise LocatedError(("steps", i, "goto"), "relative URL: set base_url")
        return self

    def target(self) -> str:
        first = self.steps[0].goto or ""
        return httpx.URL(self.base_url or first).netloc.decode() or first


def from_target(target: str, name: str = "adhoc", **options: Any) -> Config:
    data = {"type": "browser", "name": name, "steps": [{"goto": target}], **options}
    return Config.model_validate(data)


def _pool() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    pool = _POOLS.get(loop)
    if pool is None:
        pool = _POOLS[loop] = asyncio.Semaphore(MAX_BROWSERS)
    return pool


@guarded
async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            async with _pool():
                queued = time.perf_counter() - start
                job = _job(cfg, timeout - queued)
                out = await _run_worker(job)
    except TimeoutError:
        reason = f"journey not done within {timeout:g}s (browser stopped)"
        return ProbeResult.down(time.perf_counter() - start, "timeout", reason)
    return _result(cfg, out, queued)


def _job(cfg: Config, left: float) -> dict[str, Any]:
    return {
        "timeout": max(0.1, left - 0.5),  # the worker stops itself just before we would kill it
        "executable_path": str(CHROMIUM),
        "base_url": cfg.base_url,
        "verify": cfg.verify,
        "viewport": list(cfg.viewport),
        "step_timeout": cfg.step_timeout,
        "variables": {k: v.get_secret_value() for k, v in cfg.variables.items()},
        "steps": [s.job(i) for i, s in enumerate(cfg.steps)],
    }


async def _run_worker(job: dict[str, Any]) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "threenines.probes._browser_worker",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,  # its own process group: Chromium dies with it
    )
    try:
        stdout, stderr = await proc.communicate(json.dumps(job).encode())
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
            await proc.wait()
    try:
        out: dict[str, Any] = json.loads(stdout)
    except ValueError:
        last = stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        failure = {"step": None, "code": "browser_crash", "reason": f"worker died: {last[0][:200]}"}
        out = {"steps": [], "pages": [], "console_errors": [], "failed_requests": []}
        out["failure"] = failure
    return out


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _result(cfg: Config, out: dict[str, Any], queued: float) -> ProbeResult:
    phases = {s["name"]: s["duration"] for s in out["steps"]}
    total = sum(phases.values())  # the journey's own time: not the queue, not the launch
    phases["total"] = total
    details: dict[str, Any] = {
        "steps": [{"name": s["name"], "url": s["url"]} for s in out["steps"]],
        "pages": out["pages"],
        "console_errors": out["console_errors"],
        "failed_requests": out["failed_requests"],
        "browser_launch": out.get("launch"),
        "queued": queued,
    }
    failure = out.get("failure")
    if failure is None and cfg.fail_on_console_errors and out["console_errors"]:
        failure = {"step": None, "code": "console_errors", "reason": out["console_errors"][0]}
    if failure is None and cfg.fail_on_failed_requests and out["failed_requests"]:
        failure = {"step": None, "code": "failed_requests", "reason": out["failed_requests"][0]}
    if failure is not None:
        if out.get("screenshot"):
            details["screenshot"] = out["screenshot"]
        if failure["code"] == "browser_unavailable":
            return ProbeResult.make(Status.UNKNOWN, total, failure["code"], failure["reason"])
        where = f"step {failure['step']!r}: " if failure["step"] else ""
        details["failed_step"] = failure["step"]
        reason = where + failure["reason"]
        return ProbeResult.down(total, failure["code"], reason, phases=phases, details=details)
    return _judge_speed(cfg, total, phases, details)


def _judge_speed(
    cfg: Config, total: float, phases: dict[str, float], details: dict[str, Any]
) -> ProbeResult:
    if cfg.degraded_after is not None and total > cfg.degraded_after:
        reason = f"journey took {total * 1000:.0f} ms, above {cfg.degraded_after * 1000:g} ms"
        return ProbeResult.degraded(total, "slow", reason, phases=phases, details=details)
    limit = cfg.lcp_degraded_after
    slow = [p for p in details["pages"] if limit and (p.get("lcp") or 0) > limit]
    if slow and limit:
        page = slow[0]
        reason = f"LCP {page['lcp'] * 1000:.0f} ms on {page['url']}, above {limit * 1000:g} ms"
        return ProbeResult.degraded(total, "slow", reason, phases=phases, details=details)
    reason = f"{len(cfg.steps)} steps in {total * 1000:.0f} ms"
    return ProbeResult.up(total, reason, phases=phases, details=details)
