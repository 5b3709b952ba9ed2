"""Verification after a failover: the named checks must pass (through the mirror) in time.

The checks are run directly with the probe registry from this instance, every ``interval``,
until each has passed once or ``within`` runs out. ``VerifyResult`` records when each check
first passed (the drill timeline's "first successful user probe via the mirror" and "all
journeys green").
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from threenines.core.config.base import CheckBase
from threenines.core.config.schema import Config
from threenines.probes import PROBES


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    first_pass: dict[str, float] = field(default_factory=dict)  # check id -> first success
    last_error: dict[str, str] = field(default_factory=dict)  # checks that never passed
    finished: float = 0.0

    @property
    def all_green_at(self) -> float | None:
        return max(self.first_pass.values()) if self.ok and self.first_pass else None

    @property
    def first_green_at(self) -> float | None:
        return min(self.first_pass.values(), default=None)


def resolve(cfg: Config, ids: Sequence[str]) -> list[tuple[str, CheckBase]]:
    found = {f"{svc.name}/{c.name}": c for svc, c in cfg.iter_checks()}
    return [(i, found[i]) for i in ids if i in found]


async def verify(
    checks: Sequence[tuple[str, CheckBase]],
    within: float,
    interval: float,
    clock: Callable[[], float] = time.time,
) -> VerifyResult:
    if not checks:
        return VerifyResult(True, {}, {}, clock())
    deadline = time.monotonic() + within
    first: dict[str, float] = {}
    errors: dict[str, str] = {}
    while True:
        pending = [(i, c) for i, c in checks if i not in first]
        results = await asyncio.gather(*(_once(c, deadline) for _, c in pending))
        at = clock()
        for (check_id, _), (ok, reason) in zip(pending, results, strict=True):
            if ok:
                first[check_id] = at
                errors.pop(check_id, None)
            else:
                errors[check_id] = reason
        if len(first) == len(checks) or time.monotonic() + interval > deadline:
            return VerifyResult(len(first) == len(checks), first, errors, clock())
        await asyncio.sleep(interval)


async def _once(check: CheckBase, deadline: float) -> tuple[bool, str]:
    timeout = max(0.1, min(check.timeout, deadline - time.monotonic()))
    module = PROBES[check.type]  # type: ignore[attr-defined]
    result = await module.probe(check, timeout=timeout)
    return result.status in ("up", "degraded"), result.reason
