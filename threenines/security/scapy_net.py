"""The one adapter around scapy (blocking; root): ARP sweeps, passive ARP, SYN scans, vendors.

Every function here blocks and is meant to run in a worker thread (``asyncio.to_thread``); the
async wrappers at the bottom do that. Each is bounded in packets and time, paces its sends to
``rate`` packets per second, and refuses addresses the ``Scope`` does not allow. What they
return is plain data (``ArpPacket``, port sets) for the pure detectors.
"""

from __future__ import annotations

import asyncio
import ipaddress
import random
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from threenines.security.arp import ArpPacket
from threenines.security.config import OutOfScope, Scope


def _scapy() -> Any:
    import scapy.all as scapy_all

    return scapy_all


def vendor(mac: str) -> str | None:
    """Vendor from the MAC prefix via scapy's bundled manuf DB; None when unknown/unavailable."""
    db = getattr(_scapy().conf, "manufdb", None)
    if db is None:
        return None
    name = db._get_manuf(mac)
    return None if not name or name == mac else str(name)


def _to_arp(pkt: Any, ts: float) -> ArpPacket:
    arp = pkt["ARP"]
    return ArpPacket(ts, int(arp.op), arp.psrc, arp.hwsrc.lower(), arp.pdst, arp.hwdst.lower())


class _Pacer:
    """Keeps sends at or under ``rate`` per second without sleeping for every packet."""

    def __init__(self, rate: float):
        self.rate, self.start, self.sent = rate, time.monotonic(), 0

    def tick(self, n: int = 1) -> None:
        self.sent += n
        ahead = self.start + self.sent / self.rate - time.monotonic()
        if ahead > 0.002:
            time.sleep(ahead)


def _start_sniffer(sc: Any, **kw: Any) -> Any:
    """An AsyncSniffer whose capture socket is attached before this returns: anything sent
    afterwards is seen (a fixed sleep is not enough on a loaded machine)."""
    attached = threading.Event()
    sniffer = sc.AsyncSniffer(store=False, started_callback=attached.set, **kw)
    sniffer.start()
    if not attached.wait(10):
        sniffer.stop(join=False)
        raise OSError("packet capture did not start within 10 s")
    return sniffer


def sweep(
    iface: str, cidrs: list[str], scope: Scope, rate: float, timeout: float
) -> list[ArpPacket]:
    """ARP who-has every address of ``cidrs`` on ``iface``; every reply (several per IP when
    two machines answer) comes back as an ``ArpPacket``."""
    sc = _scapy()
    sc.conf.route.resync()  # so each request carries our own address on that interface
    targets = [str(ip) for c in cidrs for ip in ipaddress.IPv4Network(c).hosts()]
    scope.require(targets)
    replies: list[ArpPacket] = []

    def keep(pkt: Any) -> None:
        if pkt.haslayer("ARP") and pkt["ARP"].op == 2:
            replies.append(_to_arp(pkt, time.time()))

    sniffer = _start_sniffer(sc, iface=iface, filter="arp", prn=keep)
    try:
        sock = sc.conf.L2socket(iface=iface)
        try:
            pacer = _Pacer(rate)
            for ip in targets:
                sock.send(sc.Ether(dst="ff:ff:ff:ff:ff:ff") / sc.ARP(pdst=ip))
                pacer.tick()
        finally:
            sock.close()
        time.sleep(timeout)
    finally:
        sniffer.stop()
    wanted = set(targets)
    return [r for r in replies if r.psrc in wanted]


def listen(
    iface: str, window: float, max_packets: int, started: Callable[[], None] | None = None
) -> list[ArpPacket]:
    """Capture ARP on ``iface`` for ``window`` seconds or ``max_packets``, whichever is first;
    ``started`` is called once the capture socket is attached."""
    sc = _scapy()
    pkts = sc.sniff(
        iface=iface,
        filter="arp",
        timeout=window,
        count=max_packets,
        store=True,
        started_callback=started,
    )
    return [_to_arp(p, float(p.time)) for p in pkts if p.haslayer("ARP")]


def _route_ifaces(hosts: list[str], iface: str | None) -> set[str]:
    sc = _scapy()
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
) -> dict[str, set[int]]:
    """Half-open scan; returns host -> open ports. Unanswered probes are retried ``retries``
    times. scapy crafts each host's SYN template and captures replies (its BPF-filtered packet
    sockets); sends go through a raw socket with port and checksum patched in, and replies are
    decoded with ``struct``: dissecting 50,000 RSTs with scapy at 2,000/s drops packets."""
    sc = _scapy()
    scope.require(hosts)
    ports = list(ports)
    sport = random.randint(40000, 60999)
    capture = _TcpReplies(sc, sorted(_route_ifaces(hosts, iface)), sport)
    answers = capture.answers
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        pacer = _Pacer(rate)
        todo = [(h, p) for h in hosts for p in ports]
        for _ in range(retries + 1):
            _send_syns(sc, raw, todo, sport, pacer)
            time.sleep(timeout)
            todo = [(h, p) for h, p in todo if (h, p) not in answers]
            if not todo:
                break
    finally:
        raw.close()
        capture.close()
    out: dict[str, set[int]] = {h: set() for h in hosts}
    for (h, p), flags in answers.items():
        if h in out and flags & 0x12 == 0x12:  # SYN+ACK: open (the kernel RSTs it for us)
            out[h].add(p)
    return out


class _TcpReplies:
    """TCP replies to ``sport`` on ``ifaces``, as {(src ip, src port): flags}, in a thread."""

    def __init__(self, sc: Any, ifaces: list[str], sport: int):
        self.answers: dict[tuple[str, int], int] = {}
        self.socks = [sc.conf.L2listen(iface=i, filter=f"tcp and dst port {sport}") for i in ifaces]
        for s in self.socks:  # room for a burst of replies while this thread is descheduled
            s.ins.setsockopt(socket.SOL_SOCKET, 33, 8 << 20)  # SO_RCVBUFFORCE (root)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

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
        else:  # another link type: let scapy find the IP header
            pkt = ll(data)
            if not pkt.haslayer("IP"):
                return
            data, off = bytes(pkt["IP"]), 0
        ip = data[off:]
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != socket.IPPROTO_TCP:
            return
        tcp = ip[(ip[0] & 0x0F) * 4 :]
        if len(tcp) >= 14:
            src = socket.inet_ntoa(ip[12:16])
            self.answers[(src, struct.unpack("!H", tcp[0:2])[0])] = tcp[13]

    def close(self) -> None:
        self.stop.set()
        self.thread.join(5)
        for s in self.socks:
            s.close()


def _send_syns(
    sc: Any, sock: socket.socket, todo: list[tuple[str, int]], sport: int, pacer: _Pacer
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


async def sweep_async(
    iface: str, cidrs: list[str], scope: Scope, rate: float, timeout: float
) -> list[ArpPacket]:
    return await asyncio.to_thread(sweep, iface, cidrs, scope, rate, timeout)


async def listen_async(
    iface: str, window: float, max_packets: int, started: Callable[[], None] | None = None
) -> list[ArpPacket]:
    return await asyncio.to_thread(listen, iface, window, max_packets, started)


async def syn_scan_async(
    hosts: list[str],
    ports: list[int],
    scope: Scope,
    rate: float,
    timeout: float,
    iface: str | None = None,
) -> dict[str, set[int]]:
    return await asyncio.to_thread(syn_scan, hosts, ports, scope, rate, timeout, iface)
