"""The real server and real agents as processes, for the fault tests (disk full, kill -9,
clocks): logs to files (readable while the process runs and after SIGKILL), event-driven waits,
and the figures the tests assert (rows, duplicates, gaps, the agent's own counts)."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import signal
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
from agent_support import config_yaml, free_port
from typer.testing import CliRunner

from threenines.app.cli import app

EXE = str(Path(sys.executable).parent / "threenines")
FAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"  # Debian package faketime


class Proc:
    """A ``threenines`` process; stderr goes to ``log`` (read it any time with ``text``)."""

    def __init__(self, args: Sequence[str], log: Path, *, env: dict[str, str] | None = None,
                 prefix: Sequence[str] = ()):  # fmt: skip
        self.args, self.log, self.env, self.prefix = list(args), log, env, list(prefix)
        self.p: asyncio.subprocess.Process | None = None

    async def start(self) -> Proc:
        with self.log.open("ab") as err:
            self.p = await asyncio.create_subprocess_exec(
                *self.prefix, EXE, *self.args, stdout=asyncio.subprocess.DEVNULL, stderr=err,
                env={**os.environ, **(self.env or {})},
            )  # fmt: skip
        return self

    @property
    def running(self) -> bool:
        return self.p is not None and self.p.returncode is None

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    async def stop(self, timeout: float = 60.0) -> str:
        """SIGTERM, wait; the log (asserts a clean exit)."""
        assert self.p is not None
        self.p.send_signal(signal.SIGTERM)
        await asyncio.wait_for(self.p.wait(), timeout)
        assert self.p.returncode == 0, self.text()[-3000:]
        return self.text()

    async def kill(self) -> None:
        assert self.p is not None
        self.p.kill()
        await self.p.wait()

    async def close(self) -> None:
        if self.running:
            await self.kill()


async def until(what: str, cond: Callable[[], bool | Awaitable[bool]], limit: float = 60.0,
                every: float = 0.1) -> None:  # fmt: skip
    """Wait for ``cond`` (polled; generous ``limit`` for a busy 2-core machine)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        got = cond()
        if not isinstance(got, bool):
            got = await got
        if got:
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit:.0f}s waiting for {what}")
        await asyncio.sleep(every)


async def healthy(url: str) -> bool:
    try:
        async with httpx.AsyncClient() as c:
            r = await c.get(f"{url}/healthz", timeout=2.0)
            return r.status_code == 200 and r.json().get("database") == "up"
    except httpx.HTTPError:
        return False


class HealthEndpoint:
    """The agent's own ``/healthz`` and ``/metrics`` (``--listen``) on a free loopback port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.listen = f"127.0.0.1:{self.port}"

    async def get(self, path: str) -> httpx.Response | None:
        try:
            async with httpx.AsyncClient() as c:
                return await c.get(f"http://{self.listen}{path}", timeout=5.0)
        except httpx.HTTPError:
            return None

    async def healthz(self) -> tuple[int, dict[str, Any]]:
        r = await self.get("/healthz")
        assert r is not None
        return r.status_code, r.json()

    async def answers(self, code: int) -> bool:
        r = await self.get("/healthz")
        return r is not None and r.status_code == code

    async def metrics(self) -> str:
        r = await self.get("/metrics")
        assert r is not None and r.status_code == 200
        return r.text


def count(db: Path, sql: str = "select count(*) from results", *args: Any) -> int:
    if not db.exists():
        return 0
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        try:
            return int(conn.execute(sql, args).fetchone()[0])
        except sqlite3.OperationalError:
            return 0


def duplicates(db: Path) -> int:
    """Rows beyond the first of each (check, vantage, ts)."""
    return count(db, "select count(*) - count(distinct check_id || '|' || vantage || '|' || ts) "
                     "from results")  # fmt: skip


def stamps(db: Path, check: str, vantage: str = "v1") -> list[float]:
    with contextlib.closing(sqlite3.connect(db, timeout=30)) as conn:
        rows = conn.execute("select ts from results where check_id = ? and vantage = ? "
                            "order by ts", (check, vantage)).fetchall()  # fmt: skip
    return [float(r[0]) for r in rows]


def gaps(ts: list[float], more_than: float) -> list[tuple[float, float]]:
    """(from, to) of every silence longer than ``more_than`` between consecutive results."""
    return [(a, b) for a, b in itertools.pairwise(ts) if b - a > more_than]


def agent_counts(log: str) -> dict[str, int]:
    """The agent's last "agent stopped" line as numbers."""
    m = re.findall(r"agent stopped: (\d+) result\(s\) produced, (\d+) delivered, (\d+) refused, "
                   r"(\d+) dropped", log)  # fmt: skip
    assert m, log[-3000:]
    produced, delivered, refused, dropped = (int(x) for x in m[-1])
    return {"produced": produced, "delivered": delivered, "refused": refused, "dropped": dropped}


def status(cfg: Path) -> dict[str, Any]:
    res = CliRunner().invoke(app, ["status", "-c", str(cfg), "--json"])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads(res.stdout)
    return doc


def availability(cfg: Path, service: str = "web", window: str = "1h") -> dict[str, Any]:
    """``threenines availability --window`` for one service, as JSON (downtime_s, ...)."""
    res = CliRunner().invoke(app, ["availability", "-c", str(cfg), "--window", window,
                                   "--service", service, "--json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    (row,) = [r for r in json.loads(res.stdout)["rows"] if r["kind"] == "service"]
    out: dict[str, Any] = row
    return out


def agent_row(cfg: Path, vantage: str = "v1") -> dict[str, Any]:
    (row,) = [a for a in status(cfg)["agents"] if a["vantage"] == vantage]
    return row


class Estate:
    """A server config with checks for ``v1`` (and ``central``), an agent token, and the
    commands to run the server and the agent as processes."""

    def __init__(self, tmp: Path, checks_yaml: str, extra: str = ""):
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.cfg, self.db = tmp / "server.yaml", tmp / "server.db"
        self.cfg.write_text(_config(tmp, self.port, checks_yaml, extra))
        made = CliRunner().invoke(app, ["token", "create", "--role", "agent", "--vantage", "v1",
                                        "-c", str(self.cfg)])  # fmt: skip
        assert made.exit_code == 0, made.output
        self.token = tmp / "token"
        self.token.write_text(made.stdout.strip().splitlines()[-1])
        self._n = 0

    def server(self) -> Proc:
        self._n += 1
        return Proc(["run", "-c", str(self.cfg)], self.tmp / f"server{self._n}.log")

    def agent(self, queue: Path, *extra: str, env: dict[str, str] | None = None,
              prefix: Sequence[str] = (), name: str = "agent") -> Proc:  # fmt: skip
        self._n += 1
        args = ["agent", "--server", self.url, "--vantage", "v1", "--token-file",
                str(self.token), "--queue", str(queue), "--refresh", "1s", *extra]  # fmt: skip
        return Proc(args, self.tmp / f"{name}{self._n}.log", env=env, prefix=prefix)

    async def up(self, server: Proc) -> Proc:
        await server.start()
        await until("the server's /healthz", lambda: healthy(self.url), 60)
        return server


def _config(tmp: Path, port: int, checks_yaml: str, extra: str) -> str:
    base = config_yaml(tmp, port, {}, extra, listen=port)
    return base.replace("    checks:\n", "    checks:\n" + checks_yaml, 1)


def tcp_check(name: str, port: int, interval: str = "200ms") -> str:
    return (f"      - {{name: {name}, type: tcp, host: 127.0.0.1, port: {port}, "
            f"interval: {interval}, timeout: 1s, retries: 0, vantage: [v1]}}\n")  # fmt: skip


def http_check(name: str, url: str, interval: str = "200ms") -> str:
    return (f"      - {{name: {name}, type: http, url: '{url}', interval: {interval}, "
            f"timeout: 1s, retries: 0, vantage: [v1]}}\n")  # fmt: skip


class TcpTarget:
    """A TCP listener on one loopback port that can stop listening (connections refused: the
    target is down) and listen again on the same port."""

    def __init__(self) -> None:
        self.port = free_port()
        self._server: asyncio.Server | None = None

    async def _handle(self, _r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        w.close()

    async def up(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port,
                                                  reuse_address=True)  # fmt: skip

    async def down(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> TcpTarget:
        await self.up()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.down()


class HttpTarget:
    """An HTTP server on loopback answering 200, or 500 while ``failing`` (a real outage),
    after ``delay`` seconds (a slow server: probes that take a while)."""

    def __init__(self) -> None:
        self.failing = False
        self.delay = 0.0
        self.port = 0
        self.served = 0
        self._server: asyncio.Server | None = None

    async def _handle(self, r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while await r.readline() not in (b"\r\n", b"\n", b""):
                pass
            self.served += 1
            if self.delay:
                await asyncio.sleep(self.delay)
            code = b"500 Internal Server Error" if self.failing else b"200 OK"
            w.write(b"HTTP/1.1 " + code + b"\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            await w.drain()
        except ConnectionError:
            pass
        finally:
            w.close()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def __aenter__(self) -> HttpTarget:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()


class MountNamespace:
    """A private mount namespace (root) holding a small tmpfs at ``path``: a process started
    with ``prefix`` runs inside it; ``run`` executes a shell command there; ``view`` is the
    path as this process sees it (``/proc/<pid>/root``)."""

    def __init__(self, path: Path, size: str = "1m", options: str = ""):
        self.path, self.size, self.options = path, size, options
        self.holder: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> MountNamespace:
        self.path.mkdir(parents=True, exist_ok=True)
        opts = f"size={self.size}" + (f",{self.options}" if self.options else "")
        script = f"mount -t tmpfs -o {opts} tmpfs '{self.path}' && echo ready && exec sleep 1d"
        self.holder = await asyncio.create_subprocess_exec(
            "unshare", "-m", "--propagation", "private", "sh", "-c", script,
            stdout=asyncio.subprocess.PIPE,
        )  # fmt: skip
        assert self.holder.stdout is not None
        line = await asyncio.wait_for(self.holder.stdout.readline(), 30)
        assert line.strip() == b"ready", line
        return self

    @property
    def prefix(self) -> list[str]:
        assert self.holder is not None
        return ["nsenter", "-t", str(self.holder.pid), "-m", "--"]

    def view(self, name: str) -> Path:
        assert self.holder is not None
        return Path(f"/proc/{self.holder.pid}/root{self.path}") / name

    async def run(self, command: str) -> int:
        p = await asyncio.create_subprocess_exec(*self.prefix, "sh", "-c", command,
                                                 stderr=asyncio.subprocess.DEVNULL)  # fmt: skip
        return await p.wait()

    async def __aexit__(self, *exc: object) -> None:
        if self.holder is not None and self.holder.returncode is None:
            self.holder.kill()
            await self.holder.wait()
