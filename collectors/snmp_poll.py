"""SNMP poller: every configured device, every interval, through one shared SnmpEngine.

One poll of a device: GET the ``system`` scalars (no answer: the device is down, its uplinks
unknown), then each further profile's scalars (one GET) and columns (one multi-column GETBULK
walk), then each profile's pure ``interpret``. What comes out goes to the ``Sink``: results
(``device:<name>`` and ``device:<name>/if:<ifName>``, the same state intervals as probes),
events (source ``snmp_poll``) and readings (summarised for storage), and to ``SnmpMetrics``.

Contract: ``poll`` never raises for a failing device; ``run(stop)`` polls until ``stop`` is set,
without drift (slots are planned from a fixed start; a late poll skips missed slots rather than
bunching up), spreading devices over the interval and limiting concurrency.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from threenines.collectors.config import Device, SnmpConfig, poll_max_gap
from threenines.collectors.sink import Sink
from threenines.collectors.snmp_client import SnmpClient, SnmpError
from threenines.collectors.snmp_metrics import SnmpMetrics
from threenines.collectors.snmp_profiles import PROFILES, Context, Fetched, Outcome, Profile
from threenines.collectors.snmp_profiles.system import SYSTEM, device_down, did_restart
from threenines.collectors.store import Reading
from threenines.core.store import ResultRecord

log = logging.getLogger("threenines.collectors.snmp_poll")


@dataclass(slots=True)
class DeviceRuntime:
    device: Device
    interval: float
    timeout: float
    retries: int
    max_repetitions: int
    states: dict[str, Any] = field(default_factory=dict)
    polls: int = 0


class SnmpPoller:
    def __init__(
        self,
        cfg: SnmpConfig,
        sink: Sink,
        *,
        vantage: str,
        metrics: SnmpMetrics | None = None,
        client: SnmpClient | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.cfg = cfg
        self.sink = sink
        self.vantage = vantage
        self.metrics = metrics
        self.client = client or SnmpClient()
        self.clock = clock
        d = cfg.defaults
        self.devices = {
            dev.name: DeviceRuntime(
                dev,
                dev.interval or d.interval,
                dev.timeout or d.timeout,
                d.retries if dev.retries is None else dev.retries,
                dev.max_repetitions or d.max_repetitions,
            )
            for dev in cfg.devices
        }
        self._sem = asyncio.Semaphore(d.concurrency)

    async def _ensure(self, rt: DeviceRuntime) -> None:
        if not self.client.has_device(rt.device.name):
            dev = rt.device
            auth = self.cfg.auth_for(dev)
            await self.client.add_device(
                dev.name, dev.address, dev.port, auth, rt.timeout, rt.retries
            )

    async def fetch(self, rt: DeviceRuntime, profile: Profile) -> Fetched:
        name = rt.device.name
        values = await self.client.get(name, list(profile.scalars.values()))
        scalars = {key: values.get(oid) for key, oid in profile.scalars.items()}
        rows: dict[str, dict[str, Any]] = {}
        if profile.columns:
            walked = await self.client.walk(
                name, list(profile.columns.values()), rt.max_repetitions
            )
            for col, oid in profile.columns.items():
                for index, value in walked[oid].items():
                    rows.setdefault(index, {})[col] = value
        if self.metrics is not None:
            count = len(scalars) + sum(len(r) for r in rows.values())
            self.metrics.varbinds.labels(name, rt.device.site).inc(count)
        return Fetched(self.clock(), scalars, rows)

    async def poll(self, name: str) -> list[Outcome]:
        """Poll one device once and emit what it produced. Returns the outcomes (for tests)."""
        rt = self.devices[name]
        dev = rt.device
        ts, start = self.clock(), time.perf_counter()
        ctx = Context(
            dev.name,
            dev.site,
            ts,
            interval=rt.interval,
            uplinks=tuple(dev.uplinks),
            include=tuple(dev.interfaces) if dev.interfaces is not None else None,
        )
        try:
            await self._ensure(rt)
            fetched = await self.fetch(rt, SYSTEM)
        except SnmpError as exc:
            outcome = device_down(ctx, exc.code, str(exc), time.perf_counter() - start)
            self._emit(rt, ts, [outcome], time.perf_counter() - start, up=False, reason=exc.code)
            return [outcome]
        ctx = replace(ctx, restarted=did_restart(fetched, rt.states.get("system")))
        outcomes = [self._interpret(rt, SYSTEM, fetched, ctx)]
        for pname in dev.profiles[1:]:
            profile = PROFILES[pname]
            try:
                fetched = await self.fetch(rt, profile)
            except SnmpError as exc:
                log.warning("%s: profile %s failed: %s", dev.name, pname, exc)
                if self.metrics is not None:
                    self.metrics.poll_errors.labels(dev.name, dev.site, exc.code).inc()
                continue
            outcomes.append(self._interpret(rt, profile, fetched, ctx))
        rt.polls += 1
        self._emit(rt, ts, outcomes, time.perf_counter() - start, up=True)
        return outcomes

    def _interpret(self, rt: DeviceRuntime, profile: Profile, f: Fetched, ctx: Context) -> Outcome:
        try:
            outcome = profile.interpret(f, ctx, rt.states.get(profile.name))
        except Exception:  # a bug in a profile must not stop the poller
            log.exception("%s: profile %s failed to interpret", rt.device.name, profile.name)
            return Outcome(state=rt.states.get(profile.name))
        rt.states[profile.name] = outcome.state
        return outcome

    def _emit(
        self,
        rt: DeviceRuntime,
        ts: float,
        outcomes: list[Outcome],
        duration: float,
        *,
        up: bool,
        reason: str = "",
    ) -> None:
        dev = rt.device
        records = [
            ResultRecord(
                check_id,
                self.vantage,
                ts,
                replace(result, duration=duration),
                max_gap=poll_max_gap(rt.interval),
            )
            for o in outcomes
            for check_id, result in o.results
        ]
        readings = [
            Reading(ts, dev.name, dev.site, metric, subject, value)
            for o in outcomes
            for metric, subject, value in o.readings
        ]
        self.sink.results(records)
        self.sink.events([e for o in outcomes for e in o.events])
        self.sink.readings(readings)
        if self.metrics is not None:
            self.metrics.set_up(dev.name, dev.site, up)
            self.metrics.update(
                dev.name, dev.site, [(r.metric, r.subject, r.value) for r in readings]
            )
            self.metrics.poll_duration.labels(dev.name, dev.site).observe(duration)
            if not up:
                self.metrics.poll_errors.labels(dev.name, dev.site, reason).inc()

    async def _device_loop(self, rt: DeviceRuntime, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        # Spread devices over the interval, deterministically (same offset after a restart).
        offset = (zlib.crc32(rt.device.name.encode()) % 1000) / 1000 * rt.interval
        start, slot = loop.time() + offset, 0
        while not stop.is_set():
            delay = start + slot * rt.interval - loop.time()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            async with self._sem:
                try:
                    await self.poll(rt.device.name)
                except Exception:  # never lose the loop to a bug
                    log.exception("%s: poll failed", rt.device.name)
            slot = max(slot + 1, math.ceil((loop.time() - start) / rt.interval))

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every device until ``stop`` is set; then close the client's sockets."""
        try:
            async with asyncio.TaskGroup() as tg:
                for rt in self.devices.values():
                    tg.create_task(self._device_loop(rt, stop))
        finally:
            self.close()

    def close(self) -> None:
        self.client.close()
