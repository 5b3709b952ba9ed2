"""An agent given several servers (the nodes of an HA pair) delivers to the one that answers:
the first unreachable or answering 5xx, it moves on to the next and sticks with it. Fast tests
against the real service in process plus a dead port and a 503 answerer; a slow one with two
real ``threenines run`` processes sharing one SQLite file: the first is stopped mid-stream and
every result arrives once, via the second."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from agent_procs import (
    Estate,
    Proc,
    TcpTarget,
    agent_counts,
    count,
    duplicates,
    gaps,
    healthy,
    stamps,
    tcp_check,
    until,
)  # fmt: skip
from agent_support import config_yaml, free_port, load, result, rows, service, token

from threenines.agents.sender import AgentClient, Outcome, server_urls


def test_server_urls_repeated_or_comma_separated() -> None:
    assert server_urls("http://a:1/") == ["http://a:1"]
    assert server_urls(["http://a:1, http://b:2", "http://c:3"]) == [
        "http://a:1", "http://b:2", "http://c:3"]  # fmt: skip
    assert server_urls(["http://a:1", "http://a:1/"]) == ["http://a:1"]
    with pytest.raises(ValueError):
        server_urls([" , "])


@contextlib.asynccontextmanager
async def answering(code: int) -> AsyncIterator[str]:
    """An HTTP server on loopback that answers every request with ``code`` (a standby)."""
    served: list[int] = []

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        head = await r.readuntil(b"\r\n\r\n")
        length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                       if line.lower().startswith(b"content-length:")), 0)  # fmt: skip
        await r.readexactly(length)
        served.append(code)
        w.write(b"HTTP/1.1 %d No\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}" % code)
        await w.drain()
        w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()


async def test_delivery_and_fetch_move_on_from_a_dead_or_503_server_and_stick(
    tmp_path: Path,
) -> None:
    cfg = load(config_yaml(tmp_path, 9, {"a": ["v1"]}))
    dead, ts = f"http://127.0.0.1:{free_port()}", round(time.time() - 5, 3)
    async with service(cfg) as (ctx, url), answering(503) as standby:
        _id, plain = token(ctx, "agent", vantage="v1")
        client = AgentClient([dead, standby, url], "v1", plain)
        try:
            conf = await client.fetch_config()
            assert conf.status == 200 and client.server == url  # past the dead one and the 503
            res = await client.post([json.dumps(result("web/a", ts))])
            assert res.outcome is Outcome.OK and client.server == url
            assert await client.probe() and client.server == url  # sticks with the one that works
        finally:
            await client.close()
        one = AgentClient([dead, standby], "v1", plain)
        try:  # none answers: the last one's answer, kept for a retry
            assert (await one.post([])).outcome is Outcome.RETRY and one.current == 0
        finally:
            await one.close()
    assert [r[1:4] for r in rows(tmp_path / "server.db")] == [("web/a", "v1", ts)]


@pytest.mark.slow
@pytest.mark.timeout(300)
async def test_first_server_stopped_every_result_arrives_once_via_the_second(
    tmp_path: Path,
) -> None:
    async with TcpTarget() as target:
        est = Estate(tmp_path, tcp_check("a", target.port, "100ms"))
        port_b = free_port()
        url_b = f"http://127.0.0.1:{port_b}"
        cfg_b = tmp_path / "server-b.yaml"  # the same database file, its own port and spool
        cfg_b.write_text(est.cfg.read_text().replace(f"127.0.0.1:{est.port}", f"127.0.0.1:"
                         f"{port_b}").replace("spool.jsonl", "spool-b.jsonl"))  # fmt: skip
        server_a = await est.up(est.server())
        # B starts (on the database A has migrated) while the agent starts and delivers via A
        server_b = await Proc(["run", "-c", str(cfg_b)], tmp_path / "server-b.log").start()
        agent = await est.agent(tmp_path / "q.sqlite", "--server", url_b).start()
        try:
            await until("server B's /healthz", lambda: healthy(url_b))
            await until("results via A", lambda: count(est.db) >= 20)
            log_a = await server_a.stop()
            stopped = count(est.db)
            await until("results via B", lambda: count(est.db) >= stopped + 25)
            log = await agent.stop()
        finally:
            await agent.close()
            log_b = await server_b.stop()
    counts = agent_counts(log)
    ts = stamps(est.db, "web/a")
    longest = max(b - a for a, b in itertools.pairwise(ts))
    print(
        f"agent {counts}; stored {count(est.db)} ({stopped} when A stopped); duplicates "
        f"{duplicates(est.db)}; longest gap {longest:.2f}s"
    )
    assert f"now using {url_b}" in log
    assert counts["produced"] == counts["delivered"] == count(est.db)  # each result once
    assert duplicates(est.db) == 0 and counts["refused"] == counts["dropped"] == 0
    assert gaps(ts, 1.0) == []  # none missing across the switch
    assert "Traceback" not in log + log_a + log_b
