"""Delivery resumes within seconds of the server's return, however long it was away: the
backoff grows (1, 2, 4, 8, 16, then 30 s), but the server is probed (``/healthz``) every second
meanwhile."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from agent_procs import Estate, TcpTarget, count, tcp_check, until

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]
# Away 16 s (plus the server's start): the agent is in its 16 s wait (from about 15 s after the
# first failure to 31 s), so without the probes delivery would resume some 11-13 s after the
# server's return, well past the 5 s asserted; the 30 s cap itself adds nothing to prove.
AWAY = 16.0


async def test_delivery_resumes_within_seconds_of_the_servers_return(tmp_path: Path) -> None:
    async with TcpTarget() as target:
        est = Estate(tmp_path, tcp_check("a", target.port))
        server = await est.up(est.server())
        # the config is fetched only every 10 min: the fetch does not end the backoff
        agent = await est.agent(tmp_path / "q.sqlite", "--refresh", "10m").start()
        try:
            await until("first results", lambda: count(est.db) >= 5)
            await server.stop()
            await asyncio.sleep(AWAY)
            stored = count(est.db)
            server = await est.up(est.server())
            back = time.monotonic()
            await until("delivery again", lambda: count(est.db) > stored, 60, 0.05)
            resumed = time.monotonic() - back
            log = await agent.stop()
        finally:
            await agent.close()
            await server.stop()
    print(f"delivery resumed {resumed:.1f}s after the server was back (away {AWAY:.0f}s)")
    assert resumed <= 5.0, resumed
    assert "server reachable again" in log
