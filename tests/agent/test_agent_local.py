"""The agent's own ``/healthz`` and ``/metrics`` (``--listen``), asked over loopback of a real
agent process: 200 with its queue, delivery, clock and tasks while it works; 503 after a task
died. 503 while its queue cannot be written (a full tmpfs), 200 again after: in
``test_agent_disk.py``, which fills that tmpfs once for both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from agent_procs import Estate, TcpTarget, count, tcp_check, until
from agent_support import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


async def get(url: str) -> httpx.Response | None:
    try:
        async with httpx.AsyncClient() as c:
            return await c.get(url, timeout=5.0)
    except httpx.HTTPError:
        return None


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    r = await get(f"http://127.0.0.1:{port}/healthz")
    assert r is not None
    return r.status_code, r.json()


async def answers(port: int, code: int, **want: Any) -> bool:
    r = await get(f"http://127.0.0.1:{port}/healthz")
    if r is None or r.status_code != code:
        return False
    doc = r.json()
    return all(want_fn(doc) for want_fn in want.values())


async def test_healthz_and_metrics_of_a_working_agent(tmp_path: Path) -> None:
    async with TcpTarget() as target:
        est = Estate(tmp_path, tcp_check("a", target.port))
        server = await est.up(est.server())
        port = free_port()
        agent = await est.agent(tmp_path / "q.sqlite", "--listen", f"127.0.0.1:{port}").start()
        try:
            await until("results stored", lambda: count(est.db) >= 10)
            await until("a delivery seen by /healthz", lambda: answers(
                port, 200, d=lambda d: d["delivery"]["last_ok_age"] is not None))  # fmt: skip
            code, doc = await healthz(port)
            metrics = await get(f"http://127.0.0.1:{port}/metrics")
            missing = await get(f"http://127.0.0.1:{port}/nothing")
            log = await agent.stop()
        finally:
            await agent.close()
            await server.stop()
    print(doc, metrics.text if metrics else None)
    assert code == 200 and doc["status"] == "ok" and doc["problems"] == []
    assert doc["vantage"] == "v1" and doc["config"]
    assert doc["queue"]["error"] is None and doc["queue"]["depth"] >= 0
    assert doc["delivery"]["server"] == est.url and doc["delivery"]["last_ok_age"] < 30
    assert doc["delivery"]["delivered"] > 0 and doc["delivery"]["failing"] is False
    assert doc["clock"]["dating"] == "server" and doc["clock"]["state"] == "ok"
    assert abs(doc["clock"]["skew"]) < 1.0
    assert set(doc["tasks"]) == {"delivery", "flusher", "refresh"}
    assert all(t["state"] == "running" and t["deaths"] == 0 for t in doc["tasks"].values())
    assert metrics is not None and metrics.status_code == 200
    text = metrics.text
    assert (
        'threenines_check_up{check="a",service="web",site="dc1",type="tcp",vantage="v1"} 1.0'
        in text
    )
    assert "threenines_agent_up 1.0" in text and "threenines_agent_queue_writable 1.0" in text
    assert 'threenines_agent_task_deaths_total{task="delivery"} 0.0' in text
    assert missing is not None and missing.status_code == 404
    assert f"health endpoint on http://127.0.0.1:{port}/healthz" in log
    assert "Traceback" not in log


async def test_healthz_is_503_after_a_task_died(tmp_path: Path) -> None:
    """In process (fast): a real agent object and endpoint on loopback; one supervised task
    dies, is restarted, and ``/healthz`` names it (503) for ``DIED_RECENTLY`` seconds."""
    import asyncio

    from threenines.agents.local import LocalEndpoint
    from threenines.agents.runner import Agent
    from threenines.agents.sender import AgentClient
    from threenines.app.config import Config
    from threenines.core.queue import DiskQueue
    from threenines.core.service import bind

    client = AgentClient(f"http://127.0.0.1:{free_port()}", "v1", "t")
    agent = Agent(client, DiskQueue(tmp_path / "q.sqlite"), root=Config)
    endpoint = LocalEndpoint(agent, bind("127.0.0.1:0"))
    port = int(endpoint.address.rsplit(":", 1)[1])
    await endpoint.start()
    stop, calls = asyncio.Event(), []

    async def flaky() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        await stop.wait()

    agent.supervisor.restart_after = 0.05
    task = asyncio.create_task(agent.supervisor.run("flusher", flaky, stop))
    try:
        await until("the restart", lambda: len(calls) == 2, 10, 0.01)
        code, doc = await healthz(port)
        head = await get(f"http://127.0.0.1:{port}/metrics")
    finally:
        stop.set()
        await task
        await endpoint.close()
        await client.close()
        agent.queue.close()
    assert code == 503 and doc["status"] == "degraded"
    assert doc["problems"] == ["the flusher task died: RuntimeError: boom"]
    flusher = doc["tasks"]["flusher"]
    assert flusher["state"] == "running" and flusher["deaths"] == 1 and flusher["died_ago"] < 10
    assert doc["delivery"]["last_ok_age"] is None and doc["clock"]["state"] == "unknown"
    assert head is not None and "threenines_agent_up 0.0" in head.text
