"""Where collectors put what they produce: availability results, events and readings.

Collectors only call the three non-blocking methods of ``Sink``; they never touch the database.
``StoreSink`` is the standard one: results go to a callable (the service's ``BatchWriter.submit``,
so SNMP results share the probes' batching and state intervals) or, standalone, straight to a
``ResultStore``; events and summarised readings are buffered in memory and written in batches
from a thread, with backoff while the database is unavailable. The buffer is bounded: beyond
``limit`` the oldest entries are dropped and counted, never silently.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from prometheus_client import CollectorRegistry
from sqlalchemy import Engine

from threenines.collectors.store import (
    EventRecord,
    Reading,
    Summariser,
    insert_events,
    insert_summaries,
)
from threenines.core.logs import Repeated
from threenines.core.quarantine import Quarantine, is_outage, write_isolating
from threenines.core.store import ResultRecord, ResultStore
from threenines.core.writer import clean_record, raw_record

log = logging.getLogger("threenines.collectors.sink")


class Sink(Protocol):
    def results(self, records: Sequence[ResultRecord]) -> None: ...
    def events(self, records: Sequence[EventRecord]) -> None: ...
    def readings(self, readings: Sequence[Reading]) -> None: ...


class MemorySink:
    """Keeps everything in lists: for tests and the one-off CLI."""

    def __init__(self) -> None:
        self.result_log: list[ResultRecord] = []
        self.event_log: list[EventRecord] = []
        self.reading_log: list[Reading] = []

    def results(self, records: Sequence[ResultRecord]) -> None:
        self.result_log += records

    def events(self, records: Sequence[EventRecord]) -> None:
        self.event_log += records

    def readings(self, readings: Sequence[Reading]) -> None:
        self.reading_log += readings


class StoreSink:
    def __init__(
        self,
        engine: Engine,
        *,
        submit: Callable[[ResultRecord], None] | None = None,
        summary_period: float = 300.0,
        flush_interval: float = 1.0,
        batch_size: int = 2000,
        limit: int = 1_000_000,
        registry: CollectorRegistry | None = None,
        quarantine: Quarantine | None = None,
    ):
        """``registry``: where the quarantine counts refused rows (or pass ``quarantine``)."""
        self.engine = engine
        self.quarantine = quarantine or Quarantine(engine, registry=registry)
        self._failing = Repeated(log, "collector sink: database write failed, will retry")
        self._submit = submit
        self._store = ResultStore(engine) if submit is None else None
        self._summariser = Summariser(summary_period)
        self._events: deque[EventRecord] = deque()
        self._rows: deque[dict[str, Any]] = deque()
        self._results: deque[ResultRecord] = deque()
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.limit = limit
        self.dropped = 0
        self.events_written = 0
        self._wake = asyncio.Event()

    def results(self, records: Sequence[ResultRecord]) -> None:
        if self._submit is not None:
            for rec in records:
                self._submit(rec)
        else:
            self._push(self._results, records)

    def events(self, records: Sequence[EventRecord]) -> None:
        self._push(self._events, records)
        if len(self._events) >= self.batch_size:
            self._wake.set()

    def readings(self, readings: Sequence[Reading]) -> None:
        self._push(self._rows, self._summariser.add(readings))

    def _push(self, buf: deque[Any], items: Iterable[Any]) -> None:
        buf.extend(items)
        over = len(buf) - self.limit
        if over > 0:
            for _ in range(over):
                buf.popleft()
            self.dropped += over
            log.error("collector sink buffer full: dropped %d oldest entries", over)

    @property
    def pending(self) -> int:
        return len(self._events) + len(self._rows) + len(self._results)

    async def flush(self) -> bool:
        """Write what is buffered; False (and everything kept) while the database is away."""
        try:
            while self._events or self._rows or self._results:
                await asyncio.to_thread(self._write_some)
        except Exception as exc:  # only an outage gets here: refused rows are quarantined
            self._failing.failed(exc)
            return False
        self._failing.ok()
        return True

    def _write_some(self) -> None:
        """One batch from each buffer (in a thread); raises on an outage, keeping the rest."""
        writers: list[tuple[str, deque[Any], Callable[[list[Any]], None], Callable[[Any], Any]]] = [
            ("results", self._results, self._write_results, raw_record),
            ("events", self._events, self._write_events, dataclasses.asdict),
            ("snmp_readings", self._rows, lambda rows: insert_summaries(self.engine, rows), dict),
        ]
        for source, buf, write, raw in writers:
            batch = [buf[i] for i in range(min(self.batch_size, len(buf)))]
            if not batch:
                continue
            out = write_isolating(batch, write)
            for _ in range(len(batch) - len(out.unwritten)):
                buf.popleft()  # written or refused; a failure keeps the unwritten ones
            if out.refused:
                pairs = [(item, _raw(raw, item), e) for item, e in out.refused]
                self._quarantine(source, buf, pairs)
            if out.outage is not None:
                raise out.outage

    def _quarantine(
        self, source: str, buf: deque[Any], refused: list[tuple[Any, Any, Any]]
    ) -> None:
        try:
            self.quarantine.put(source, [(raw, exc) for _item, raw, exc in refused])
        except Exception as exc:
            if not is_outage(exc):
                log.exception(
                    "collector sink: cannot quarantine %d %s row(s)", len(refused), source
                )
                self.dropped += len(refused)
                return
            buf.extendleft(reversed([item for item, _raw, _exc in refused]))  # retried later
            raise

    def _write_results(self, batch: list[ResultRecord]) -> None:
        assert self._store is not None
        self._store.write_batch([clean_record(r) for r in batch])

    def _write_events(self, batch: list[EventRecord]) -> None:
        insert_events(self.engine, batch)
        self.events_written += len(batch)

    async def run(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_interval`` (sooner when a batch fills) until ``stop``; then write
        the open reading periods and everything left (a few tries while the database is down)."""
        backoff = self.flush_interval
        while not stop.is_set():
            self._wake.clear()
            waiters = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
            await asyncio.wait(waiters, timeout=backoff, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()
            ok = await self.flush()
            backoff = self.flush_interval if ok else min(backoff * 2, 30.0)
        self._push(self._rows, self._summariser.flush())
        for _ in range(5):
            if await self.flush():
                return
            await asyncio.sleep(1.0)
        log.error("collector sink: %d entries not written at shutdown", self.pending)


def _raw(make: Callable[[Any], Any], item: Any) -> Any:
    try:
        return make(item)
    except Exception:  # e.g. a value deepcopy cannot copy: keep what can be said
        return {"repr": repr(item)[:10_000]}
