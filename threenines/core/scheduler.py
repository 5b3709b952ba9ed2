"""The probe scheduler: every check on its own fixed grid, within concurrency limits.

Each check runs at ``anchor + k * interval`` on the monotonic clock, where ``anchor`` is the
start-up time plus a deterministic jitter (a hash of the check id, up to ``scheduler.jitter`` of
the interval, capped at a minute). Slots are computed from the anchor, never by adding sleeps,
so there is no drift over hours; a slot missed because the previous run overran is skipped,
never made up in a burst.

A run is one or more attempts: a non-ok result is re-tried ``retries`` times after
``retry_interval``, and only the final outcome is reported, with ``attempts`` counting them and
the timestamp of the first attempt's start, so a confirmed-away blip is never downtime.
Attempts hold a per-target and a global semaphore; the lag (actual start of the first attempt
minus its planned start) is measured after both are acquired, so it shows saturation too.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import logging
import math
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from threenines.core.config.base import CheckBase
from threenines.core.config.schema import Config
from threenines.core.config.schema import Scheduler as SchedulerSettings
from threenines.core.metrics import CheckLabels, Metrics
from threenines.core.results import ProbeResult
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.scheduler")

ProbeFn = Callable[..., Awaitable[ProbeResult]]
ResultListener = Callable[[ResultRecord, "Job"], None]
TIMEOUT_SLACK = 1.0  # the scheduler's deadline sits just behind the probe's own


MAX_SPREAD = 60.0  # a 1-hour TLS check still runs within a minute of start-up


def jitter_offset(key: str, interval: float, fraction: float) -> float:
    """Deterministic offset in ``[0, fraction * min(interval, MAX_SPREAD))`` from a stable hash
    of ``key``: starts are spread like Prometheus's, but no check waits long for its first run."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 * fraction * min(interval, MAX_SPREAD)


def next_slot(anchor: float, interval: float, slot: int, now: float) -> int:
    """The slot to run after ``slot``: the next one, or the first not yet past if runs overran.

    Slot ``k`` is planned at ``anchor + k * interval``; a slot whose time is already past is
    skipped (no catch-up burst).
    """
    nxt = slot + 1
    if anchor + nxt * interval >= now:
        return nxt
    return max(nxt, math.ceil((now - anchor) / interval))


def slot_time(anchor: float, interval: float, slot: int) -> float:
    return anchor + slot * interval


@dataclass(frozen=True, slots=True)
class Job:
    """One check as run from this vantage point."""

    check_id: str
    labels: CheckLabels
    check: CheckBase
    probe: ProbeFn
    target: str
    offset: float

    @property
    def max_gap(self) -> float:
        """Silence longer than this is "no data" (see ``max_gap``)."""
        return max_gap(self.check)


GAP_INTERVALS = 2  # a check may miss this many runs, plus one run's worst case, before "no data"
MAX_GAP_RULE = (
    f"{GAP_INTERVALS} x the check interval + (retries + 1) x timeout + retries x retry interval"
)


def max_gap(check: CheckBase) -> float:
    """How long a check's last result holds: ``MAX_GAP_RULE``. Longer silence is "no data".

    The one place this allowance is computed: the write path closes an interval after it, and
    the state rule (``threenines.availability.state``) stops counting a vantage point's vote.
    """
    c = check
    return GAP_INTERVALS * c.interval + (c.retries + 1) * c.timeout + c.retries * c.retry_interval


def probe_of(check: CheckBase) -> Callable[..., Awaitable[ProbeResult]]:
    """A check's probe. The plug-in contract: a kind's config model is defined in the module
    that exports its ``probe`` (``threenines.probes.tcp.Config`` and ``...tcp.probe``), so the
    core needs no registry of kinds."""
    module = sys.modules[type(check).__module__]
    probe: Callable[..., Awaitable[ProbeResult]] = module.probe
    return probe


def jobs_for(cfg: Config, vantage: str) -> list[Job]:
    """The jobs this vantage point runs: checks whose vantages include it."""
    jobs = []
    for svc, chk in cfg.iter_checks():
        if vantage not in cfg.vantages_for(chk):
            continue
        kind = getattr(chk, "type", "?")
        check_id = f"{svc.name}/{chk.name}"
        try:
            target = chk.target()
        except NotImplementedError:
            target = check_id
        jobs.append(
            Job(
                check_id=check_id,
                labels=CheckLabels(svc.name, svc.site, chk.name, vantage, kind),
                check=chk,
                probe=probe_of(chk),
                target=target,
                offset=jitter_offset(f"{check_id}@{vantage}", chk.interval, cfg.scheduler.jitter),
            )
        )
    return jobs


@dataclass(frozen=True, slots=True)
class JobChanges:
    """What ``Scheduler.update`` did, by check id (sorted)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unchanged: int = 0

    @property
    def any(self) -> bool:
        return bool(self.added or self.removed or self.changed)


@dataclass(slots=True)
class _Entry:
    """A scheduled check: its job, its grid (``anchor``, ``interval``) and its generation.

    A run or a queued slot of an older generation is stale: it is not rescheduled (the check
    was changed or removed while it waited or ran)."""

    job: Job
    anchor: float = 0.0
    interval: float = 0.0
    gen: int = 0
    next_due: float = 0.0  # the planned time of the slot queued (or running) now


def same_job(a: Job, b: Job) -> bool:
    """Whether a reload leaves this check as it is (its config and labels unchanged)."""
    return a.check == b.check and a.labels == b.labels and a.target == b.target


class Scheduler:
    """Runs ``jobs`` until ``stop``; each counted result goes to every ``on_result`` listener.

    Listeners are called on the event loop and must not block (e.g. ``BatchWriter.submit``).
    ``update`` takes a new list of jobs while running (a configuration reload): checks are
    keyed by their id, so an unchanged check keeps its grid and its next slot (no gap), a
    changed one its phase (its next run where it was due, or one new interval after its last
    planned run), an added one starts within its jitter and a removed one is not run again (a
    run in flight still reports its result).
    """

    def __init__(
        self,
        jobs: Sequence[Job],
        settings: SchedulerSettings,
        *,
        vantage: str,
        on_result: Sequence[ResultListener] = (),
        metrics: Metrics | None = None,
    ):
        self._entries: dict[str, _Entry] = {j.check_id: _Entry(j) for j in jobs}
        self.settings = settings
        self.vantage = vantage
        self.on_result = list(on_result)
        self.metrics = metrics or Metrics()
        self._lag_metric = self.metrics.scheduler_lag.labels(vantage)  # not a lookup per run
        self.recent_lags: deque[float] = deque(maxlen=100_000)
        self.in_flight = 0
        self.completed = 0
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._per_target: dict[str, asyncio.Semaphore] = {}
        self._heap: list[tuple[float, int, str, int, int]] = []  # (planned, seq, id, gen, slot)
        self._seq = 0
        self._gen = 0
        self._started = False
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = _Alarm()
        self._stopping = asyncio.Event()

    @property
    def jobs(self) -> list[Job]:
        return [e.job for e in self._entries.values()]

    def next_due(self, check_id: str) -> float | None:
        """The planned (loop) time of the check's next run, or of the run in progress."""
        e = self._entries.get(check_id)
        return e.next_due if e is not None and self._started else None

    async def run(self) -> None:
        """Dispatch due runs until ``stop`` is called."""
        loop = asyncio.get_running_loop()
        start = loop.time()
        self._started = True
        for e in self._entries.values():
            e.anchor, e.interval = start + e.job.offset, e.job.check.interval
            self._push(e, e.anchor, 0)
        while not self._stopping.is_set():
            delay = self._heap[0][0] - loop.time() if self._heap else 3600.0
            if delay > 0:
                await self._wake.sleep(delay)
                continue
            for _ in range(256):  # a burst of due runs yields to the loop every 256 starts
                if not self._heap or self._heap[0][0] > loop.time():
                    break
                planned, _, key, gen, slot = heapq.heappop(self._heap)
                due = self._entries.get(key)
                if due is None or due.gen != gen:
                    continue  # removed or changed since this slot was queued
                task = asyncio.create_task(self._run_job(due, gen, slot, planned))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            await asyncio.sleep(0)

    def update(self, jobs: Sequence[Job], settings: SchedulerSettings | None = None) -> JobChanges:
        """Take a new set of jobs (and settings) in place; see the class docstring."""
        if settings is not None:
            if settings.max_concurrency != self.settings.max_concurrency:
                self._global = asyncio.Semaphore(settings.max_concurrency)
            if settings.per_target != self.settings.per_target:
                self._per_target = {}  # runs in flight release the old ones
            self.settings = settings
        now = asyncio.get_running_loop().time() if self._started else 0.0
        new = {j.check_id: j for j in jobs}
        removed = sorted(k for k in self._entries if k not in new)
        for key in removed:
            self.metrics.forget(self._entries.pop(key).job.labels)
        added: list[str] = []
        changed: list[str] = []
        unchanged = 0
        for key, job in new.items():
            old = self._entries.get(key)
            if old is not None and same_job(old.job, job):
                unchanged += 1
                continue
            self._gen += 1
            e = self._entries[key] = _Entry(job, gen=self._gen)
            if old is not None and old.job.labels != job.labels:
                self.metrics.forget(old.job.labels)
            (added if old is None else changed).append(key)
            if not self._started:
                continue
            interval = job.check.interval
            if old is None:
                e.anchor, e.interval = now + job.offset, interval
                self._push(e, e.anchor, 0)
            elif interval == old.interval:  # its grid as it was: the next slot not yet past
                e.anchor, e.interval = old.anchor, interval
                slot = max(0, math.ceil((now - old.anchor) / interval))
                self._push(e, slot_time(old.anchor, interval, slot), slot)
            else:  # one new interval after its last planned run (now if that is past)
                e.anchor, e.interval = old.anchor, interval
                if now >= old.anchor:
                    last = slot_time(
                        old.anchor, old.interval, int((now - old.anchor) // old.interval)
                    )
                    e.anchor = max(now, last + interval)
                self._push(e, e.anchor, 0)
        self._wake.set()
        return JobChanges(tuple(sorted(added)), tuple(removed), tuple(sorted(changed)), unchanged)

    def _push(self, e: _Entry, planned: float, slot: int) -> None:
        e.next_due = planned
        self._seq += 1
        heapq.heappush(self._heap, (planned, self._seq, e.job.check_id, e.gen, slot))

    async def stop(self, grace: float | None = None) -> int:
        """Stop scheduling; let in-flight runs finish within ``grace``; return how many did not."""
        self._stopping.set()
        self._wake.set()
        pending = set(self._tasks)
        if not pending:
            return 0
        log.info("waiting for %d in-flight probe run(s)", len(pending))
        _, left = await asyncio.wait(pending, timeout=grace or self.settings.shutdown_grace)
        for task in left:
            task.cancel()
        if left:
            log.error(
                "%d probe run(s) did not finish within the grace and were abandoned", len(left)
            )
            await asyncio.wait(left)
        return len(left)

    async def _run_job(self, e: _Entry, gen: int, slot: int, planned: float) -> None:
        job = e.job
        self.in_flight += 1
        try:
            record = await self._execute(job, planned)
            self.completed += 1
            current = self._entries.get(job.check_id)
            if current is not None and current.job.labels == job.labels:
                self.metrics.observe(job.labels, record.result, record.attempts)
            for listener in self.on_result:
                try:
                    listener(record, job)
                except Exception:
                    log.exception("result listener %r failed", listener)
        finally:
            self.in_flight -= 1
            if not self._stopping.is_set() and e.gen == gen:
                current = self._entries.get(job.check_id)
                if current is e:
                    self._reschedule(e, slot)

    def _reschedule(self, e: _Entry, slot: int) -> None:
        now = asyncio.get_running_loop().time()
        nxt = next_slot(e.anchor, e.interval, slot, now)
        planned = slot_time(e.anchor, e.interval, nxt)
        if not self._heap or planned < self._heap[0][0]:
            self._wake.set()
        self._push(e, planned, nxt)

    async def _execute(self, job: Job, planned: float) -> ResultRecord:
        """One run: the first attempt and its confirmation retries, folded into one record."""
        result, ts = await self._attempt(job, planned)
        attempts = 1
        while not result.ok and attempts <= job.check.retries:
            await asyncio.sleep(job.check.retry_interval)
            result, _ = await self._attempt(job, None)
            attempts += 1
        return ResultRecord(job.check_id, self.vantage, ts, result, attempts, job.max_gap)

    async def _attempt(self, job: Job, planned: float | None) -> tuple[ProbeResult, float]:
        sem = self._per_target.get(job.target)
        if sem is None:
            sem = self._per_target[job.target] = asyncio.Semaphore(self.settings.per_target)
        async with sem, self._global:
            if planned is not None:
                lag = max(0.0, asyncio.get_running_loop().time() - planned)
                self.recent_lags.append(lag)
                self._lag_metric.observe(lag)
            wall, start = time.time(), time.perf_counter()
            return await _probe(job, start), wall


async def _probe(job: Job, start: float) -> ProbeResult:
    """Call the probe under the scheduler's own deadline; a probe bug becomes a result."""
    timeout = job.check.timeout
    try:
        async with asyncio.timeout(timeout + TIMEOUT_SLACK):
            return await job.probe(job.check, timeout=timeout)
    except TimeoutError:
        return ProbeResult.down(
            time.perf_counter() - start, "timeout", f"probe did not finish within {timeout:g}s"
        )
    except Exception as exc:
        log.exception("probe %s raised (a bug: probes return results)", job.check_id)
        return ProbeResult.down(
            time.perf_counter() - start, "internal", f"probe error: {type(exc).__name__}: {exc}"
        )


class _Alarm:
    """The dispatcher's sleep: until ``delay`` passes or ``set`` is called (a ``set`` while
    it is not asleep makes the next sleep return at once, as a set ``asyncio.Event`` would).
    One future and one timer per sleep: ``wait_for(event.wait(), delay)`` made a task, a timer
    and a cancellation each time, the larger part of the scheduler's CPU per run at 40/s."""

    __slots__ = ("_fut", "_pending")

    def __init__(self) -> None:
        self._fut: asyncio.Future[None] | None = None
        self._pending = False

    def set(self) -> None:
        fut = self._fut
        if fut is None:
            self._pending = True
        elif not fut.done():
            fut.set_result(None)

    async def sleep(self, delay: float) -> None:
        if self._pending:
            self._pending = False
            return
        loop = asyncio.get_running_loop()
        fut = self._fut = loop.create_future()
        timer = loop.call_later(delay, _ring, fut)
        try:
            await fut
        finally:
            timer.cancel()
            self._fut = None


def _ring(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)
