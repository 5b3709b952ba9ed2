"""Wait for a condition, bounded: the benchmarks' and the process tests' one wait."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def until(what: str, cond: Callable[[], Any], limit: float = 60.0, every: float = 0.2) -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {limit:g}s waiting for {what}")
        time.sleep(every)
