"""Scheduled reports, sent once per period per receiver.

Each pass: ask ``schedule.due`` which periods are due (given the periods already recorded),
queue one row per receiver (``ReportDeliveryStore.enqueue``, idempotent), then for every
(schedule, period) with rows to send: claim them (a conditional UPDATE with a lease, so two
instances never both send), render the report off the event loop, deliver it through the
alerts ``Deliverer`` (Apprise, files attached) and record each receiver's outcome, retrying
with the alerts outbox backoff. Receiver URLs never reach a log line: the deliverer redacts
its errors, and nothing here formats a URL.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine

from threenines.alerts.config import alerts_config
from threenines.alerts.deliver import Deliverer, Message
from threenines.alerts.outbox import backoff
from threenines.availability.periods import Period, PeriodError
from threenines.core.config.schema import Config
from threenines.core.outbox import SenderLog
from threenines.reports.config import reports_config
from threenines.reports.schedule import due, next_send
from threenines.reports.store import ClaimedReport, ReportDeliveryStore

log = logging.getLogger("threenines.reports")


@dataclass(frozen=True, slots=True)
class Outcome:
    schedule: str
    period: str
    receiver: str
    state: str  # sent | pending (will retry) | failed | lost (another sender took over)
    error: str | None


def describe(exc: BaseException) -> str:
    """An exception as safe text: our own errors in full, others by type only (a database
    driver's message may quote its connection string)."""
    if isinstance(exc, PeriodError | ValueError | LookupError):
        return str(exc)
    return type(exc).__name__


class ReportSender:
    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        *,
        deliverer: Deliverer | None = None,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.cfg = cfg
        self.engine = engine
        self.store = ReportDeliveryStore(engine)
        self.deliverer = deliverer or Deliverer(
            alerts_config(cfg).receivers, timeout=reports_config(cfg).delivery.timeout
        )
        self.owner = owner or f"reports-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self.passes = 0
        self.stats = {"sent": 0, "failed": 0, "retried": 0}
        self.logs = SenderLog(log, "report")

    def queue_due(self, now: float) -> list[tuple[str, str]]:
        """Queue every period due now; the (schedule, period) pairs queued. Blocking."""
        out: list[tuple[str, str]] = []
        for sched in reports_config(self.cfg).schedules:
            recorded = self.store.periods(sched.name)
            for period in due(sched, self.cfg.tz, now, recorded):
                added = self.store.enqueue(
                    sched.name, period.label, period.end, list(sched.receivers), now
                )
                if added:
                    log.info("report %s for %s queued for %d receiver(s)",
                             sched.name, period.label, added)  # fmt: skip
                    out.append((sched.name, period.label))
        return out

    async def send_due(self, only: tuple[str, str] | None = None) -> list[Outcome]:
        """Send every queued report whose rows are claimable now (or only ``only``)."""
        pairs = await asyncio.to_thread(self.store.due, self.clock())
        outcomes: list[Outcome] = []
        for pair in pairs:
            if only is None or pair == only:
                outcomes += await self._send_period(*pair)
        return outcomes

    async def _send_period(self, schedule: str, period: str) -> list[Outcome]:
        d = reports_config(self.cfg).delivery
        claimed = await asyncio.to_thread(
            self.store.claim, schedule, period, self.owner, self.clock(), d.lease
        )
        if not claimed:
            return []  # another sender has them
        untried = list(claimed)
        try:
            sched = reports_config(self.cfg).schedule(schedule)
            msg, error = await self._compose(schedule, period)
            outcomes = []
            for c in claimed:
                # from here this receiver's attempt counts: if we are stopped mid-send, its
                # lease keeps it from a second sender until it expires (better late than twice)
                untried.remove(c)
                err = error if msg is None else await self.deliverer.send(c.receiver, msg)
                outcomes.append(await self._finish(c, err, final=sched is None))
            return outcomes
        except asyncio.CancelledError:  # stopping: give back what was never attempted
            try:
                self.store.release(untried, self.owner)
            except Exception as exc:  # their leases expire anyway
                log.warning("report claims not released: %s", describe(exc))
            raise

    async def _compose(self, schedule: str, period: str) -> tuple[Message | None, str | None]:
        """(the message, None) or (None, why it could not be made)."""
        sched = reports_config(self.cfg).schedule(schedule)
        if sched is None:
            return None, f"schedule {schedule!r} is no longer configured"
        from threenines.reports.mail import compose

        try:
            msg = await asyncio.to_thread(
                compose, self.cfg, self.engine, sched, period, self.clock()
            )
        except Exception as exc:  # a bad report must not stop the sender
            error = f"report not rendered: {describe(exc)}"
            log.error("report %s for %s: %s", schedule, period, error)
            return None, error
        return msg, None

    async def _finish(self, c: ClaimedReport, error: str | None, *, final: bool) -> Outcome:
        d = reports_config(self.cfg).delivery
        now = self.clock()
        retry_at = None
        if error is not None and not final and c.attempts < d.max_attempts:
            retry_at = now + backoff(c.attempts, d)
        state = await asyncio.to_thread(self.store.finish, c, self.owner, now, error, retry_at)
        what = f"report {c.schedule} for {c.period} to {c.receiver}"
        if state == "sent":
            self.stats["sent"] += 1
            log.info("%s sent", what)
            self.logs.receiver(c.receiver).ok()
        elif state == "pending":
            self.stats["retried"] += 1
            why = f"{what} failed (attempt {c.attempts}), retrying: {error}"
            self.logs.receiver(c.receiver).failed(why=why)
        elif state == "failed":
            self.stats["failed"] += 1
            log.error("%s failed for good after %d attempt(s): %s", what, c.attempts, error)
        return Outcome(c.schedule, c.period, c.receiver, state, error)

    async def send_now(self, schedule: str, period: Period) -> list[Outcome]:
        """Send ``schedule``'s report of ``period`` now (``threenines report send``): queued
        again for receivers that already had it, and recorded, so the scheduler does not
        send it a second time. A receiver being sent to right now is left to its sender."""
        sched = reports_config(self.cfg).schedule(schedule)
        if sched is None:
            raise LookupError(f"unknown schedule {schedule!r}")
        receivers = list(sched.receivers)
        await asyncio.to_thread(
            self.store.enqueue, schedule, period.label, period.end, receivers, self.clock(),
            resend=True,
        )  # fmt: skip
        return await self.send_due(only=(schedule, period.label))

    async def run_once(self) -> list[Outcome]:
        """One pass: queue what is due, send what can be sent."""
        await asyncio.to_thread(self.queue_due, self.clock())
        outcomes = await self.send_due()
        self.passes += 1
        return outcomes

    def _wait(self, next_row: float | None) -> float:
        """Seconds to sleep: until the next send time or retry, at most ``poll_interval``."""
        now = self.clock()
        wakes = [next_send(s, self.cfg.tz, now) for s in reports_config(self.cfg).schedules]
        if next_row is not None:
            wakes.append(next_row)
        wait = reports_config(self.cfg).delivery.poll_interval
        return max(1.0, min([wait, *(w - now for w in wakes)]))

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once()
                nxt = await asyncio.to_thread(self.store.next_due)
            except Exception as exc:  # database briefly away: rows are safe, try again
                self.logs.passes.failed(exc)
                nxt = None
            else:
                self.logs.passes.ok()
            try:
                await asyncio.wait_for(stop.wait(), self._wait(nxt))
            except TimeoutError:
                pass
