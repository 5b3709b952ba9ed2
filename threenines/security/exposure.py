"""Exposure drift: which TCP ports are open, compared with an allowed-ports baseline.

``scan`` picks a SYN scan (scapy, root) or a connect scan (asyncio, anyone) and returns a
``HostScan`` per host. Ports are open, closed or filtered as nmap counts them: a SYN-ACK (or a
completed connect) is open, a RST is closed, no reply or an ICMP unreachable is filtered. A
host from which nothing at all came back (no TCP reply, no ICMP, no ARP reply) was not seen.

``compare`` is the pure part: for a host whose ports answered, open ports outside the baseline
are ``port_opened`` findings and allowed ports that answered closed are ``port_closed``
findings; a filtered port is never called closed. A host that did not answer the scan gets one
``host_unreachable`` finding: not seen at all, or alive (ARP, ping, an ICMP message) with
every scanned port filtered (a firewall dropping the scanner is as blind as a cut link). And
``unobserved`` names the keys whose state the run could not see, so the store neither resolves
nor closes them: blocking the scanner never clears an exposure alert.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable
from dataclasses import dataclass

from threenines.security.config import Scope
from threenines.security.findings import Finding

# Cleartext admin and remote-desktop services: exposed unexpectedly, they are critical.
CRITICAL_PORTS = {
    21: "ftp",
    23: "telnet",
    512: "rexec",
    513: "rlogin",
    514: "rsh",
    3389: "rdp",
    5900: "vnc",
}
PORT_KINDS = ("port_opened", "port_closed")


@dataclass(frozen=True, slots=True)
class HostScan:
    """What one host said: ports that answered open and closed, and whether anything at all
    came back from it (any TCP reply, an ICMP message or an ARP reply). Every other scanned
    port is filtered."""

    open: frozenset[int] = frozenset()
    closed: frozenset[int] = frozenset()
    seen: bool = False

    @property
    def answered(self) -> bool:
        """Did any scanned port answer (open or closed)? If not, the scan saw no port."""
        return bool(self.open or self.closed)

    def state(self, port: int) -> str:
        return "open" if port in self.open else "closed" if port in self.closed else "filtered"


def compare(
    host: str,
    scanned: Iterable[int],
    result: HostScan,
    allowed: set[int],
    check: str,
    site: str | None = None,
) -> list[Finding]:
    """Findings for ``host``: newly open ports (not allowed), allowed ports that answered
    closed, or ``host_unreachable`` when no scanned port answered."""
    if not result.answered:
        why = (
            "is up but no scanned port answered (all filtered: a firewall may block the scanner)"
            if result.seen
            else "did not answer the exposure scan"
        )
        return [
            Finding.make(
                "host_unreachable",
                host,
                "major",
                check,
                host,
                f"{host} {why}; its port findings are kept as they were",
                {"host": host, "alive": result.seen},
                site=site,
            )
        ]
    scanned = set(scanned)
    out: list[Finding] = []
    for port in sorted(result.open - allowed):
        name = CRITICAL_PORTS.get(port)
        sev = "critical" if name else "major"
        out.append(
            Finding.make(
                "port_opened",
                f"{host}/{port}",
                sev,
                check,
                f"{host}:{port}",
                f"{host}:{port}{f' ({name})' if name else ''} is open but not in the baseline",
                {"host": host, "port": port, "allowed": sorted(allowed)},
                site=site,
            )
        )
    for port in sorted((allowed & scanned) & result.closed):
        out.append(
            Finding.make(
                "port_closed",
                f"{host}/{port}",
                "minor",
                check,
                f"{host}:{port}",
                f"{host}:{port} is in the baseline but closed",
                {"host": host, "port": port},
                site=site,
            )
        )
    return out


def unobserved(host: str, scanned: Iterable[int], result: HostScan) -> frozenset[str]:
    """Finding keys (or key prefixes ending in "/") whose state this scan did not see: every
    port finding of a host whose ports did not answer, and the filtered ports of one whose
    ports did."""
    if not result.answered:
        return frozenset(f"{k}/{host}/" for k in PORT_KINDS)
    hidden = set(scanned) - result.open - result.closed
    return frozenset(f"{k}/{host}/{p}" for p in hidden for k in PORT_KINDS)


class _Pace:
    """Async pacing: start at most ``rate`` connects per second."""

    def __init__(self, rate: float):
        self.rate, self.start, self.n = rate, time.monotonic(), 0
        self.lock = asyncio.Lock()

    async def wait(self) -> None:
        async with self.lock:
            self.n += 1
            ahead = self.start + self.n / self.rate - time.monotonic()
            if ahead > 0:
                await asyncio.sleep(ahead)


async def connect_scan(
    hosts: list[str],
    ports: list[int],
    scope: Scope,
    rate: float,
    timeout: float,
    concurrency: int = 100,
) -> dict[str, HostScan]:
    """Full TCP connects (no root needed): a completed handshake is open, a refusal (RST) is
    closed, anything else (timeout, unreachable) is filtered. The host is seen when any port
    answered open or closed. Limit: Linux reports an ICMP port unreachable to ``connect`` as a
    refusal, so such a port reads closed here (as with nmap -sT); the SYN scan tells them apart."""
    scope.require(hosts)
    pace = _Pace(rate)
    opened: dict[str, set[int]] = {h: set() for h in hosts}
    closed: dict[str, set[int]] = {h: set() for h in hosts}
    todo = iter([(h, p) for h in hosts for p in ports])

    async def worker() -> None:
        # A fixed pool pulling from one iterator: memory stays flat for 50,000 probes.
        for host, port in todo:
            await pace.wait()
            try:
                async with asyncio.timeout(timeout):
                    _r, writer = await asyncio.open_connection(host, port)
            except ConnectionRefusedError:
                closed[host].add(port)
                continue
            except (OSError, TimeoutError):
                continue
            opened[host].add(port)
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        h: HostScan(frozenset(opened[h]), frozenset(closed[h]), bool(opened[h] or closed[h]))
        for h in hosts
    }


def can_syn_scan() -> bool:
    return os.geteuid() == 0


async def scan(
    hosts: list[str],
    ports: list[int],
    scope: Scope,
    *,
    method: str = "auto",
    rate: float = 500.0,
    timeout: float = 1.0,
    concurrency: int = 100,
    iface: str | None = None,
) -> tuple[str, dict[str, HostScan]]:
    """Run the chosen scan off the event loop; returns (method used, host -> what it said)."""
    if method == "syn" or (method == "auto" and can_syn_scan()):
        from threenines.security import scapy_scan

        return "syn", await scapy_scan.syn_scan_async(hosts, ports, scope, rate, timeout, iface)
    return "connect", await connect_scan(hosts, ports, scope, rate, timeout, concurrency)
