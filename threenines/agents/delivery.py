"""Delivering the agent's queue to the server: oldest first, one batch at a time, never lost.

A batch leaves the queue only when the server acknowledged it as stored (200; a result it had
already, sent again after a crash, is acknowledged too and not stored twice), or when the
server refused named results in it for good (400: e.g. a check no longer assigned to this
vantage point); those are dropped, counted and logged at ERROR. A 425 names results dated in
the server's future: they are kept (the server decides when it takes them, the agent never
drops them for their time), what precedes them is sent, and the rest waits. Anything else
(unreachable, 5xx, 401/403) keeps the queue intact and retries with backoff; 413 halves the
batch. While the server is away the backoff grows to ``BACKOFF_MAX``, but the server is
probed (``/healthz``) every ``PROBE_EVERY`` seconds, so delivery resumes within about that
once it is back.

When the queue itself cannot be written (``ResultBuffer.error``) and is empty, the results
held in memory are sent directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from threenines.agents.buffer import ResultBuffer
from threenines.agents.sender import AgentClient, Outcome, PostResult
from threenines.core.queue import DiskQueue

log = logging.getLogger("threenines.agent.delivery")
BACKOFF_MIN, BACKOFF_MAX = 1.0, 30.0
PROBE_EVERY = 1.0  # seconds between probes of an unreachable server during the backoff
EARLY_WAIT = 5.0  # seconds between offers of results dated in the server's future


class Delivery:
    def __init__(
        self,
        queue: DiskQueue,
        client: AgentClient,
        *,
        buffer: ResultBuffer | None = None,
        batch_size: int = 1000,
        max_bytes: int = 900_000,
        on_refused: Callable[[], None] | None = None,
    ):
        self.queue, self.client, self.buffer = queue, client, buffer
        self.batch_size = self.max_batch = batch_size
        self.max_bytes = max_bytes
        self.on_refused = on_refused
        self.wake = asyncio.Event()  # new results queued
        self.retry_now = asyncio.Event()  # the server answered again: end the backoff early
        self.delivered = 0
        self.refused = 0
        self.held = 0  # results the server holds back for now (dated in its future)
        self.failing = False
        self.last_ok: float | None = None  # monotonic time of the last acknowledged batch
        self._backoff = 0.0
        self._last: PostResult | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set."""
        while not stop.is_set():
            step = await self.step()
            if step == "idle":
                await _wait(self.wake, 1.0)
                self.wake.clear()
            elif step == "early":
                await wait_any(stop, self.retry_now, EARLY_WAIT)
                self.retry_now.clear()
            elif step == "retry":
                await self._back_off(stop)

    async def _back_off(self, stop: asyncio.Event) -> None:
        """Wait before the next try: the backoff, cut short when the server is back."""
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
        self.retry_now.clear()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._backoff
        # a server that answers (401/403) would answer a probe too: only the backoff helps then
        probing = self._last is None or self._last.status is None or self._last.status >= 500
        while not stop.is_set() and (left := deadline - loop.time()) > 0:
            await wait_any(stop, self.retry_now, min(left, PROBE_EVERY) if probing else left)
            if self.retry_now.is_set() or (probing and await self.client.probe()):
                return

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
        """Send the oldest batch: "sent" (progress), "idle" (nothing to send), "early" (the
        oldest results are dated in the server's future) or "retry"."""
        rows = await asyncio.to_thread(self.queue.peek, self.batch_size)
        if not rows:
            return await self._step_memory()
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
        elif res.outcome is Outcome.REFUSED:
            return await self._refused(seqs, res.refused, res.message)
        return self._outcome(res, len(seqs))

    async def _step_memory(self) -> str:
        """The queue is empty: send what memory holds if the queue cannot take it."""
        buf = self.buffer
        if buf is None or buf.error is None or not len(buf):
            return "idle"
        items: list[dict[str, Any]] = buf.head(self.batch_size)
        res = await self.client.post([json.dumps(r, separators=(",", ":")) for r in items])
        if res.outcome is Outcome.OK:
            buf.forget(items)
        elif res.outcome is Outcome.REFUSED:
            return self._refused_memory(buf, items, res.refused, res.message)
        return self._outcome(res, len(items))

    def _refused_memory(self, buf: ResultBuffer, items: list[dict[str, Any]],
                        refused: dict[int, str], message: str) -> str:  # fmt: skip
        if not refused and len(items) > 1:
            self.batch_size = max(1, len(items) // 2)
            return "sent"
        drop = [items[i] for i in refused if 0 <= i < len(items)] if refused else items
        buf.discard(drop)
        return self._dropped(len(drop), message)

    def _outcome(self, res: PostResult, n: int) -> str:
        self._last = res
        if res.outcome is Outcome.OK:
            self.delivered += n
            self.last_ok = time.monotonic()
            self.batch_size = min(self.max_batch, self.batch_size * 2)
            if self.failing:
                log.warning("server reachable again: delivered %d, %d still queued",
                            n, len(self.queue))  # fmt: skip
            if self.held:
                log.warning("the server takes the results it held back again")
            self.failing, self._backoff, self.held = False, 0.0, 0
            return "sent"
        if res.outcome is Outcome.TOO_LARGE:
            self.batch_size = max(1, n // 2)
            log.warning("%s; sending %d at a time", res.message, self.batch_size)
            return "sent"
        if res.outcome is Outcome.EARLY:
            return self._early(res, n)
        if not self.failing:
            log.error("cannot deliver results (%s); they stay queued and are retried",
                      res.message)  # fmt: skip
        self.failing = True
        return "retry"

    def _early(self, res: PostResult, n: int) -> str:
        first = min(res.refused, default=0)
        if first > 0:  # the results before the first early one can be stored now
            self.batch_size = first
            return "sent"
        if not self.held:
            log.error("the server holds back %d result(s) dated in its future (%s): this "
                      "host's clock is ahead; they stay queued and are sent when the server's "
                      "clock reaches them", len(res.refused) or n, res.message)  # fmt: skip
        self.held = len(res.refused) or n
        return "early"

    async def _refused(self, seqs: list[int], refused: dict[int, str], message: str) -> str:
        self._last = None
        if not refused and len(seqs) > 1:
            self.batch_size = max(1, len(seqs) // 2)  # isolate the bad result(s) by halving
            return "sent"
        drop = [seqs[i] for i in refused if 0 <= i < len(seqs)] if refused else seqs
        await asyncio.to_thread(self.queue.remove, drop)
        return self._dropped(len(drop), message)

    def _dropped(self, n: int, message: str) -> str:
        self.refused += n
        log.error("server refused %d result(s) for good, DROPPED (%d in total): %s",
                  n, self.refused, message)  # fmt: skip
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
