"""The agent process: fetch the checks for this vantage point, run them, deliver the results.

The checks run on ``threenines.core.scheduler.Scheduler``, the server's own scheduler, with a sink
instead of the writer: each counted result, dated by the server's clock (``agents.clock``; a
host clock stepped while the probe ran does not move it), is
held in memory until the disk queue has it (``ResultBuffer``, flushed every ``FLUSH_EVERY``:
all an agent killed with SIGKILL can lose; SIGTERM loses nothing, and a queue that cannot be
written loses nothing either), and ``Delivery`` sends the queue in order. The flusher, the
sender and the config refresher are supervised: a task that dies is logged and restarted. The
config is re-fetched every ``refresh`` seconds with its ETag (and at once when the server
refuses results as no longer assigned); a new version replaces the scheduler after the running
probes have finished. The last config is kept in the queue file, so an agent restarted while
the server is down keeps measuring. Unusable checks (e.g. a ``ca_file`` missing on this host)
report ``unknown``. ``state`` is what the agent tells the server about itself with every
request (queue depth and age, queue errors, memory, clock); with ``--listen`` the agent also
answers ``/healthz`` and ``/metrics`` itself (``agents.local``), from one metrics registry that
every scheduler it starts reports into.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any

from threenines.agents import payload
from threenines.agents.buffer import ResultBuffer
from threenines.agents.delivery import Delivery, wait_any
from threenines.agents.sender import AgentClient
from threenines.agents.supervise import Supervisor
from threenines.agents.wire import WireResult
from threenines.core.config.base import CheckBase
from threenines.core.config.schema import Config
from threenines.core.metrics import CheckLabels, Metrics
from threenines.core.queue import DiskQueue, QueueError
from threenines.core.results import ProbeResult, Status
from threenines.core.scheduler import TIMEOUT_SLACK, Job, Scheduler, jitter_offset, jobs_for
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.agent")
FLUSH_EVERY = 0.25
GRACE = 10.0


def _unusable_job(u: payload.Unusable, vantage: str) -> Job:
    async def report(_cfg: CheckBase, *, timeout: float) -> ProbeResult:
        return ProbeResult.make(Status.UNKNOWN, 0.0, "internal", u.reason)

    return Job(
        check_id=u.check_id,
        labels=CheckLabels(u.service, u.site, u.base.name, vantage, u.kind),
        check=u.base,
        probe=report,
        target=u.check_id,
        offset=jitter_offset(f"{u.check_id}@{vantage}", u.base.interval, 1.0),
    )


class Agent:
    def __init__(
        self,
        client: AgentClient,
        queue: DiskQueue,
        *,
        root: type[Config],
        refresh: float = 60.0,
        batch_size: int = 1000,
        memory_limit: int | None = None,
    ):
        self.root = root
        self.client, self.queue, self.vantage = client, queue, client.vantage
        self.refresh = refresh
        self.buffer = ResultBuffer(queue) if memory_limit is None else ResultBuffer(
            queue, limit=memory_limit)  # fmt: skip
        self.delivery = Delivery(queue, client, buffer=self.buffer, batch_size=batch_size,
                                 on_refused=self._refetch)  # fmt: skip
        self.supervisor = Supervisor()
        self.metrics = Metrics()  # one registry for every scheduler this agent starts
        self.version: str | None = None
        self.scheduler: Scheduler | None = None
        self.produced = 0
        self._etag: str | None = None
        self._fetch_failing = False
        self._refresh_now = asyncio.Event()
        self._sched_task: asyncio.Task[None] | None = None
        self._queue_oldest: float | None = None  # read in a thread by the flusher
        client.state = self.state
        if client.clock.use_server and client.clock.load(queue.get_meta("clock")):
            log.info("dating results by the server's clock (as before the restart)")

    def state(self) -> dict[str, Any]:
        """What the server is told about this agent with every request."""
        oldest = [t for t in (self._queue_oldest, self.buffer.oldest_ts()) if t is not None]
        return {
            "queue": len(self.queue), "memory": len(self.buffer),
            "oldest": min(oldest) if oldest else None, "queue_error": self.buffer.error,
            "dropped": self.queue.dropped + self.buffer.dropped, "refused": self.delivery.refused,
            "held": self.delivery.held, "clock": "server" if self.client.clock.anchored else "host",
            "restarts": sum(self.supervisor.deaths.values()),
        }  # fmt: skip

    def _refetch(self) -> None:
        self._refresh_now.set()

    def _sink(self, rec: ResultRecord, job: Job) -> None:
        result = WireResult.from_record(rec)
        c = job.check  # the longest the counted result can have taken, retries included
        longest = (c.timeout + TIMEOUT_SLACK) * (c.retries + 1) + c.retry_interval * c.retries
        result["ts"] = self.client.clock.date(rec.ts, max_age=longest,
                                              fallback_age=rec.result.duration)  # fmt: skip
        self.buffer.add(result)
        self.produced += 1

    async def _flush(self) -> None:
        # the queue's age bound is on the results' own clock (the server's, once known)
        if await self.buffer.flush(self.client.clock.date(time.time())):
            self.delivery.wake.set()
        self._queue_oldest = await asyncio.to_thread(self.queue.oldest_ts)
        if self.client.clock_moved:
            try:
                await asyncio.to_thread(self.queue.set_meta, "clock", self.client.clock.dump())
                self.client.clock_moved = False
            except QueueError:
                pass  # saved with a later flush; the clock itself is in memory

    async def _flusher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.sleep(FLUSH_EVERY)
            await self._flush()

    async def _start(self, doc: dict[str, Any]) -> None:
        """Run ``doc``'s checks: a running scheduler takes them in place (``Scheduler.update``:
        unchanged checks keep their slots, so a server's reload leaves no gap here either)."""
        cfg, unusable = payload.load(doc, self.vantage, self.root)
        for u in unusable:
            log.error("%s: %s; reporting it as unknown", u.check_id, u.reason)
        jobs = jobs_for(cfg, self.vantage) + [_unusable_job(u, self.vantage) for u in unusable]
        if self.scheduler is not None and self._sched_task is not None:
            if not self._sched_task.done():
                c = self.scheduler.update(jobs, cfg.scheduler)
                self.version = str(doc["version"])
                log.info("config %s: %d check(s) from vantage %r (%d added, %d removed, "
                         "%d changed)", self.version[:12], len(jobs), self.vantage,
                         len(c.added), len(c.removed), len(c.changed))  # fmt: skip
                return
        await self._stop_scheduler()
        self.scheduler = Scheduler(jobs, cfg.scheduler, vantage=self.vantage,
                                   on_result=[self._sink], metrics=self.metrics)  # fmt: skip
        self._sched_task = asyncio.create_task(self.scheduler.run(), name="scheduler")
        self.version = str(doc["version"])
        log.info("config %s: running %d check(s) from vantage %r", self.version[:12],
                 len(jobs), self.vantage)  # fmt: skip

    async def _stop_scheduler(self) -> None:
        if self.scheduler is not None and self._sched_task is not None:
            await self.scheduler.stop(GRACE)
            await self._sched_task
        self.scheduler = self._sched_task = None

    async def fetch(self) -> dict[str, Any] | None:
        """The config if it changed since the last fetch (saved to the queue file), else None."""
        res = await self.client.fetch_config(self._etag)
        if res.status is not None and res.status < 500:
            self.delivery.retry_now.set()  # the server is back: deliver without waiting
        if res.status == 304:
            self._fetch_failing = False
            return None
        if res.doc is None:
            if not self._fetch_failing:  # once per outage, not every refresh
                log.error("cannot fetch the config: %s", res.message or f"HTTP {res.status}")
            self._fetch_failing = True
            return None
        self._fetch_failing = False
        self._etag = res.etag
        if res.doc.get("version") == self.version:
            return None
        try:
            await asyncio.to_thread(self.queue.set_meta, "config", json.dumps(res.doc))
        except QueueError as exc:  # runs all the same; a restart would use the previous one
            log.warning("config not saved in the queue: %s", exc)
        return res.doc

    async def _first_config(self, stop: asyncio.Event) -> dict[str, Any] | None:
        doc = await self.fetch()
        if doc is None:
            cached = await asyncio.to_thread(self.queue.get_meta, "config")
            if cached:
                log.warning("server unavailable: running the last known config")
                return dict(json.loads(cached))
        delay = 1.0
        while doc is None and not stop.is_set():
            await _wait(stop, delay)
            delay = min(delay * 2, 30.0)
            doc = await self.fetch()
        return doc

    async def _refresher(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await wait_any(stop, self._refresh_now, self.refresh)
            self._refresh_now.clear()
            if stop.is_set():
                return
            doc = await self.fetch()
            if doc is not None:
                await self._start(doc)

    async def run(self, stop: asyncio.Event) -> None:
        """Measure and deliver until ``stop`` is set; then finish probes, queue, try a last send."""
        doc = await self._first_config(stop)
        if doc is None:
            return
        await self._start(doc)
        sv = self.supervisor
        tasks = [
            asyncio.create_task(sv.run("delivery", lambda: self.delivery.run(stop), stop)),
            asyncio.create_task(sv.run("flusher", lambda: self._flusher(stop), stop)),
            asyncio.create_task(sv.run("refresh", lambda: self._refresher(stop), stop)),
        ]
        try:
            await stop.wait()
        finally:
            await self._stop_scheduler()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self._last_words()

    async def _last_words(self) -> None:
        await self._flush()
        if not await self.delivery.drain(5.0) or len(self.buffer):
            await self._flush()  # a queue that failed may take them now
            if len(self.buffer):
                log.error("%d result(s) held in memory are LOST: the queue %s cannot be "
                          "written (%s)", len(self.buffer), self.queue.path,
                          self.buffer.error)  # fmt: skip
            log.warning("%d result(s) stay queued in %s for the next start",
                        len(self.queue), self.queue.path)  # fmt: skip
        log.info("agent stopped: %d result(s) produced, %d delivered, %d refused, %d "
                 "dropped from the queue", self.produced, self.delivery.delivered,
                 self.delivery.refused, self.queue.dropped + self.buffer.dropped)  # fmt: skip


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except TimeoutError:
        pass
