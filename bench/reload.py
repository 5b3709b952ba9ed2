"""The gap a config change leaves in a check's results: a reload (SIGHUP) against a restart.

    python -m bench.reload [--checks 200] [--interval 2] [--rounds 3]

The issue's measurement, repeated: a real ``threenines run`` on SQLite probes a TCP listener
on 127.0.0.1 with ``--checks`` checks every ``--interval`` seconds. Each round changes the
config (one check changed, one added, one removed) and applies it, first by SIGHUP (what
``threenines reload --pid-file`` and ``systemctl reload`` send; the time until ``/healthz``
reports the outcome is printed too), then by a restart (SIGTERM, wait, start again), as an
operator did before. For every check left unchanged, the longest silence between two of its
results that spans the change is taken; the figure is the largest over those checks, and a
silence of one interval means no run was missed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from functools import partial
from pathlib import Path

import httpx

from bench._wait import until

SCRIPT = Path(sys.executable).with_name("threenines")


def _listener() -> tuple[socket.socket, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)

    def serve() -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    return sock, int(sock.getsockname()[1])


def _config(tmp: Path, listen: int, port: int, names: list[str], interval: float) -> str:
    lines = [
        f"storage: {{url: 'sqlite:///{tmp}/b.db', flush_interval: 100ms, spool: '{tmp}/sp.db'}}",
        f"server: {{listen: '127.0.0.1:{listen}'}}",
        "sites: [{name: dc1, kind: datacentre}]",
        "services:",
        "  - name: web",
        "    site: dc1",
        "    checks:",
    ]
    for n in names:
        every = interval * 2 if n == "changed" else interval
        lines.append(f"      - {{name: {n}, type: tcp, host: 127.0.0.1, port: {port}, "
                     f"interval: {every}s, timeout: 1s, retries: 0}}")  # fmt: skip
    return "\n".join(lines) + "\n"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(cfg: Path, pid_file: Path, log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(SCRIPT), "run", "-c", str(cfg), "--pid-file", str(pid_file)],
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def _gap(db: Path, names: list[str], at: float) -> float:
    """The longest silence spanning ``at`` among ``names``' results."""
    worst = 0.0
    with sqlite3.connect(db) as conn:
        for n in names:
            before = conn.execute("SELECT max(ts) FROM results WHERE check_id = ? AND ts <= ?",
                                  (f"web/{n}", at)).fetchone()[0]  # fmt: skip
            after = conn.execute("SELECT min(ts) FROM results WHERE check_id = ? AND ts > ?",
                                 (f"web/{n}", at)).fetchone()[0]  # fmt: skip
            if before is not None and after is not None:
                worst = max(worst, after - before)
    return worst


def _reloads(url: str) -> int:
    return int(httpx.get(f"{url}/healthz", timeout=5).json()["config"]["reloads"])


def _more(url: str, than: int) -> bool:
    return _reloads(url) > than


def _results(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(db) as conn:
            return int(conn.execute("SELECT count(DISTINCT check_id) FROM results").fetchone()[0])
    except sqlite3.OperationalError:  # not migrated yet
        return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.reload", description=__doc__)
    ap.add_argument("--checks", type=int, default=200)
    ap.add_argument("--interval", type=float, default=2.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    sock, port = _listener()
    kept = [f"k{i}" for i in range(args.checks - 2)]
    reload_gaps, apply_times, restart_gaps = [], [], []
    with tempfile.TemporaryDirectory(prefix="bench-reload-") as d:
        tmp = Path(d)
        cfg, db, pid_file, log = tmp / "c.yaml", tmp / "b.db", tmp / "run.pid", tmp / "run.log"
        listen = _free_port()
        url = f"http://127.0.0.1:{listen}"
        shapes = ([*kept, "changed", "gone"], [*kept, "changed", "new"])
        cfg.write_text(_config(tmp, listen, port, shapes[0], args.interval))
        proc = _start(cfg, pid_file, log)
        try:
            until("every check's first result", lambda: _results(db) >= args.checks, limit=120)
            for r in range(args.rounds):
                time.sleep(args.interval * 2)
                cfg.write_text(_config(tmp, listen, port, shapes[(r + 1) % 2], args.interval))
                before = _reloads(url)
                at, t0 = time.time(), time.monotonic()
                os.kill(int(pid_file.read_text()), signal.SIGHUP)
                until("the reload's outcome", partial(_more, url, before), every=0.01)
                apply_times.append(time.monotonic() - t0)
                time.sleep(args.interval * 3)
                reload_gaps.append(_gap(db, kept, at))
            for r in range(args.rounds):
                cfg.write_text(_config(tmp, listen, port, shapes[r % 2], args.interval))
                at = time.time()
                _stop(proc)
                proc = _start(cfg, pid_file, log)
                until("the restarted service", partial(_gap, db, kept, at), limit=120)
                time.sleep(args.interval * 3)
                restart_gaps.append(_gap(db, kept, at))
        finally:
            _stop(proc)
            sock.close()
    print(f"{args.checks} checks every {args.interval:g} s, {args.rounds} round(s) each")
    print(f"reload  (SIGHUP): longest silence of an unchanged check {max(reload_gaps):.2f} s "
          f"(median {statistics.median(reload_gaps):.2f} s); SIGHUP to outcome median "
          f"{statistics.median(apply_times) * 1000:.0f} ms")  # fmt: skip
    print(f"restart (SIGTERM + run): longest silence {max(restart_gaps):.2f} s "
          f"(median {statistics.median(restart_gaps):.2f} s)")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
