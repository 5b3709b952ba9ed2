"""Pure detectors over observed ARP: inventory comparison and spoofing.

Inputs are ``ArpPacket`` values (from a sweep's replies or a passive capture); outputs are
``Finding`` values. No I/O and no clock: times come from the packets and the caller.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from threenines.security.findings import Finding

BROADCAST = "ff:ff:ff:ff:ff:ff"
ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True, slots=True)
class ArpPacket:
    ts: float
    op: int  # 1 who-has, 2 is-at
    psrc: str
    hwsrc: str
    pdst: str
    hwdst: str

    @property
    def gratuitous(self) -> bool:
        """An announcement of the sender's own address (request or reply, RFC 5227)."""
        return self.psrc == self.pdst and self.psrc != "0.0.0.0"

    @property
    def claim(self) -> tuple[str, str] | None:
        """The (ip, mac) binding this packet asserts, if any (probes from 0.0.0.0 assert none)."""
        if self.psrc == "0.0.0.0" or self.hwsrc in (ZERO_MAC, BROADCAST):
            return None
        return self.psrc, self.hwsrc


@dataclass(frozen=True, slots=True)
class Known:
    """An inventory entry: matched by MAC when it has one, else by IP."""

    name: str
    ip: str | None = None
    mac: str | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class Own:
    """The monitor's own addresses: it never reports itself as unknown or missing."""

    macs: frozenset[str] = frozenset()
    ips: frozenset[str] = frozenset()

    def matches(self, k: Known) -> bool:
        return k.mac in self.macs if k.mac else k.ip in self.ips


def bindings(packets: Iterable[ArpPacket]) -> dict[str, set[str]]:
    """IP -> the set of MACs that claimed it."""
    out: dict[str, set[str]] = defaultdict(set)
    for p in packets:
        if p.claim:
            out[p.claim[0]].add(p.claim[1])
    return dict(out)


def _matches(k: Known, ip: str, mac: str) -> bool:
    return k.mac == mac if k.mac else k.ip == ip


def inventory_findings(
    site: str,
    subnets: list[str],
    packets: Iterable[ArpPacket],
    inventory: list[Known],
    vendor: Callable[[str], str | None],
    check: str,
    complete: bool = True,
    own: Own | None = None,
) -> list[Finding]:
    """Unknown devices among the claims seen in ``subnets``, one per (MAC, IP) so a MAC at two
    addresses is two findings; and, when ``complete`` (a sweep, not a passive window), the
    site's known devices that did not answer. The monitor's ``own`` addresses are neither:
    it does not answer its own sweep, and it is not a stranger."""
    own = own or Own()
    nets = [ipaddress.IPv4Network(s) for s in subnets]
    seen = {
        (ip, mac)
        for ip, macs in bindings(packets).items()
        if any(ipaddress.IPv4Address(ip) in n for n in nets)
        for mac in macs
        if mac not in own.macs
    }
    out: list[Finding] = []
    for ip, mac in sorted(seen):
        if not any(_matches(k, ip, mac) for k in inventory):
            maker = vendor(mac)
            out.append(
                Finding.make(
                    "unknown_device",
                    f"{site}/{mac}/{ip}",
                    "major",
                    check,
                    ip,
                    f"unknown device {mac} ({maker or 'vendor unknown'}) at {ip}",
                    {"ip": ip, "mac": mac, "vendor": maker},
                    site=site,
                )
            )
    if complete:
        for k in inventory:
            mine = k.site == site or (k.ip and any(ipaddress.IPv4Address(k.ip) in n for n in nets))
            missing = not own.matches(k) and not any(_matches(k, ip, mac) for ip, mac in seen)
            if mine and missing:
                out.append(
                    Finding.make(
                        "device_missing",
                        f"{site}/{k.name}",
                        "minor",
                        check,
                        k.ip or k.mac or k.name,
                        f"known device {k.name} did not answer the ARP sweep",
                        {"name": k.name, "ip": k.ip, "mac": k.mac},
                        site=site,
                    )
                )
    return out


def spoof_findings(
    packets: list[ArpPacket],
    expected: Mapping[str, str | None],
    site: str,
    check: str,
    burst: int = 5,
    window: float = 10.0,
    earlier: Sequence[ArpPacket] = (),
) -> list[Finding]:
    """Critical findings: a protected IP (``expected`` maps it to its known MAC, or None if
    unknown yet) claimed from another MAC; any IP claimed by two MACs; a burst of ``burst``
    gratuitous ARPs from one MAC within ``window`` seconds, counting the ``earlier`` ones (the
    previous capture window's), so a burst split across two windows is still seen."""
    out: list[Finding] = []
    claims = bindings(packets)
    for ip, macs in sorted(claims.items()):
        good = expected.get(ip)
        if good is not None:
            for mac in sorted(macs - {good}):
                out.append(
                    Finding.make(
                        "arp_spoof",
                        f"{ip}/{mac}",
                        "critical",
                        check,
                        ip,
                        f"protected {ip} answered from {mac}, expected {good}",
                        {"ip": ip, "mac": mac, "expected": good, "claims": _claims(packets, ip)},
                        site=site,
                        sticky=True,
                    )
                )
        if len(macs) > 1 and not (good is not None and good in macs and len(macs) == 2):
            out.append(
                Finding.make(
                    "arp_conflict",
                    ip,
                    "critical",
                    check,
                    ip,
                    f"{len(macs)} MACs claim {ip}: {', '.join(sorted(macs))}",
                    {"ip": ip, "macs": sorted(macs), "claims": _claims(packets, ip)},
                    site=site,
                    sticky=True,
                )
            )
    out += _bursts([*earlier, *packets], site, check, burst, window)
    return out


def _claims(packets: list[ArpPacket], ip: str, limit: int = 10) -> list[dict[str, object]]:
    hits = [p for p in packets if p.claim and p.claim[0] == ip]
    return [{"ts": p.ts, "mac": p.hwsrc, "op": p.op, "to": p.hwdst} for p in hits[-limit:]]


def _bursts(
    packets: list[ArpPacket], site: str, check: str, burst: int, window: float
) -> list[Finding]:
    recent: dict[str, deque[float]] = defaultdict(deque)
    worst: dict[str, tuple[int, ArpPacket]] = {}
    garps = {p for p in packets if p.gratuitous}  # a carried-over packet counts once
    for p in sorted(garps, key=lambda p: p.ts):
        q = recent[p.hwsrc]
        q.append(p.ts)
        while q and q[0] <= p.ts - window:
            q.popleft()
        if len(q) >= burst and len(q) > worst.get(p.hwsrc, (0, p))[0]:
            worst[p.hwsrc] = (len(q), p)
    return [
        Finding.make(
            "arp_gratuitous_burst",
            mac,
            "critical",
            check,
            p.psrc,
            f"{n} gratuitous ARPs from {mac} (claiming {p.psrc}) within {window:g}s",
            {"mac": mac, "ip": p.psrc, "count": n, "window": window},
            site=site,
            sticky=True,
        )
        for mac, (n, p) in sorted(worst.items())
    ]


def learn(expected: Mapping[str, str | None], packets: list[ArpPacket]) -> dict[str, str]:
    """First MAC seen for protected IPs that have none yet, when only one MAC claims them
    (a contested IP is never learned: that is the spoofing case)."""
    claims = bindings(packets)
    return {
        ip: next(iter(claims[ip]))
        for ip, mac in expected.items()
        if mac is None and len(claims.get(ip, ())) == 1
    }
