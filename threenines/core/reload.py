"""Reload a running ``threenines run``'s configuration in place: SIGHUP, ``threenines reload``
and ``POST /api/v1/config/reload`` (an admin token) all come here.

The rule, in order:

1. The file the service was started with is read and validated as ``run`` does (secrets
   required). Any problem: the reload is **refused**, the running config is kept, and the
   answer lists every problem (``FILE:LINE path: message``).
2. Each part of the config that something took at start-up and cannot take in place is
   *held*: the core's ``HELD`` and each area's ``Area.held`` (a section, or a dotted path in
   one), each with its reason. A held part that changed is **not applied**: it keeps its
   running value, and the answer says which and why (a restart applies it). The rest is
   applied, provided the result still holds together (its cross-checks pass); otherwise the
   reload is refused, naming the problem.
3. Applying: the scheduler takes the new checks by id (``Scheduler.update``: unchanged checks
   keep their next slot, so there is no gap; changed ones their phase; their state intervals
   go on, being keyed by check id), ``ctx.config`` becomes the new config (what reads it at
   each use sees it at once) and each hook an area registered with ``ctx.on_reload`` is
   called with it (an area that built something from the config at start-up rebuilds it).

The outcome is ``applied``, ``partial`` (something held was changed), ``unchanged`` or
``refused``; it is logged (one line, then one per problem or held part) and returned to the
CLI or the API. ``threenines_config_reloads_total{result}`` counts them and
``threenines_config_last_reload_success_timestamp_seconds`` is when the config in force was
last loaded (start-up or a reload that applied something).
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from prometheus_client import Counter, Gauge

from threenines.core.hangup import notify
from threenines.core.scheduler import JobChanges, jobs_for

if TYPE_CHECKING:
    from pydantic import BaseModel

    from threenines.core.area import Composition
    from threenines.core.config import Config
    from threenines.core.context import ServiceContext

log = logging.getLogger("threenines.reload")

#: what the core takes at start-up and cannot take in place (a restart applies a change)
HELD: Mapping[str, str] = {
    "storage": "the database engine, its pool and the spool are opened at start-up",
    "server": "the listening socket, this node's name and its high-availability lease "
    "are set up at start-up",
}
RESULTS = ("applied", "partial", "unchanged", "refused")
Result = Literal["applied", "partial", "unchanged", "refused"]


@dataclass
class Outcome:
    """What a reload did (``to_dict`` is the API's and ``reload --json``'s answer)."""

    result: Result
    file: str
    source: str
    #: refused: why, one line each (nothing was applied)
    problems: list[str] = field(default_factory=list)
    #: the parts of the config that changed and were applied
    applied: list[str] = field(default_factory=list)
    #: held parts that changed and keep their running value: path -> why
    not_applied: dict[str, str] = field(default_factory=dict)
    checks: JobChanges = field(default_factory=JobChanges)
    #: an area's hook that failed while applying (logged with its traceback)
    errors: list[str] = field(default_factory=list)
    at: float = field(default_factory=time.time)

    @property
    def ok(self) -> bool:
        return self.result in ("applied", "unchanged")

    def summary(self) -> str:
        c = self.checks
        counts = (
            f"checks: {len(c.added)} added, {len(c.removed)} removed, {len(c.changed)} changed, "
            f"{c.unchanged} unchanged"
        )
        if self.result == "refused":
            return (
                f"reload of {self.file} ({self.source}) refused, the running config is kept: "
                f"{len(self.problems)} problem(s)"
            )
        if self.result == "unchanged":
            return f"reload of {self.file} ({self.source}): no change"
        held = f"; not applied (restart needed): {', '.join(self.not_applied)}"
        return (
            f"reload of {self.file} ({self.source}) {self.result}: "
            f"{', '.join(self.applied) or 'nothing applied'}; {counts}"
            + (held if self.not_applied else "")
        )

    def lines(self) -> list[str]:
        """The summary, then one line per problem, held part and failed hook."""
        out = [self.summary()]
        out += [f"  {p}" for p in self.problems]
        out += [f"  {path}: not applied: {why}" for path, why in self.not_applied.items()]
        out += [f"  error: {e}" for e in self.errors]
        return out

    def to_dict(self) -> dict[str, Any]:
        c = self.checks
        return {
            "result": self.result,
            "file": self.file,
            "source": self.source,
            "at": self.at,
            "summary": self.summary(),
            "problems": self.problems,
            "applied": self.applied,
            "not_applied": self.not_applied,
            "checks": {
                "added": list(c.added),
                "removed": list(c.removed),
                "changed": list(c.changed),
                "unchanged": c.unchanged,
            },
            "errors": self.errors,
        }


def _get(cfg: Any, path: str) -> Any:
    for part in path.split("."):
        cfg = getattr(cfg, part, None)
    return cfg


def _with(cfg: BaseModel, path: str, value: Any) -> Any:
    """``cfg`` with the value at the dotted ``path`` replaced (copies, the original intact)."""
    head, _, rest = path.partition(".")
    if not rest:
        return cfg.model_copy(update={head: value})
    return cfg.model_copy(update={head: _with(getattr(cfg, head), rest, value)})


def _path(loc: tuple[str | int, ...]) -> str:
    """``("services", 0, "checks")`` as the loader writes it: ``services[0].checks``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def changed_sections(old: Config, new: Config) -> list[str]:
    """The root fields whose values differ, in the schema's order."""
    return [
        name
        for name in type(new).model_fields
        if getattr(old, name, None) != getattr(new, name, None)
    ]


def held_parts(composition: Composition) -> dict[str, str]:
    """Every held part: the core's and each area's (``Area.held``), with its reason."""
    out = dict(HELD)
    for area in composition.areas:
        out.update(area.held)
    return out


class Reloader:
    """The running service's reloads, one at a time; see the module docstring."""

    def __init__(self, ctx: ServiceContext, composition: Composition, path: Path | None):
        self.ctx, self.composition, self.path = ctx, composition, path
        self.held = held_parts(composition)
        self.last: Outcome | None = None
        self.count = 0
        self.pending = False  # a reload asked for before the service could do it
        self._lock = asyncio.Lock()
        registry = ctx.metrics.registry
        self._total = Counter(
            "threenines_config_reloads_total",
            "Configuration reloads by result (applied, partial, unchanged, refused)",
            ["result"],
            registry=registry,
        )
        for r in RESULTS:
            self._total.labels(r)
        self._success = Gauge(
            "threenines_config_last_reload_success_timestamp_seconds",
            "When the configuration in force was loaded (start-up, or a reload that applied)",
            registry=registry,
        )
        self._success.set(time.time())

    def validate(self, text: str | None = None) -> Outcome:
        """What a reload would do now, without doing it (blocking: call it in a thread).
        ``text``: a config to check instead of the file."""
        new, problems = self._load(text)
        if new is None:
            return self._outcome("refused", "validate", problems=problems)
        return self._plan(new, "validate")[0]

    async def reload(self, source: str) -> Outcome:
        """Load the file again and apply it (see the module docstring)."""
        self.pending = False
        async with self._lock:
            notify("RELOADING=1")
            try:
                new, problems = await asyncio.to_thread(self._load, None)
                if new is None:
                    outcome = self._outcome("refused", source, problems=problems)
                else:
                    outcome, effective = await asyncio.to_thread(self._plan, new, source)
                    if effective is not None:
                        await self._apply(effective, outcome)
                self._record(outcome)
            finally:
                notify("READY=1")
            notify(f"STATUS=running {len(self.ctx.scheduler.jobs)} check(s); {outcome.summary()}")
            return outcome

    # -- the steps ---------------------------------------------------------------------------

    def _load(self, text: str | None) -> tuple[Config | None, list[str]]:
        from threenines.core.config import ConfigError

        if text is None and self.path is None:
            return None, ["this service was started without a config file: nothing to reload"]
        try:
            if text is not None:
                return self.composition.parse_config(text, file="<body>"), []
            assert self.path is not None
            return self.composition.load_config(self.path), []
        except ConfigError as exc:
            return None, [str(p) for p in exc.problems]
        except Exception as exc:  # a validator's bug: never its text (it may quote a secret)
            log.exception("reload: internal error while loading %s", self.file)
            return None, [f"{self.file}: internal error {type(exc).__name__} while loading"]

    def _plan(self, new: Config, source: str) -> tuple[Outcome, Config | None]:
        old = self.ctx.config
        not_applied = {
            path: why for path, why in self.held.items() if _get(old, path) != _get(new, path)
        }
        effective: Config = new
        for path in not_applied:
            effective = _with(effective, path, _get(old, path))
        if not_applied:  # what runs must still hold together without the held changes
            problems = [
                f"{self.file} {_path(loc)}: {msg} (with {', '.join(not_applied)} kept as "
                "running: a restart is needed)"
                for loc, msg in effective.cross_check()
            ]
            if problems:
                return self._outcome("refused", source, problems=problems), None
        applied = changed_sections(old, effective)
        vantage = self.ctx.config.server.vantage
        checks = _diff(self.ctx.scheduler.jobs, jobs_for(effective, vantage))
        if not applied and not not_applied:
            return self._outcome("unchanged", source, checks=checks), None
        result: Result = "partial" if not_applied else "applied"
        outcome = self._outcome(result, source, applied=applied, not_applied=not_applied,
                                checks=checks)  # fmt: skip
        return outcome, effective if applied else None

    async def _apply(self, cfg: Config, outcome: Outcome) -> None:
        ctx = self.ctx
        jobs = jobs_for(cfg, cfg.server.vantage)
        known = {j.labels for j in ctx.scheduler.jobs}
        for job in jobs:  # new series only: a running check's state is not reset to unknown
            if job.labels not in known:
                ctx.metrics.declare(job.labels)
        outcome.checks = ctx.scheduler.update(jobs, cfg.scheduler)
        ctx.config = cfg
        for hook in ctx.reload_hooks:
            try:
                done = hook(cfg)
                if inspect.isawaitable(done):
                    await done
            except Exception as exc:
                log.exception("reload hook %r failed", hook)
                outcome.errors.append(
                    f"{getattr(hook, '__qualname__', hook)}: {type(exc).__name__}"
                )
        self._success.set(time.time())

    def _record(self, outcome: Outcome) -> None:
        self.last, self.count = outcome, self.count + 1
        self._total.labels(outcome.result).inc()
        level = logging.INFO if outcome.ok else logging.WARNING
        for line in outcome.lines():
            log.log(level, "%s", line)

    @property
    def file(self) -> str:
        """The config file, as the answers name it."""
        return str(self.path) if self.path is not None else "<config>"

    def _outcome(self, result: Result, source: str, **kw: Any) -> Outcome:
        return Outcome(result, self.file, source, **kw)


def _diff(old: list[Any], new: list[Any]) -> JobChanges:
    """What ``Scheduler.update`` would do with ``new`` (for a plan, before applying)."""
    from threenines.core.scheduler import same_job

    before = {j.check_id: j for j in old}
    after = {j.check_id: j for j in new}
    added = sorted(k for k in after if k not in before)
    removed = sorted(k for k in before if k not in after)
    changed = sorted(k for k in after if k in before and not same_job(before[k], after[k]))
    unchanged = len(after) - len(added) - len(changed)
    return JobChanges(tuple(added), tuple(removed), tuple(changed), unchanged)
