"""The whole service at scale, and (on request) a probe-engine run beside blackbox_exporter.

    python -m bench.spine [--scale-seconds 90] [--checks 10000[,20000,...]]
                          [--parts scale[,http,http2,tcp]] [--seconds 20]

The fair probe comparison with blackbox_exporter (same rate, its own driver, a sweep of rates)
is ``bench.probes``; (a) below runs both at the same *concurrency*, so their rates differ and
it prints no ratio unless the two rates are within 10 % of each other.

(a) Both probe the same loopback HTTP target (HAProxy answering 200 from memory, so the target
    is never the bottleneck) for ``--seconds`` each, with the same concurrency. threenines runs
    its real scheduler in a child process; blackbox_exporter is driven through ``/probe`` by a
    load client in this process. CPU is each prober process's own user+system time (psutil),
    so the load client and the target are not counted.
    ``http2``: the same over HTTPS with HTTP/2 negotiated by ALPN (HAProxy ``alpn h2``), the
    threenines http probe with ``http2: true`` and blackbox's ``valid_http_versions: HTTP/2.0``.
(b) The whole service (scheduler, SQLite writer, HTTP server) with ``--checks`` tcp checks at a
    60 s interval against loopback listeners, for ``--scale-seconds`` after a warm-up: scheduler
    lag, CPU, RSS and the garbage collector's pauses. A comma-separated ``--checks`` runs each
    size in turn, each in a fresh process (so one size's heap does not weigh on the next).
    ``--nodes N`` (N > 1): the checks spread over N service processes, each running every N-th
    check from a vantage point of its own, all writing to one PostgreSQL database (a private
    server, initdb/pg_ctl on a free loopback port, removed at the end), side by side; the
    figures are the sum (probes, CPU, drops) or the worst (lag, RSS) of the N.
Everything listens on 127.0.0.1 only; every process is stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import psutil

BLACKBOX = "prometheus-blackbox-exporter"
CPU_GOAL = 0.5  # issue 14: CPU per probe at most half blackbox_exporter's, at the same concurrency
RSS_GOAL_MB = 600  # issue 17: 50,000 checks at 60 s on one node
SCALE_TARGETS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]


def _free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _wait_port(host: str, port: int, limit: float = 10.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{host}:{port} did not come up")


@contextmanager
def process(args: list[str]) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def haproxy_target(
    binds: list[tuple[str, int]], tmp: Path, tls_pem: Path | None = None
) -> Iterator[None]:
    """A loopback HTTP server answering ``200 ok`` from memory (HAProxy, no backend); with
    ``tls_pem``, HTTPS offering h2 and http/1.1 by ALPN."""
    tls = f" ssl crt {tls_pem} alpn h2,http/1.1" if tls_pem else ""
    lines = "\n".join(f"  bind {h}:{p}{tls}" for h, p in binds)
    cfg = tmp / "target.cfg"
    cfg.write_text(
        "global\n  maxconn 4000\ndefaults\n  mode http\n  timeout connect 5s\n"
        "  timeout client 10s\n  timeout server 10s\nfrontend target\n"
        f"{lines}\n  http-request return status 200 content-type text/plain string ok\n"
    )
    with process(["haproxy", "-db", "-f", str(cfg)]):
        for h, p in binds:
            _wait_port(h, p)
        yield


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return t.user + t.system


async def _drive_blackbox(
    port: int, module: str, target: str, seconds: float, conc: int
) -> tuple[int, int]:
    url = f"http://127.0.0.1:{port}/probe"
    params = {"module": module, "target": target}
    done = ok = 0
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(max_connections=conc, max_keepalive_connections=conc)
    async with httpx.AsyncClient(limits=limits, timeout=10) as client:

        async def worker() -> None:
            nonlocal done, ok
            while time.monotonic() < deadline:
                resp = await client.get(url, params=params)
                done += 1
                ok += "\nprobe_success 1" in resp.text

        await asyncio.gather(*(worker() for _ in range(conc)))
    return done, ok


def bench_blackbox(
    module: str, target: str, seconds: float, conc: int, tmp: Path
) -> dict[str, Any]:
    exe = shutil.which(BLACKBOX)
    if exe is None:
        raise RuntimeError(f"{BLACKBOX} is not installed (make debs)")
    cfg = tmp / "blackbox.yml"
    cfg.write_text(
        "modules:\n  http_2xx:\n    prober: http\n    timeout: 5s\n"
        "    http:\n      preferred_ip_protocol: ip4\n"
        "  tcp_connect:\n    prober: tcp\n    timeout: 5s\n"
        "    tcp:\n      preferred_ip_protocol: ip4\n"
        "  http_2xx_h2:\n    prober: http\n    timeout: 5s\n"
        "    http:\n      preferred_ip_protocol: ip4\n"
        '      valid_http_versions: ["HTTP/2.0"]\n'
        f"      tls_config:\n        ca_file: {tmp / 'ca.pem'}\n"
    )
    port = _free_port()
    args = [exe, f"--config.file={cfg}", f"--web.listen-address=127.0.0.1:{port}"]
    with process([*args, "--log.level=error"]) as proc:
        _wait_port("127.0.0.1", port)
        ps = psutil.Process(proc.pid)
        cpu0, t0 = _cpu(ps), time.monotonic()
        done, ok = asyncio.run(_drive_blackbox(port, module, target, seconds, conc))
        cpu, elapsed = _cpu(ps) - cpu0, time.monotonic() - t0
    return {"probes": done, "ok": ok, "seconds": elapsed, "cpu": cpu}


def _worker(role: str, *args: str, limit: float) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "bench._spine_workers", role, *args]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=limit, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{role} worker failed:\n{out.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def bench_engine(
    kind: str, url: str, port: int, seconds: float, conc: int, ca: str = ""
) -> dict[str, Any]:
    return _worker(
        "engine", f"--kind={kind}", f"--url={url}", f"--port={port}", f"--seconds={seconds}",
        f"--concurrency={conc}", f"--ca={ca}", limit=seconds + 60,
    )  # fmt: skip


def _tls_files(tmp: Path) -> Path:
    """A test CA (``tmp/ca.pem``) and HAProxy's certificate+key for 127.0.0.1; returns it."""
    import trustme

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp / "ca.pem"))
    pem = tmp / "target.pem"
    ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(str(pem))
    return pem


def bench_scale(checks: int, seconds: float, targets: list[tuple[str, int]]) -> dict[str, Any]:
    spec = ",".join(f"{h}:{p}" for h, p in targets)
    return _worker(
        "scale", f"--checks={checks}", f"--seconds={seconds}", f"--targets={spec}",
        limit=seconds + 600,
    )  # fmt: skip


def bench_nodes(
    checks: int, nodes: int, seconds: float, targets: list[tuple[str, int]]
) -> dict[str, Any]:
    """``checks`` over ``nodes`` service processes on one PostgreSQL database, side by side."""
    from bench._postgres import private_postgres
    from threenines.app.areas import COMPOSITION
    from threenines.core.db import make_engine

    spec = ",".join(f"{h}:{p}" for h, p in targets)
    with private_postgres() as pg:
        engine = make_engine(pg.url)
        COMPOSITION.migrate(engine)  # once, before the nodes start (they find it current)
        engine.dispose()
        cmds = [[sys.executable, "-m", "bench._spine_workers", "scale", f"--checks={checks}",
                 f"--seconds={seconds}", f"--targets={spec}", f"--part={k}/{nodes}",
                 f"--store={pg.url}"] for k in range(nodes)]  # fmt: skip
        procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for c in cmds]  # fmt: skip
        outs = []
        for proc in procs:
            try:
                out, err = proc.communicate(timeout=seconds + 900)
            except subprocess.TimeoutExpired:
                for q in procs:
                    q.kill()
                raise
            if proc.returncode != 0:
                raise RuntimeError(f"scale node failed:\n{err[-2000:]}")
            outs.append(json.loads(out.strip().splitlines()[-1]))
    summed = ("checks", "probes", "ok", "dropped", "cpu_cores", "gc_gen2", "gc_pause_total_ms")
    worse = ("lag_p50", "lag_p99", "lag_max", "rss_mb", "peak_rss_mb", "gc_pause_max_ms",
             "setup_s", "warmup_s")  # fmt: skip
    total = {k: sum(o[k] for o in outs) for k in summed}
    worst = {k: max(o[k] for o in outs) for k in worse}
    window = min(o["window_s"] for o in outs)
    return {**outs[0], **total, **worst, "window_s": window, "nodes": nodes,
            "probes_per_s": round(sum(o["probes_per_s"] for o in outs), 1),
            "cpu_ms_per_probe": round(1000 * sum(o["cpu_cores"] * o["window_s"] for o in outs)
                                      / max(total["probes"], 1), 3),
            "rss_each_mb": [o["rss_mb"] for o in outs]}  # fmt: skip


def _row(name: str, r: dict[str, Any]) -> tuple[str, float, float, str]:
    rate = r["probes"] / r["seconds"]
    cpu_ms = 1000 * r["cpu"] / max(r["probes"], 1)
    return name, rate, cpu_ms, f"{r['ok']}/{r['probes']} ok"


def report_engine(
    ours: dict[str, Any], theirs: dict[str, Any], module: str, seconds: float, conc: int
) -> None:
    a = _row(f"threenines ({ours['kind']} probe)", ours)
    b = _row(f"blackbox_exporter ({module})", theirs)
    print(f"\n(a) probe engine, loopback HAProxy target, {seconds:g}s each, concurrency {conc}")
    print(f"{'prober':<28}{'probes/s':>10}{'CPU ms/probe':>14}  result")
    for name, rate, cpu_ms, okay in (a, b):
        print(f"{name:<28}{rate:>10.0f}{cpu_ms:>14.3f}  {okay}")
    if abs(a[1] / b[1] - 1) > 0.1:  # CPU per probe depends on the rate: no fair ratio
        print("no ratio: the two ran at different rates; the same-rate comparison is bench.probes")
        return
    print(f"{'ratio threenines/blackbox':<28}{a[1] / b[1]:>10.2f}{a[2] / b[2]:>14.2f}")
    verdict = "met" if a[2] <= CPU_GOAL * b[2] else "NOT met"
    print(f"goal CPU/probe <= {CPU_GOAL:g}x blackbox_exporter's: {verdict}")


def report_scale(r: dict[str, Any], seconds: float) -> None:
    nodes = (
        f" over {r['nodes']} processes on one PostgreSQL (worst lag/RSS of the nodes, "
        f"RSS each {r['rss_each_mb']} MB)"
        if r.get("nodes", 1) > 1
        else ""
    )
    print(f"\n(b) scale: {r['checks']} tcp checks at 60s, whole service{nodes}; {r['window_s']:g}s "
          f"steady window after {r['warmup_s']:g}s of warm-up; load average "
          f"{' '.join(Path('/proc/loadavg').read_text().split()[:3])}")  # fmt: skip
    print(f"probes in the window {r['probes']} ({r['probes_per_s']:g}/s), written {r['ok']}, "
          f"dropped {r['dropped']}; config+build {r['setup_s']:.1f}s")  # fmt: skip
    print(f"scheduler lag p50 {r['lag_p50'] * 1000:.1f} ms, p99 {r['lag_p99'] * 1000:.1f} ms, "
          f"max {r['lag_max'] * 1000:.1f} ms  (goal p99 < 1000 ms: "
          f"{'met' if r['lag_p99'] < 1 else 'NOT met'})")  # fmt: skip
    print(f"CPU {r['cpu_cores']:.2f} cores, {r['cpu_ms_per_probe']:.3f} ms per probe; garbage "
          f"collector: {r['gc_gen2']} full collections, longest pause {r['gc_pause_max_ms']:g} "
          f"ms, {r['gc_pause_total_ms']:g} ms in all")  # fmt: skip
    goal = RSS_GOAL_MB
    print(f"RSS {r['rss_mb']:.0f} MB, peak {r['peak_rss_mb']:.0f} MB  (goal < {goal} MB: "
          f"{'met' if r['peak_rss_mb'] < goal else 'NOT met'})")  # fmt: skip


def _tcp(port: int) -> tuple[str, str]:
    return "tcp_connect", f"127.0.0.1:{port}"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.spine", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="per prober in (a)")
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--scale-seconds", type=float, default=90.0)
    ap.add_argument("--checks", default="10000", help="checks in the scale run; a,b,c: each")
    ap.add_argument("--parts", default="scale", help="which runs: scale, http, http2, tcp")
    ap.add_argument("--nodes", type=int, default=1, help="scale: processes on one PostgreSQL")
    a = ap.parse_args(argv)
    parts = set(a.parts.split(","))
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = _free_port()
        url = f"http://127.0.0.1:{port}/"
        with haproxy_target([("127.0.0.1", port)], tmp):
            if "http" in parts:
                ours = bench_engine("http", url, port, a.seconds, a.concurrency)
                module, target = ("http_2xx", url) if ours["kind"] == "http" else _tcp(port)
                theirs = bench_blackbox(module, target, a.seconds, a.concurrency, tmp)
                report_engine(ours, theirs, module, a.seconds, a.concurrency)
            if "tcp" in parts:  # the tcp pair too, for reference
                half = a.seconds / 2
                ours = bench_engine("tcp", url, port, half, a.concurrency)
                theirs = bench_blackbox(*_tcp(port), half, a.concurrency, tmp)
                report_engine(ours, theirs, "tcp_connect", half, a.concurrency)
        if "http2" in parts:  # HTTPS with HTTP/2 by ALPN, both sides required to use it
            tls_port = _free_port()
            with haproxy_target([("127.0.0.1", tls_port)], tmp, _tls_files(tmp)):
                url = f"https://127.0.0.1:{tls_port}/"
                ours = bench_engine(
                    "http2", url, tls_port, a.seconds, a.concurrency, str(tmp / "ca.pem")
                )
                theirs = bench_blackbox("http_2xx_h2", url, a.seconds, a.concurrency, tmp)
                report_engine(ours, theirs, "http_2xx_h2", a.seconds, a.concurrency)
        if "scale" not in parts:
            return
        targets = [(h, _free_port(h)) for h in SCALE_TARGETS]
        with haproxy_target(targets, tmp):
            for n in (int(c) for c in a.checks.split(",")):
                if a.nodes > 1:
                    report_scale(bench_nodes(n, a.nodes, a.scale_seconds, targets), a.scale_seconds)
                else:
                    report_scale(bench_scale(n, a.scale_seconds, targets), a.scale_seconds)


if __name__ == "__main__":
    main()
