"""CPU per probe of the http and tcp probes through the real scheduler, paced or flat out,
optionally under cProfile: the before/after tool for probe speed work (not a peer comparison;
``bench.probes`` is that, at the same rates).

    python -m bench._profile_probes [--kind http|tcp|https] [--rate 40] [--seconds 10]
                                    [--profile out.prof]

``--rate N``: N checks at a 1 s interval (the scheduler paces them); ``--rate 0``: 20 checks
back to back (saturation). The target is a loopback HAProxy answering 200 from memory
(``bench.spine.haproxy_target``); CPU is this process's own user+system time, so HAProxy is
not counted. Everything listens on 127.0.0.1 and stops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.spine import _free_port, _tls_files, haproxy_target
from threenines.app.config import Config
from threenines.core.metrics import CheckLabels, Metrics
from threenines.core.scheduler import Job, Scheduler


def _cpu() -> tuple[float, float]:
    t = os.times()
    return t.user, t.system


def _check(kind: str, port: int, ca: str) -> tuple[Any, Any]:
    if kind == "tcp":
        from threenines.probes import tcp

        return tcp, tcp.Config(type="tcp", name="t", host="127.0.0.1", port=port)
    from threenines.probes import http

    scheme = "https" if kind == "https" else "http"
    extra = {"ca_file": ca} if ca else {}
    url = f"{scheme}://127.0.0.1:{port}/"
    return http, http.Config.model_validate({"type": "http", "name": "t", "url": url, **extra})


async def run(kind: str, port: int, rate: int, seconds: float, ca: str) -> dict[str, Any]:
    module, base = _check(kind, port, ca)
    n = rate or 20
    interval = 1.0 if rate else 0.001
    jobs = []
    for i in range(n):
        check = base.model_copy(update={"name": f"c{i}", "interval": interval, "retries": 0})
        labels = CheckLabels("bench", "dc1", check.name, "central", kind)
        offset = (i / n) * interval  # evenly spread over the second, as jitter would
        jobs.append(Job(f"bench/c{i}", labels, check, module.probe, f"t{i}", offset))
    settings = Config().scheduler.model_copy(update={"max_concurrency": n, "per_target": n})
    ok = 0

    def count(rec: Any, _job: Job) -> None:
        nonlocal ok
        ok += rec.result.ok

    sched = Scheduler(jobs, settings, vantage="central", on_result=[count], metrics=Metrics())
    task = asyncio.create_task(sched.run())
    await asyncio.sleep(min(2.0, seconds / 4))  # warm-up: first runs spread, imports done
    done0, cpu0, t0 = sched.completed, _cpu(), time.monotonic()
    await asyncio.sleep(seconds)
    (user1, sys1), elapsed = _cpu(), time.monotonic() - t0
    done, user, system = sched.completed - done0, user1 - cpu0[0], sys1 - cpu0[1]
    await sched.stop(grace=10)
    await task
    return {
        "kind": kind,
        "rate_asked": rate or "max",
        "probes_per_s": round(done / elapsed, 1),
        "cpu_ms_per_probe": round(1000 * (user + system) / max(done, 1), 4),
        "user_ms": round(1000 * user / max(done, 1), 4),
        "sys_ms": round(1000 * system / max(done, 1), 4),
        "ok": f"{ok}/{sched.completed}",
    }


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m bench._profile_probes")
    ap.add_argument("--kind", choices=["http", "https", "tcp"], default="http")
    ap.add_argument("--rate", type=int, default=40, help="checks at 1 s; 0: flat out")
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--profile", default="", help="write a cProfile of the window here")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = _free_port()
        pem = _tls_files(tmp) if a.kind == "https" else None
        ca = str(tmp / "ca.pem") if pem else ""
        with haproxy_target([("127.0.0.1", port)], tmp, pem):
            prof = cProfile.Profile() if a.profile else None
            if prof is not None:
                prof.enable()
            out = asyncio.run(run(a.kind, port, a.rate, a.seconds, ca))
            out["loadavg"] = Path("/proc/loadavg").read_text().split()[:3]
            if prof is not None:
                prof.disable()
                prof.dump_stats(a.profile)
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
