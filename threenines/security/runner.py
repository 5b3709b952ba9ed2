"""The security monitor: runs sweeps, listens, scans and posture checks; records findings.

I/O at the edges (scapy adapter, scanners, posture checks, the store, each in its own thread or
coroutine), pure detectors in between. ``run_once`` is what ``threenines security scan`` calls;
``run_forever`` is what the service runner schedules (each part at its own interval).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from threenines.core.quarantine import Quarantine
from threenines.security import arp, exposure, snmp_auth
from threenines.security.config import POSTURE, ScanTarget, SecurityConfig, SecuritySite, hosts_of
from threenines.security.findings import Change, RunResult
from threenines.security.store import SecurityStore
from threenines.security.store_arp import ArpBindings
from threenines.security.store_baselines import BaselineStore

log = logging.getLogger(__name__)
PARTS = ("arp", "exposure", "posture", "snmp_auth")
EXPIRY_TICK = 30.0  # seconds between acceptance-expiry passes


def scan_doc(runs: list[RunResult]) -> list[dict[str, Any]]:
    """A pass's runs as ``security scan`` prints them and the API's scan job holds them."""
    return [
        {
            "check": r.check,
            "complete": r.complete,
            "error": r.error,
            "facts": r.facts,
            "findings": [
                {"key": f.key, "severity": f.severity, "message": f.message} for f in r.findings
            ],
        }
        for r in runs
    ]


class SecurityMonitor:
    def __init__(
        self,
        cfg: SecurityConfig,
        engine: Engine,
        clock: Callable[[], float] = time.time,
        quarantine: Quarantine | None = None,
    ):
        self.cfg, self.engine, self.clock = cfg, engine, clock
        self.scope = cfg.guard()
        self.store = SecurityStore(engine, quarantine)
        self.baselines = BaselineStore(engine)
        self.bindings = ArpBindings(engine)
        # Gratuitous ARPs of the last ``gratuitous_window`` per site: a burst split across two
        # passive windows is still one burst.
        self._garp: dict[str, list[arp.ArpPacket]] = {}

    async def record(self, run: RunResult) -> list[tuple[dict[str, Any], Change]]:
        if run.error:
            log.warning("security check %s incomplete: %s", run.check, run.error)
        return await asyncio.to_thread(self.store.record, run, self.clock())

    # -- ARP ------------------------------------------------------------------------------

    def _known(self) -> list[arp.Known]:
        return [arp.Known(d.name, d.ip, d.mac, d.site) for d in self.cfg.inventory]

    async def _expected(self) -> dict[str, str | None]:
        learned = await asyncio.to_thread(self.bindings.learned, [p.ip for p in self.cfg.protected])
        return {p.ip: p.mac or learned.get(p.ip) for p in self.cfg.protected}

    async def analyse_arp(
        self,
        site: SecuritySite,
        packets: list[arp.ArpPacket],
        complete: bool,
        earlier: list[arp.ArpPacket] | None = None,
    ) -> list[RunResult]:
        """Inventory and spoofing findings for packets seen on ``site``'s subnets; ``earlier``
        gratuitous ARPs (from the previous passive window) count towards a burst."""
        from threenines.security.scapy_net import own_addresses, vendor

        own = await asyncio.to_thread(own_addresses)

        expected = await self._expected()
        new = arp.learn(expected, packets)
        if new:
            await asyncio.to_thread(self.bindings.learn, new, site.site, self.clock())
            expected.update(new)
        sp = self.cfg.spoofing
        check = f"arp:{site.site}"
        inv = arp.inventory_findings(
            site.site, site.subnets, packets, self._known(), vendor, check, complete, own
        )
        spoof = arp.spoof_findings(
            packets,
            expected,
            site.site,
            f"arpspoof:{site.site}",
            sp.gratuitous_burst,
            sp.gratuitous_window,
            earlier or [],
        )
        facts = {"packets": len(packets), "devices": len(arp.bindings(packets))}
        return [
            RunResult(check, inv, complete, facts=facts),
            RunResult(f"arpspoof:{site.site}", spoof, complete=False),
        ]

    def _iface(self, site: SecuritySite) -> str:
        iface = site.interface or self.cfg.interface
        if not iface:
            raise ValueError(f"site {site.site}: no interface configured for ARP")
        return iface

    async def sweep(self, site: SecuritySite) -> list[RunResult]:
        from threenines.security import scapy_net

        try:
            packets = await scapy_net.sweep_async(
                self._iface(site), site.subnets, self.scope, self.cfg.rate, self.cfg.reply_timeout
            )
        except (OSError, ValueError) as exc:  # not root, interface gone, out of scope
            return [await self._done(RunResult(f"arp:{site.site}", [], False, str(exc)))]
        results = await self.analyse_arp(site, packets, complete=True)
        for r in results:
            await self.record(r)
        return results

    async def listen(
        self, site: SecuritySite, started: Callable[[], None] | None = None
    ) -> list[RunResult]:
        from threenines.security import scapy_net

        p = site.passive
        try:
            packets = await scapy_net.listen_async(
                self._iface(site), p.window, p.max_packets, started
            )
        except (OSError, ValueError) as exc:
            return [await self._done(RunResult(f"arp:{site.site}", [], False, str(exc)))]
        return await self.analyse_passive(site, packets)

    async def analyse_passive(
        self, site: SecuritySite, packets: list[arp.ArpPacket]
    ) -> list[RunResult]:
        """One passive window, with the previous window's recent gratuitous ARPs carried in."""
        earlier = self._garp.get(site.site, [])
        results = await self.analyse_arp(site, packets, complete=False, earlier=earlier)
        garps = [p for p in [*earlier, *packets] if p.gratuitous]
        if garps:
            last = max(p.ts for p in garps)
            window = self.cfg.spoofing.gratuitous_window
            self._garp[site.site] = [p for p in garps if p.ts > last - window]
        for r in results:
            await self.record(r)
        return results

    # -- exposure -------------------------------------------------------------------------

    def configured_allowed(self, host: str, scan: ScanTarget) -> set[int]:
        b = self.cfg.baselines
        if host in b.hosts:
            return set(b.hosts[host])
        return set(b.roles.get(scan.role, ())) if scan.role else set()

    async def scan(self, scan: ScanTarget) -> RunResult:
        hosts, ports = hosts_of(scan.hosts), list(scan.ports)
        check = f"exposure:{scan.name}"
        try:
            method, found = await exposure.scan(
                hosts,
                ports,
                self.scope,
                method=scan.method,
                rate=self.cfg.rate,
                timeout=self.cfg.reply_timeout,
                concurrency=self.cfg.concurrency,
                iface=scan.interface,
            )
        except (OSError, ValueError) as exc:
            return await self._done(RunResult(check, [], complete=False, error=str(exc)))
        out: list[Any] = []
        hidden: set[str] = set()
        for host in hosts:
            seen = found[host]
            allowed = await asyncio.to_thread(
                self.baselines.allowed, host, self.configured_allowed(host, scan)
            )
            drift = exposure.compare(host, ports, seen, allowed, check, scan.site)
            hidden |= exposure.unobserved(host, ports, seen)
            if seen.answered:  # baseline proposals only from what the host actually said
                await self._propose(host, scan, drift, set(seen.open | seen.closed))
            out += drift
        quiet = sorted(h for h in hosts if not found[h].answered)
        facts = {
            "method": method,
            "open": {h: sorted(r.open) for h, r in found.items() if r.open},
            "filtered": {h: len(ports) - len(r.open | r.closed) for h, r in found.items()},
            "unreachable": quiet,
        }
        error = f"{len(quiet)} host(s) did not answer: {quiet[:5]}" if quiet else None
        run = RunResult(check, out, error=error, facts=facts, unobserved=frozenset(hidden))
        return await self._done(run)

    async def _propose(
        self, host: str, scan: ScanTarget, drift: list[Any], scanned: set[int]
    ) -> None:
        now, keep = self.clock(), set()
        for f in drift:
            change = "add" if f.kind == "port_opened" else "remove"
            keep.add((f.evidence["port"], change))
            await asyncio.to_thread(
                self.baselines.propose, host, scan.role, f.evidence["port"], change, f.key, now
            )
        await asyncio.to_thread(self.baselines.withdraw, host, keep, scanned)

    async def _done(self, run: RunResult) -> RunResult:
        await self.record(run)
        return run

    # -- posture and trap counting --------------------------------------------------------

    async def posture(self, check: Any, timeout: float = 5.0) -> RunResult:
        module = POSTURE[check.type]
        try:
            run = await module.check(check, timeout=timeout, now=self.clock())
        except Exception as exc:  # a bug in one check must not stop the others
            log.exception("posture check %s failed", check.name)
            run = RunResult(f"posture:{check.name}", [], complete=False, error=f"internal: {exc}")
        return await self._done(run)

    async def snmp_auth(self) -> RunResult:
        a = self.cfg.auth_failures
        now = self.clock()
        counts = await asyncio.to_thread(
            snmp_auth.count_by_source, self.engine, now - a.window, now
        )
        return await self._done(
            RunResult(
                "snmp_auth",
                snmp_auth.findings(counts, a.threshold, a.window, "snmp_auth"),
                facts={"counts": counts},
            )
        )

    async def run_once(self, parts: tuple[str, ...] = PARTS) -> list[RunResult]:
        """One pass of the chosen parts; ARP sweeps are skipped without an interface."""
        out: list[RunResult] = []
        if "arp" in parts:
            for site in self.cfg.sites:
                if site.sweep and (site.interface or self.cfg.interface):
                    out += await self.sweep(site)
        if "exposure" in parts:
            for scan in self.cfg.scans:
                out.append(await self.scan(scan))
        if "posture" in parts:
            out += await asyncio.gather(*(self.posture(c) for c in self.cfg.posture))
        if "snmp_auth" in parts:
            out.append(await self.snmp_auth())
        return out

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Each part on its own interval, plus passive listening where enabled, until ``stop``."""
        c = self.cfg
        loops = [
            self._every(c.sweep_interval, ("arp",), stop),
            self._every(c.scan_interval, ("exposure",), stop),
            self._every(c.posture_interval, ("posture", "snmp_auth"), stop),
        ]
        loops += [self._listen_loop(s, stop) for s in c.sites if s.passive.enabled]
        loops.append(self._expire_loop(stop))
        await asyncio.gather(*loops)

    async def _expire_loop(self, stop: asyncio.Event) -> None:
        """Acceptances end at their time, announced within ``EXPIRY_TICK`` (reads show them
        open at once): not at the next scan of their producer."""
        while not stop.is_set():
            try:
                await asyncio.to_thread(self.store.expire, self.clock())
            except Exception:
                log.exception("security acceptance expiry failed")
            try:
                await asyncio.wait_for(stop.wait(), EXPIRY_TICK)
            except TimeoutError:
                pass

    async def _every(self, interval: float, parts: tuple[str, ...], stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.run_once(parts)
            except Exception:
                log.exception("security %s pass failed", "/".join(parts))
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                pass

    async def _listen_loop(self, site: SecuritySite, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.listen(site)
            except Exception:
                log.exception("passive ARP on %s failed", site.site)
                await asyncio.sleep(5)
