"""kill -9 of the agent while it delivers a backlog, five times: every queued result is stored
exactly once (ingest is idempotent on check, vantage and ts), and the outage measured while the
server was away counts as downtime."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agent_procs import (
    Estate,
    TcpTarget,
    agent_counts,
    availability,
    count,
    duplicates,
    gaps,
    stamps,
    tcp_check,
    until,
)  # fmt: skip

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
BACKLOG = 150  # queued while the server is away (the 6 s outage alone adds 120); 5 kills take ~25


async def test_five_kills_during_backlog_delivery_store_each_result_once(tmp_path: Path) -> None:
    queue = tmp_path / "q.sqlite"
    async with TcpTarget() as target:
        est = Estate(tmp_path, tcp_check("a", target.port, "50ms"))
        first_server = server = await est.up(est.server())
        agent = await est.agent(queue, "--batch-size", "5").start()
        try:
            await until("first results", lambda: count(est.db) >= 5)
            await server.stop()
            # the backlog: measured while the server is away, with a 6 s outage of the target
            await until("results queued", lambda: count(queue) >= 50)
            await target.down()
            await asyncio.sleep(6)
            await target.up()
            await until(f"a backlog of {BACKLOG}", lambda: count(queue) >= BACKLOG, 120)
            first = agent_counts(await agent.stop())
        finally:
            await agent.close()
        backlog = count(queue)
        assert backlog == first["produced"] - first["delivered"] >= BACKLOG
        last = max(stamps_in(queue))
        server = await est.up(est.server())
        try:
            left = []  # still queued after each kill: every kill came mid-backlog
            for _ in range(5):
                agent = await est.agent(queue, "--batch-size", "5").start()
                before = count(est.db)
                await until("delivery under way", lambda b=before: count(est.db) > b + 5, 60, 0.01)
                await agent.kill()
                left.append(count(queue))
            agent = await est.agent(queue, "--batch-size", "50").start()
            await until("the backlog delivered", lambda: count(est.db, "select count(*) from "
                        "results where ts <= ?", last) >= first["produced"], 120)  # fmt: skip
            final = await agent.stop()
        finally:
            await agent.close()
            server_log = (await server.stop()) + first_server.text()
    stored = count(est.db, "select count(*) from results where ts <= ?", last)
    down = availability(est.cfg)["downtime_s"]
    print(
        f"downtime {down:.1f}s, backlog {backlog}, produced {first['produced']}, stored "
        f"{stored}, duplicates {duplicates(est.db)}, re-sent: {server_log.count('re-sent')}, "
        f"queued after each kill {left}"
    )
    assert all(n > 0 for n in left), left
    assert stored == first["produced"]  # in = out: each result once
    assert duplicates(est.db) == 0
    assert "Traceback" not in server_log + final
    ts = [t for t in stamps(est.db, "web/a") if t <= last]
    assert gaps(ts, 1.0) == []  # nothing missing in the backlog
    assert 5 <= down <= 8, down  # the 6 s outage, measured while the server was away


def stamps_in(queue: Path) -> list[float]:
    import contextlib
    import sqlite3

    with contextlib.closing(sqlite3.connect(queue)) as db:
        return [float(r[0]) for r in db.execute("select ts from results")]
