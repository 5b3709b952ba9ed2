"""The agent's queue on a 1 MiB tmpfs (a private mount namespace) that fills up and is freed:
the agent says so once, keeps every result (in memory, delivered directly while the server is
there), shows the queue error, depth and age in ``threenines status`` and in its own
``/healthz`` (503 while full, 200 again after) and ``/metrics``, and resumes writing by itself.
Then SIGTERM loses nothing; kill -9 loses only the moment of the kill. A queue path that cannot
be used is one line, not a traceback. Root only (mount namespaces)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from agent_procs import (
    Estate,
    HealthEndpoint,
    MountNamespace,
    Proc,
    TcpTarget,
    agent_counts,
    agent_row,
    count,
    duplicates,
    gaps,
    stamps,
    tcp_check,
    until,
)  # fmt: skip
from conftest import require_command, require_root

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(600)]
FULL_FOR = 8.0  # seconds the disk stays full (measured: 20 s; the agent froze at once)
INTERVAL = 0.2


async def _fill_and_free(est: Estate, ns: MountNamespace, agent: Proc,
                         health: HealthEndpoint | None = None) -> dict[str, object]:  # fmt: skip
    """Fill the tmpfs for FULL_FOR seconds while the agent runs, then free it; what the
    agent's row in ``threenines status`` (and its ``/healthz``, ``/metrics``) said while it
    was full."""
    await until("first results", lambda: count(est.db) >= 10)
    if health is not None:
        assert (await health.healthz())[0] == 200
    stored = count(est.db)
    assert await ns.run(f"cat /dev/zero > '{ns.path}/fill'") != 0  # no space left
    await until("the queue error in status",
                lambda: bool(agent_row(est.cfg).get("queue_error")), 30)  # fmt: skip
    seen: dict[str, object] = {"row": agent_row(est.cfg)}
    if health is not None:
        await until("503 from /healthz", lambda: health.answers(503), 30)
        seen["healthz"] = (await health.healthz())[1]
        seen["metrics"] = await health.metrics()
    await asyncio.sleep(FULL_FOR)
    assert count(est.db) > stored + FULL_FOR / INTERVAL / 2  # delivered straight from memory
    assert await ns.run(f"rm '{ns.path}/fill'") == 0
    await until("the queue writable again", lambda: "queue writable again" in agent.text(), 60)
    await until("status without the queue error",
                lambda: not agent_row(est.cfg).get("queue_error"), 30)  # fmt: skip
    if health is not None:
        await until("200 again from /healthz", lambda: health.answers(200), 30)
        seen["healthz_after"] = (await health.healthz())[1]
    return seen


def _no_gaps(est: Estate, allowed: list[tuple[float, float]] | None = None) -> None:
    ts = stamps(est.db, "web/a")
    holes = [g for g in gaps(ts, 3 * INTERVAL) if not any(a <= g[0] <= b for a, b in allowed or [])]
    assert holes == [], holes


async def test_disk_full_then_freed_then_sigterm_loses_nothing(tmp_path: Path) -> None:
    require_root()
    require_command("unshare", "nsenter")
    async with TcpTarget() as target, MountNamespace(tmp_path / "qdir") as ns:
        est = Estate(tmp_path, tcp_check("a", target.port))
        server = await est.up(est.server())
        health = HealthEndpoint()
        agent = await est.agent(ns.path / "q.sqlite", "--listen", health.listen,
                                prefix=ns.prefix).start()  # fmt: skip
        try:
            seen = await _fill_and_free(est, ns, agent, health)
            await asyncio.sleep(2)
            log = await agent.stop()
        finally:
            await agent.close()
            await server.stop()
    counts = agent_counts(log)
    row, full, after = seen["row"], seen["healthz"], seen["healthz_after"]
    print(f"while full: {row}; /healthz {full}; agent: {counts}; stored {count(est.db)}; "
          f"dup {duplicates(est.db)}")  # fmt: skip
    assert isinstance(row, dict) and isinstance(full, dict) and isinstance(after, dict)
    assert "disk is full" in str(row["queue_error"]) and row["memory"] > 0
    assert row["state"] == "queue_error" and row["queue_oldest"] is not None  # depth and age
    # the agent's own /healthz: 503, the queue's error, depth and age; /metrics agrees
    assert full["status"] == "degraded" and "disk is full" in full["queue"]["error"]
    assert full["problems"] == [f"the queue cannot be written: {full['queue']['error']}"]
    # depth, memory and age are there (memory may be 0 for a moment: delivered directly)
    assert {"depth", "memory", "oldest_age"} <= set(full["queue"]) and full["queue"]["depth"] >= 0
    assert "threenines_agent_queue_writable 0.0" in str(seen["metrics"])
    assert after["status"] == "ok" and after["queue"]["error"] is None
    assert log.count("cannot write the queue") == 1  # said once, with the cause
    assert "Traceback" not in log
    assert counts["produced"] == count(est.db) and duplicates(est.db) == 0
    assert counts["dropped"] == counts["refused"] == 0
    _no_gaps(est)


async def test_disk_full_then_freed_then_kill_9_loses_only_the_kill(tmp_path: Path) -> None:
    require_root()
    require_command("unshare", "nsenter")
    async with TcpTarget() as target, MountNamespace(tmp_path / "qdir") as ns:
        est = Estate(tmp_path, tcp_check("a", target.port))
        server = await est.up(est.server())
        queue = ns.path / "q.sqlite"
        agent = await est.agent(queue, prefix=ns.prefix).start()
        try:
            await _fill_and_free(est, ns, agent)
            await asyncio.sleep(1)
            loop = asyncio.get_running_loop()
            killed = loop.time()
            await agent.kill()
            agent = await est.agent(queue, prefix=ns.prefix).start()
            await until("results after the restart", lambda: "running 1 check" in agent.text())
            down_for = loop.time() - killed
            await asyncio.sleep(2)
            log = await agent.stop()
        finally:
            await agent.close()
            await server.stop()
    assert "Traceback" not in log and duplicates(est.db) == 0
    ts = stamps(est.db, "web/a")
    holes = gaps(ts, 3 * INTERVAL)
    print(f"stored {len(ts)}; gaps {[(round(b - a, 2)) for a, b in holes]}; down {down_for:.1f}s")
    assert len(holes) <= 1 and all(b - a <= down_for + 1.0 for a, b in holes)


async def test_an_unusable_queue_path_is_one_line(tmp_path: Path) -> None:
    require_root()
    require_command("unshare", "nsenter")
    async with MountNamespace(tmp_path / "ro", options="ro") as ns:
        est = Estate(tmp_path, tcp_check("a", 9))
        agent = await est.agent(ns.path / "q.sqlite", prefix=ns.prefix).start()
        assert agent.p is not None
        await asyncio.wait_for(agent.p.wait(), 60)
    lines = [x for x in agent.text().splitlines() if x.strip()]
    assert agent.p.returncode == 2 and len(lines) == 1, agent.text()
    assert lines[0].startswith("--queue: ") and "Read-only file system" in lines[0], lines
