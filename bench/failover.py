"""Failover benchmarks: on loopback (the playbook's switch) and in the lab (detection and RTO).

Loopback: two HTTP backends ("dc-main", "dc-mirror") and HAProxy with a runtime API socket on
127.0.0.1, then, N times: the orchestrator's playbook run (ansible-runner, failover.yml) while a
client polls the front door every 5 ms, measuring decision -> first response from the mirror and
the whole run; then fails back. The floor is the same switch sent directly to the runtime API.

Lab (root; skipped otherwise): the lab estate, a real ``threenines run`` and an agent per site,
config/lab.yaml's plan with 5 s probes (confirmed after 5 s, evaluated every second). Several
``dc-cut`` DR drills: fault -> confirmed down (detection) and fault -> every user journey green
through the mirror after the switch (RTO), medians. Then a bounded soak with dc-main's portal
flapping (stopped 1 s every 15 s) and 30 % loss on one site's link: false failovers are counted
(the cooldown is 0 s, so it cannot hide one). Goals: detection < 15 s, RTO < 30 s, no false
failover.

    python -m bench.failover [--runs 5] [--drills 3] [--soak 150] [--no-lab]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from threenines.failover.config import PlaybookRun
from threenines.failover.runner import run_playbook

PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"


def _backend(name: str) -> ThreadingHTTPServer:
    body = name.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _admin(sock: Path, line: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(sock))
        s.sendall(line.encode() + b"\n")
        return b"".join(iter(lambda: s.recv(65536), b"")).decode()


def _served_by(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
        return str(r.read().decode())


def _until_mirror(port: int, start: float, limit: float = 60) -> float | None:
    while time.monotonic() - start < limit:
        try:
            if _served_by(port) == "dc-mirror":
                return time.monotonic() - start
        except OSError:
            pass
        time.sleep(0.005)
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="failover benchmarks (loopback and lab)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--drills", type=int, default=3)
    parser.add_argument("--soak", type=float, default=150.0, help="seconds")
    parser.add_argument("--no-lab", action="store_true")
    args = parser.parse_known_args(argv)[0]
    if shutil.which("haproxy") is None:
        print("haproxy is not installed: skipped")
        return 0
    loopback(max(1, min(args.runs, 20)))  # bounded
    if args.no_lab:
        return 0
    from bench import _failover_drills  # the lab's imports only when the lab part runs

    return _failover_drills.main(max(1, min(args.drills, 10)), max(10.0, min(args.soak, 900)))


def loopback(runs: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="tn-bench-failover-"))
    main_b, mirror_b = _backend("dc-main"), _backend("dc-mirror")
    port, sock = _free_port(), tmp / "haproxy.sock"
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(
        f"global\n    stats socket {sock} mode 600 level admin\ndefaults\n    mode http\n"
        "    timeout connect 2s\n    timeout client 10s\n    timeout server 10s\n"
        f"frontend fe\n    bind 127.0.0.1:{port}\n    default_backend main\nbackend main\n"
        f"    server dc-main 127.0.0.1:{main_b.server_address[1]}\n"
        f"    server dc-mirror 127.0.0.1:{mirror_b.server_address[1]} disabled\n"
    )
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stderr=subprocess.DEVNULL)
    try:
        while not sock.exists():
            time.sleep(0.02)
        figures = _measure(runs, tmp, port, sock)
    finally:
        proc.terminate()
        proc.wait(5)
        main_b.shutdown()
        mirror_b.shutdown()
        shutil.rmtree(tmp, ignore_errors=True)
    _print(figures, runs)


def _measure(runs: int, tmp: Path, port: int, sock: Path) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"served": [], "run": [], "noop": [], "floor": []}
    extra = {"haproxy_switch_socket": str(sock)}
    spec = {
        k: PlaybookRun(path=f"{k}.yml", inventory="inventory/local.yml")
        for k in ("failover", "failback")
    }
    for i in range(runs):
        start = time.monotonic()
        served: list[float | None] = []
        poller = threading.Thread(
            target=lambda s=served, t0=start: s.append(_until_mirror(port, t0))  # type: ignore[misc]
        )
        poller.start()
        r = run_playbook(
            spec["failover"],
            project_dir=PLAYBOOKS,
            data_dir=tmp / "runs",
            ident=f"b{i}",
            extravars=extra,
        )
        out["run"].append(time.monotonic() - start)
        poller.join()
        if not r.ok or served[0] is None:
            raise SystemExit(f"failover run {i} failed: {r.error}")
        out["served"].append(served[0])
        t = time.monotonic()
        run_playbook(
            spec["failover"],
            project_dir=PLAYBOOKS,
            data_dir=tmp / "runs",
            ident=f"n{i}",
            extravars=extra,
        )
        out["noop"].append(time.monotonic() - t)
        run_playbook(
            spec["failback"],
            project_dir=PLAYBOOKS,
            data_dir=tmp / "runs",
            ident=f"f{i}",
            extravars=extra,
        )
        t = time.monotonic()
        _admin(sock, "set server main/dc-mirror state ready")
        _admin(sock, "set server main/dc-main state maint")
        out["floor"].append(_until_mirror(port, t) or 0.0)
        _admin(sock, "set server main/dc-main state ready")
        _admin(sock, "set server main/dc-mirror state maint")
    return out


def _print(f: dict[str, list[float]], runs: int) -> None:
    med = {k: statistics.median(v) for k, v in f.items()}
    print(f"failover on loopback, real HAProxy, median of {runs} runs (python {sys.version[:4]})")
    print(f"{'measure':58} {'median':>9} {'max':>9}")
    rows = [
        ("decision -> users served by the mirror (failover.yml)", "served"),
        ("whole failover.yml run (ansible-runner, 3 plays)", "run"),
        ("idempotent re-run (no change)", "noop"),
        ("floor: the same switch sent to the runtime API directly", "floor"),
    ]
    for label, key in rows:
        print(f"{label:58} {med[key]:8.3f}s {max(f[key]):8.3f}s")
    if med["floor"] > 0:
        print(f"ansible overhead vs the direct runtime API: x{med['served'] / med['floor']:.0f}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
