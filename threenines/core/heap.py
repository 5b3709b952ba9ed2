"""The service's long-lived heap and Python's cyclic garbage collector.

At tens of thousands of checks the service holds a few million long-lived objects (the config,
the scheduler's jobs, the interval cache, the metrics' series). Each full pass of the cyclic
collector walks all of them: at 50,000 checks one pass stopped the event loop for 1.8 s, and the
scheduler's lag p99 was 8 s (``python -m bench.spine --parts scale --checks 50000``). These
objects live as long as the process, so they are collected once and then exempted from later
passes (``gc.freeze``, as CPython's documentation advises for this case): once the context is
built, and again when every check has run once (the caches' first fill). A reload unfreezes
first, so the objects of the replaced config are reclaimed even where they form cycles.
Reference counting still frees frozen objects as usual.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time

log = logging.getLogger(__name__)

FIRST_ROUND_MAX = 300.0
"""The second settle waits for the longest check interval, but no longer than this (s)."""


def settle(*, again: bool = False) -> float:
    """Collect once, then freeze what survived; ``again``: unfreeze first (after a reload), so
    what the replaced objects held is collected too. Returns the seconds it took."""
    started = time.perf_counter()
    if again:
        gc.unfreeze()
    gc.collect()
    gc.freeze()
    took = time.perf_counter() - started
    log.debug("heap settled: %d objects frozen in %.3f s", gc.get_freeze_count(), took)
    return took


async def settle_after_first_round(longest_interval: float, stopping: asyncio.Event) -> None:
    """``settle`` once every check has had its first run (the longest interval, capped)."""
    delay = min(longest_interval, FIRST_ROUND_MAX) + 5.0
    try:
        await asyncio.wait_for(stopping.wait(), delay)
    except TimeoutError:
        settle()
