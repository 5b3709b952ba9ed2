"""SNMP benchmark: interface polling vs net-snmp and snmp_exporter, and trap intake.

    python -m bench.snmp [--devices 40] [--seconds 8] [--interfaces 48] [--trap-seconds 8]

Polling: one snmpd answers ``--devices`` communities (one "device" each); as root it runs in a
network namespace with ``--interfaces`` veth links so each walk is switch-sized. Each poller
walks the interfaces columns of every device, round after round, for ``--seconds``:
threenines (``SnmpPoller``, interfaces profile; v2c through its lean BER codec, and the same
through pysnmp with ``--pysnmp``), net-snmp ``snmpbulkwalk`` (ifTable+ifXTable,
one process per table and device) and ``prometheus-snmp-exporter`` (the same 15 columns,
scraped over HTTP). CPU is the poller's own (this process, the children, the exporter's pid).
Traps: v2c traps sent from another process at 500/s and at 5x, received by ``TrapReceiver``
and stored by ``StoreSink`` in SQLite; counts what was stored, queued, dropped
(``--trap-seconds 0``: no trap run). The load average is printed before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import resource
import socket
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

from bench import _snmp_lab as lab
from threenines.app.db import make_engine, migrate
from threenines.collectors.config import SnmpConfig, Traps
from threenines.collectors.sink import MemorySink, StoreSink
from threenines.collectors.snmp_client import SnmpClient
from threenines.collectors.snmp_poll import SnmpPoller
from threenines.collectors.snmp_traps import TrapReceiver
from threenines.collectors.store import recent_events


async def bench_threenines(
    address: str, port: int, communities: list[str], seconds: float, fast: bool = True
):
    devices = [
        {"name": f"d{i}", "address": address, "port": port, "site": "bench",
         "auth": {"version": "v2c", "community": c}, "profiles": ["interfaces"]}
        for i, c in enumerate(communities)
    ]  # fmt: skip
    cfg = SnmpConfig.model_validate({"devices": devices, "defaults": {"timeout": 5, "retries": 1}})
    sink = MemorySink()
    poller = SnmpPoller(cfg, sink, vantage="bench", client=SnmpClient(fast=fast))
    names = [f"d{i}" for i in range(len(communities))]
    await asyncio.gather(*(poller.poll(name) for name in names))  # warm-up: engine, MIBs
    count = 0
    original = poller.client.walk

    async def counting_walk(*a, **kw):  # count every varbind the walks return
        nonlocal count
        out = await original(*a, **kw)
        count += sum(len(v) for v in out.values())
        return out

    poller.client.walk = counting_walk  # type: ignore[method-assign]
    cpu0, t0, rounds = time.process_time(), time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        await asyncio.gather(*(poller.poll(name) for name in names))
        rounds += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    count += rounds * len(devices) * 3  # the system GET of each poll
    poller.close()
    down = [r for r in sink.result_log if r.result.error]
    return count, wall, cpu, f"{rounds} rounds, {len(down)} failed polls"


def bench_netsnmp(address: str, port: int, communities: list[str], seconds: float):
    import subprocess

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    count, t0, rounds, failed = 0, time.perf_counter(), 0, 0
    while time.perf_counter() - t0 < seconds:
        for c in communities:
            for table in ("1.3.6.1.2.1.2.2", "1.3.6.1.2.1.31.1.1"):
                out = subprocess.run(
                    ["snmpbulkwalk", "-m", "", "-M", "/nonexistent", "-On", "-Cr25", "-v2c",
                     "-t", "5", "-r", "1", "-c", c, f"{address}:{port}", table],
                    capture_output=True, text=True,
                )  # fmt: skip
                count += out.stdout.count("\n")
                failed += out.returncode != 0
        rounds += 1
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return (
        count,
        time.perf_counter() - t0,
        cpu,
        f"{rounds} rounds, {failed} failed walks (all columns; a process per walk)",
    )


async def bench_exporter(address: str, port: int, communities: list[str], seconds: float):
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "snmp.yml"
        lab.exporter_config(conf, communities, 25)
        with lab.exporter(conf) as (http_port, pid):
            url = f"http://127.0.0.1:{http_port}/snmp"
            async with httpx.AsyncClient(timeout=30) as client:

                async def scrape(i: int) -> int:
                    params = {"target": f"{address}:{port}", "module": f"if_mib_{i}"}
                    text = (await client.get(url, params=params)).text
                    for line in text.splitlines():  # an error page has no such line: 0
                        if line.startswith("snmp_scrape_pdus_returned"):
                            return int(float(line.split()[-1]))
                    return 0

                await asyncio.gather(*(scrape(i) for i in range(len(communities))))
                cpu0, t0, count, rounds = lab.cpu_seconds(pid), time.perf_counter(), 0, 0
                while time.perf_counter() - t0 < seconds:
                    count += sum(
                        await asyncio.gather(*(scrape(i) for i in range(len(communities))))
                    )
                    rounds += 1
                return (
                    count,
                    time.perf_counter() - t0,
                    lab.cpu_seconds(pid) - cpu0,
                    f"{rounds} rounds",
                )


def _send_traps(address: tuple[str, int], rate: int, seconds: float) -> None:
    """Child process: v2c linkDown traps at ``rate``/s, paced in 10 ms slices."""
    packets = [lab.encode_trap("bench-traps", i + 1) for i in range(48)]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    start, sent, total = time.perf_counter(), 0, int(rate * seconds)
    while sent < total:
        due = min(total, int((time.perf_counter() - start) * rate))
        while sent < due:
            sock.sendto(packets[sent % 48], address)
            sent += 1
        time.sleep(0.01)


async def bench_traps(rate: int, seconds: float, db: Path, queue: int) -> dict[str, Any]:
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    sink = StoreSink(engine, flush_interval=0.5)
    rx = TrapReceiver(
        Traps.model_validate(
            {"listen": "127.0.0.1:0", "communities": ["bench-traps"], "queue_size": queue}
        ),
        sink,
    )
    address = await rx.start()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(rx.run(stop)), asyncio.create_task(sink.run(stop))]
    cpu0, t0 = time.process_time(), time.perf_counter()
    child = multiprocessing.get_context("fork").Process(
        target=_send_traps, args=(address, rate, seconds)
    )
    child.start()
    await asyncio.to_thread(child.join)
    sent = int(rate * seconds)
    for _ in range(6000):  # drain what was queued (bounded: 10 minutes)
        if not (rx.queue or sink.pending):
            break
        await asyncio.sleep(0.1)
    drain = time.perf_counter() - t0 - seconds
    drops = lab_drops(rx)
    before = accepted = rx.stats.get("accepted", 0)  # is the receiver still up? one more trap
    _send_traps(address, 100, 0.01)
    for _ in range(50):
        if rx.stats.get("accepted", 0) > before:
            break
        await asyncio.sleep(0.1)
    alive = rx.stats.get("accepted", 0) > before
    stop.set()
    await asyncio.gather(*tasks)
    stored = len(recent_events(engine, limit=10_000_000)) - alive
    engine.dispose()
    cpu_ms = (time.process_time() - cpu0) * 1000 / max(stored, 1)
    return {
        "rate": rate,
        "sent": sent,
        "accepted": accepted,
        "stored": stored,
        "queue_full": rx.stats.get("queue_full", 0),
        "kernel_drops": drops,
        "drain_s": drain,
        "cpu_ms_per_trap": cpu_ms,
        "queue": queue,
        "alive": "yes" if alive else "NO",
    }


def lab_drops(rx: TrapReceiver) -> int:
    from threenines.collectors.snmp_traps import socket_drops

    return socket_drops(rx._inode) or 0


def _loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def table(rows: list[tuple[str, int, float, float, str]]) -> None:
    print(f"{'poller':<26}{'varbinds':>10}{'vb/s':>10}{'CPU us/vb':>11}{'vb/CPU-s':>11}  notes")
    base = rows[0][3] / rows[0][1]
    for name, count, wall, cpu, note in rows:
        per = cpu / max(count, 1)
        ratio = f" (x{per / base:.2f} threenines' CPU/vb)" if name != rows[0][0] else ""
        figures = f"{count:>10}{count / wall:>10.0f}{per * 1e6:>11.1f}{1 / per:>11.0f}"
        print(f"{name:<26}{figures}  {note}{ratio}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.snmp")
    ap.add_argument("--devices", type=int, default=10)
    ap.add_argument("--interfaces", type=int, default=48)
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--trap-seconds", type=float, default=8.0)
    ap.add_argument("--pysnmp", action="store_true", help="also threenines through pysnmp")
    args = ap.parse_args(argv)
    print(f"load average: {_loadavg()}")
    communities = [f"bench-{i}" for i in range(args.devices)]
    netns = os.geteuid() == 0 and args.interfaces > 0
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        address = stack.enter_context(lab.namespace(args.interfaces)) if netns else "127.0.0.1"
        port = stack.enter_context(lab.snmpd(Path(tmp), communities, address, netns))
        where = (
            f"{args.interfaces} veth interfaces in a netns" if netns else "loopback host ifTable"
        )
        print(f"polling {args.devices} devices ({where}), {args.seconds:g}s per poller")
        job = (address, port, communities, args.seconds)
        rows = [("threenines (v2c lean BER)", *asyncio.run(bench_threenines(*job)))]
        if args.pysnmp:
            rows.append(("threenines (pysnmp 7)", *asyncio.run(bench_threenines(*job, False))))
        rows.append(("net-snmp snmpbulkwalk", *bench_netsnmp(*job)))
        try:
            rows.append(("prometheus-snmp-exporter", *asyncio.run(bench_exporter(*job))))
        except RuntimeError as exc:
            print(f"snmp_exporter skipped: {exc}")
        table(rows)
    print(f"load average: {_loadavg()}")
    if args.trap_seconds <= 0:
        return 0
    print(f"\ntraps: v2c linkDown, {args.trap_seconds:g}s per rate, stored in SQLite")
    keys: tuple[str, ...] = ("rate", "queue", "sent", "accepted", "stored", "queue_full")
    keys = (*keys, "kernel_drops", "drain_s", "cpu_ms_per_trap", "alive")
    print("".join(f"{k:>13}" for k in keys))
    # 500/s is the goal; 5x with the default queue (20,000) and with a small one (2,000), to
    # show what happens when a burst outlasts the queue: loss counted, receiver still up.
    for rate, queue in ((500, 20_000), (2500, 20_000), (2500, 2_000)):
        with tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(bench_traps(rate, args.trap_seconds, Path(tmp) / "traps.db", queue))
        print("".join(f"{r[k]:>13.2f}" if isinstance(r[k], float) else f"{r[k]:>13}" for k in keys))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
