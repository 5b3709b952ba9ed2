"""Real peers for the failover tests: two HTTP backends and HAProxy with a runtime API socket."""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import require_command

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def backend(name: str) -> ThreadingHTTPServer:
    body = name.encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@dataclass
class FrontDoor:
    port: int
    socket: Path
    cfg: Path

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def served_by(self) -> str:
        return httpx.get(self.url(), timeout=5).text

    def admin(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.socket))
            s.sendall(command.encode() + b"\n")
            out = b""
            while chunk := s.recv(65536):
                out += chunk
        return out.decode()

    def states(self) -> dict[str, int]:
        lines = self.admin("show servers state main").splitlines()
        return {f[3]: int(f[6]) for f in (ln.split() for ln in lines[2:]) if len(f) > 6}


def start_front_door(tmp: Path) -> Iterator[FrontDoor]:
    require_command("haproxy")
    main, mirror = backend("dc-main"), backend("dc-mirror")
    port = free_port()
    sock = tmp / "haproxy.sock"
    cfg = tmp / "haproxy.cfg"
    cfg.write_text(
        f"""global
    stats socket {sock} mode 600 level admin
defaults
    mode http
    timeout connect 2s
    timeout client 10s
    timeout server 10s
frontend fe
    bind 127.0.0.1:{port}
    default_backend main
backend main
    server dc-main 127.0.0.1:{main.server_address[1]}
    server dc-mirror 127.0.0.1:{mirror.server_address[1]} disabled
"""
    )
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(cfg)], stderr=subprocess.PIPE)
    deadline = time.monotonic() + 10
    while not sock.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"haproxy did not start: {proc.stderr.read().decode()[-500:]}")  # type: ignore[union-attr]
        time.sleep(0.05)
    try:
        yield FrontDoor(port, sock, cfg)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
        main.shutdown()
        mirror.shutdown()


def haproxy_vars(fd: FrontDoor) -> dict[str, object]:
    return {"haproxy_switch_socket": str(fd.socket)}


def venv_bin() -> str:
    import sys

    return str(Path(sys.executable).parent)


def have_ansible_lint() -> bool:
    return (
        shutil.which("ansible-lint", path=venv_bin() + os.pathsep + os.environ["PATH"]) is not None
    )


# -- configuration and state for orchestrator tests ---------------------------------------------

VANTAGES = ("central", "lib-grays", "hub-tilbury", "depot")
SLOW_PLAYBOOK = Path(__file__).resolve().parent / "playbooks" / "slow.yml"


def config_yaml(
    tmp: Path,
    fd: FrontDoor,
    *,
    db_url: str,
    mode: str = "auto",
    expect: str = "dc-mirror",
    playbook: str = "failover.yml",
    extra_vars: str = "",
    on: str = f", vantage: [{', '.join(VANTAGES)}]",
    extra: str = "",
    listen: str = "127.0.0.1:0",
    cooldown: str = "1h",
) -> str:
    """``on``: the checks' vantage points, by default the four that ``mark`` writes (only a
    check's configured vantage points vote in the state rule); e.g. ``", vantage:
    [lib-grays]"`` so the service's own scheduler (vantage central) runs none of the checks
    and the tests set the states; ``extra``: more sections."""
    sock = fd.socket
    return f"""
storage: {{url: "{db_url}", flush_interval: 100ms, spool: "{tmp / "spool.jsonl"}"}}
server: {{listen: "{listen}", vantage: central}}
sites:
  - {{name: dc-main, kind: datacentre}}
  - {{name: dc-mirror, kind: datacentre, mirror_of: dc-main}}
  - {{name: front, kind: site}}
  - {{name: lib-grays}}
vantage_points:
  - {{name: lib-grays, site: lib-grays}}
  - {{name: hub-tilbury, site: lib-grays}}
  - {{name: depot, site: lib-grays}}
services:
  - name: portal
    site: dc-main
    checks: [{{name: http, type: tcp, host: 127.0.0.1, port: 9{on}}}]
  - name: portal-mirror
    site: dc-mirror
    checks: [{{name: http, type: tcp, host: 127.0.0.1, port: 9{on}}}]
  - name: front-door
    site: front
    checks:
      - {{name: via-mirror, type: tcp, host: 127.0.0.1, port: {fd.port},
          send: "GET / HTTP/1.0\\r\\n\\r\\n", expect: "{expect}"{on}}}
failover:
  evaluate_every: 200ms
  project_dir: "{PLAYBOOKS}"
  data_dir: "{tmp / "runs"}"
  lease_ttl: 2s
  plans:
    - name: main-to-mirror
      primary: dc-main
      mirror: dc-mirror
      trigger: {{datacentre: dc-main, confirm_for: 10s, quorum: 2}}
      guards: {{mode: {mode}, cooldown: {cooldown}, max_runs_per_day: 2, approval_ttl: 5m}}
      playbook:
        path: "{playbook}"
        inventory: inventory/local.yml
        timeout: 60s
        extravars: {{haproxy_switch_socket: "{sock}", marker: "{tmp / "started"}"{extra_vars}}}
      failback:
        path: failback.yml
        inventory: inventory/local.yml
        extravars: {{haproxy_switch_socket: "{sock}"}}
      verification: {{checks: [front-door/via-mirror], within: 8s, interval: 0.3s}}
{extra}
"""


def mark(
    engine,
    check_id: str,
    state: str,
    since: float,
    last_seen: float,
    vantages: tuple[str, ...] = VANTAGES,
) -> None:
    """Open state intervals for ``check_id`` as seen from ``vantages``."""
    from threenines.core.tables import state_intervals

    with engine.begin() as conn:
        conn.execute(
            state_intervals.update()
            .where(
                state_intervals.c.check_id == check_id,
                state_intervals.c.vantage.in_(vantages),
                state_intervals.c.end.is_(None),
            )
            .values(end=since)
        )
        conn.execute(
            state_intervals.insert(),
            [
                {
                    "check_id": check_id,
                    "vantage": v,
                    "state": state,
                    "start": since,
                    "end": None,
                    "last_seen": last_seen,
                    "reason": "",
                }
                for v in vantages
            ],
        )


def primary_down(
    engine, now: float, *, mirror: str = "up", down_from: tuple[str, ...] = VANTAGES
) -> None:
    mark(engine, "portal/http", "down", now - 60, now, down_from)
    rest = tuple(v for v in VANTAGES if v not in down_from)
    if rest:
        mark(engine, "portal/http", "up", now - 3600, now, rest)
    mark(engine, "portal-mirror/http", mirror, now - 3600, now)


def alerts_receivers() -> Any:
    """tests/alerts/alerts_receivers.py (the real json:// receiver), shared rather than copied:
    test folders are not packages, so load it by path once."""
    name = "alerts_receivers"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "alerts" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]
