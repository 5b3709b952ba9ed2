"""The alerts orchestrator owned by the service runner: policy in the middle, I/O around it.

Wiring (service runner)::

    alerts = AlertService(cfg, engine, maintenance=availability_windows)  # callable or list
    task = asyncio.create_task(alerts.run(stop))          # timers, events, commands, outbox
    writer.subscribe(alerts.on_flips)                     # each written batch's StateChanges

``on_flips`` goes through the ``FlipComposer`` (service states by the availability area's state
rule), refreshed from the store's open intervals as often as events are read;
``on_conditions`` takes other confirmed states (``ConditionUpdate``), ``on_events`` events;
acks, resolves and silences come from the API (in process) or the CLI (through
``alert_commands``). Each input batch goes through ``decide``; its incidents and notifications
(rendered) are written in one transaction before the outbox sender is woken, so nothing
decided is lost by a crash.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import Engine

from threenines.alerts.compose import FlipComposer, OpenRow
from threenines.alerts.config import alerts_config
from threenines.alerts.deliver import Deliverer, Message
from threenines.alerts.model import (
    Ack,
    AddSilence,
    AlertEvent,
    ConditionUpdate,
    Decision,
    Input,
    PolicyState,
    RemoveSilence,
    Resolve,
    Silence,
    Window,
)
from threenines.alerts.outbox import OutboxSender, Send
from threenines.alerts.outbox_store import OutboxStore
from threenines.alerts.policy import PolicyContext, decide
from threenines.alerts.render import render
from threenines.alerts.store import AlertStore
from threenines.alerts.topology import Topology, from_config
from threenines.core.config.schema import Config
from threenines.core.logs import Repeated
from threenines.core.store import StateChange
from threenines.core.tables import state_intervals

log = logging.getLogger("threenines.alerts")
REMOVED_BY = "config reload"  # who resolved an incident whose service a reload removed

WindowLike = Window | tuple[float, float, str]
Maintenance = Callable[[float], Iterable[WindowLike]] | Iterable[WindowLike]


class AlertService:
    def __init__(
        self,
        cfg: Config,
        engine: Engine,
        *,
        send: Send | None = None,
        topology: Topology | None = None,
        maintenance: Maintenance = (),
        composer: FlipComposer | None = None,
        clock: Callable[[], float] = time.time,
        owner: str | None = None,
        tick: float = 1.0,
        active: Callable[[], bool] = lambda: True,
    ):
        """``active``: whether this node does the singleton work now (``ServiceContext.active``);
        while it says no, nothing is decided or sent here (fencing: ``threenines.core.ha``)."""
        self.cfg = cfg
        self.acfg = alerts_config(cfg)
        self.engine = engine
        self.store = AlertStore(engine)
        self.deliverer = Deliverer(self.acfg.receivers, self.acfg.outbox.timeout)
        self.sender = OutboxSender(
            OutboxStore(engine),
            self._fenced(send or self.deliverer.send),
            self.acfg.outbox,
            owner=owner,
            clock=clock,
        )
        self.topology = topology or from_config(cfg)
        self.maintenance = maintenance
        self.composer = composer or FlipComposer(cfg)
        self.clock = clock
        self.tick_interval = tick
        self.active = active
        self.tz = self.acfg.timezone or cfg.timezone
        self.state = PolicyState()
        self.events_cursor = 0
        self._last_events = 0.0
        self._last_refresh = -1e18
        self._last_states = -1e18
        self._lock = asyncio.Lock()
        self._started = False
        self._runs = 0

    def _fenced(self, send: Send) -> Send:
        """``send``, but only while this node is active: a node that lost its lease between
        claiming a delivery and sending it leaves the delivery to the active node."""

        async def fenced(receiver: str, message: Message) -> str | None:
            if not self.active():
                return "not the active node: left to the active node"
            return await send(receiver, message)

        return fenced

    # -- inputs ------------------------------------------------------------------------------

    async def on_flips(self, changes: Sequence[StateChange]) -> None:
        updates = self.composer.on_flips(changes)
        if updates:
            await self.submit(updates)

    async def on_conditions(self, updates: Sequence[ConditionUpdate]) -> None:
        await self.submit(updates)

    async def on_events(self, events: Sequence[AlertEvent]) -> None:
        await self.submit(events)

    async def ack(self, ref: str, who: str, note: str = "") -> list[str]:
        return list((await self.submit([Ack(ref, who, note)])).errors)

    async def resolve(self, ref: str, who: str, note: str = "") -> list[str]:
        return list((await self.submit([Resolve(ref, who, note)])).errors)

    async def silence(
        self,
        matchers: dict[str, str],
        duration: float,
        author: str,
        comment: str,
        starts_at: float | None = None,
    ) -> Silence:
        start = self.clock() if starts_at is None else starts_at
        s = Silence.make(uuid.uuid4().hex[:12], matchers, start, start + duration, author, comment)
        await asyncio.to_thread(self.store.add_silence, s, self.clock())
        await self.submit([AddSilence(s)])
        return s

    async def unsilence(self, uid: str, who: str) -> list[str]:
        await asyncio.to_thread(self.store.remove_silence, uid, who, self.clock())
        return list((await self.submit([RemoveSilence(uid, who)])).errors)

    # -- the policy step ---------------------------------------------------------------------

    def _context(self, now: float) -> PolicyContext:
        source = self.maintenance(now) if callable(self.maintenance) else self.maintenance
        windows = tuple(w if isinstance(w, Window) else Window(*w) for w in source)
        return PolicyContext(self.acfg, self.topology, windows, ZoneInfo(self.tz))

    async def submit(self, inputs: Sequence[Input], kv: dict[str, Any] | None = None) -> Decision:
        """Run the policy on ``inputs`` now; persist; wake the sender. Serialised."""
        if not self.active():
            return Decision(self.state, (), (), ("not the active node: nothing decided",))
        if not self._started:
            await self.start()
        async with self._lock:
            now = self.clock()
            decision = decide(self.state, inputs, now, self._context(now))
            rendered = {
                n.uid: render(
                    n, self.acfg.templates, tz=self.tz, org=self.cfg.organisation, now=now
                )
                for n in decision.notifications
            }
            await asyncio.to_thread(self.store.apply, decision, rendered, now, kv)
            self.state = decision.state
        for err in decision.errors:
            log.info("alerts: %s", err)
        if any(n.held is None for n in decision.notifications):
            self.sender.wake()
        return decision

    async def reconfigure(self, cfg: Config) -> None:
        """Take a reloaded config (``threenines.core.reload``): the services, checks, sites,
        dependencies, organisation and time zone, in place. The ``alerts`` section itself is
        held (``area.HELD``): receivers, outbox and policy keep their start-up values.

        The composer is built again from the new services and seeded from the store's open
        intervals, as at start-up, keeping the state last told to the policy for each service
        that remains (so only a real change of state is an alert). An open incident of a
        service the new config no longer has is resolved (nothing would ever flip it again),
        "by config reload", and on-call is told as for any resolution."""
        topology, composer = from_config(cfg), FlipComposer(cfg)
        rows = await asyncio.to_thread(self._open_intervals)
        async with self._lock:
            composer.seed(rows)
            old = self.composer
            if isinstance(old, FlipComposer):
                composer.status.update({n: s for n, s in old.status.items() if n in composer.specs})
            self.cfg, self.topology, self.composer = cfg, topology, composer
            self.tz = self.acfg.timezone or cfg.timezone
            self._last_states = -1e18  # the new services' states at the next tick
            self._last_refresh = -1e18  # and the maintenance windows (config ones may change)
        await self.submit(self._removed(cfg))

    def _removed(self, cfg: Config) -> list[Input]:
        """Resolutions of the open incidents of services ``cfg`` does not have."""
        names = {svc.name for svc in cfg.services}
        return [
            Resolve(inc.uid, REMOVED_BY, f"service {inc.service} removed from the configuration")
            for inc in self.state.incidents.values()
            if inc.status != "resolved" and inc.service and inc.service not in names
        ]

    # -- life cycle --------------------------------------------------------------------------

    async def start(self) -> None:
        if self._started:
            return
        self._started = True
        keep = max(self.acfg.reopen_window, self.acfg.flap_window)
        self.state, kv = await asyncio.to_thread(self.store.load_state, self.clock(), keep)
        cursor = kv.get("events_cursor")
        self.events_cursor = (
            int(cursor) if cursor is not None else await asyncio.to_thread(self.store.max_event_id)
        )
        self.composer.seed(await asyncio.to_thread(self._open_intervals))

    def _open_intervals(self) -> list[OpenRow]:
        c = state_intervals.c
        q = sa.select(c.check_id, c.vantage, c.state, c.start, c.last_seen, c.error, c.reason)
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q.where(c.end.is_(None))).all()]

    async def _refresh_states(self) -> list[ConditionUpdate]:
        """Service states again at the current time: results keep arriving without flips, and
        a vantage point that falls silent stops voting (as availability counts it)."""
        refresh = getattr(self.composer, "refresh", None)
        if not callable(refresh) or self.clock() - self._last_states < self.acfg.events_poll:
            return []
        self._last_states = self.clock()
        rows = await asyncio.to_thread(self._open_intervals)
        updates: list[ConditionUpdate] = refresh(rows, self.clock())
        return updates

    async def _commands(self) -> None:
        for cid, op, args in await asyncio.to_thread(self.store.pending_commands):
            item = _command_input(op, args)
            if item is None:
                errors = [f"unknown command {op!r}"]
            else:
                errors = list((await self.submit([item])).errors)
            await asyncio.to_thread(
                self.store.finish_command, cid, "; ".join(errors) or "ok", self.clock()
            )

    async def _events(self) -> None:
        if self.clock() - self._last_events < self.acfg.events_poll:
            return
        self._last_events = self.clock()
        evs = await asyncio.to_thread(self.store.events_after, self.events_cursor)
        if evs:
            self.events_cursor = max(e.id for e in evs)
            await self.submit(evs, {"events_cursor": self.events_cursor})

    async def tick(self) -> None:
        """Apply queued commands and new events, refresh maintenance, advance timers."""
        refresh = getattr(self.maintenance, "refresh", None)
        # as often as events are read: a drill period must hold the outage it is about to cause
        if callable(refresh) and self.clock() - self._last_refresh >= self.acfg.events_poll:
            self._last_refresh = self.clock()
            await asyncio.to_thread(refresh)
        await self._commands()
        await self._events()
        await self.submit(await self._refresh_states())

    async def run(self, stop: asyncio.Event) -> None:
        # from the store again when run again: on a high-availability pair this node may have
        # been a standby while another decided (``threenines.core.ha``)
        if self._runs:
            self._started = False
        self._runs += 1
        await self.start()
        sender = asyncio.create_task(self.sender.run(stop))
        failing = Repeated(log, "alerts tick failed")  # once, then a count a minute, then ok
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception as exc:  # the database may be briefly away; nothing is lost
                    failing.failed(exc)
                else:
                    failing.ok()
                try:
                    await asyncio.wait_for(stop.wait(), self.tick_interval)
                except TimeoutError:
                    pass
        finally:
            if not stop.is_set():  # cancelled (this node stopped being the active one)
                sender.cancel()
            await asyncio.gather(sender, return_exceptions=True)


def _command_input(op: str, a: dict[str, Any]) -> Input | None:
    if op == "ack":
        return Ack(a["incident"], a.get("who", "cli"), a.get("note", ""))
    if op == "resolve":
        return Resolve(a["incident"], a.get("who", "cli"), a.get("note", ""))
    if op == "silence":
        return AddSilence(
            Silence.make(
                a["id"],
                a["matchers"],
                a["starts_at"],
                a["ends_at"],
                a["author"],
                a.get("comment", ""),
            )
        )
    if op == "unsilence":
        return RemoveSilence(a["id"], a.get("who", "cli"))
    return None
