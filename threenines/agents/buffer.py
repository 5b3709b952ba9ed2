"""Between the agent's probes and its disk queue: results are never lost to a queue that fails.

Each counted result is held in memory until the queue has written it (``flush``, every
``FLUSH_EVERY``); only then is it let go. When a write fails (disk full, I/O error, a file
gone read-only) the results stay in memory, bounded by ``limit`` (beyond it the oldest are
dropped, counted and logged at ERROR), the failure is logged at ERROR once with its cause, and
the write is retried at every flush: when space returns the queue takes them all, in order,
and "queue writable again" is logged. Meanwhile delivery sends what is in memory straight to
the server (``head``/``forget``) once the queue itself is empty, so with the server reachable
a full disk costs nothing, and with it away only a kill -9 can lose what memory holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Sequence
from typing import Any

from threenines.core.queue import DiskQueue, QueueError

log = logging.getLogger("threenines.agent.queue")
MEMORY_LIMIT = 100_000  # results held in memory while the queue cannot be written


class ResultBuffer:
    def __init__(self, queue: DiskQueue, *, limit: int = MEMORY_LIMIT):
        self.queue = queue
        self.limit = limit
        self.error: str | None = None  # why the queue cannot be written now; None: it can
        self.dropped = 0  # dropped from memory (bound), on top of ``queue.dropped``
        self._mem: deque[dict[str, Any]] = deque()
        self._failed_at = 0.0

    def __len__(self) -> int:
        return len(self._mem)

    def add(self, result: dict[str, Any]) -> None:
        self._mem.append(result)
        if len(self._mem) > self.limit:
            self._mem.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.error("MEMORY FULL (%d results) while the queue cannot be written: DROPPED "
                          "the oldest; %d dropped in total", self.limit, self.dropped)  # fmt: skip

    async def flush(self, now: float | None = None) -> bool:
        """Write what memory holds to the queue; False (kept, retried next time) if it failed."""
        if not self._mem:
            return True
        batch = list(self._mem)
        try:
            await asyncio.to_thread(self.queue.put, batch, time.time() if now is None else now)
        except QueueError as exc:
            self._failed(str(exc))
            return False
        self.forget(batch)  # only these: newer ones were appended meanwhile
        if self.error is not None:
            log.warning("queue writable again after %.0fs: %d result(s) moved from memory",
                        time.monotonic() - self._failed_at, len(batch))  # fmt: skip
            self.error = None
        return True

    def _failed(self, why: str) -> None:
        if self.error is None:
            self._failed_at = time.monotonic()
            log.error("cannot write the queue (%s); %d result(s) kept in memory (at most %d), "
                      "delivered from there, written when it can be", why, len(self._mem),
                      self.limit)  # fmt: skip
        self.error = why

    def head(self, limit: int) -> list[dict[str, Any]]:
        """The oldest results in memory (to deliver directly while the queue cannot take them)."""
        return [self._mem[i] for i in range(min(limit, len(self._mem)))]

    def forget(self, delivered: Sequence[dict[str, Any]]) -> None:
        """Let go of delivered results still at the head of memory (a flush may have moved them
        to the queue meanwhile: then they are sent again from there, and acknowledged)."""
        ids = {id(r) for r in delivered}
        while self._mem and id(self._mem[0]) in ids:
            self._mem.popleft()

    def discard(self, refused: Sequence[dict[str, Any]]) -> None:
        """Let go of results the server refused for good (wherever they are in memory)."""
        ids = {id(r) for r in refused}
        self._mem = deque(r for r in self._mem if id(r) not in ids)

    def oldest_ts(self) -> float | None:
        return float(self._mem[0]["ts"]) if self._mem else None
