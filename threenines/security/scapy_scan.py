"""The SYN scan through scapy (blocking; root): half-open probes, replies decoded by hand.

``syn_scan`` blocks and is meant to run in a worker thread; ``syn_scan_async`` does that. It
is bounded in packets and time, paces its sends to ``rate`` packets per second
(``scapy_net.Pacer``), refuses addresses the ``Scope`` does not allow, and returns plain data
(``HostScan``) for the pure exposure detectors.
"""

from __future__ import annotations

import asyncio
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Iterable
from typing import Any

from threenines.security.config import OutOfScope, Scope
from threenines.security.exposure import HostScan
from threenines.security.scapy_net import Pacer, scapy


def _route_ifaces(hosts: list[str], iface: str | None) -> set[str]:
    sc = scapy()
    sc.conf.route.resync()  # interfaces may have appeared since scapy was imported
    ifaces = {h: sc.conf.route.route(h)[0] for h in hosts}
    if iface is not None:
        wrong = sorted(h for h, i in ifaces.items() if i != iface)
        if wrong:
            raise OutOfScope(f"{len(wrong)} host(s) do not route via {iface}: {wrong[:5]}")
    return set(ifaces.values())


def syn_scan(
    hosts: list[str],
    ports: Iterable[int],
    scope: Scope,
    rate: float,
    timeout: float,
    iface: str | None = None,
    retries: int = 1,
) -> dict[str, HostScan]:
    """Half-open scan; returns what each host said (``HostScan``). Unanswered probes are
    retried ``retries`` times; a host from which nothing came back then gets one ICMP echo,
    the liveness hint. scapy crafts each host's SYN template and captures replies (its
    BPF-filtered packet sockets); sends go through a raw socket with port and checksum patched
    in, and replies are decoded with ``struct``: dissecting 50,000 RSTs with scapy at 2,000/s
    drops packets."""
    sc = scapy()
    scope.require(hosts)
    ports = list(ports)
    sport = random.randint(40000, 60999)
    capture = _Replies(sc, sorted(_route_ifaces(hosts, iface)), sport)
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        pacer = Pacer(rate)
        todo = [(h, p) for h in hosts for p in ports]
        for _ in range(retries + 1):
            _send_syns(sc, raw, todo, sport, pacer)
            time.sleep(timeout)
            todo = [hp for hp in todo if not capture.answered(hp)]
            if not todo:
                break
        quiet = [h for h in hosts if h not in capture.seen_hosts()]
        if quiet:
            _send_echoes(sc, raw, quiet, sport, pacer)
            time.sleep(timeout)
    finally:
        raw.close()
        capture.close()
    return capture.result(hosts)


class _Replies:
    """Replies on ``ifaces``, in a thread: TCP to ``sport`` as {(src ip, src port): flags},
    ICMP unreachables about our SYNs as {(dst ip, dst port)}, and the hosts seen (the source
    of any TCP reply, echo reply, unreachable or ARP reply)."""

    def __init__(self, sc: Any, ifaces: list[str], sport: int):
        self.sport = sport
        self.answers: dict[tuple[str, int], int] = {}
        self.unreachable: set[tuple[str, int]] = set()
        self.seen: set[str] = set()
        bpf = f"(tcp and dst port {sport}) or icmp or (arp and arp[6:2] = 2)"
        self.socks = [sc.conf.L2listen(iface=i, filter=bpf) for i in ifaces]
        for s in self.socks:  # room for a burst of replies while this thread is descheduled
            s.ins.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def answered(self, hp: tuple[str, int]) -> bool:
        return hp in self.answers or hp in self.unreachable

    def seen_hosts(self) -> set[str]:
        return self.seen | {h for h, _p in list(self.answers)}

    def result(self, hosts: list[str]) -> dict[str, HostScan]:
        opened: dict[str, set[int]] = {h: set() for h in hosts}
        closed: dict[str, set[int]] = {h: set() for h in hosts}
        for (h, p), flags in self.answers.items():
            if h not in opened:
                continue
            if flags & 0x12 == 0x12:  # SYN+ACK: open (the kernel RSTs it for us)
                opened[h].add(p)
            elif flags & 0x04:  # RST: closed
                closed[h].add(p)
        seen = self.seen_hosts()
        return {h: HostScan(frozenset(opened[h]), frozenset(closed[h]), h in seen) for h in hosts}

    def _run(self) -> None:
        while True:
            ready, _, _ = select.select(self.socks, [], [], 0.05)
            if not ready and self.stop.is_set():
                return
            for s in ready:
                ll, data, _ts = s.recv_raw(65535)
                if data:
                    self._decode(ll, data)

    def _decode(self, ll: Any, data: bytes) -> None:
        if getattr(ll, "__name__", "") == "Ether":
            off = 18 if data[12:14] == b"\x81\x00" else 14  # 802.1Q tag
            if data[off - 2 : off] == b"\x08\x06":  # an ARP reply: its sender is alive
                if len(data) >= off + 18:
                    self.seen.add(socket.inet_ntoa(data[off + 14 : off + 18]))
                return
        else:  # another link type: let scapy find the IP header
            pkt = ll(data)
            if not pkt.haslayer("IP"):
                return
            data, off = bytes(pkt["IP"]), 0
        ip = data[off:]
        if len(ip) < 20 or ip[0] >> 4 != 4:
            return
        body, src = ip[(ip[0] & 0x0F) * 4 :], socket.inet_ntoa(ip[12:16])
        if ip[9] == socket.IPPROTO_TCP and len(body) >= 14:
            self.answers[(src, struct.unpack("!H", body[0:2])[0])] = body[13]
        elif ip[9] == socket.IPPROTO_ICMP and len(body) >= 8:
            self._icmp(src, body)

    def _icmp(self, src: str, icmp: bytes) -> None:
        if icmp[0] == 0 and struct.unpack("!H", icmp[4:6])[0] == self.sport:  # our echo
            self.seen.add(src)
        if icmp[0] != 3 or len(icmp) < 32:  # only an unreachable says something of a port
            return
        inner = icmp[8:]
        tcp = inner[(inner[0] & 0x0F) * 4 :]
        if inner[9] != socket.IPPROTO_TCP or len(tcp) < 4:
            return
        if struct.unpack("!H", tcp[0:2])[0] == self.sport:  # about one of our SYNs: filtered
            self.unreachable.add((socket.inet_ntoa(inner[16:20]), struct.unpack("!H", tcp[2:4])[0]))
            self.seen.add(src)  # a router's unreachable is not the host: seen only if src is it

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def _send_echoes(sc: Any, sock: socket.socket, hosts: list[str], ident: int, pacer: Pacer) -> None:
    for host in hosts:
        try:
            sock.sendto(bytes(sc.IP(dst=host) / sc.ICMP(id=ident, seq=1)), (host, 0))
        except OSError:
            pass  # no route right now: the host stays unseen
        pacer.tick()


def _send_syns(
    sc: Any, sock: socket.socket, todo: list[tuple[str, int]], sport: int, pacer: Pacer
) -> None:
    templates: dict[str, bytearray] = {}
    for host, port in todo:
        tmpl = templates.get(host)
        if tmpl is None:
            seq = random.getrandbits(32)
            tmpl = bytearray(
                bytes(sc.IP(dst=host) / sc.TCP(sport=sport, dport=1, flags="S", seq=seq))
            )
            templates[host] = tmpl
        struct.pack_into("!H", tmpl, 22, port)  # TCP dport
        struct.pack_into("!H", tmpl, 36, 0)  # TCP checksum, recomputed below
        tcp = bytes(tmpl[20:])
        pseudo = bytes(tmpl[12:20]) + struct.pack("!BBH", 0, socket.IPPROTO_TCP, len(tcp))
        struct.pack_into("!H", tmpl, 36, sc.checksum(pseudo + tcp))
        try:
            sock.sendto(tmpl, (host, 0))
        except OSError:
            pass  # e.g. no route right now: the port simply stays unanswered
        pacer.tick()


async def syn_scan_async(
    hosts: list[str],
    ports: list[int],
    scope: Scope,
    rate: float,
    timeout: float,
    iface: str | None = None,
) -> dict[str, HostScan]:
    return await asyncio.to_thread(syn_scan, hosts, ports, scope, rate, timeout, iface)
