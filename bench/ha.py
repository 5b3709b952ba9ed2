"""High availability (``threenines.core.ha``): takeover time and results lost across kill -9.

Real ``threenines run`` nodes on a PostgreSQL of the benchmark's own (initdb on a free loopback
port), lease 4 s, heartbeat 1 s:
- takeover of a *frozen* active node (SIGSTOP: a hung host or a cut network, the lease must run
  out) and of a *killed* one (kill -9 on the same host: its dead process is seen at the next
  beat), from the signal to a standby's ``/healthz`` saying "active"; median and max of 5 each;
- results lost when a node is killed with kill -9 during a database outage (``--outage``, 60 s
  by default): counted as ``--live`` prints them, against those stored after the restart.

    python -m bench.ha [--rounds 5] [--outage 60]
    python -m bench.ha [--lab-only] [--no-lab] [--lab-rounds 3]

As root (the lab's namespaces; skipped otherwise, or with ``--no-lab``): the RTO of a dc-cut
of dc-main with the *active node inside the cut* (``bench._ha_lab``: a node in each data centre
on the lab's replicated store, lease 6 s, heartbeat 1 s, 1 s probes, confirm 3 s): the mirror
node promotes the store's standby, takes the lease and fails the portal over. Each round on a
fresh lab (a promoted standby is not made a standby again); median and max of the rounds
(3 by default) for takeover, detection and RTO. Issue 12's goal: takeover within 15 s.
"""

from __future__ import annotations

import argparse
import os
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


def lab_cuts(rounds: int) -> dict[str, list[float]]:
    from bench._ha_lab import cut_dc_main, ha_pair
    from threenines import lab

    out: dict[str, list[float]] = {}
    for i in range(rounds):
        with tempfile.TemporaryDirectory() as d, lab.session(wait=600) as st:
            with ha_pair(st, Path(d)) as pair:
                cut = cut_dc_main(pair)
                assert cut.run.state == "verified", cut.run
        for key, value in cut.figures.items():
            out.setdefault(key, []).append(value)
        print(f"  round {i + 1}: " + ", ".join(f"{k} {v:.1f}s" for k, v in cut.figures.items()),
              flush=True)  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.ha", description=__doc__)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--outage", type=float, default=60.0)
    ap.add_argument("--lab-only", action="store_true", help="only the dc-cut RTO in the lab")
    ap.add_argument("--no-lab", action="store_true", help="skip the lab (root) part")
    ap.add_argument("--lab-rounds", type=int, default=3)
    args = ap.parse_args(argv)
    code = 0 if args.lab_only else loopback(args.rounds, args.outage)
    if args.no_lab:
        return code
    if os.geteuid() != 0:
        print("the dc-cut RTO needs root (the lab's namespaces): skipped")
        return code
    print("dc-cut of dc-main, the active node inside (lease 6 s, heartbeat 1 s):", flush=True)
    figures = lab_cuts(max(1, min(args.lab_rounds, 10)))
    for what, ts in figures.items():
        print(f"  {what:<10} median {statistics.median(ts):5.1f}s  max {max(ts):5.1f}s"
              f"  (n={len(ts)})")  # fmt: skip
    return code


def loopback(rounds: int, outage: float) -> int:
    with tempfile.TemporaryDirectory() as d, private_postgres() as pg:
        tmp = Path(d)
        times = takeovers(pg.url, tmp, rounds)
        print("takeover (signal to a standby active), lease 4 s, heartbeat 1 s:")
        for what, ts in times.items():
            print(f"  {what:<18} median {statistics.median(ts):5.2f}s  max {max(ts):5.2f}s"
                  f"  (n={len(ts)})")  # fmt: skip
        counted, stored = lost_across_kill(pg, tmp, outage)
        lost = counted - stored
        print(f"kill -9 after {outage:g}s of database outage: {counted} results counted, "
              f"{stored} stored, {lost} lost")  # fmt: skip
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
