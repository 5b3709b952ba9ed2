"""``threenines run`` as a real process: live results, /metrics, SIGTERM loses nothing; status."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from spine_support import BannerServer, outage
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.core.db import make_engine
from threenines.core.tables import results

RESULT_LINE = re.compile(r"^\d\d:\d\d:\d\d (up|degraded|down|unknown) +(\S+) @central ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(tmp: Path, fast: int, slow: int, listen: int, url: str | None = None) -> Path:
    closed = _free_port()  # nothing listens there: refused
    path = tmp / "svc.yaml"
    path.write_text(
        f"""
organisation: Test Council
storage:
  url: "{url or f"sqlite:///{tmp}/svc.db"}"
  flush_interval: 100ms
  spool: {tmp}/spool.jsonl
server:
  listen: 127.0.0.1:{listen}
sites:
  - {{name: dc1, kind: datacentre}}
services:
  - name: web
    site: dc1
    checks:
      - {{name: fast, type: tcp, host: 127.0.0.1, port: {fast}, interval: 200ms}}
      - {{name: slow, type: tcp, host: 127.0.0.1, port: {slow}, expect: OK, interval: 300ms}}
      - {{name: closed, type: tcp, host: 127.0.0.1, port: {closed}, interval: 300ms,
          retries: 1, retry_interval: 50ms}}
"""
    )
    return path


async def _get(url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url, headers=headers)


def _viewer(tmp_path: Path) -> dict[str, str]:
    """A viewer token's header (anonymous callers of /api/v1/status get the public view only)."""
    from threenines.agents.tokens import TokenStore

    engine = make_engine(f"sqlite:///{tmp_path}/svc.db")
    try:
        _, plain = TokenStore(engine).create("viewer", now=time.time())
    finally:
        engine.dispose()
    return {"Authorization": f"Bearer {plain}"}


class Service:
    """``threenines run --live`` as a subprocess, its result lines collected as they come."""

    def __init__(self, cfg: Path):
        self.cfg = cfg
        self.lines: list[str] = []
        self.stderr = ""

    async def __aenter__(self) -> Service:
        exe = str(Path(sys.executable).parent / "threenines")
        self.proc = await asyncio.create_subprocess_exec(
            exe, "run", "-c", str(self.cfg), "--live",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        async for raw in self.proc.stdout:
            self.lines.append(raw.decode())

    async def wait_for(self, cond: Callable[[], bool], limit: float = 60.0) -> None:
        for _ in range(int(limit / 0.05)):
            if self.proc.returncode is not None:
                raise AssertionError(await self._stderr())
            if cond():
                return
            await asyncio.sleep(0.05)
        raise AssertionError("condition not met in time")

    async def terminate(self) -> int:
        self.proc.send_signal(signal.SIGTERM)
        rc = await asyncio.wait_for(self.proc.wait(), 30)
        await self._reader
        self.stderr = await self._stderr()
        return rc

    async def _stderr(self) -> str:
        assert self.proc.stderr is not None
        return (await self.proc.stderr.read()).decode()

    async def __aexit__(self, *exc: object) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    def results(self) -> list[tuple[str, str]]:
        return [m.groups() for m in map(RESULT_LINE.match, self.lines) if m]  # type: ignore[misc]


@pytest.mark.slow
async def test_run_serves_metrics_and_sigterm_loses_nothing(tmp_path: Path) -> None:
    async with BannerServer() as fast, BannerServer(delay=0.6) as slow:
        port = _free_port()
        cfg = _write_config(tmp_path, fast.port, slow.port, port)
        async with Service(cfg) as svc:
            await svc.wait_for(
                lambda: sum(" web/slow " in x for x in svc.lines) >= 2 and len(svc.lines) >= 10
            )
            metrics = (await _get(f"http://127.0.0.1:{port}/metrics")).text
            health = (await _get(f"http://127.0.0.1:{port}/healthz")).json()
            status = (
                await _get(f"http://127.0.0.1:{port}/api/v1/status", _viewer(tmp_path))
            ).json()
            await svc.wait_for(lambda: slow.current > 0)  # SIGTERM while a probe is in flight
            rc = await svc.terminate()
    stderr, lines = svc.stderr, svc.lines
    assert rc == 0, stderr
    printed = svc.results()
    assert len(printed) == len(lines) >= 10
    with sqlite3.connect(tmp_path / "svc.db") as db:
        rows = db.execute("select check_id, status, attempts from results").fetchall()
    assert len(rows) == len(printed), stderr  # every printed result is stored
    assert sorted(r[:2] for r in rows) == sorted((c, s) for s, c in printed)
    assert {a for c, s, a in rows if c == "web/closed"} == {2}
    assert sum(1 for r in rows if r[0] == "web/slow") == slow.connections  # in-flight one too
    assert "0 dropped" in stderr and "0 run(s) abandoned" in stderr
    label = 'service="web",site="dc1",type="tcp",vantage="central"'  # labels come sorted
    assert f'threenines_check_up{{check="fast",{label}}} 1.0' in metrics
    assert f'threenines_check_duration_seconds{{check="fast",phase="connect",{label}}}' in metrics
    down = 'service="web",site="dc1",state="down",type="tcp",vantage="central"'
    assert f'threenines_check_state{{check="closed",{down}}} 1.0' in metrics
    assert 'threenines_scheduler_lag_seconds_bucket{le="0.1",vantage="central"}' in metrics
    assert (
        "threenines_results_written_total" in metrics and "threenines_results_buffered" in metrics
    )
    assert (health["status"], health["database"], health["checks"]) == ("ok", "up", 3)
    states = {(c["check"], c["state"]) for c in status["checks"]}
    assert ("fast", "up") in states and ("closed", "down") in states

    # `status` reads the same store afterwards
    out = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    assert out.exit_code == 0, out.output
    checks = json.loads(out.output)["checks"]
    assert [(c["service"], c["check"], c["vantage"]) for c in checks] == [
        ("web", "fast", "central"),
        ("web", "slow", "central"),
        ("web", "closed", "central"),
    ]
    assert all(c["since"] is not None for c in checks)
    table = CliRunner().invoke(app, ["status", "-c", str(cfg)], terminal_width=160)
    assert table.exit_code == 0
    assert "web (dc1)" in table.output and "closed" in table.output
    assert "connection refused" in table.output or "no recent result" in table.output


def test_bad_config_exits_2_with_the_loader_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("storage:\n  urll: sqlite:///x.db\n")
    out = CliRunner().invoke(app, ["run", "-c", str(bad)])
    assert out.exit_code == 2
    assert f"{bad}:2 storage.urll: unknown key" in out.output


def test_busy_listen_port_exits_2(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = tmp_path / "c.yaml"
        cfg.write_text(
            f"storage: {{url: 'sqlite:///{tmp_path}/c.db'}}\n"
            f"server: {{listen: '127.0.0.1:{port}'}}\n"
        )
        out = CliRunner().invoke(app, ["run", "-c", str(cfg)])
    assert out.exit_code == 2
    assert "server.listen: cannot listen on" in out.output


def test_status_before_any_run(tmp_path: Path) -> None:
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"storage: {{url: 'sqlite:///{tmp_path}/none.db'}}\n")
    out = CliRunner().invoke(app, ["status", "-c", str(cfg)])
    assert out.exit_code == 1
    assert "cannot read the store" in out.output


@pytest.mark.slow
async def test_database_outage_at_runtime_loses_nothing(db_url: str, tmp_path: Path) -> None:
    """Writes fail (PostgreSQL: table gone) or block (SQLite: locked) for a while; the service
    keeps probing, buffers, recovers by itself, and every printed result ends up stored."""
    async with BannerServer() as fast, BannerServer(delay=0.1) as slow:
        port = _free_port()
        cfg = _write_config(tmp_path, fast.port, slow.port, port, url=db_url)
        health = f"http://127.0.0.1:{port}/healthz"
        async with Service(cfg) as svc:
            await svc.wait_for(lambda: len(svc.lines) >= 5)
            for _ in range(200):  # the schema exists once results are being written
                if (await _get(health)).json()["written"] >= 5:
                    break
                await asyncio.sleep(0.05)
            with outage(db_url):
                before = len(svc.lines)
                await svc.wait_for(lambda: len(svc.lines) >= before + 10)
                if db_url.startswith("postgresql"):
                    assert (await _get(health)).json()["database"] == "unavailable"
            await svc.wait_for(lambda: len(svc.lines) >= before + 20)
            rc = await svc.terminate()
    assert rc == 0, svc.stderr
    engine = make_engine(db_url)
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(results)).scalar()
    engine.dispose()
    assert n == len(svc.results()) == len(svc.lines), svc.stderr
    assert "0 dropped" in svc.stderr
    if db_url.startswith("postgresql"):
        assert "database unavailable, buffering results" in svc.stderr
        assert "database available again" in svc.stderr
