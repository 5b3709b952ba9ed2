"""Child-process roles for ``bench.spine`` (run as ``python -m bench._spine_workers ROLE ...``).

Each role runs in its own process so the parent can measure its CPU and memory alone, and
prints one JSON line with its figures on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
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


def _scale_config(n: int, targets: list[tuple[str, int]], db: Path,
                  part: tuple[int, int] = (0, 1), url: str = "") -> Any:  # fmt: skip
    """The composed config model (``threenines.app.config.Config``, a value, so ``Any``).
    ``part`` (k, of): this process runs every ``of``-th check from the ``k``-th, from vantage
    point ``node-k``; ``url``: the store (default: SQLite in ``db``)."""
    k, of = part
    checks = [
        {"name": f"c{i}", "type": "tcp", "host": h, "port": p, "interval": "60s", "timeout": "5s"}
        for i in range(k, n, of)
        for h, p in [targets[i % len(targets)]]
    ]
    services = [
        {"name": f"svc{j}", "site": "dc1", "checks": checks[j : j + 100]} for j in range(0, n, 100)
    ]
    return Config.model_validate(
        {
            "sites": [{"name": "dc1", "kind": "datacentre"}],
            "services": services,
            "storage": {"url": url or f"sqlite:///{db}", "spool": str(db.with_suffix(".spool"))},
            "server": {"listen": "127.0.0.1:0", **({"vantage": f"node-{k}"} if of > 1 else {})},
        }
    )


async def scale(n: int, targets: list[tuple[str, int]], seconds: float,
                part: tuple[int, int] = (0, 1), url: str = "") -> dict[str, Any]:  # fmt: skip
    """The whole service (scheduler, writer to SQLite, HTTP server) with ``n`` checks at 60 s:
    a warm-up while the first runs spread over the jitter window (and one more interval's
    worth of seconds up to 10 s), then ``seconds`` of steady state in which lag, CPU, probes
    and drops are measured."""
    from threenines.app import service
    from threenines.core.service import bind

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        cfg = _scale_config(n, targets, Path(tmp) / "scale.db", part, url)
        ctx = service.build_context(cfg)
        setup = time.monotonic() - t0
        sock = bind(cfg.server.listen)
        runner = asyncio.create_task(service.serve(ctx, sock, extensions=[]))
        warmup = cfg.scheduler.jitter * 60 + 10
        await asyncio.sleep(warmup)
        proc = psutil.Process()
        cpu0, done0, written0 = proc.cpu_times(), ctx.scheduler.completed, ctx.writer.written
        dropped0, lags0, t1 = ctx.writer.dropped, len(ctx.scheduler.recent_lags), time.monotonic()
        ctx.scheduler.recent_lags.clear()
        pauses = _gc_pauses()
        await asyncio.sleep(seconds)
        gc.callbacks.remove(pauses.note)
        cpu1, elapsed = proc.cpu_times(), time.monotonic() - t1
        lags = sorted(ctx.scheduler.recent_lags)
        done, written = ctx.scheduler.completed - done0, ctx.writer.written - written0
        dropped = ctx.writer.dropped - dropped0
        rss = proc.memory_info().rss / 2**20
        ctx.stopping.set()
        await runner
        q = statistics.quantiles(lags, n=100, method="inclusive") if len(lags) > 1 else [0.0] * 99
        cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
        return {
            "checks": len(ctx.scheduler.jobs),
            "window_s": round(elapsed, 1),
            "warmup_s": warmup,
            "probes": done,
            "probes_per_s": round(done / elapsed, 1),
            "ok": written,
            "dropped": dropped,
            "lag_p50": q[49],
            "lag_p99": q[98],
            "lag_max": lags[-1] if lags else 0.0,
            "cpu_cores": round(cpu / elapsed, 3),
            "cpu_ms_per_probe": round(1000 * cpu / max(done, 1), 3),
            "setup_s": setup,
            "rss_mb": round(rss, 1),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "lags_before_window": lags0,
            "gc_pause_max_ms": round(1000 * max(pauses.longest.values(), default=0.0), 1),
            "gc_pause_total_ms": round(1000 * pauses.total, 1),
            "gc_gen2": pauses.gen2,
        }


class _Pauses:
    """The garbage collector's pauses, per generation (``gc.callbacks``)."""

    def __init__(self) -> None:
        self.longest: dict[int, float] = {}
        self.total, self.gen2, self._t = 0.0, 0, 0.0

    def note(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t = time.perf_counter()
            return
        took, gen = time.perf_counter() - self._t, info["generation"]
        self.total += took
        self.gen2 += gen == 2
        self.longest[gen] = max(self.longest.get(gen, 0.0), took)


def _gc_pauses() -> _Pauses:
    pauses = _Pauses()
    gc.callbacks.append(pauses.note)
    return pauses


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
    ap.add_argument("--part", default="0/1", help="K/N: every N-th check from the K-th")
    ap.add_argument("--store", default="", help="the store's URL (default: SQLite, private)")
    a = ap.parse_args(argv)
    if a.role == "engine":
        out = asyncio.run(engine(a.kind, a.url, a.port, a.seconds, a.concurrency, a.ca))
    else:
        targets = [(h, int(p)) for h, p in (t.split(":") for t in a.targets.split(","))]
        k, of = (int(x) for x in a.part.split("/"))
        out = asyncio.run(scale(a.checks, targets, a.seconds, (k, of), a.store))
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
