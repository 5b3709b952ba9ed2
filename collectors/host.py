"""Host health (psutil): a check kind ``host`` with thresholds, and host metrics on /metrics.

This is how threenines notices its own host (or an agent's host) is unwell: CPU, memory, swap,
disk space, load per CPU, and named processes that must be running. As a check, thresholds
make the result degraded or down; as metrics, ``HostCollector`` reads everything at scrape
time (CPU, memory, disk space and I/O, network interfaces, watched processes).

Contract (as for every probe): ``probe`` returns a ProbeResult for every outcome, never raises
for an unhealthy host; psutil runs in a thread so the event loop never stalls.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, model_validator

from threenines.core.config.base import CheckBase, StrictModel
from threenines.core.results import ProbeResult, Status

# psutil and prometheus_client are imported where they are used: this module is in the probe
# registry, so every configuration load (every CLI command) would otherwise pay for them.
if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry


class Threshold(StrictModel):
    """Percent thresholds: above ``degraded`` the host is degraded, above ``down`` it is down."""

    degraded: float = Field(ge=0)
    down: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _order(self) -> Threshold:
        if self.down is not None and self.down < self.degraded:
            raise ValueError("down must not be lower than degraded")
        return self


class DiskCheck(StrictModel):
    path: str = "/"
    used_percent: Threshold = Field(default_factory=lambda: Threshold(degraded=85, down=95))


class ProcessCheck(StrictModel):
    name: str = Field(min_length=1, description="Process name (or a command-line substring)")
    match: Literal["name", "cmdline"] = "name"
    min_count: int = Field(1, ge=1)


class Config(CheckBase):
    type: Literal["host"]
    cpu_percent: Threshold | None = Field(default_factory=lambda: Threshold(degraded=90))
    memory_percent: Threshold | None = Field(
        default_factory=lambda: Threshold(degraded=90, down=98)
    )
    swap_percent: Threshold | None = None
    load_per_cpu: Threshold | None = Field(
        None, description="1-minute load average divided by CPUs (e.g. degraded: 2)"
    )
    disks: list[DiskCheck] = Field(default_factory=lambda: [DiskCheck()])
    processes: list[ProcessCheck] = Field(default_factory=list)
    sample: float = Field(0.5, gt=0, le=10, description="Seconds to measure CPU over")

    def target(self) -> str:
        return "localhost"


def from_target(target: str, name: str = "adhoc") -> Config:
    """``threenines check localhost --type host``; ``target`` may list processes: ``sshd,cron``."""
    names = [p for p in target.split(",") if p and p not in ("localhost", "127.0.0.1")]
    return Config(type="host", name=name, processes=[ProcessCheck(name=p) for p in names])


def _level(value: float, th: Threshold | None) -> Status:
    if th is None:
        return Status.UP
    if th.down is not None and value > th.down:
        return Status.DOWN
    return Status.DEGRADED if value > th.degraded else Status.UP


def count_processes(check: ProcessCheck, procs: Iterable[Any]) -> int:
    n = 0
    for proc in procs:
        info = proc.info
        if check.match == "name":
            cmd0 = os.path.basename((info.get("cmdline") or [""])[0] or "")
            n += check.name in (info.get("name"), cmd0)
        else:
            n += check.name in " ".join(info.get("cmdline") or [])
    return n


def measure(cfg: Config) -> dict[str, Any]:
    """Blocking: read everything the check needs (run in a thread)."""
    import psutil

    facts: dict[str, Any] = {
        "cpu_percent": psutil.cpu_percent(interval=cfg.sample),
        "memory_percent": psutil.virtual_memory().percent,
        "swap_percent": psutil.swap_memory().percent,
        "load_per_cpu": os.getloadavg()[0] / (psutil.cpu_count() or 1),
        "disks": {},
        "processes": {},
    }
    for disk in cfg.disks:
        try:
            facts["disks"][disk.path] = psutil.disk_usage(disk.path).percent
        except OSError as exc:
            facts["disks"][disk.path] = f"error: {exc.strerror or exc}"
    if cfg.processes:
        procs = list(psutil.process_iter(["name", "cmdline"]))
        for check in cfg.processes:
            facts["processes"][check.name] = count_processes(check, procs)
    return facts


def evaluate(cfg: Config, facts: dict[str, Any], duration: float) -> ProbeResult:
    """Pure: the result for measured ``facts`` against the configured thresholds."""
    problems: list[tuple[Status, str, str]] = []
    for key in ("cpu_percent", "memory_percent", "swap_percent", "load_per_cpu"):
        status = _level(facts[key], getattr(cfg, key))
        if status != Status.UP:
            problems.append((status, "threshold", f"{key} {facts[key]:.1f}"))
    for disk in cfg.disks:
        used = facts["disks"].get(disk.path)
        if isinstance(used, str):
            problems.append((Status.DOWN, "disk", f"disk {disk.path}: {used}"))
        elif used is not None and (status := _level(used, disk.used_percent)) != Status.UP:
            problems.append((status, "threshold", f"disk {disk.path} {used:.1f}% used"))
    for check in cfg.processes:
        running = facts["processes"].get(check.name, 0)
        if running < check.min_count:
            problems.append(
                (Status.DOWN, "process_missing", f"process {check.name!r}: {running} running")
            )
    details = {k: v for k, v in facts.items()}
    if not problems:
        return ProbeResult.up(duration, "host healthy", phases={"total": duration}, details=details)
    worst = Status.DOWN if any(p[0] == Status.DOWN for p in problems) else Status.DEGRADED
    first = next(p for p in problems if p[0] == worst)
    reason = "; ".join(p[2] for p in problems)
    return ProbeResult.make(worst, duration, first[1], reason, {"total": duration}, details)


async def probe(cfg: Config, *, timeout: float) -> ProbeResult:
    start = time.perf_counter()
    try:
        async with asyncio.timeout(timeout):
            facts = await asyncio.to_thread(measure, cfg)
    except TimeoutError:
        return ProbeResult.down(time.perf_counter() - start, "timeout", "host check timed out")
    except Exception as exc:  # psutil failing is reported, never raised
        return ProbeResult.down(time.perf_counter() - start, "internal", f"psutil: {exc}")
    return evaluate(cfg, facts, time.perf_counter() - start)


class HostCollector:
    """Host metrics read at scrape time (a prometheus_client ``Collector``, which is a
    protocol). ``processes``: names to report as running or not."""

    def __init__(self, processes: Iterable[ProcessCheck] = ()):
        import psutil

        self.processes = list(processes)
        psutil.cpu_percent(interval=None)  # prime: the first reading is since this call

    def collect(self) -> Iterator[Any]:
        import psutil
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        yield GaugeMetricFamily(
            "threenines_host_cpu_utilisation_ratio",
            "CPU use since the last scrape (0 to 1)",
            value=psutil.cpu_percent() / 100,
        )
        cpu = CounterMetricFamily(
            "threenines_host_cpu_seconds", "CPU time by mode", labels=["mode"]
        )
        for mode, secs in psutil.cpu_times()._asdict().items():
            cpu.add_metric([mode], secs)
        yield cpu
        load = GaugeMetricFamily("threenines_host_load_average", "Load average", labels=["minutes"])
        for minutes, value in zip(("1", "5", "15"), os.getloadavg(), strict=True):
            load.add_metric([minutes], value)
        yield load
        mem = GaugeMetricFamily("threenines_host_memory_bytes", "Memory", labels=["kind"])
        vm, sw = psutil.virtual_memory(), psutil.swap_memory()
        for kind, value in (("total", vm.total), ("available", vm.available), ("used", vm.used)):
            mem.add_metric([kind], value)
        mem.add_metric(["swap_total"], sw.total)
        mem.add_metric(["swap_used"], sw.used)
        yield mem
        yield from self._disks()
        yield from self._network()
        if self.processes:
            procs = list(psutil.process_iter(["name", "cmdline"]))
            running = GaugeMetricFamily(
                "threenines_host_process_running", "Matching processes", labels=["name"]
            )
            for check in self.processes:
                running.add_metric([check.name], count_processes(check, procs))
            yield running

    def _disks(self) -> Iterator[Any]:
        import psutil
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        space = GaugeMetricFamily(
            "threenines_host_disk_bytes", "Filesystem space", labels=["mount", "kind"]
        )
        seen: set[str] = set()
        for part in psutil.disk_partitions(all=False):
            if part.device in seen:
                continue
            seen.add(part.device)
            try:
                usage = psutil.disk_usage(part.mountpoint)
            except OSError:
                continue
            for kind in ("total", "used", "free"):
                space.add_metric([part.mountpoint, kind], getattr(usage, kind))
        yield space
        io = CounterMetricFamily(
            "threenines_host_disk_io_bytes", "Disk I/O", labels=["device", "direction"]
        )
        for dev, c in (psutil.disk_io_counters(perdisk=True) or {}).items():
            io.add_metric([dev, "read"], c.read_bytes)
            io.add_metric([dev, "write"], c.write_bytes)
        yield io

    def _network(self) -> Iterator[Any]:
        import psutil
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        traffic = CounterMetricFamily(
            "threenines_host_network_bytes", "Network traffic", labels=["interface", "direction"]
        )
        errors = CounterMetricFamily(
            "threenines_host_network_errors",
            "Network errors and drops",
            labels=["interface", "kind"],
        )
        for nic, c in psutil.net_io_counters(pernic=True).items():
            traffic.add_metric([nic, "in"], c.bytes_recv)
            traffic.add_metric([nic, "out"], c.bytes_sent)
            for kind in ("errin", "errout", "dropin", "dropout"):
                errors.add_metric([nic, kind], getattr(c, kind))
        yield traffic
        yield errors
        up = GaugeMetricFamily(
            "threenines_host_network_up", "Interface is up", labels=["interface"]
        )
        for nic, st in psutil.net_if_stats().items():
            up.add_metric([nic], 1.0 if st.isup else 0.0)
        yield up


def register_host_metrics(
    registry: CollectorRegistry, processes: Iterable[ProcessCheck] = ()
) -> HostCollector:
    collector = HostCollector(processes)
    registry.register(collector)
    return collector
