"""Alert storm: N checks behind one WAN link fail in the same second.

Measures the time from the confirmed flips reaching the alerts service (``on_flips``) to the
single grouped notification arriving at a local json:// receiver, and how many notifications
are sent. Goal: under 10 s after confirmation (group_wait included), a handful of
notifications. Bounded: one storm, at most 60 s.

    python -m bench.alerts [--checks 3000] [--group-wait 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from threenines.alerts.service import AlertService
from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.core.results import Status
from threenines.core.store import StateChange


def _receiver() -> tuple[ThreadingHTTPServer, list[tuple[float, dict[str, Any]]]]:
    got: list[tuple[float, dict[str, Any]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            got.append((time.perf_counter(), json.loads(body)))
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def _config(tmp: Path, port: int, checks: int, group_wait: float) -> str:
    services = "\n".join(
        f"  - {{name: s{i:04d}, site: branch, checks: [{{name: c, type: tcp, host: 127.0.0.1, "
        f"port: 9}}]}}"
        for i in range(checks)
    )
    return f"""
storage: {{url: "sqlite:///{tmp}/bench.db"}}
sites: [{{name: dc, kind: datacentre}}, {{name: branch, depends_on: [wan-branch]}}]
services:
  - {{name: wan-branch, site: branch, criticality: critical,
     checks: [{{name: c, type: tcp, host: 127.0.0.1, port: 9}}]}}
{services}
alerts:
  receivers: [{{name: hook, url: "json://127.0.0.1:{port}/hook"}}]
  routes: [{{name: ops, receivers: [hook], group_wait: {group_wait}s, group_interval: 5m}}]
"""


async def storm(checks: int, group_wait: float) -> dict[str, float]:
    server, got = _receiver()
    with tempfile.TemporaryDirectory() as d:
        cfg = parse_config(_config(Path(d), server.server_address[1], checks, group_wait))
        engine = make_engine(cfg.storage.url)
        migrate(engine)
        svc = AlertService(cfg, engine, tick=0.2)
        await svc.start()
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        now = time.time()
        names = ["wan-branch", *(f"s{i:04d}" for i in range(checks))]
        flips = [
            StateChange(
                f"{n}/c", "central", now, Status.UP, Status.DOWN, "connect_timeout", "no answer"
            )
            for n in names
        ]
        t0 = time.perf_counter()
        await svc.on_flips(flips)
        t_policy = time.perf_counter() - t0
        deadline = time.perf_counter() + 60
        while not got and time.perf_counter() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        first = got[0][0] - t0 if got else float("nan")
        await asyncio.sleep(min(3.0, group_wait + 1))  # anything else that would follow
        stop.set()
        await task
        engine.dispose()
    server.shutdown()
    server.server_close()
    size = len(got[0][1]["message"]) if got else 0
    return {
        "checks": checks,
        "group_wait_s": group_wait,
        "ingest_s": t_policy,
        "delivered_s": first,
        "notifications": len(got),
        "message_bytes": size,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checks", type=int, default=3000)
    ap.add_argument("--group-wait", type=float, default=2.0)
    args = ap.parse_args(argv)
    r = asyncio.run(storm(args.checks, args.group_wait))
    print(f"{'checks failing behind one WAN link':<44} {r['checks']:>10}")
    print(f"{'group_wait (s)':<44} {r['group_wait_s']:>10.1f}")
    print(f"{'on_flips: compose + policy + DB write (s)':<44} {r['ingest_s']:>10.3f}")
    print(f"{'confirmation -> delivered at receiver (s)':<44} {r['delivered_s']:>10.3f}")
    print(
        f"{'   of which processing (s, minus group_wait)':<44} "
        f"{r['delivered_s'] - r['group_wait_s']:>10.3f}"
    )
    print(f"{'notifications sent (goal: a handful)':<44} {r['notifications']:>10}")
    print(f"{'grouped message size (bytes)':<44} {r['message_bytes']:>10}")
    print(f"{'goal < 10 s':<44} {'met' if r['delivered_s'] < 10 else 'MISSED':>10}")


if __name__ == "__main__":
    main()
