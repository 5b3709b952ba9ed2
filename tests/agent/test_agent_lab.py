"""Site agents in the lab: each runs inside its site's namespace and reaches the server over its
own WAN link; cutting one site's link is seen only from that site, and the results it measured
while cut off are queued and delivered when the link returns.

Root only (lab namespaces); every address is a lab address in 198.18.0.0/16.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_support import rows

from threenines import lab
from threenines.agents.tokens import TokenStore
from threenines.app.db import make_engine, migrate
from threenines.lab import topology

pytestmark = [pytest.mark.slow, pytest.mark.root, pytest.mark.timeout(300)]
SITES = ("lib-grays", "hub-tilbury", "depot")
EXE = str(Path(sys.executable).parent / "threenines")


def _config(tmp: Path, port: int) -> Path:
    vps = "\n".join(f"  - {{name: {s}, site: {s}}}" for s in SITES)
    path = tmp / "lab-agents.yaml"
    path.write_text(f"""
storage: {{url: 'sqlite:///{tmp}/lab.db', flush_interval: 200ms, spool: '{tmp}/spool.jsonl'}}
server: {{listen: '{topology.HOST_ADDR}:{port}', vantage: central}}
sites:
  - {{name: dc-main, kind: datacentre}}
{chr(10).join(f"  - {{name: {s}}}" for s in SITES)}
vantage_points:
  - {{name: central, site: dc-main}}
{vps}
services:
  - name: portal
    site: dc-main
    checks:
      - {{name: home, type: http, url: 'http://{topology.FRONT_DOOR_ADDR}/', interval: 1s,
         timeout: 2s, retries: 0, vantage: [central, {", ".join(SITES)}]}}
""")
    return path


def _free_lab_port() -> int:
    with socket.socket() as s:
        s.bind((topology.HOST_ADDR, 0))
        return int(s.getsockname()[1])


def _queued(path: Path) -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute("select count(*) from results").fetchone()[0])


def _until(what: str, cond, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_one_site_cut_off_is_seen_only_there_and_loses_nothing(lab_estate, tmp_path) -> None:
    port = _free_lab_port()
    cfg, db = _config(tmp_path, port), tmp_path / "lab.db"
    engine = make_engine(f"sqlite:///{db}")
    migrate(engine)
    for site in SITES:
        plain = TokenStore(engine).create("agent", now=time.time(), vantage=site)[1]
        (tmp_path / f"{site}.token").write_text(plain)
    engine.dispose()
    server = subprocess.Popen([EXE, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)  # fmt: skip
    logs = {}
    try:
        for site in SITES:
            # the interpreter first: lab.spawn recognises its process by the command line, and a
            # console script's would read "python .../threenines ..."
            lab.spawn(site, "agent-test", [
                sys.executable, EXE, "agent", "--server", f"http://{topology.HOST_ADDR}:{port}",
                "--vantage", site, "--token-file", str(tmp_path / f"{site}.token"), "--queue",
                str(tmp_path / f"{site}.queue"), "--refresh", "2s",
                # a send across the cut fails within the cut (by default it may wait 30 s and
                # go through once the link is back, and then nothing says it was cut off)
                "--timeout", "2s",
            ], state=lab_estate)  # fmt: skip
        every = ("central", *SITES)
        _until("up results from every vantage point", lambda: all(
            sum(r[4] == "up" for r in rows(db, v)) >= 3 for v in every))  # fmt: skip

        fault = lab.fault_add("link-down", "lib-grays", state=lab_estate)
        cut = time.time()
        _until("lib-grays queueing", lambda: _queued(tmp_path / "lib-grays.queue") >= 5)
        time.sleep(3)
        # the link is up again at some moment during fault_clear (which then restores routes
        # and flushes neighbours: over a second under load), so the cut ends at its call
        back = time.time()
        lab.fault_clear(fault.id, state=lab_estate)
        _until("lib-grays delivering again", lambda: any(
            r[3] > back + 1 for r in rows(db, "lib-grays")))  # fmt: skip
        for site in SITES:
            lab.stop(site, "agent-test", state=lab_estate)
            logs[site] = (lab_estate.logs / f"tn-{site}.agent-test.log").read_text()
    finally:
        for site in SITES:
            lab.stop(site, "agent-test", state=lab_estate)
        server.terminate()
        _, err = server.communicate(timeout=30)
    assert server.returncode == 0, err.decode()[-2000:]

    # while cut off (give the link 2 s either side), only lib-grays saw the portal down ...
    window = [r for r in rows(db) if cut + 2 < r[3] < back - 1]
    by_vantage = {v: {r[4] for r in window if r[2] == v} for v in every}
    assert by_vantage["lib-grays"] == {"down"}, by_vantage
    assert all(by_vantage[v] == {"up"} for v in ("central", "hub-tilbury", "depot")), by_vantage
    # ... and every result it measured meanwhile reached the server after the link came back
    assert sum(1 for r in window if r[2] == "lib-grays") >= 3
    for site in SITES:
        assert "0 dropped from the queue" in logs[site], logs[site]
        assert "0 refused" in logs[site]
        assert _queued(tmp_path / f"{site}.queue") == 0
    assert "cannot deliver results" in logs["lib-grays"]
    assert "server reachable again" in logs["lib-grays"]
