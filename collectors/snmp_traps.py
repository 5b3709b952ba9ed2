"""SNMP trap receiver (v1, v2c, v3 traps and informs) on UDP, with a bounded burst queue.

pysnmp 7's own UDP transport hands every datagram straight to the engine from the event loop.
Here ``_QueueingTransport`` only counts and queues it (a deque bounded by ``queue_size``; a
burst beyond that is dropped and counted as ``queue_full``, never an unbounded backlog) and a
worker feeds the queue to a dedicated pysnmp ``SnmpEngine``, one datagram at a time. Because
processing is synchronous, the engine's own error counters (snmpInBadCommunityNames,
usmStatsWrongDigests, snmpInASNParseErrs, ...) read before and after tell exactly why a
datagram was refused: unknown community, unknown user, bad authentication, malformed. Refused
datagrams are counted and logged (rate-limited), never processed; the receiver keeps running.

SNMPv3 traps are authoritative at the sender: ``snmp_trapusm.UsmLearner`` localises the
configured users' keys to each sender's engine ID as it is first seen.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config as pconfig
from pysnmp.entity.engine import SnmpEngine
from pysnmp.entity.rfc3413 import ntfrcv

from threenines.collectors.config import Device, Traps
from threenines.collectors.sink import Sink
from threenines.collectors.snmp_metrics import SnmpMetrics
from threenines.collectors.snmp_render import render
from threenines.collectors.snmp_trapmap import Notification, to_event
from threenines.collectors.snmp_trapusm import UsmLearner
from threenines.collectors.udpsock import enlarge_buffer, is_ip, socket_drops
from threenines.core.clean import clean_text

log = logging.getLogger("threenines.collectors.snmp_traps")
_COUNTERS = {
    "bad_community": [("__SNMPv2-MIB", "snmpInBadCommunityNames")],
    "unknown_user": [("__SNMP-USER-BASED-SM-MIB", "usmStatsUnknownUserNames")],
    "bad_auth": [
        ("__SNMP-USER-BASED-SM-MIB", name)
        for name in (
            "usmStatsWrongDigests",
            "usmStatsDecryptionErrors",
            "usmStatsUnsupportedSecLevels",
        )
    ],
    # An inform sender's engine-ID discovery and time synchronisation: normal first steps.
    "discovery": [
        ("__SNMP-USER-BASED-SM-MIB", name)
        for name in ("usmStatsUnknownEngineIDs", "usmStatsNotInTimeWindows")
    ],
    "malformed": [("__SNMPv2-MIB", n) for n in ("snmpInASNParseErrs", "snmpInBadVersions")],
}
VERSIONS = {0: "v1", 1: "v2c", 3: "v3"}


class _QueueingTransport(udp.UdpAsyncioTransport):
    receiver: TrapReceiver

    def datagram_received(self, datagram: bytes, transportAddress: Any) -> None:
        self.receiver.enqueue(datagram, transportAddress)


class TrapReceiver:
    def __init__(
        self,
        cfg: Traps,
        sink: Sink,
        *,
        devices: Sequence[Device] = (),
        metrics: SnmpMetrics | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.cfg = cfg
        self.sink = sink
        self.metrics = metrics
        self.clock = clock
        self.devices: dict[str, Device] = {d.address: d for d in devices}
        self._named = [d for d in devices if not is_ip(d.address)]
        self.mappings = {m.oid: m for m in cfg.mappings}
        self.stats: dict[str, int] = {}
        self.queue: deque[tuple[bytes, Any]] = deque()
        self._wake = asyncio.Event()
        self._engine = SnmpEngine()
        self._transport: _QueueingTransport | None = None
        self._usm: UsmLearner | None = None
        self._sock: socket.socket | None = None
        self._current: tuple[Any, dict[str, Any] | None] | None = None
        self._last_log: dict[str, float] = {}
        self.address: tuple[str, int] | None = None
        self._inode = 0
        self._reported = 0.0
        self._accepted = False
        self._symbols: list[tuple[str, Any]] = []

    # -- receiving -------------------------------------------------------------------------

    def enqueue(self, datagram: bytes, addr: Any) -> None:
        """Called by the transport for every datagram: cheap, never raises, never blocks."""
        if len(datagram) > self.cfg.max_datagram:
            self._count("oversized", addr)
        elif len(self.queue) >= self.cfg.queue_size:
            self._count("queue_full", addr)
        else:
            self.queue.append((datagram, addr))
            self._wake.set()

    def _count(self, outcome: str, addr: Any = None) -> None:
        self.stats[outcome] = self.stats.get(outcome, 0) + 1
        if self.metrics is not None:
            self.metrics.traps.labels(outcome).inc()
        if outcome != "accepted":
            now = time.monotonic()
            if now - self._last_log.get(outcome, -1e9) >= 10.0:  # at most one line per 10 s
                self._last_log[outcome] = now
                log.warning(
                    "trap refused (%s) from %s; %d so far", outcome, addr, self.stats[outcome]
                )

    async def start(self) -> tuple[str, int]:
        """Bind the socket and configure the engine; returns the bound (host, port)."""
        host, _, port = self.cfg.listen.rpartition(":")
        transport = _QueueingTransport()
        transport.receiver = self
        pconfig.add_transport(self._engine, udp.DOMAIN_NAME, transport)
        transport.open_server_mode((host.strip("[]"), int(port)))
        await transport._lport  # the datagram endpoint, created by the line above
        self._transport = transport
        sock = transport.transport.get_extra_info("socket")
        enlarge_buffer(sock)
        # asyncio only hands out a restricted view of its socket; a dup reads the same queue.
        self._sock = socket.fromfd(sock.fileno(), sock.family, socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._inode = os.fstat(sock.fileno()).st_ino
        self.address = sock.getsockname()[:2]
        for i, community in enumerate(self.cfg.communities):
            pconfig.add_v1_system(self._engine, f"trap-c{i}", community.get_secret_value())
        if self.cfg.users:
            self._usm = UsmLearner(self._engine, self.cfg.users, self.cfg.max_engines)
        self._engine.observer.register_observer(self._observe, "rfc3412.receiveMessage:request")
        ntfrcv.NotificationReceiver(self._engine, self._on_notification)
        await self._resolve_devices()
        return self.address

    async def _resolve_devices(self) -> None:
        """Map the addresses of devices configured by host name, so their traps correlate."""
        loop = asyncio.get_running_loop()
        for dev in self._named:
            try:
                async with asyncio.timeout(2.0):
                    infos = await loop.getaddrinfo(dev.address, None, type=socket.SOCK_DGRAM)
            except (OSError, TimeoutError) as exc:
                log.warning("trap receiver: cannot resolve %s (%s): %s", dev.name, dev.address, exc)
                continue
            for info in infos:
                self.devices.setdefault(str(info[4][0]), dev)

    # -- processing ------------------------------------------------------------------------

    def _observe(self, _engine: Any, _point: str, variables: dict[str, Any], _ctx: Any) -> None:
        if self._current is not None:
            self._current = (self._current[0], variables)

    def _snapshot(self) -> dict[str, int]:
        if not self._symbols:  # the engine's counter objects, looked up once
            builder = self._engine.get_mib_builder()
            for outcome, names in _COUNTERS.items():
                for module, name in names:
                    (sym,) = builder.import_symbols(module, name)
                    self._symbols.append((outcome, sym))
        out = dict.fromkeys(_COUNTERS, 0)
        for outcome, sym in self._symbols:
            out[outcome] += int(sym.syntax)
        return out

    def _on_notification(
        self, _e: Any, _ref: Any, _ceid: Any, _cname: Any, varbinds: Any, _ctx: Any
    ) -> None:
        addr, info = self._current or (None, None)
        info = info or {}
        model = int(info.get("messageProcessingModel", 1))
        notification = Notification(
            ts=self.clock(),
            source=str(addr[0]) if addr else "",
            version=VERSIONS.get(model, str(model)),
            security=clean_text(str(info.get("securityName", "")), 64),
            varbinds={".".join(map(str, oid)): render(value) for oid, value in varbinds},
        )
        self._accepted = True
        event = to_event(
            notification, self.mappings, self.devices, store_unknown=self.cfg.store_unknown
        )
        if event is not None:
            self.sink.events([event])
            if self.metrics is not None:
                self.metrics.trap_events.labels(event.kind).inc()

    def process(self, datagram: bytes, addr: Any) -> str:
        """Run one datagram through the engine; return and count its outcome."""
        before = self._snapshot()
        self._accepted = False
        self._current = (addr, None)
        try:
            if datagram[:1] == b"\x30" and self._usm is not None:
                self._usm.learn(datagram)
            assert self._transport is not None
            self._transport._callback_function(self._transport, addr, datagram)
            outcome = "accepted" if self._accepted else ""
        except Exception as exc:  # pysnmp raising on hostile input: count, keep running
            log.debug("trap from %s raised %s", addr, exc)
            outcome = "malformed"
        finally:
            self._current = None
        if not outcome:
            after = self._snapshot()
            outcome = next((k for k in _COUNTERS if after[k] > before[k]), "other")
        self._count(outcome, addr)
        return outcome

    async def run(self, stop: asyncio.Event) -> None:
        """Decode queued datagrams until ``stop``; then drain what is queued and close."""
        if self._transport is None:
            await self.start()
        try:
            while not stop.is_set() or self.queue:
                self._drain()
                if not self.queue:
                    self._wake.clear()
                    waiters = [asyncio.ensure_future(e.wait()) for e in (stop, self._wake)]
                    await asyncio.wait(waiters, timeout=5.0, return_when=asyncio.FIRST_COMPLETED)
                    for w in waiters:
                        w.cancel()
                for _ in range(min(64, len(self.queue))):  # ~40 ms, then let others run
                    self.process(*self.queue.popleft())
                self._report()
                await asyncio.sleep(0)
        finally:
            self.close()

    def _drain(self) -> None:
        """Move every datagram waiting in the kernel into the counted queue.

        asyncio reads one datagram per loop turn, so under a burst the backlog would sit in the
        socket buffer, where overflow is silent; here it is either queued or counted.
        """
        if self._sock is None:
            return
        for _ in range(self.cfg.queue_size + 1):
            try:
                data, addr = self._sock.recvfrom(self.cfg.max_datagram + 1)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP errors surfacing on the socket: not fatal
                log.debug("trap socket: %s", exc)
                return
            self.enqueue(data, addr)

    def _report(self) -> None:
        now = time.monotonic()
        if self.metrics is not None and now - self._reported >= 1.0:
            self._reported = now
            self.metrics.trap_queue.set(len(self.queue))
            drops = socket_drops(self._inode)
            if drops is not None:
                self.metrics.trap_kernel_drops.set(drops)

    def close(self) -> None:
        if self._engine.transport_dispatcher is not None:
            self._engine.transport_dispatcher.close_dispatcher()
        self._transport = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
