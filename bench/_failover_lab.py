"""The lab estate watched by a real ``threenines run`` and one agent per site, with the failover
plan of config/lab.yaml: for ``bench.failover`` (5 s probes) and tests/failover (1 s probes).

``watched(state, tmp, interval=...)`` derives a config from config/lab.yaml (the portal through
the front door, each data centre's portal directly, the ``dc-main-to-mirror`` plan) with the
given probe interval, starts the server in the root namespace on the lab's host address and an
agent inside each site's namespace (each over its own WAN link, with its own token), waits until
every vantage point reports, and stops them all at the end. The lab itself comes from
``lab.session()`` / the ``lab_estate`` fixture (exclusive, always torn down).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from bench._wait import until
from threenines import lab
from threenines.agents.tokens import TokenStore
from threenines.app.config import Config, load_config
from threenines.app.db import make_engine, migrate
from threenines.core.tables import events, state_intervals
from threenines.failover.orchestrator import Orchestrator
from threenines.failover.store import failover_runs
from threenines.lab import topology

ROOT = Path(__file__).resolve().parent.parent
SITES = ("lib-grays", "hub-tilbury", "depot")
PLAN = "dc-main-to-mirror"
EXE = str(Path(sys.executable).parent / "threenines")
KEEP = {"portal-main": ("home", "login"), "portal-dc-main": ("health",),
        "portal-dc-mirror": ("health",)}  # fmt: skip


def free_lab_port() -> int:
    with socket.socket() as s:
        s.bind((topology.HOST_ADDR, 0))
        return int(s.getsockname()[1])


def lab_config(
    tmp: Path,
    port: int,
    *,
    interval: float,
    confirm_for: float,
    cooldown: float,
    alerts: dict[str, Any] | None = None,
    rpo: float | None = None,
) -> dict[str, Any]:
    """config/lab.yaml, cut to the portal checks, with ``interval`` probes and test guards
    (``rpo``: the plan's pre-flight and drill objective, when not config/lab.yaml's)."""
    cfg = yaml.safe_load((ROOT / "config" / "lab.yaml").read_text())
    cfg["storage"] = {"url": f"sqlite:///{tmp}/lab.db", "flush_interval": "200ms",
                      "spool": str(tmp / "spool.jsonl")}  # fmt: skip
    cfg["server"]["listen"] = f"{topology.HOST_ADDR}:{port}"
    for site in cfg["sites"]:
        site.pop("depends_on", None)  # the WAN-link services are not watched here
    services = [s for s in cfg["services"] if s["name"] in KEEP]
    for svc in services:
        svc["checks"] = [c for c in svc["checks"] if c["name"] in KEEP[svc["name"]]]
        for check in svc["checks"]:
            journey = check["type"] == "journey"
            check["interval"] = f"{max(interval, 2.0) if journey else interval}s"
            check["timeout"] = f"{min(2.0 if journey else 1.0, interval)}s"
            check["retries"] = 0  # the quorum of vantage points does the confirming
    cfg["services"] = services
    fo = cfg["failover"]
    fo.update(project_dir=str(ROOT / "playbooks"), data_dir=str(tmp / "runs"), evaluate_every="1s")
    plan = fo["plans"][0]
    plan["trigger"].update(confirm_for=f"{confirm_for}s", fresh_within=f"{3 * interval + 2}s")
    plan["guards"].update(mode="auto", cooldown=f"{cooldown}s", max_runs_per_day=50)
    kept = {f"{svc['name']}/{c['name']}" for svc in services for c in svc["checks"]}
    checks = [c for c in plan["verification"]["checks"] if c in kept]
    plan["verification"].update(checks=checks, within="30s", interval="500ms")
    for key in ("playbook", "failback"):
        plan[key]["timeout"] = "90s"
    if rpo is not None:
        plan["preflight"]["rpo"] = plan["objectives"]["rpo"] = f"{rpo:g}s"
    if alerts is not None:
        cfg["alerts"] = alerts
    return cfg


@dataclass
class Watched:
    """The running estate: the server's config and database, and helpers to read them."""

    state: lab.State
    tmp: Path
    cfg: Config
    cfg_path: Path
    engine: sa.Engine
    server: subprocess.Popen[bytes]

    def orch(self) -> Orchestrator:
        return Orchestrator(self.cfg, self.engine, actor="test-console")

    def runs(self) -> list[sa.Row]:
        with self.engine.connect() as conn:
            q = sa.select(failover_runs).order_by(failover_runs.c.id)
            return list(conn.execute(q))

    def stages(self, after: int = 0, kind: str | None = None) -> list[sa.Row]:
        q = sa.select(events).where(events.c.source == "failover", events.c.id > after)
        if kind is not None:
            q = q.where(events.c.kind == kind)
        with self.engine.connect() as conn:
            return list(conn.execute(q.order_by(events.c.id)))

    def last_event_id(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.max(events.c.id))).scalar() or 0)

    def states(self, check_id: str) -> dict[str, str]:
        """The open state of ``check_id`` per vantage point."""
        si = state_intervals.c
        q = sa.select(si.vantage, si.state).where(si.check_id == check_id, si.end.is_(None))
        with self.engine.connect() as conn:
            return {v: s for v, s in conn.execute(q)}

    def last_seen(self, check_id: str, vantage: str) -> float:
        si = state_intervals.c
        q = sa.select(sa.func.max(si.last_seen)).where(
            si.check_id == check_id, si.vantage == vantage
        )
        with self.engine.connect() as conn:
            return float(conn.execute(q).scalar() or 0.0)

    def serving_dc(self) -> str | None:
        """The data centre the front door sends users to now (its portal names itself)."""
        return lab.services.health(f"http://{topology.FRONT_DOOR_ADDR}/health", timeout=2.0)

    def haproxy(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(self.state.haproxy_socket))
            s.sendall(command.encode() + b"\n")
            return b"".join(iter(lambda: s.recv(65536), b"")).decode()

    def admin_state(self, backend: str, server: str) -> int:
        """HAProxy's srv_admin_state (bit 0: put in maintenance by the runtime API)."""
        for line in self.haproxy(f"show servers state {backend}").splitlines()[2:]:
            f = line.split()
            if len(f) > 6 and f[3] == server:
                return int(f[6])
        raise LookupError(f"{backend}/{server} not in HAProxy's state")

    def all_up(self) -> bool:
        every = ("central", *SITES)
        mirror = self.states("portal-dc-mirror/health")
        main = self.states("portal-dc-main/health")
        return all(mirror.get(v) == "up" and main.get(v) == "up" for v in every)


@contextlib.contextmanager
def watched(
    state: lab.State,
    tmp: Path,
    *,
    interval: float = 1.0,
    confirm_for: float = 3.0,
    cooldown: float = 20.0,
    alerts: dict[str, Any] | None = None,
    rpo: float | None = None,
) -> Iterator[Watched]:
    tmp.mkdir(parents=True, exist_ok=True)
    port = free_lab_port()
    raw = lab_config(tmp, port, interval=interval, confirm_for=confirm_for, cooldown=cooldown,
                     alerts=alerts, rpo=rpo)  # fmt: skip
    path = tmp / "lab-failover.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    cfg = load_config(path)
    engine = make_engine(cfg.storage.url)
    migrate(engine)
    for site in SITES:
        plain = TokenStore(engine).create("agent", now=time.time(), vantage=site)[1]
        (tmp / f"{site}.token").write_text(plain)
    log = open(tmp / "server.log", "wb")  # closed in the finally below
    server = subprocess.Popen([EXE, "run", "-c", str(path)], stdout=log, stderr=log, cwd=ROOT)
    name = f"agent-fo{port}"
    try:
        for site in SITES:
            # the interpreter first: lab.spawn recognises its process by the command line
            lab.spawn(site, name, [
                sys.executable, EXE, "agent", "--server", f"http://{topology.HOST_ADDR}:{port}",
                "--vantage", site, "--token-file", str(tmp / f"{site}.token"),
                "--queue", str(tmp / f"{site}.queue"), "--refresh", "2s",
            ], state=state)  # fmt: skip
        w = Watched(state, tmp, cfg, path, engine, server)
        until("every vantage point to see both data centres up", w.all_up, limit=90)
        yield w
    finally:
        for site in SITES:
            lab.stop(site, name, state=state)
        server.terminate()
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(10)
        log.close()
        engine.dispose()
