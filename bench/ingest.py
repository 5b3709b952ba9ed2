"""Agent ingest benchmark: results/s the server accepts *and stores*, and agent catch-up time.

    python -m bench.ingest [--seconds 15] [--agents 4] [--batch 1000] [--checks 1000]

(a) The real ``threenines run`` (SQLite, default writer settings) on 127.0.0.1; ``--agents``
    processes each post batches of ``--batch`` results with the agent's own sender
    (``AgentClient``) as fast as the server acknowledges them, for ``--seconds``. An ingest
    is acknowledged only once its results are committed, so accepted == stored (checked).
(b) Catch-up after a 10-minute outage: an agent queue (``DiskQueue``) filled with 10 minutes
    of results for ``--checks`` checks at a 30 s interval is delivered by the agent's
    ``Delivery`` (the same code the agent runs); we time it until the queue is empty.
Everything listens on loopback; the server is stopped at the end; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.spine import _free_port, _wait_port

AGENT_CHECKS = 250  # per posting vantage in (a)


def _config(tmp: Path, port: int, vantages: dict[str, int]) -> Path:
    vps = "\n".join(f"  - {{name: {v}, site: lib}}" for v in vantages)
    checks = "\n".join(
        f"      - {{name: c{i}, type: tcp, host: 127.0.0.1, port: 9, interval: 30s, "
        f"vantage: [{', '.join(v for v, n in vantages.items() if i < n)}]}}"
        for i in range(max(vantages.values()))
    )
    path = tmp / "server.yaml"
    path.write_text(
        f"storage: {{url: 'sqlite:///{tmp}/server.db', spool: '{tmp}/spool.jsonl'}}\n"
        f"server: {{listen: '127.0.0.1:{port}'}}\n"
        "sites: [{name: dc1, kind: datacentre}, {name: lib}]\n"
        f"vantage_points:\n  - {{name: central, site: dc1}}\n{vps}\n"
        f"services:\n  - name: web\n    site: dc1\n    checks:\n{checks}\n"
    )
    return path


def _tokens(db_url: str, vantages: list[str]) -> dict[str, str]:
    from threenines.agents.tokens import TokenStore
    from threenines.app.db import make_engine, migrate

    engine = make_engine(db_url)
    migrate(engine)
    store = TokenStore(engine)
    out = {v: store.create("agent", now=time.time(), vantage=v)[1] for v in vantages}
    engine.dispose()
    return out


def _body(i: int, check: int, ts: float) -> str:
    return json.dumps({
        "check_id": f"web/c{check}", "ts": ts, "status": "up", "error": None, "reason": "ok",
        "duration": 0.0012, "attempts": 1, "phases": {"connect": 0.001, "total": 0.0012},
        "details": {"peer": "127.0.0.1"},
    }, separators=(",", ":"))  # fmt: skip


def _poster(url: str, vantage: str, token: str, seconds: float, batch: int, q: Any) -> None:
    """One posting process: the agent's sender, one batch in flight, until ``seconds``."""
    from threenines.agents.sender import AgentClient, Outcome

    async def run() -> tuple[int, int, float]:
        client = AgentClient(url, vantage, token)
        sent = errors = 0
        start = time.monotonic()
        now = time.time()
        while time.monotonic() - start < seconds:
            texts = [_body(i, (sent + i) % AGENT_CHECKS, now - 60 + (sent + i) * 1e-4)
                     for i in range(batch)]  # fmt: skip
            res = await client.post(texts)
            if res.outcome is Outcome.OK:
                sent += batch
            else:
                errors += 1
        await client.close()
        return sent, errors, time.monotonic() - start

    q.put(asyncio.run(run()))


def _count(db: Path, vantage: str | None = None) -> int:
    with sqlite3.connect(db) as conn:
        if vantage:
            sql = "select count(*) from results where vantage = ?"
            return int(conn.execute(sql, (vantage,)).fetchone()[0])
        return int(conn.execute("select count(*) from results").fetchone()[0])


def bench_ingest(url: str, tokens: dict[str, str], seconds: float, batch: int, db: Path
                 ) -> dict[str, Any]:  # fmt: skip
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_poster, args=(url, v, t, seconds, batch, q))
             for v, t in tokens.items()]  # fmt: skip
    t0 = time.monotonic()
    for p in procs:
        p.start()
    outs = [q.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join(30)
    wall = max(o[2] for o in outs)
    accepted = sum(o[0] for o in outs)
    stored = sum(_count(db, v) for v in tokens)
    return {"accepted": accepted, "stored": stored, "errors": sum(o[1] for o in outs),
            "seconds": wall, "elapsed": time.monotonic() - t0}  # fmt: skip


def bench_catchup(url: str, token: str, checks: int, tmp: Path, db: Path) -> dict[str, Any]:
    from threenines.agents.delivery import Delivery
    from threenines.agents.sender import AgentClient
    from threenines.core.queue import DiskQueue

    queue = DiskQueue(tmp / "catchup.queue")
    now = time.time()
    outage, interval = 600.0, 30.0
    n = 0
    for k in range(int(outage / interval)):
        ts = now - outage + k * interval
        queue.put([json.loads(_body(0, c, ts + c * 1e-3)) for c in range(checks)], now)
        n += checks

    async def run() -> tuple[float, bool]:
        client = AgentClient(url, "catchup", token)
        start = time.monotonic()
        done = await Delivery(queue, client).drain(300.0)
        await client.close()
        return time.monotonic() - start, done

    seconds, done = asyncio.run(run())
    queue.close()
    return {"queued": n, "stored": _count(db, "catchup"), "seconds": seconds, "done": done}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--agents", type=int, default=4)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--checks", type=int, default=1000, help="checks in the catch-up test")
    a = ap.parse_args(argv)
    posting = [f"v{i + 1}" for i in range(a.agents)]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        port = _free_port()
        cfg = _config(tmp, port, {**dict.fromkeys(posting, AGENT_CHECKS), "catchup": a.checks})
        tokens = _tokens(f"sqlite:///{tmp}/server.db", [*posting, "catchup"])
        cmd = [str(Path(sys.executable).parent / "threenines"), "run", "-c", str(cfg)]
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            try:
                _wait_port("127.0.0.1", port, 60)
            except RuntimeError:
                server.kill()
                raise RuntimeError(server.communicate()[1].decode()[-3000:]) from None
            url = f"http://127.0.0.1:{port}"
            ing = bench_ingest(url, {v: tokens[v] for v in posting}, a.seconds, a.batch,
                               tmp / "server.db")  # fmt: skip
            cu = bench_catchup(url, tokens["catchup"], a.checks, tmp, tmp / "server.db")
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    rate = ing["stored"] / ing["seconds"]
    print(f"\n(a) ingest: {a.agents} posting agents x batches of {a.batch}, "
          f"{ing['seconds']:.1f}s, SQLite, loopback")  # fmt: skip
    print(f"  {'accepted':<28}{ing['accepted']:>10}")
    print(f"  {'stored (counted in the DB)':<28}{ing['stored']:>10}")
    print(f"  {'refused/retried batches':<28}{ing['errors']:>10}")
    goal = "met" if rate >= 5000 else "NOT met"
    print(f"  {'results/s stored':<28}{rate:>10.0f}   goal 5000: {goal}")
    print(f"\n(b) catch-up after a 10-minute outage: {a.checks} checks every 30s")
    print(f"  {'results queued':<28}{cu['queued']:>10}")
    print(f"  {'stored':<28}{cu['stored']:>10}")
    print(f"  {'catch-up time (s)':<28}{cu['seconds']:>10.1f}"
          f"   ({cu['queued'] / cu['seconds']:.0f} results/s; "
          f"{600 / cu['seconds']:.0f}x faster than real time)")  # fmt: skip


if __name__ == "__main__":
    main()
