"""``make demo``: the main job on embedded defaults.

As root with the lab's tools available, the demo builds the lab estate (network namespaces in
198.18.0.0/15), runs the server and one agent per site, injects a fault at one site and shows
that only that site's vantage point sees it (``threenines.demo.lab``). Otherwise it runs the
loopback demo: small targets on 127.0.0.1 and the service with ``config/demo.yaml``, printing
live results and serving ``/metrics``; Ctrl-C stops it (or ``DEMO_SECONDS``), and a status table
and the availability so far are printed at the end.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from threenines.app.areas import COMPOSITION
from threenines.core.cli import load_or_exit

STATE = Path("data/demo")


def _start_targets() -> subprocess.Popen[bytes]:
    ready = STATE / "ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "threenines.demo.targets", str(STATE)])
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("demo targets did not start (is a port in 18025-18443 taken?)")
        time.sleep(0.1)
    return proc


def _lab_possible() -> bool:
    if os.environ.get("DEMO_MODE") == "loopback" or os.geteuid() != 0:
        return False
    return all(shutil.which(c) for c in ("ip", "haproxy", "snmpd", "iptables"))


def loopback(seconds: float | None) -> int:
    from threenines.app import service

    cfg = load_or_exit(Path("config/demo.yaml"), COMPOSITION)
    STATE.mkdir(parents=True, exist_ok=True)
    print("threenines demo (loopback): targets on 127.0.0.1:18080/18443/18025/18053")
    print(f"metrics: http://{cfg.server.listen}/metrics   status API: /api/v1/status")
    print("Ctrl-C to stop.\n", flush=True)
    targets = _start_targets()
    try:
        if seconds:
            # The service stops on SIGTERM; a timer in a child keeps the demo bounded.
            subprocess.Popen(["sh", "-c", f"sleep {seconds}; kill -TERM {os.getpid()}"])
        code = service.run(cfg, live=True)
    finally:
        targets.terminate()
        targets.wait(10)
    _summary()
    return code


def _summary() -> None:
    from typer.testing import CliRunner

    from threenines.app.cli import app

    runner = CliRunner()
    for args in (["status"], ["availability", "--window", "1h"]):
        res = runner.invoke(app, [*args, "-c", "config/demo.yaml"])
        print(f"\n$ threenines {' '.join(args)} -c config/demo.yaml\n{res.output}", end="")


def main() -> int:
    seconds = float(os.environ["DEMO_SECONDS"]) if os.environ.get("DEMO_SECONDS") else None
    if _lab_possible():
        from threenines.demo.lab import run_lab_demo

        return run_lab_demo()
    if os.geteuid() == 0 and os.environ.get("DEMO_MODE") != "loopback":
        print("(lab tools missing: running the loopback demo instead)")
    return loopback(seconds)


if __name__ == "__main__":
    sys.exit(main())
