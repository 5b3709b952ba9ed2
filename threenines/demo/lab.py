"""The lab demo (``make demo`` as root): the estate in namespaces, the server, one agent per site.

The story: everything green from the centre and from three libraries/hubs; then Grays Library's
own WAN link fails, and only Grays' vantage point sees the portal go down — the centre and the
other sites still see it up, so the portal is not "down" (quorum); then the link returns and the
results Grays measured while cut off are delivered. Every address is in 198.18.0.0/16.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import lab
from lab import topology
from threenines.cli.core import load_or_exit
from threenines.store.db import make_engine, migrate
from threenines.store.tokens import TokenStore

CONFIG = Path("config/lab.yaml")
STATE = Path("data/lab-demo")
SITES = ("lib-grays", "hub-tilbury", "depot")
EXE = str(Path(sys.executable).parent / "threenines")


def _say(text: str) -> None:
    print(f"\n=== {text}", flush=True)


def _status() -> None:
    subprocess.run([EXE, "status", "-c", str(CONFIG)], check=False)


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
    cfg = load_or_exit(CONFIG)
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
            _say("All green: the portal seen from the centre and from each site")
            _status()
            fault = lab.fault_add("link-down", "lib-grays", state=st)
            _say("FAULT: Grays Library's WAN link is down")
            _wait(30, "only lib-grays' vantage point should see the portal down")
            _status()
            lab.fault_clear(fault.id, state=st)
            _say("Link restored: lib-grays delivers what it measured while cut off")
            _wait(25, "catching up")
            _status()
        finally:
            for site in SITES:
                lab.stop(site, "demo-agent", state=st)
            server.terminate()
            server.wait(30)
    _say("Lab removed. Figures since the start:")
    subprocess.run([EXE, "availability", "-c", str(CONFIG), "--window", "1h"], check=False)
    return 0 if server.returncode == 0 else 1


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parents[2])
    sys.exit(run_lab_demo())
