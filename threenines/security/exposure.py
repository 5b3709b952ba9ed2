"""Exposure drift: which TCP ports are open, compared with an allowed-ports baseline.

``scan`` picks a SYN scan (scapy, root) or a connect scan (asyncio, anyone); ``compare`` is
the pure part: open ports outside the baseline are ``port_opened`` findings, allowed ports that
were scanned and found closed are ``port_closed`` findings.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable

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


def compare(
    host: str,
    scanned: Iterable[int],
    open_ports: set[int],
    allowed: set[int],
    check: str,
    site: str | None = None,
) -> list[Finding]:
    """Findings for ``host``: newly open ports (not allowed) and allowed ports now closed."""
    scanned = set(scanned)
    out: list[Finding] = []
    for port in sorted(open_ports - allowed):
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
    for port in sorted((allowed & scanned) - open_ports):
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
) -> dict[str, set[int]]:
    """Full TCP connects (no root needed): a completed handshake means open."""
    scope.require(hosts)
    pace = _Pace(rate)
    out: dict[str, set[int]] = {h: set() for h in hosts}
    todo = iter([(h, p) for h in hosts for p in ports])

    async def worker() -> None:
        # A fixed pool pulling from one iterator: memory stays flat for 50,000 probes.
        for host, port in todo:
            await pace.wait()
            try:
                async with asyncio.timeout(timeout):
                    _r, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                continue
            out[host].add(port)
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return out


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
) -> tuple[str, dict[str, set[int]]]:
    """Run the chosen scan off the event loop; returns (method used, host -> open ports)."""
    if method == "syn" or (method == "auto" and can_syn_scan()):
        from threenines.security import scapy_net

        return "syn", await scapy_net.syn_scan_async(hosts, ports, scope, rate, timeout, iface)
    return "connect", await connect_scan(hosts, ports, scope, rate, timeout, concurrency)
