"""Child-process roles for ``bench.spine`` (run as ``python -m bench._spine_workers ROLE ...``).

Each role runs in its own process so the parent can measure its CPU and memory alone, and
prints one JSON line with its figures on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from threenines.app.config import Config
from threenines.core.metrics import CheckLabels, Metrics
from threenines.core.scheduler import Job, Scheduler


def _probe_kind(kind: str, url: str, port: int, ca: str = "") -> tuple[str, Any, Any]:
    """``kind`` "http" (falling back to tcp while probes/http.py does not exist), "http2"
    (https, HTTP/2 required, ``ca`` trusted) or "tcp"."""
    if kind == "http2":
        from threenines.probes import http

        cfg = {"type": "http", "name": "t", "url": url, "http2": True, "ca_file": ca}
        return "http2", http, http.Config.model_validate({**cfg, "valid_http_versions": ["HTTP/2"]})
    if kind == "http":
        try:
            from threenines.probes import http
        except ImportError:
            kind = "tcp"
        else:
            return "http", http, http.Config(type="http", name="t", url=url)
    from threenines.probes import tcp

    return "tcp", tcp, tcp.Config(type="tcp", name="t", host="127.0.0.1", port=port)


async def engine(
    kind: str, url: str, port: int, seconds: float, concurrency: int, ca: str = ""
) -> dict[str, Any]:
    """Closed loop through the real scheduler: ``concurrency`` checks, each run back to back."""
    kind, module, base = _probe_kind(kind, url, port, ca)
    jobs = []
    for i in range(concurrency):
        check = base.model_copy(update={"name": f"c{i}", "interval": 0.001, "retries": 0})
        labels = CheckLabels("bench", "dc1", check.name, "central", kind)
        jobs.append(Job(f"bench/c{i}", labels, check, module.probe, "target", 0.0))
    settings = Config().scheduler.model_copy(
        update={"max_concurrency": concurrency, "per_target": concurrency}
    )
    ok = 0

    def count(rec: Any, _job: Job) -> None:
        nonlocal ok
        ok += rec.result.ok

    sched = Scheduler(jobs, settings, vantage="central", on_result=[count], metrics=Metrics())
    proc = psutil.Process()
    cpu0, t0 = proc.cpu_times(), time.monotonic()
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(seconds)
    await sched.stop(grace=10)
    await task
    cpu1, elapsed = proc.cpu_times(), time.monotonic() - t0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {"kind": kind, "probes": sched.completed, "ok": ok, "seconds": elapsed, "cpu": cpu}


def _scale_config(n: int, targets: list[tuple[str, int]], db: Path) -> Config:
    checks = [
        {"name": f"c{i}", "type": "tcp", "host": h, "port": p, "interval": "60s", "timeout": "5s"}
        for i in range(n)
        for h, p in [targets[i % len(targets)]]
    ]
    services = [
        {"name": f"svc{j}", "site": "dc1", "checks": checks[j : j + 100]} for j in range(0, n, 100)
    ]
    return Config.model_validate(
        {
            "sites": [{"name": "dc1", "kind": "datacentre"}],
            "services": services,
            "storage": {"url": f"sqlite:///{db}", "spool": str(db.with_suffix(".spool"))},
            "server": {"listen": "127.0.0.1:0"},
        }
    )


async def scale(n: int, targets: list[tuple[str, int]], seconds: float) -> dict[str, Any]:
    """The whole service (scheduler, writer to SQLite, HTTP server) with ``n`` checks."""
    from threenines.core import service

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        cfg = _scale_config(n, targets, Path(tmp) / "scale.db")
        ctx = service.build_context(cfg)
        setup = time.monotonic() - t0
        sock = service.bind(cfg.server.listen)
        runner = asyncio.create_task(service.serve(ctx, sock, extensions=[]))
        await asyncio.sleep(seconds)
        ctx.stopping.set()
        await runner
        lags = sorted(ctx.scheduler.recent_lags)
        q = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else [0.0] * 99
        return {
            "checks": len(ctx.scheduler.jobs),
            "probes": ctx.scheduler.completed,
            "ok": ctx.writer.written,
            "dropped": ctx.writer.dropped,
            "lag_p50": q[49],
            "lag_p99": q[98],
            "lag_max": lags[-1] if lags else 0.0,
            "setup_s": setup,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "jitter_window_s": cfg.scheduler.jitter * 60,
        }


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["engine", "scale"])
    ap.add_argument("--kind", default="http")
    ap.add_argument("--url", default="")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--targets", default="")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--concurrency", type=int, default=20)
    ap.add_argument("--checks", type=int, default=10_000)
    ap.add_argument("--ca", default="")
    a = ap.parse_args(argv)
    if a.role == "engine":
        out = asyncio.run(engine(a.kind, a.url, a.port, a.seconds, a.concurrency, a.ca))
    else:
        targets = [(h, int(p)) for h, p in (t.split(":") for t in a.targets.split(","))]
        out = asyncio.run(scale(a.checks, targets, a.seconds))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
