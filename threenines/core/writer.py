"""Batched, buffered result writing, off the event loop, that survives database outages.

``BatchWriter.submit`` never blocks and never raises: results queue in memory and are written
every ``storage.flush_interval`` or as soon as ``storage.batch_size`` are waiting, in a thread.
When the database is unavailable the results stay buffered (at most ``storage.buffer_limit``;
beyond that the oldest are dropped, counted and logged) and the write is retried with backoff,
so nothing is lost when the database comes back. A record the database rejects outright (bad
data, not an outage) is isolated and dropped on its own, so it cannot block the queue.

Flip subscribers: callables ``on_flips(list[StateChange])``, sync or async, called after each
successful write with the state changes it produced, in order. They must be quick (hand heavy
work to their own task); an exception in one is logged and never stops the writer.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy import exc as sa_exc

from threenines.core import spool
from threenines.core.config.schema import Storage
from threenines.core.metrics import Metrics
from threenines.core.store import ResultRecord, ResultStore, StateChange, prune_results

log = logging.getLogger("threenines.writer")

FlipSubscriber = Callable[[list[StateChange]], Awaitable[None] | None]
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0


def is_outage(exc: BaseException) -> bool:
    """True when ``exc`` means "the database is unavailable", so the write should be retried.

    Integrity/data errors and values that cannot be bound are the record's fault, not an outage.
    """
    if isinstance(exc, sa_exc.IntegrityError | sa_exc.DataError):
        return False
    if isinstance(exc, sa_exc.DBAPIError):
        return True  # operational, interface, programming (e.g. table gone), internal errors
    return isinstance(exc, sa_exc.TimeoutError | sa_exc.DisconnectionError | OSError)


class BatchWriter:
    def __init__(
        self,
        store: ResultStore,
        storage: Storage,
        *,
        metrics: Metrics | None = None,
        subscribers: Sequence[FlipSubscriber] = (),
        prepare: Callable[[], None] | None = None,
        spool_path: Path | None = None,
    ):
        """``prepare`` (e.g. migrate + close_stale) runs in a thread before the first write and
        is retried like a write, so a database that is down at start-up delays, never kills."""
        self.store = store
        self.storage = storage
        self.metrics = metrics or Metrics()
        self.subscribers: list[FlipSubscriber] = list(subscribers)
        # called on the loop as ``fn(records, stored)`` once records are committed (True) or
        # rejected by the database (False); lets the agent ingest acknowledge only stored data
        self.on_written: list[Callable[[Sequence[ResultRecord], bool], None]] = []
        self._prepare = prepare
        self._spool = spool_path
        self._buf: deque[ResultRecord] = deque()
        self._inflight = 0
        self._wake = asyncio.Event()
        self._closing = asyncio.Event()
        self._lock = asyncio.Lock()
        self.ready = asyncio.Event()  # set once ``prepare`` (the schema migration) has succeeded
        self._backoff = 0.0
        self.written = 0
        self.dropped = 0
        self.db_ok = True
        if spool_path is not None:
            for rec in spool.load(spool_path):
                self.submit(rec)
            if self._buf:
                log.warning("re-queued %d result(s) spooled at the last shutdown", len(self._buf))

    @property
    def buffered(self) -> int:
        return len(self._buf) + self._inflight

    def submit(self, rec: ResultRecord) -> None:
        """Queue one result (never blocks, never raises)."""
        self._buf.append(rec)
        self._enforce_limit()
        if len(self._buf) >= self.storage.batch_size:
            self._wake.set()
        self.metrics.results_buffered.set(self.buffered)

    def _enforce_limit(self) -> None:
        excess = self.buffered - self.storage.buffer_limit
        if excess > 0:
            for _ in range(min(excess, len(self._buf))):
                self._buf.popleft()  # the newest results say most about the current state
            self._count_dropped(excess, "buffer_full")

    def _count_dropped(self, n: int, reason: str) -> None:
        self.dropped += n
        self.metrics.results_dropped.labels(reason).inc(n)
        log.error("DROPPED %d result(s) (%s); %d dropped in total", n, reason, self.dropped)

    async def run(self) -> None:
        """Flush periodically until ``close`` is called."""
        try:
            await self.prepare()  # early, so the schema exists before anything reads it
        except Exception as exc:
            if not is_outage(exc):
                raise
            self._outage(exc)
        while not self._closing.is_set():
            if self.db_ok:
                await _wait(self._wake, self.storage.flush_interval)
            else:
                await _wait(self._closing, self._backoff)
            self._wake.clear()
            await self.flush()

    async def flush(self) -> bool:
        """Write everything buffered now; False when the database is unavailable (kept)."""
        async with self._lock:
            while self._buf:
                batch = [
                    self._buf.popleft() for _ in range(min(len(self._buf), self.storage.batch_size))
                ]
                self._inflight = len(batch)
                try:
                    unwritten = await self._write(batch)
                finally:
                    self._inflight = 0
                if unwritten:
                    self._buf.extendleft(reversed(unwritten))
                    self._enforce_limit()
                    self.metrics.results_buffered.set(self.buffered)
                    return False
            self.metrics.results_buffered.set(self.buffered)
            return True

    async def prepare(self) -> None:
        """Run ``prepare`` once (raises while the database is unavailable); sets ``ready``."""
        if self._prepare is not None:
            await asyncio.to_thread(self._prepare)
            self._prepare = None
        self.ready.set()

    async def _write(self, batch: list[ResultRecord]) -> list[ResultRecord]:
        """Write ``batch``; return the records still to be written (all of them on an outage)."""
        try:
            await self.prepare()
            flips = await asyncio.to_thread(self.store.write_batch, batch)
        except Exception as exc:
            if is_outage(exc):
                self._outage(exc)
                return batch
            log.error("database rejected a batch of %d (%s); writing one by one", len(batch), exc)
            return await self._write_singly(batch)
        self._recovered(len(batch))
        self._done(batch, True)
        await self._notify(flips)
        return []

    async def _write_singly(self, batch: list[ResultRecord]) -> list[ResultRecord]:
        for i, rec in enumerate(batch):
            try:
                flips = await asyncio.to_thread(self.store.write_batch, [rec])
            except Exception as exc:
                if is_outage(exc):
                    self._outage(exc)
                    return batch[i:]
                log.error("result for %s/%s at %s rejected: %s", rec.check_id, rec.vantage,
                          rec.ts, exc)  # fmt: skip
                self._count_dropped(1, "rejected")
                self._done([rec], False)
                continue
            self._recovered(1)
            self._done([rec], True)
            await self._notify(flips)
        return []

    def _done(self, records: Sequence[ResultRecord], stored: bool) -> None:
        for fn in self.on_written:
            try:
                fn(records, stored)
            except Exception:
                log.exception("on_written listener %r failed", fn)

    def _outage(self, exc: BaseException) -> None:
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
        if self.db_ok:
            log.error("database unavailable, buffering results: %s", _short(exc))
        log.warning("%d result(s) buffered; retrying the write in %.1fs", self.buffered,
                    self._backoff)  # fmt: skip
        self.db_ok = False
        self.metrics.db_up.set(0)

    def _recovered(self, n: int) -> None:
        if not self.db_ok:
            log.warning("database available again; writing %d buffered result(s)", self.buffered)
        self.db_ok = True
        self._backoff = 0.0
        self.metrics.db_up.set(1)
        self.written += n
        self.metrics.results_written.inc(n)

    async def _notify(self, flips: list[StateChange]) -> None:
        if not flips:
            return
        for sub in self.subscribers:
            try:
                ret = sub(flips)
                if inspect.isawaitable(ret):
                    await ret
            except Exception:
                log.exception("flip subscriber %r failed", sub)

    async def close(self, grace: float = 10.0) -> int:
        """Stop, then write what is buffered, retrying for up to ``grace`` seconds.

        What still cannot be written goes to the spool file (or, without one, is counted as
        dropped). Returns the number spooled.
        """
        self._closing.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        while not await self.flush():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(self._backoff or BACKOFF_MIN, left))
        if not self._buf:
            return 0
        remaining = list(self._buf)
        self._buf.clear()
        self.metrics.results_buffered.set(0)
        if self._spool is None:
            self._count_dropped(len(remaining), "shutdown")
            return 0
        n = spool.dump(self._spool, remaining)
        log.warning("database still unavailable: %d result(s) spooled to %s", n, self._spool)
        return n


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__


async def retention_loop(
    engine: Engine,
    storage: Storage,
    *,
    ready: asyncio.Event | None = None,
    every: float = 3600.0,
    clock: Callable[[], float] = time.time,
) -> None:
    """Delete raw results older than ``storage.raw_retention`` every ``every`` seconds, once
    ``ready`` (the schema exists). State intervals are never deleted: availability history
    outlives raw results.
    """
    if ready is not None:
        await ready.wait()
    while True:
        cutoff = clock() - storage.raw_retention
        try:
            n = await asyncio.to_thread(prune_results, engine, cutoff)
            if n:
                log.info("retention: deleted %d raw result(s) older than %.0f", n, cutoff)
        except Exception as exc:
            log.warning("retention: delete failed, will retry: %s", _short(exc))
        await asyncio.sleep(every)
