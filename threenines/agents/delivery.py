"""Delivering the agent's queue to the server: oldest first, one batch at a time, never lost.

A batch leaves the queue only when the server acknowledged it as stored (200), or when the
server refused named results in it for good (400: e.g. a check no longer assigned to this
vantage point); those are dropped, counted and logged at ERROR. Anything else (unreachable,
5xx, 401/403) keeps the queue intact and retries with backoff; 413 halves the batch.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from threenines.agents.queue import DiskQueue
from threenines.agents.sender import AgentClient, Outcome

log = logging.getLogger("threenines.agent.delivery")
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0


class Delivery:
    def __init__(
        self,
        queue: DiskQueue,
        client: AgentClient,
        *,
        batch_size: int = 1000,
        max_bytes: int = 900_000,
        on_refused: Callable[[], None] | None = None,
    ):
        self.queue, self.client = queue, client
        self.batch_size = self.max_batch = batch_size
        self.max_bytes = max_bytes
        self.on_refused = on_refused
        self.wake = asyncio.Event()  # new results queued
        self.retry_now = asyncio.Event()  # the server answered again: end the backoff early
        self.delivered = 0
        self.refused = 0
        self.failing = False
        self._backoff = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            step = await self.step()
            if step == "idle":
                await _wait(self.wake, 1.0)
                self.wake.clear()
            elif step == "retry":
                self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
                self.retry_now.clear()
                await wait_any(stop, self.retry_now, self._backoff)

    async def drain(self, timeout: float) -> bool:
        """Deliver what is queued now, for at most ``timeout`` seconds; True if emptied."""
        try:
            async with asyncio.timeout(timeout):
                while (step := await self.step()) == "sent":
                    pass
        except TimeoutError:
            return False
        return step == "idle"

    async def step(self) -> str:
        """Send the oldest batch: "sent" (progress), "idle" (queue empty) or "retry"."""
        rows = await asyncio.to_thread(self.queue.peek, self.batch_size)
        if not rows:
            return "idle"
        seqs: list[int] = []
        texts: list[str] = []
        size = 0
        for seq, body in rows:
            if texts and size + len(body) + 1 > self.max_bytes:
                break
            seqs.append(seq)
            texts.append(body)
            size += len(body) + 1
        res = await self.client.post(texts)
        if res.outcome is Outcome.OK:
            await asyncio.to_thread(self.queue.remove, seqs)
            self.delivered += len(seqs)
            self.batch_size = min(self.max_batch, self.batch_size * 2)
            if self.failing:
                log.warning("server reachable again: delivered %d, %d still queued",
                            len(seqs), len(self.queue))  # fmt: skip
            self.failing, self._backoff = False, 0.0
            return "sent"
        if res.outcome is Outcome.TOO_LARGE:
            self.batch_size = max(1, len(seqs) // 2)
            log.warning("%s; sending %d at a time", res.message, self.batch_size)
            return "sent"
        if res.outcome is Outcome.REFUSED:
            return await self._refused(seqs, res.refused, res.message)
        if not self.failing:
            log.error("cannot deliver results (%s); they stay queued and are retried",
                      res.message)  # fmt: skip
        self.failing = True
        return "retry"

    async def _refused(self, seqs: list[int], refused: dict[int, str], message: str) -> str:
        if not refused and len(seqs) > 1:
            self.batch_size = max(1, len(seqs) // 2)  # isolate the bad result(s) by halving
            return "sent"
        drop = [seqs[i] for i in refused if 0 <= i < len(seqs)] if refused else seqs
        await asyncio.to_thread(self.queue.remove, drop)
        self.refused += len(drop)
        log.error("server refused %d result(s) for good, DROPPED (%d in total): %s",
                  len(drop), self.refused, message)  # fmt: skip
        if self.on_refused is not None:
            self.on_refused()
        return "sent"


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


async def wait_any(a: asyncio.Event, b: asyncio.Event, timeout: float) -> None:
    waiters = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    _done, pending = await asyncio.wait(waiters, timeout=timeout,
                                        return_when=asyncio.FIRST_COMPLETED)  # fmt: skip
    for t in pending:
        t.cancel()
