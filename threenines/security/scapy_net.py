"""The adapter around scapy (blocking; root): ARP sweeps, passive ARP, vendors, own addresses.

Every function here blocks and is meant to run in a worker thread (``asyncio.to_thread``); the
async wrappers at the bottom do that. Each is bounded in packets and time, paces its sends to
``rate`` packets per second (``Pacer``), and refuses addresses the ``Scope`` does not allow.
What they return is plain data (``ArpPacket``) for the pure detectors. The SYN scan, which
shares the scapy import and the pacer, is in ``scapy_scan``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import threading
import time
from collections.abc import Callable
from typing import Any

from threenines.security.arp import ZERO_MAC, ArpPacket, Own
from threenines.security.config import Scope


def scapy() -> Any:
    """scapy, imported on first use (a second or two)."""
    import scapy.all as scapy_all

    return scapy_all


def vendor(mac: str) -> str | None:
    """Vendor from the MAC prefix via scapy's bundled manuf DB; None when unknown/unavailable."""
    db = getattr(scapy().conf, "manufdb", None)
    if db is None:
        return None
    name = db._get_manuf(mac)
    return None if not name or name == mac else str(name)


def own_addresses() -> Own:
    """This machine's MACs and IPv4 addresses, read afresh (interfaces come and go)."""
    sc = scapy()
    sc.conf.ifaces.reload()
    macs: set[str] = set()
    ips: set[str] = set()
    for i in sc.conf.ifaces.values():
        if i.mac and i.mac.lower() != ZERO_MAC:
            macs.add(i.mac.lower())
        ips.update(getattr(i, "ips", {}).get(4, []))
    return Own(frozenset(macs), frozenset(ips))


def _to_arp(pkt: Any, ts: float) -> ArpPacket:
    arp = pkt["ARP"]
    return ArpPacket(ts, int(arp.op), arp.psrc, arp.hwsrc.lower(), arp.pdst, arp.hwdst.lower())


class Pacer:
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
    sc = scapy()
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
            pacer = Pacer(rate)
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
    sc = scapy()
    pkts = sc.sniff(
        iface=iface,
        filter="arp",
        timeout=window,
        count=max_packets,
        store=True,
        started_callback=started,
    )
    return [_to_arp(p, float(p.time)) for p in pkts if p.haslayer("ARP")]


async def sweep_async(
    iface: str, cidrs: list[str], scope: Scope, rate: float, timeout: float
) -> list[ArpPacket]:
    return await asyncio.to_thread(sweep, iface, cidrs, scope, rate, timeout)


async def listen_async(
    iface: str, window: float, max_packets: int, started: Callable[[], None] | None = None
) -> list[ArpPacket]:
    return await asyncio.to_thread(listen, iface, window, max_packets, started)
