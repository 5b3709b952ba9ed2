"""Drive the outbox: claim due rows, deliver, record each attempt, retry with backoff.

Every notification is in the database (``AlertStore.apply``) before this sees it, so a crash
at any point loses nothing: a row never claimed is still pending; a row claimed by a sender
that died is taken again when its lease expires. A receiver that confirmed is never re-sent.

A sender cancelled while a delivery is under way (this node stopped being the active one of a
high-availability pair) lets that delivery finish and be recorded, for up to ``FINISH_GRACE``:
cancelling the request itself would leave a row the receiver may already have, claimed, to be
sent again by whichever node takes it when the claim runs out.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Collection

from threenines.alerts.config import Outbox
from threenines.alerts.deliver import Message
from threenines.alerts.outbox_store import Claimed, OutboxStore
from threenines.core.outbox import SenderLog

log = logging.getLogger("threenines.alerts.outbox")

Send = Callable[[str, Message], Awaitable[str | None]]
FINISH_GRACE = 5.0
"""How long a cancelled sender waits for a delivery under way to finish and be recorded (s);
below the composition's limit for a cancelled singleton task (``core.service.SINGLETON_STOP``)."""


def backoff(attempts: int, cfg: Outbox) -> float:
    """Seconds before retry number ``attempts`` (1-based): base, 2x, 4x ... capped."""
    return float(min(cfg.backoff_max, cfg.backoff * 2 ** max(0, attempts - 1)))


class OutboxSender:
    def __init__(
        self,
        store: OutboxStore,
        send: Send,
        cfg: Outbox,
        *,
        owner: str | None = None,
        clock: Callable[[], float] = time.time,
        concurrency: int = 16,
    ):
        self.store = store
        self.send = send
        self.cfg = cfg
        self.owner = owner or f"outbox-{uuid.uuid4().hex[:12]}"
        self.clock = clock
        self._wake = asyncio.Event()
        self._sem = asyncio.Semaphore(concurrency)
        self._inflight: set[asyncio.Future[None]] = set()  # deliveries under way
        self.stats = {"sent": 0, "failed": 0, "retried": 0}
        self.logs = SenderLog(log, "alerts outbox")

    def wake(self) -> None:
        self._wake.set()

    async def run_once(self, only: Collection[int] | None = None) -> int:
        """Send every row due now (or only those of ``only``); return the attempts made."""
        ids = await asyncio.to_thread(self.store.due, self.clock(), 200)
        if only is not None:
            ids = [i for i in ids if i in only]
        results = await asyncio.gather(*(self._one(i) for i in ids))
        return sum(results)

    async def _one(self, delivery_id: int) -> int:
        async with self._sem:
            claimed = await asyncio.to_thread(
                self.store.claim, delivery_id, self.owner, self.clock(), self.cfg.lease
            )
            if claimed is None:
                return 0  # another sender has it, or it is done
            delivery = asyncio.ensure_future(self._deliver(claimed))
            self._inflight.add(delivery)  # the loop keeps only a weak reference to a task
            delivery.add_done_callback(self._inflight.discard)
            try:
                await asyncio.shield(delivery)
            except asyncio.CancelledError:  # finished and recorded, not sent again later
                await asyncio.wait([delivery], timeout=FINISH_GRACE)
                raise
            return 1

    async def _deliver(self, c: Claimed) -> None:
        started = self.clock()
        failure: Exception | None = None
        try:
            error = await self.send(
                c.receiver, Message(c.title, c.body, c.short, c.notify_type, summary=c.summary)
            )
        except Exception as exc:  # the adapter promises not to raise; be safe anyway
            error, failure = f"receiver {c.receiver!r}: {type(exc).__name__}", exc
        finished = self.clock()
        retry_at = None
        if error is not None and c.attempts < self.cfg.max_attempts:
            retry_at = finished + backoff(c.attempts, self.cfg)
        state = await asyncio.to_thread(
            self.store.finish, c, self.owner, started, finished, error, retry_at
        )
        receiver = self.logs.receiver(c.receiver)
        if state == "sent":
            self.stats["sent"] += 1
            receiver.ok()
        elif state == "pending":
            self.stats["retried"] += 1
            why = f"delivery {c.id} failed (attempt {c.attempts}), retrying: {error}"
            receiver.failed(failure, traceback=failure is not None, why=why)
        else:
            self.stats["failed"] += 1
            log.error(
                "delivery %s to %s failed for good after %d attempts: %s",
                c.id,
                c.receiver,
                c.attempts,
                error,
            )

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()  # a wake during the pass below keeps the event set
            try:
                await self.run_once()
                nxt = await asyncio.to_thread(self.store.next_due)
            except Exception as exc:  # database briefly away: keep going, rows are safe
                self.logs.passes.failed(exc)
                nxt = None
            else:
                self.logs.passes.ok()
            wait = self.cfg.poll_interval
            if nxt is not None:
                wait = min(wait, max(0.0, nxt - self.clock()))
            waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
            await asyncio.wait(waiters, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            for t in waiters:
                t.cancel()
