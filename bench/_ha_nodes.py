"""Nodes of a high-availability group as real ``threenines run`` processes (``core.ha``): for
tests/spine/test_ha_nodes.py and ``bench.ha``. Each node is its own vantage point; all vote on
one TCP check of ``target``; with a JSON receiver, alerts go to it.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any, Protocol

import httpx

EXE = str(Path(sys.executable).with_name("threenines"))
NODES = ("node-a", "node-b", "node-c")
LEASE, BEAT = 4.0, 1.0


class Receiver(Protocol):
    def url(self, path: str = "hook") -> str: ...


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Node:
    def __init__(
        self, tmp: Path, name: str, url: str, target: int, rx: Receiver | None,
        *, claim_lease: float = 60.0,
    ):  # fmt: skip
        self.name, self.port = name, free_port()
        self.cfg = tmp / f"{name}.yaml"
        self.log = tmp / f"{name}.log"
        alerts = ""
        if rx is not None:
            alerts = f"""
alerts:
  events_poll: 200ms
  outbox: {{backoff: 1s, poll_interval: 200ms, lease: {claim_lease:g}s}}
  receivers: [{{name: oncall, url: "{rx.url("oncall")}"}}]
  routes: [{{name: all, receivers: [oncall], group_wait: 0s, group_interval: 0s,
            repeat_interval: 0s}}]
"""
        self.cfg.write_text(f"""
organisation: Test Council
storage: {{url: "{url}", flush_interval: 100ms, spool: "{tmp / f"{name}-spool.db"}"}}
server: {{listen: "127.0.0.1:{self.port}", vantage: {name},
          ha: {{lease: {LEASE:g}s, heartbeat: {BEAT:g}s}}}}
sites: [{{name: dc1, kind: datacentre}}]
vantage_points: [{", ".join(f"{{name: {n}, site: dc1}}" for n in NODES)}]
services:
  - name: web
    site: dc1
    checks: [{{name: port, type: tcp, host: 127.0.0.1, port: {target}, interval: 300ms,
               vantage: [node-a, node-b, node-c]}}]
{alerts}""")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Node:
        self.proc = subprocess.Popen([EXE, "run", "-c", str(self.cfg)], stdout=subprocess.DEVNULL,
                                     stderr=self.log.open("ab"))  # fmt: skip
        return self

    def health(self) -> dict[str, Any] | None:
        try:
            reply = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
            return dict(reply.json())
        except (httpx.HTTPError, ValueError):
            return None

    def role(self) -> str | None:
        h = self.health()
        return h["role"] if h else None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        if sig == signal.SIGKILL:
            self.proc.wait(30)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def active(nodes: list[Node]) -> list[str]:
    return [n.name for n in nodes if n.role() == "active"]
