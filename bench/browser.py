"""Browser journeys: how many a core runs per minute, and the memory they take.

    python -m bench.browser [--journeys 8] [--concurrency 2]

A loopback portal (a login form, a page rendered by JavaScript) on 127.0.0.1; the journey logs
in and waits for the rendered text, as tests/probes/test_probe_browser.py does. CPU is this
process's children (each journey's worker, its Playwright driver and Chromium, all reaped),
so journeys per minute per core = journeys / (CPU seconds / 60). Memory is the peak of the
summed PSS of every process under this one (shared pages split between the processes that
map them), sampled every 0.25 s.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import psutil

from threenines.core.results import Status
from threenines.probes import browser

PAGES = {
    "/login": "<h1>Portal</h1><form method=post action=/login><input id=user name=user>"
    "<button id=go>Sign in</button></form>",
    "/app": "<h1>Portal</h1><div id=main>Loading</div><script>setTimeout(() => "
    "document.getElementById('main').textContent = 'Welcome, resident', 50)</script>",
}


class _Portal(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _send(self, code: int, body: str, **hdr: str) -> None:
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        for k, v in hdr.items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        self._send(200 if page else 404, page or "not found")

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self._send(303, "", Location="/app")


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _tree_pss() -> int:
    total = 0
    for proc in psutil.Process().children(recursive=True):
        try:
            total += proc.memory_full_info().pss  # shared pages split between their users
        except psutil.Error:
            continue
    return total


async def _run(base: str, journeys: int, concurrency: int) -> dict[str, Any]:
    steps = [{"goto": "/login"}, {"fill": {"selector": "#user", "value": "alice"}},
             {"click": "#go"}, {"expect_text": "Welcome, resident"}]  # fmt: skip
    cfg = browser.Config.model_validate(
        {"type": "browser", "name": "bench", "base_url": base, "steps": steps}
    )
    browser.MAX_BROWSERS = concurrency
    peak = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.25):
            peak = max(peak, _tree_pss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    cpu0, t0 = _children_cpu(), time.monotonic()
    results = await asyncio.gather(*(browser.probe(cfg, timeout=120) for _ in range(journeys)))
    elapsed, cpu = time.monotonic() - t0, _children_cpu() - cpu0
    stop.set()
    sampler.join(2)
    ok = sum(r.status is Status.UP for r in results)
    launches = [r.details.get("browser_launch") or 0.0 for r in results]
    return {
        "journeys": journeys,
        "ok": ok,
        "errors": sorted({r.error for r in results if r.error}),
        "seconds": elapsed,
        "cpu": cpu,
        "peak_pss_mb": peak / 2**20,
        "journey_ms": 1000 * sum(r.duration for r in results) / journeys,
        "launch_s": sum(launches) / journeys,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.browser", description=__doc__.split("\n")[0])
    ap.add_argument("--journeys", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=2)
    a = ap.parse_args(argv)
    if not browser.CHROMIUM.exists():
        raise SystemExit(f"{browser.CHROMIUM} is not installed (make debs)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Portal)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        r = asyncio.run(
            _run(f"http://127.0.0.1:{server.server_address[1]}", a.journeys, a.concurrency)
        )
    finally:
        server.shutdown()
        server.server_close()
    per_core = r["journeys"] / (r["cpu"] / 60) if r["cpu"] else 0.0
    print(f"\nbrowser journeys: {r['journeys']} (4 steps each), {a.concurrency} at once: "
          f"{r['ok']} up {r['errors'] or ''}")  # fmt: skip
    print(f"wall {r['seconds']:.1f}s, CPU {r['cpu']:.1f}s: {per_core:.1f} journeys per minute "
          f"per core; journey (steps) {r['journey_ms']:.0f} ms, "
          f"browser start {r['launch_s']:.2f}s")  # fmt: skip
    print(f"peak PSS of the journeys' process trees: {r['peak_pss_mb']:.0f} MB "
          f"({a.concurrency} at once)")  # fmt: skip


if __name__ == "__main__":
    main()
