"""High availability (``threenines.core.ha``): takeover time and results lost across kill -9.

Real ``threenines run`` nodes on a PostgreSQL of the benchmark's own (initdb on a free loopback
port), lease 4 s, heartbeat 1 s:
- takeover of a *frozen* active node (SIGSTOP: a hung host or a cut network, the lease must run
  out) and of a *killed* one (kill -9 on the same host: its dead process is seen at the next
  beat), from the signal to a standby's ``/healthz`` saying "active"; median and max of 5 each;
- results lost when a node is killed with kill -9 during a database outage (``--outage``, 60 s
  by default): counted as ``--live`` prints them, against those stored after the restart.

    python -m bench.ha [--rounds 5] [--outage 60]
"""

from __future__ import annotations

import argparse
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa

from bench._ha_nodes import EXE, Node, active, free_port
from bench._postgres import PrivatePostgres, private_postgres
from bench._wait import until


def takeovers(pg_url: str, tmp: Path, rounds: int) -> dict[str, list[float]]:
    nodes = [Node(tmp, name, pg_url, free_port(), None) for name in ("node-a", "node-b")]
    out: dict[str, list[float]] = {"frozen (SIGSTOP)": [], "killed (kill -9)": []}
    try:
        for n in nodes:
            n.start()
        until("both nodes up", lambda: all(n.health() for n in nodes), limit=90)
        for i in range(rounds * 2):
            until("one active node", lambda: len(active(nodes)) == 1, limit=30)
            (lead,) = [n for n in nodes if n.role() == "active"]
            other = next(n for n in nodes if n is not lead)
            frozen = i % 2 == 0
            t0 = time.monotonic()
            lead.kill(signal.SIGSTOP if frozen else signal.SIGKILL)
            until("the standby active", _role(other, "active"), limit=30)
            out["frozen (SIGSTOP)" if frozen else "killed (kill -9)"].append(time.monotonic() - t0)
            if frozen:
                lead.kill(signal.SIGCONT)
            else:
                lead.start()
            until("the old node a standby", _role(lead, "standby"), limit=60)
    finally:
        for n in nodes:
            n.stop()
    return out


def _role(node: Node, role: str) -> Callable[[], bool]:
    return lambda: node.role() == role


def lost_across_kill(pg: PrivatePostgres, tmp: Path, outage: float) -> tuple[int, int]:
    node = Node(tmp, "node-c", pg.url, free_port(), None)
    proc = subprocess.Popen([EXE, "run", "--live", "-c", str(node.cfg)], stdout=subprocess.PIPE,
                            stderr=node.log.open("ab"))  # fmt: skip
    node.proc = proc
    try:
        until("node writing", lambda: (node.health() or {}).get("written", 0) > 5, limit=90)
        pg.stop()
        time.sleep(outage)
        killed = time.time()
        proc.kill()
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    counted = sum(" @node-c " in line for line in stdout.decode().splitlines())
    pg.start()
    node.start()
    try:
        until("the spool written", lambda: (node.health() or {}).get("spooled") == 0
              and (node.health() or {}).get("database") == "up", limit=120)  # fmt: skip
    finally:
        node.stop()
    engine = sa.create_engine(pg.url)
    with engine.connect() as conn:
        q = "select count(*) from results where vantage = 'node-c' and ts < :t"
        stored = int(conn.execute(sa.text(q), {"t": killed}).scalar_one())
    engine.dispose()
    return counted, stored


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ha", description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--outage", type=float, default=60.0)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d, private_postgres() as pg:
        tmp = Path(d)
        times = takeovers(pg.url, tmp, args.rounds)
        print("takeover (signal to a standby active), lease 4 s, heartbeat 1 s:")
        for what, ts in times.items():
            print(f"  {what:<18} median {statistics.median(ts):5.2f}s  max {max(ts):5.2f}s"
                  f"  (n={len(ts)})")  # fmt: skip
        counted, stored = lost_across_kill(pg, tmp, args.outage)
        lost = counted - stored
        print(f"kill -9 after {args.outage:g}s of database outage: {counted} results counted, "
              f"{stored} stored, {lost} lost")  # fmt: skip
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
