"""Probe CPU beside blackbox_exporter, measured fairly: same target, same rate, same measure.

    python -m bench.probes [--quick] [--kinds http,tcp] [--rates 40,250,1000,max]
                           [--window 15] [--warmup 3] [--no-service] [--json]

For each kind (HTTP/1.1 GET with a fresh connection each, TCP connect) and each rate, both
probers probe the same loopback target, one after the other:

- **threenines**: its real scheduler and probe in a child process (``--prober``), N checks at
  a 1 s interval for N/s, spread evenly over the second; ``max``: 20 checks back to back.
- **blackbox_exporter** (Debian's), driven through ``/probe`` by ``h2load`` (nghttp2, its own
  process, C clients each paced at R/C requests per second by ``--rps``; ``max``: 20 clients
  unpaced), so the driver is never the bottleneck and its CPU is not blackbox's.

The target is HAProxy answering ``200 ok`` from memory; its stats socket counts the
connections it accepted, which is how many probes were done (each probe is a fresh
connection on both sides: the count proves it). CPU is the prober process's own user+system
time from ``/proc/PID/stat``, over a steady window after a warm-up; the driver, the target and
this process are not counted. The ratio is threenines' CPU per probe over blackbox's, at the
same rate.

The whole service (``--no-service`` skips it): ``threenines run`` (scheduler, probes, SQLite
writer, state intervals, API server) with 250 HTTP checks at 1 s, its CPU per probe over the
window beside blackbox's probe alone at 250/s.

``--quick`` (under 3 minutes): 5 s windows, 2 s warm-up. Everything listens on 127.0.0.1 and
stops at the end; every run is bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.spine import BLACKBOX, _free_port, _wait_port

GOALS = {"http": 0.5, "tcp": 0.5, "service": 1.0}  # threenines/blackbox CPU per probe, at most
SATURATION_CONC = 20  # checks back to back (threenines) = h2load clients (blackbox) at "max"
SERVICE_RATE = 250  # the whole service: this many checks at 1 s
CLK_TCK = os.sysconf("SC_CLK_TCK")
EXE = str(Path(sys.executable).parent / "threenines")


def _loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int) -> float:
    """User + system CPU of process ``pid`` (all its threads), from /proc/PID/stat."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


# -- the target ---------------------------------------------------------------------------


class Target:
    """HAProxy on 127.0.0.1 answering 200 from memory; ``connections()`` from its stats."""

    def __init__(self, tmp: Path):
        self.port = _free_port()
        self.sock = tmp / "target.sock"
        self.cfg = tmp / "target.cfg"
        self.cfg.write_text(
            f"global\n  maxconn 4000\n  stats socket {self.sock} mode 600 level user\n"
            "defaults\n  mode http\n  timeout connect 5s\n  timeout client 10s\n"
            f"  timeout server 10s\nfrontend target\n  bind 127.0.0.1:{self.port}\n"
            "  http-request return status 200 content-type text/plain string ok\n"
        )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def connections(self) -> int:
        """Connections the frontend accepted so far (``conn_tot`` of ``show stat``)."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(str(self.sock))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        head = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(head, line.split(","), strict=False))
            if row.get("pxname") == "target" and row.get("svname") == "FRONTEND":
                return int(row["conn_tot"])
        raise RuntimeError("HAProxy's stats have no 'target' frontend")


@contextmanager
def running(args: list[str], **kw: Any) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


# -- one measurement ----------------------------------------------------------------------


@dataclass
class Figure:
    prober: str
    kind: str
    rate: str  # asked: "40", "250", "max"
    probes_per_s: float
    cpu_ms_per_probe: float
    connections: int
    window_s: float


def measure(
    prober: str, kind: str, rate: str, pid: int, target: Target, warmup: float, window: float
) -> Figure:
    """CPU of ``pid`` and connections at the target over ``window`` after ``warmup``."""
    time.sleep(warmup)
    cpu0, conn0, t0 = cpu_seconds(pid), target.connections(), time.monotonic()
    time.sleep(window)
    cpu1, conn1, t1 = cpu_seconds(pid), target.connections(), time.monotonic()
    n, elapsed = conn1 - conn0, t1 - t0
    per = 1000 * (cpu1 - cpu0) / n if n else float("nan")
    return Figure(prober, kind, rate, round(n / elapsed, 1), round(per, 4), n, round(elapsed, 2))


def threenines_prober(kind: str, rate: str, target: Target, warmup: float, window: float) -> Figure:
    cmd = [sys.executable, "-m", "bench.probes", "--prober", f"{kind}:{target.port}:{_n(rate)}"]
    with running(cmd) as proc:
        fig = measure("threenines", kind, rate, proc.pid, target, warmup, window)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    if proc.returncode != 0:
        raise RuntimeError(f"threenines prober failed: {err.decode()[-1500:]}")
    done = json.loads(out.decode().strip().splitlines()[-1])
    if done["ok"] != done["completed"]:
        raise RuntimeError(f"threenines prober: {done['ok']} of {done['completed']} probes ok")
    return fig


def _n(rate: str) -> int:
    return 0 if rate == "max" else int(rate)


def _clients(rate: int) -> int:
    """h2load clients for ``rate`` (each paced at rate/clients per second, whole numbers)."""
    for c in (20, 10, 8, 5, 4, 2):
        if rate % c == 0 and rate // c >= 2:
            return c
    return 1


def blackbox_prober(
    kind: str, rate: str, target: Target, warmup: float, window: float, tmp: Path
) -> Figure:
    exe, driver = shutil.which(BLACKBOX), shutil.which("h2load")
    if exe is None or driver is None:
        raise RuntimeError(f"{BLACKBOX} and h2load (nghttp2-client) are needed: make debs")
    cfg = tmp / "blackbox.yml"
    cfg.write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
        "    http:\n      preferred_ip_protocol: ip4\n"
        "  tcp_connect:\n    prober: tcp\n    timeout: 5s\n"
        "    tcp:\n      preferred_ip_protocol: ip4\n"
    )
    port = _free_port()
    module, probed = (
        ("http_2xx", target.url) if kind == "http" else ("tcp_connect", f"127.0.0.1:{target.port}")
    )
    url = f"http://127.0.0.1:{port}/probe?module={module}&target={probed}"
    args = [exe, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"]
    with running([*args, "--log.level=error"]) as bb:
        _wait_port("127.0.0.1", port)
        check = httpx.get(url, timeout=10).text  # the module works before it is timed
        if "\nprobe_success 1" not in check:
            raise RuntimeError(f"blackbox_exporter's {module} fails on the target:\n{check}")
        n = _n(rate)
        clients = _clients(n) if n else SATURATION_CONC
        pace = ["--rps", str(n // clients)] if n else []
        cmd = [driver, "--h1", "-c", str(clients), *pace, "-D", str(int(warmup + window + 2)), url]
        with running(cmd) as load:
            fig = measure("blackbox_exporter", kind, rate, bb.pid, target, warmup, window)
            out, _ = load.communicate(timeout=warmup + window + 30)
        text = out.decode()
        if "0 failed, 0 errored" not in text.replace("\n", " "):
            status = [line for line in text.splitlines() if line.startswith("requests:")]
            raise RuntimeError(f"h2load saw failures: {status}")
    return fig


def whole_service(target: Target, warmup: float, window: float, tmp: Path) -> Figure:
    """``threenines run`` with SERVICE_RATE HTTP checks at 1 s: its CPU per probe."""
    api = _free_port()
    checks = "\n".join(
        f"      - {{name: c{i}, type: http, url: '{target.url}', interval: 1s, retries: 0}}"
        for i in range(SERVICE_RATE)
    )
    cfg = tmp / "service.yaml"
    cfg.write_text(
        f"storage: {{url: 'sqlite:///{tmp}/service.db', spool: '{tmp}/spool.db'}}\n"
        f"server: {{listen: '127.0.0.1:{api}'}}\n"
        "sites: [{name: dc1, kind: datacentre}]\n"
        f"services:\n  - name: web\n    site: dc1\n    combine: any\n    checks:\n{checks}\n"
    )
    with running([EXE, "run", "-c", str(cfg)], cwd=tmp) as proc:
        _wait_port("127.0.0.1", api, limit=60)
        # the first runs are spread over the interval: the window starts after two of them
        return measure("threenines run", "service", str(SERVICE_RATE), proc.pid, target,
                       warmup + 2.0, window)  # fmt: skip


# -- the child: threenines' scheduler and probe --------------------------------------------


async def _prober(kind: str, port: int, rate: int) -> dict[str, int]:
    from threenines.app.config import Config
    from threenines.core.metrics import CheckLabels, Metrics
    from threenines.core.scheduler import Job, Scheduler
    from threenines.probes import http, tcp

    module: Any
    base: Any
    if kind == "tcp":
        module, base = tcp, tcp.Config(type="tcp", name="t", host="127.0.0.1", port=port)
    else:
        module, base = http, http.from_target(f"http://127.0.0.1:{port}/")
    n = rate or SATURATION_CONC
    interval = 1.0 if rate else 0.001
    jobs = []
    for i in range(n):
        check = base.model_copy(update={"name": f"c{i}", "interval": interval, "retries": 0})
        labels = CheckLabels("bench", "dc1", check.name, "central", kind)
        jobs.append(Job(f"bench/c{i}", labels, check, module.probe, f"t{i}", i / n * interval))
    settings = Config().scheduler.model_copy(update={"max_concurrency": n, "per_target": n})
    ok = 0

    def count(rec: Any, _job: Job) -> None:
        nonlocal ok
        ok += rec.result.ok

    sched = Scheduler(jobs, settings, vantage="central", on_result=[count], metrics=Metrics())
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(sched.run())
    await asyncio.wait_for(stop.wait(), 600)  # bounded: the parent stops it long before
    await sched.stop(grace=10)
    await task
    return {"completed": sched.completed, "ok": ok}


# -- the report ---------------------------------------------------------------------------


def report(figures: list[Figure], started: str, load0: str, load1: str) -> None:
    print(f"\nbench.probes, {started}, load average {load0} at start, {load1} at end")
    print(f"{'kind':<8}{'rate':>6}  {'threenines':>22}  {'blackbox_exporter':>22}  ratio  goal")
    print(f"{'':<8}{'asked':>6}  {'probes/s  CPU ms/probe':>22}  {'probes/s  CPU ms/probe':>22}")
    pairs: dict[tuple[str, str], dict[str, Figure]] = {}
    for f in figures:
        pairs.setdefault((f.kind, f.rate), {})[f.prober] = f
    bb_at = {(f.kind, f.rate): f for f in figures if f.prober == "blackbox_exporter"}
    for (kind, rate), by in pairs.items():
        ours = by.get("threenines") or by.get("threenines run")
        theirs = by.get("blackbox_exporter") or bb_at.get(("http", rate))
        if ours is None or theirs is None:
            continue
        ratio = ours.cpu_ms_per_probe / theirs.cpu_ms_per_probe
        goal = GOALS[kind]
        verdict = "met" if ratio <= goal else "NOT met"
        label = "service" if kind == "service" else kind
        print(
            f"{label:<8}{rate:>6}  {ours.probes_per_s:>8.0f}  {ours.cpu_ms_per_probe:>12.3f}  "
            f"{theirs.probes_per_s:>8.0f}  {theirs.cpu_ms_per_probe:>12.3f}  {ratio:5.2f}  "
            f"<= {goal:g}: {verdict}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.probes", description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="5 s windows, 2 s warm-up (< 3 min)")
    ap.add_argument("--kinds", default="http,tcp")
    ap.add_argument("--rates", default="40,250,1000,max")
    ap.add_argument("--window", type=float, default=15.0, help="seconds measured per run")
    ap.add_argument("--warmup", type=float, default=3.0)
    ap.add_argument("--no-service", action="store_true", help="skip the whole service run")
    ap.add_argument("--json", action="store_true", help="one JSON line per figure as well")
    ap.add_argument("--prober", default="", help=argparse.SUPPRESS)  # the child: KIND:PORT:RATE
    a = ap.parse_args(argv)
    if a.prober:
        kind, port, rate = a.prober.split(":")
        print(json.dumps(asyncio.run(_prober(kind, int(port), int(rate)))), flush=True)
        return 0
    window, warmup = (5.0, 2.0) if a.quick else (a.window, a.warmup)
    started = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load0 = _loadavg()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        target = Target(tmp)
        with running(["haproxy", "-db", "-f", str(target.cfg)]):
            _wait_port("127.0.0.1", target.port)
            for kind in a.kinds.split(","):
                for rate in a.rates.split(","):
                    figures.append(threenines_prober(kind, rate, target, warmup, window))
                    figures.append(blackbox_prober(kind, rate, target, warmup, window, tmp))
                    if a.json:
                        for f in figures[-2:]:
                            print(json.dumps(asdict(f)), flush=True)
            if not a.no_service:
                if not any(f.kind == "http" and f.rate == str(SERVICE_RATE) for f in figures):
                    figures.append(blackbox_prober("http", str(SERVICE_RATE), target, warmup,
                                                   window, tmp))  # fmt: skip
                figures.append(whole_service(target, warmup, window, tmp))
                if a.json:
                    print(json.dumps(asdict(figures[-1])), flush=True)
    report(figures, started, load0, _loadavg())
    return 0


if __name__ == "__main__":
    sys.exit(main())
