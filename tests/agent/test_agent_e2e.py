"""The real server and the real agent as processes: a server restart loses nothing, the agent
picks up a changed config, and ``threenines status`` shows a silent agent as silent."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import httpx
import pytest
from agent_support import Listener, config_yaml, free_port, rows
from typer.testing import CliRunner

from threenines.app.cli import app

EXE = str(Path(sys.executable).parent / "threenines")


@contextlib.asynccontextmanager
async def proc(*args: str) -> AsyncIterator[asyncio.subprocess.Process]:
    p = await asyncio.create_subprocess_exec(
        EXE, *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    try:
        yield p
    finally:
        if p.returncode is None:
            p.kill()
            await p.wait()


async def stop(p: asyncio.subprocess.Process) -> str:
    p.send_signal(signal.SIGTERM)
    _, err = await asyncio.wait_for(p.communicate(), 30)
    assert p.returncode == 0, err.decode()
    return err.decode()


async def until(what: str, cond: Callable[[], bool], limit: float = 60.0) -> None:
    for _ in range(int(limit / 0.05)):
        if cond():
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as c:
            return (await c.get(f"{url}/healthz")).status_code == 200
    except httpx.HTTPError:
        return False


def queued(path: Path) -> int:
    if not path.exists():
        return 0
    with contextlib.closing(sqlite3.connect(path)) as db:
        try:
            return int(db.execute("select count(*) from results").fetchone()[0])
        except sqlite3.OperationalError:
            return 0


@pytest.mark.slow
async def test_server_restart_loses_nothing_and_config_refresh(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cfg, db, queue = tmp_path / "server.yaml", tmp_path / "server.db", tmp_path / "q.sqlite"
    async with Listener() as target:
        cfg.write_text(config_yaml(tmp_path, target.port, {"a": ["v1"], "c": ["central"]},
                                   listen=port, interval="100ms"))  # fmt: skip
        made = CliRunner().invoke(app, ["token", "create", "--role", "agent", "--vantage", "v1",
                                        "-c", str(cfg)])  # fmt: skip
        assert made.exit_code == 0, made.output
        (tmp_path / "token").write_text(made.stdout.strip().splitlines()[-1])
        agent_args = [
            "agent",
            "--server",
            url,
            "--vantage",
            "v1",
            "--token-file",
            str(tmp_path / "token"),
            "--queue",
            str(queue),
            "--refresh",
            "300ms",
        ]
        async with proc("run", "-c", str(cfg)) as server, proc(*agent_args) as agent:
            await until("the server", lambda: server.returncode is None)
            for _ in range(200):
                if await healthy(url):
                    break
                await asyncio.sleep(0.05)
            await until("first results", lambda: len(rows(db, "v1")) >= 5)
            server_log = await stop(server)
            before = len(rows(db, "v1"))
            await until("results queued during the outage", lambda: queued(queue) >= 15)

            # the server comes back with one more check for v1
            cfg.write_text(config_yaml(tmp_path, target.port, {"a": ["v1"], "b": ["v1"],
                           "c": ["central"]}, listen=port, interval="100ms"))  # fmt: skip
            async with proc("run", "-c", str(cfg)) as server2:
                await until("the new check's results from v1",
                            lambda: any(r[1] == "web/b" for r in rows(db, "v1")))  # fmt: skip
                status = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
                agent_log = await stop(agent)
                server_log += await stop(server2)
    produced = int(re.search(r"(\d+) result\(s\) produced", agent_log).group(1))  # type: ignore[union-attr]
    stored = rows(db, "v1")
    assert len(stored) == produced > before + 15, agent_log  # every result, exactly once
    assert queued(queue) == 0
    assert "cannot deliver results" in agent_log and "server reachable again" in agent_log
    assert "0 dropped from the queue" in agent_log and "0 refused" in agent_log
    for check in ("web/a", "web/b"):  # delivered in order
        ts = [r[3] for r in stored if r[1] == check]
        assert ts == sorted(ts)
    assert "Traceback" not in server_log + agent_log
    doc = json.loads(status.stdout)
    assert {a["vantage"]: a["silent"] for a in doc["agents"]} == {"v1": False, "v2": True}

    # once the agent is gone, `status` says so: silent, and its checks unknown (not down)
    text = cfg.read_text() + "agents: {silent_after: 200ms}\n"
    cfg.write_text(text)
    await asyncio.sleep(0.5)
    out = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    doc = json.loads(out.stdout)
    assert {a["vantage"]: a["silent"] for a in doc["agents"]} == {"v1": True, "v2": True}
    v1 = [c for c in doc["checks"] if c["vantage"] == "v1"]
    assert [c["state"] for c in v1] == ["unknown", "unknown"]
    assert all("agent silent" in c["reason"] for c in v1)
    table = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=200)
    assert "agents (remote vantage points)" in table.output and "silent" in table.output
