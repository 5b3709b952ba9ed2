"""``threenines run`` as a real process: live results, /metrics, SIGTERM loses nothing; status."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import httpx
import pytest
from spine_support import BannerServer
from typer.testing import CliRunner

from threenines.cli import app

RESULT_LINE = re.compile(r"^\d\d:\d\d:\d\d (up|degraded|down|unknown) +(\S+) @central ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_config(tmp: Path, fast: int, slow: int, listen: int) -> Path:
    closed = _free_port()  # nothing listens there: refused
    path = tmp / "svc.yaml"
    path.write_text(
        f"""
organisation: Test Council
storage:
  url: sqlite:///{tmp}/svc.db
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


async def _get(url: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=5) as client:
        return await client.get(url)


@pytest.mark.slow
async def test_run_serves_metrics_and_sigterm_loses_nothing(tmp_path: Path) -> None:
    async with BannerServer() as fast, BannerServer(delay=0.6) as slow:
        port = _free_port()
        cfg = _write_config(tmp_path, fast.port, slow.port, port)
        proc = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).parent / "threenines"), "run", "-c", str(cfg), "--live",
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert proc.stdout is not None and proc.stderr is not None
        lines: list[str] = []

        async def read() -> None:
            assert proc.stdout is not None
            async for raw in proc.stdout:
                lines.append(raw.decode())

        reader = asyncio.create_task(read())
        try:
            for _ in range(200):
                assert proc.returncode is None, (await proc.stderr.read()).decode()
                if sum(1 for x in lines if " web/slow " in x) >= 2 and len(lines) >= 10:
                    break
                await asyncio.sleep(0.05)
            metrics = (await _get(f"http://127.0.0.1:{port}/metrics")).text
            health = (await _get(f"http://127.0.0.1:{port}/healthz")).json()
            status = (await _get(f"http://127.0.0.1:{port}/api/v1/status")).json()
            while slow.current == 0:  # noqa: ASYNC110 (signal while a slow probe is in flight)
                await asyncio.sleep(0.01)
            proc.send_signal(signal.SIGTERM)
            rc = await asyncio.wait_for(proc.wait(), 20)
            await reader
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        stderr = (await proc.stderr.read()).decode()
    assert rc == 0, stderr
    results = [m.groups() for m in map(RESULT_LINE.match, lines) if m]
    assert len(results) == len(lines) >= 10
    with sqlite3.connect(tmp_path / "svc.db") as db:
        rows = db.execute("select check_id, status, attempts from results").fetchall()
    assert len(rows) == len(results), stderr  # every printed result is stored
    assert sorted(r[:2] for r in rows) == sorted((c, s) for s, c in results)
    assert {a for c, s, a in rows if c == "web/closed"} == {2}
    assert sum(1 for r in rows if r[0] == "web/slow") == slow.connections  # in-flight one too
    assert "0 dropped" in stderr and "0 run(s) abandoned" in stderr
    label = 'service="web",site="dc1",type="tcp",vantage="central"'  # labels come sorted
    assert f'probe_success{{check="fast",{label}}} 1.0' in metrics
    assert f'probe_duration_seconds{{check="fast",phase="connect",{label}}}' in metrics
    assert f'check_state{{check="closed",check_state="down",{label}}} 1.0' in metrics
    assert 'scheduler_lag_seconds_bucket{le="0.1",vantage="central"}' in metrics
    assert "results_written_total" in metrics and "results_buffered" in metrics
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
