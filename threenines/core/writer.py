"""Batched, buffered result writing, off the event loop, that survives database outages.

``BatchWriter.submit`` never blocks and never raises: results queue in memory and are written
every ``storage.flush_interval`` or as soon as ``storage.batch_size`` are waiting, in a thread.
When the database is unavailable the results stay buffered (at most ``storage.buffer_limit``;
beyond that the oldest are dropped, counted and logged) and the write is retried with backoff,
so nothing is lost when the database comes back. A record the database refuses (its data,
not an outage: ``threenines.core.quarantine.is_outage``) cannot block the queue: the batch is
bisected until the refused record stands alone, which goes to the quarantine table (source
``results``); the rest is written. Text is cleaned on the way in (``threenines.core.clean``).
An outage is logged once with its traceback, then as a count each minute, then "recovered".

Nothing is lost to a crash during an outage: with a spool (``storage.spool``, a durable queue
on disk: ``threenines.core.spool``) the results a failed write kept, and every result submitted
while the outage lasts, go to disk at once; the spool is written first when the database is
back, and a result leaves it only once the database has committed it. (In normal operation the
results of the last ``flush_interval`` are in memory only.)

Flip subscribers: callables ``on_flips(list[StateChange])``, sync or async, called after each
successful write with the state changes it produced, in order. They must be quick (hand heavy
work to their own task); an exception in one is logged and never stops the writer.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from sqlalchemy import Engine

from threenines.core.clean import clean_json, clean_text
from threenines.core.config.schema import Storage
from threenines.core.logs import Repeated
from threenines.core.metrics import Metrics
from threenines.core.quarantine import Outcome, Quarantine, is_outage, write_isolating
from threenines.core.spool import QueueError, Spool
from threenines.core.store import ResultRecord, ResultStore, StateChange, prune_results

log = logging.getLogger("threenines.writer")

FlipSubscriber = Callable[[list[StateChange]], Awaitable[None] | None]
BACKOFF_MIN, BACKOFF_MAX = 0.5, 30.0


__all__ = ["BatchWriter", "clean_record", "is_outage", "raw_record", "retention_loop"]


def clean_record(rec: ResultRecord) -> ResultRecord:
    """``rec`` with its text as every database stores it (the same object when it already is)."""
    r = rec.result
    result = dataclasses.replace(
        r,
        error=clean_text(r.error) if r.error is not None else None,
        reason=clean_text(r.reason),
        phases=MappingProxyType(clean_json(dict(r.phases))),
        details=MappingProxyType(clean_json(dict(r.details))),
    )
    return dataclasses.replace(rec, check_id=clean_text(rec.check_id),
                               vantage=clean_text(rec.vantage), result=result)  # fmt: skip


def raw_record(rec: ResultRecord) -> dict[str, Any]:
    """``rec`` as it came, for the quarantine."""
    return {"check_id": rec.check_id, "vantage": rec.vantage, "ts": rec.ts,
            "attempts": rec.attempts, "max_gap": rec.max_gap, **rec.result.to_dict()}  # fmt: skip


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
        quarantine: Quarantine | None = None,
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
        self.quarantine = quarantine or Quarantine(store.engine, registry=self.metrics.registry)
        self._failing = Repeated(log, "database unavailable, buffering results")
        self._spill_failing = Repeated(
            log, "cannot spill results to the spool, holding them in memory"
        )
        self.spool: Spool | None = None
        if spool_path is not None:
            self.spool = Spool(spool_path)  # QueueError: a clear start-up error
            if len(self.spool):
                log.warning("%d result(s) on disk from before: writing them first", len(self.spool))

    @property
    def buffered(self) -> int:
        return len(self._buf) + self._inflight + (len(self.spool) if self.spool else 0)

    @property
    def spooled(self) -> int:
        """Results waiting on disk (durable) for the database."""
        return len(self.spool) if self.spool else 0

    def submit(self, rec: ResultRecord) -> None:
        """Queue one result (never raises). During an outage it goes to the spool at once."""
        self._buf.append(rec)
        if not self.db_ok and self.spool is not None:
            self._spill()
        self._enforce_limit()
        if len(self._buf) >= self.storage.batch_size:
            self._wake.set()
        self.metrics.results_buffered.set(self.buffered)

    def _spill(self) -> None:
        """Move the memory buffer to the spool (durable); on failure it stays in memory."""
        assert self.spool is not None
        if not self._buf:
            return
        try:
            self.spool.put(list(self._buf))
        except QueueError as exc:
            self._spill_failing.failed(exc)
            return
        self._spill_failing.ok()
        self._buf.clear()

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
            if not await self._flush_spool():
                return False
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
                    if self.spool is not None:
                        await asyncio.to_thread(self._spill)
                    self._enforce_limit()
                    self.metrics.results_buffered.set(self.buffered)
                    return False
            self.metrics.results_buffered.set(self.buffered)
            return True

    async def _flush_spool(self) -> bool:
        """Write the spool, oldest first; each batch leaves it once committed."""
        spool = self.spool
        while spool is not None and len(spool):
            batch = await asyncio.to_thread(spool.peek, self.storage.batch_size)
            if not batch:
                break
            unwritten = await self._write([r for _, r in batch])
            if unwritten:
                return False
            await asyncio.to_thread(spool.remove, [seq for seq, _ in batch])
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
        except Exception as exc:  # retried like a write: the schema must come first
            self._outage(exc)
            return batch
        out: Outcome[ResultRecord, list[StateChange]] = await asyncio.to_thread(
            write_isolating, batch, self._write_clean
        )
        for records, flips in out.done:
            self._recovered(len(records))
            self._done(records, True)
            await self._notify(flips)
        retry = await self._quarantine(out.refused)
        if out.outage is not None or retry:
            self._outage(out.outage or RuntimeError("quarantine unavailable"))
            return retry + out.unwritten
        return []

    def _write_clean(self, records: list[ResultRecord]) -> list[StateChange]:
        # listeners know records by identity: the cleaned copies never leave this call
        return self.store.write_batch([clean_record(r) for r in records])

    async def _quarantine(
        self, refused: list[tuple[ResultRecord, BaseException]]
    ) -> list[ResultRecord]:
        """Keep refused records aside; those to retry if the quarantine itself is away."""
        if not refused:
            return []
        pairs = [(raw_record(r), e) for r, e in refused]
        records = [r for r, _ in refused]
        try:
            await asyncio.to_thread(self.quarantine.put, "results", pairs)
        except Exception as exc:
            if is_outage(exc):
                return records
            log.exception("cannot quarantine %d refused result(s)", len(records))
            self._count_dropped(len(records), "rejected")
        self._done(records, False)
        return []

    def _done(self, records: Sequence[ResultRecord], stored: bool) -> None:
        for fn in self.on_written:
            try:
                fn(records, stored)
            except Exception:
                log.exception("on_written listener %r failed", fn)

    def _outage(self, exc: BaseException) -> None:
        self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
        self._failing.failed(exc)
        self.db_ok = False
        self.metrics.db_up.set(0)

    def _recovered(self, n: int) -> None:
        self._failing.ok()
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

        What still cannot be written stays in the spool (or, without one, is counted as
        dropped). Returns the number left in the spool.
        """
        self._closing.set()
        self._wake.set()
        deadline = time.monotonic() + grace
        while not await self.flush():
            left = deadline - time.monotonic()
            if left <= 0:
                break
            await asyncio.sleep(min(self._backoff or BACKOFF_MIN, left))
        if self.spool is not None:
            await asyncio.to_thread(self._spill)
        n = len(self._buf)
        if n:  # no spool, or it cannot be written
            self._buf.clear()
            self._count_dropped(n, "shutdown")
        self.metrics.results_buffered.set(self.buffered)
        if self.spool is None:
            return 0
        left = len(self.spool)
        if left:
            log.warning("database still unavailable: %d result(s) kept in %s", left, self._spool)
        await asyncio.to_thread(self.spool.close)
        return left


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
