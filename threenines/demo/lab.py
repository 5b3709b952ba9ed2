"""The lab demo (``make demo`` as root): the estate in namespaces, the server, one agent per site.

The story: the portal probed from the centre and from three libraries/hubs; then Grays
Library's own WAN link fails, and only Grays' vantage point sees the portal go down — the centre
and the other sites still see it up, so the portal is not "down" (quorum); then the link returns
and the results Grays measured while cut off are delivered. Every address is in 198.18.0.0/16.
After each status table, ``summarise`` says what its rows say (never "All green" above a row
that is not up, "silent" only for an agent whose row says silent).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from threenines import lab
from threenines.agents.tokens import TokenStore
from threenines.app.areas import COMPOSITION
from threenines.app.db import make_engine, migrate
from threenines.core.cli import load_or_exit
from threenines.core.tables import results
from threenines.lab import topology

CONFIG = Path("config/lab.yaml")
STATE = Path("data/lab-demo")
SITES = ("lib-grays", "hub-tilbury", "depot")
EXE = str(Path(sys.executable).parent / "threenines")


def _say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _status(agent: str | None = None) -> None:
    """The status table, then what it says in words (``summarise``, from ``status --json`` read
    right after the table: the words claim nothing the rows do not show)."""
    env = {**os.environ, "COLUMNS": "150"}
    subprocess.run([EXE, "status", "-c", str(CONFIG)], check=False, env=env)
    res = subprocess.run([EXE, "status", "--json", "-c", str(CONFIG)], check=False,
                         capture_output=True, text=True, env=env)  # fmt: skip
    try:
        doc = json.loads(res.stdout)
    except ValueError:
        print("(the status could not be read: no summary)")
        return
    for line in summarise(doc, agent):
        print(line, flush=True)


def summarise(doc: Mapping[str, Any], agent: str | None = None) -> list[str]:
    """Words for a status document (``status --json``) that say only what its rows say: "All
    green" only when every service and every check row is up; an agent "silent" only when its
    row's state is silent. ``agent``: the one vantage point to speak of (None: every agent)."""
    services, checks = doc.get("services", []), doc.get("checks", [])
    lines: list[str] = []
    if checks and all(r.get("state") == "up" for r in [*services, *checks]):
        lines.append(f"All green: {len(services)} service(s), {len(checks)} check row(s) up")
    elif not checks:
        lines.append("No check rows yet: nothing to call green")
    else:
        counts = Counter(str(r.get("state")) for r in checks)
        parts = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        lines.append(f"Not all green: of {len(checks)} check row(s), {parts}")
        for r in [r for r in checks if r.get("state") != "up"][:8]:
            lines.append(f"  {r.get('service')}/{r.get('check')} @{r.get('vantage')}: "
                         f"{r.get('state')} ({r.get('reason', '')})")  # fmt: skip
    for a in doc.get("agents", []):
        vantage, state = a.get("vantage"), a.get("state")
        if agent is not None and vantage != agent:
            continue
        if state == "silent":
            lines.append(f"agent {vantage} is silent (last heard {_ago(doc, a)}): its checks "
                         "show unknown, not down")  # fmt: skip
        else:
            lines.append(f"agent {vantage}: {state} (last heard {_ago(doc, a)}), not silent")
    return lines


def _ago(doc: Mapping[str, Any], agent: Mapping[str, Any]) -> str:
    heard = agent.get("last_heard")
    if heard is None:
        return "never"
    return f"{max(0, round(float(doc.get('generated', heard)) - float(heard)))}s ago"


def _seen_during(url: str, check_id: str, start: float, end: float) -> None:
    """What each vantage point measured while the fault was on (agents' queued results
    included): the evidence that only the cut-off site saw an outage."""
    engine = make_engine(url)
    query = (
        sa.select(results.c.vantage, results.c.status, sa.func.count())
        .where(results.c.check_id == check_id, results.c.ts >= start, results.c.ts < end)
        .group_by(results.c.vantage, results.c.status)
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    engine.dispose()
    seen: dict[str, list[str]] = {}
    for vantage, status, count in rows:
        seen.setdefault(vantage, []).append(f"{count} {status}")
    print(f"{check_id} while lib-grays' link was down:")
    for vantage in sorted(seen):
        print(f"  {vantage:<12} {', '.join(sorted(seen[vantage]))}")


def _tokens(url: str) -> dict[str, Path]:
    engine = make_engine(url)
    migrate(engine)
    out: dict[str, Path] = {}
    for site in SITES:
        plain = TokenStore(engine).create("agent", now=time.time(), vantage=site)[1]
        path = STATE / f"{site}.token"
        path.write_text(plain)
        path.chmod(0o600)
        out[site] = path
    engine.dispose()
    return out


def _wait(seconds: float, what: str) -> None:
    print(f"... {what} ({seconds:.0f}s)", flush=True)
    time.sleep(seconds)


def run_lab_demo() -> int:
    cfg = load_or_exit(CONFIG, COMPOSITION)
    STATE.mkdir(parents=True, exist_ok=True)
    port = cfg.server.listen.rpartition(":")[2]
    server_url = f"http://{topology.HOST_ADDR}:{port}"
    _say("threenines demo (lab): building the estate in network namespaces (198.18.0.0/16)")
    with lab.session() as st:
        tokens = _tokens(cfg.storage.url)
        server = subprocess.Popen([EXE, "run", "-c", str(CONFIG)], stderr=subprocess.DEVNULL)
        try:
            for site in SITES:
                lab.spawn(site, "demo-agent", [
                    sys.executable, EXE, "agent", "--server", server_url, "--vantage", site,
                    "--token-file", str(tokens[site].resolve()),
                    "--queue", str((STATE / f"{site}.queue").resolve()), "--refresh", "5s",
                ], state=st)  # fmt: skip
            print(f"server {server_url} (metrics: {server_url}/metrics); agents in "
                  + ", ".join(f"tn-{s}" for s in SITES), flush=True)  # fmt: skip
            _wait(35, "probing from the centre and from every site")
            _say("The portal seen from the centre and from each site")
            _status()
            fault = lab.fault_add("link-down", "lib-grays", state=st)
            cut = time.time()
            _say("FAULT: Grays Library's WAN link is down")
            _wait(30, "lib-grays' agent cannot reach the server while its link is down")
            _status("lib-grays")
            lab.fault_clear(fault.id, state=st)
            restored = time.time()
            _say("Link restored: lib-grays' agent sends what it queued while cut off")
            _wait(25, "catching up")
            _status("lib-grays")
            _seen_during(cfg.storage.url, "portal-main/home", cut + 2, restored - 1)
        finally:
            for site in SITES:
                lab.stop(site, "demo-agent", state=st)
            server.terminate()
            server.wait(30)
    _say("Lab removed. Figures since the start:")
    subprocess.run(
        [EXE, "availability", "-c", str(CONFIG), "--window", "1h"],
        check=False,
        env={**os.environ, "COLUMNS": "150"},
    )
    return 0 if server.returncode == 0 else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[2])
    sys.exit(run_lab_demo())
