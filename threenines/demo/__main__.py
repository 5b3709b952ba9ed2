"""``make demo``: the main job on embedded defaults.

As root with the lab's tools available, the demo builds the lab estate (network namespaces in
198.18.0.0/15), runs the server and one agent per site, injects a fault at one site and shows
that only that site's vantage point sees it (``threenines.demo.lab``). Otherwise it runs the
loopback demo: small targets on 127.0.0.1 (``threenines.demo.targets``, with an on-call
receiver that prints the alerts it gets) and the service with ``config/demo.yaml`` on a fresh
SQLite store, printing live results and serving ``/metrics``, the API and the console. Within a
minute it shows an outage that starts, is alerted and recovers; blips hidden by retries (counted,
never downtime); a degraded page; a certificate about to expire. Ctrl-C stops it (or
``DEMO_SECONDS``); then it prints what happened (from the store and the receiver), the status
table, the availability over the run and the board report it wrote.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from threenines.app.areas import COMPOSITION
from threenines.core.cli import load_or_exit
from threenines.core.config import Config
from threenines.demo import targets as T

STATE = Path("data/demo")
#: the story's checks (config/demo.yaml)
OUTAGE, FLAKY, SLOW, CERT = "housing/api", "payments/api", "planning/search", "portal/certificate"


def config_path() -> Path:
    """``config/demo.yaml`` of a checkout, else the copy the package ships."""
    local = Path("config/demo.yaml")
    if local.exists():
        return local
    from threenines.app.init import DATA

    return DATA / "config" / "demo.yaml"


def _start_targets() -> subprocess.Popen[bytes]:
    ready = STATE / "ready"
    ready.unlink(missing_ok=True)
    proc = subprocess.Popen([sys.executable, "-m", "threenines.demo.targets", str(STATE)])
    deadline = time.monotonic() + 20
    while not ready.exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.terminate()
            proc.wait(10)
            raise SystemExit(
                f"demo targets did not start (is a port of {T.TCP_PORT}-{T.HTTPS_PORT} taken?)"
            )
        time.sleep(0.1)
    return proc


def _lab_possible() -> bool:
    if os.environ.get("DEMO_MODE") == "loopback" or os.geteuid() != 0:
        return False
    return all(shutil.which(c) for c in ("ip", "haproxy", "snmpd", "iptables"))


def _fresh_store(cfg: Config) -> None:
    """The demo starts on an empty SQLite store (the last run's is kept as ``*.prev``), so its
    figures and alerts are this run's only."""
    from sqlalchemy.engine import make_url

    url = make_url(cfg.storage.url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        db = Path(str(url.database))
        for suffix in ("", "-wal", "-shm"):
            part = db.with_name(db.name + suffix)
            if part.exists():
                part.replace(part.with_name(part.name + ".prev"))
    Path(cfg.storage.spool).unlink(missing_ok=True)


def _console_user(cfg: Config, config: Path) -> Path:
    """A console admin ``demo`` for this run (through ``threenines user add``); its password is
    in the returned file (0600), never printed."""
    from typer.testing import CliRunner

    from threenines.app.cli import app
    from threenines.app.db import make_engine, migrate

    engine = make_engine(cfg.storage.url)
    migrate(engine)
    engine.dispose()
    secret = STATE / "console-password"
    secret.write_text(secrets.token_urlsafe(12))
    secret.chmod(0o600)
    args = ["user", "add", "demo", "--role", "admin", "--password-file", str(secret)]
    res = CliRunner().invoke(app, [*args, "-c", str(config)])
    if res.exit_code != 0:
        print(f"(could not add the console user: {res.output.strip()})")
    return secret


def _check(cfg: Config, check_id: str) -> Any:
    service, _, name = check_id.partition("/")
    for s in cfg.services:
        if s.name == service:
            for c in s.checks:
                if c.name == name:
                    return c
    raise KeyError(check_id)


def _plan(cfg: Config, config: Path, password: Path) -> None:
    listen = cfg.server.listen
    slow, cert = _check(cfg, SLOW), _check(cfg, CERT)
    flaky = _check(cfg, FLAKY)
    print(
        f"threenines demo (loopback): targets on 127.0.0.1:{T.HTTP_PORT}/{T.HTTPS_PORT}/"
        f"{T.TCP_PORT}/{T.DNS_PORT}, the on-call receiver on 127.0.0.1:{T.RECEIVER_PORT}\n"
        f"config {config}; store {cfg.storage.url} (fresh for this run)\n"
        "What happens (seconds from the start):\n"
        f"  {OUTAGE:<19} down from {T.OUTAGE_START:.0f} s to {T.OUTAGE_END:.0f} s (again every "
        f"{T.OUTAGE_CYCLE / 60:.0f} min): alerted to on-call, then resolved\n"
        f"  {FLAKY:<19} every {_nth(T.FLAKY_EVERY)} request fails once: a retry (of "
        f"{flaky.retries}) hides it, shown as x2, counted, never downtime\n"
        f"  {SLOW:<19} answers in 1.2 s, above degraded_after {slow.degraded_after:g} s: "
        "degraded (still available)\n"
        f"  {CERT:<19} the certificate expires in 10 days, under warn_days {cert.warn_days:g}: "
        "degraded\n"
        f"metrics http://{listen}/metrics   API http://{listen}/api/v1/status   "
        f"console http://{listen}/ (user demo, password in {password})\n"
        "Ctrl-C to stop (DEMO_SECONDS=60 for a bounded run).\n",
        flush=True,
    )


def _nth(n: int) -> str:
    return {1: "", 2: "2nd", 3: "3rd"}.get(n, f"{n}th")


def loopback(seconds: float | None) -> int:
    from threenines.app import service

    config = config_path()
    cfg = load_or_exit(config, COMPOSITION)
    STATE.mkdir(parents=True, exist_ok=True)
    _fresh_store(cfg)
    password = _console_user(cfg, config)
    _plan(cfg, config, password)
    targets = _start_targets()
    started = time.time()
    timer = None
    if seconds:  # the service stops on SIGTERM, as on Ctrl-C: a timer keeps the demo bounded
        timer = threading.Timer(seconds, os.kill, (os.getpid(), signal.SIGTERM))
        timer.daemon = True
        timer.start()
    try:
        code = service.run(cfg, live=True)
    finally:
        if timer is not None:
            timer.cancel()
        targets.terminate()
        targets.wait(10)
    ended = time.time()
    print("\n=== What happened (from the store and the on-call receiver)")
    for line in story(_results(cfg, started, ended), _received(), cfg):
        print(line)
    _summary(cfg, config, started, ended, password)
    return code


def _results(cfg: Config, start: float, end: float) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from threenines.core.db import make_engine
    from threenines.core.tables import results

    engine = make_engine(cfg.storage.url)
    cols = (results.c.check_id, results.c.ts, results.c.status, results.c.attempts)
    query = sa.select(*cols).where(results.c.ts >= start - 1, results.c.ts <= end)
    try:
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query.order_by(results.c.ts))]
    finally:
        engine.dispose()
    return rows


def _received() -> list[dict[str, Any]]:
    path = STATE / "alerts.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _clock(ts: float, tz: ZoneInfo) -> str:
    return dt.datetime.fromtimestamp(ts, tz).strftime("%H:%M:%S")


def story(rows: Sequence[dict[str, Any]], received: Sequence[dict[str, Any]], cfg: Config
          ) -> list[str]:  # fmt: skip
    """What the run showed, in words that say only what ``rows`` (counted results: check_id,
    ts, status, attempts) and ``received`` (the receiver's messages) hold."""
    tz = ZoneInfo(cfg.timezone)
    by_check: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_check.setdefault(r["check_id"], []).append(r)
    out: list[str] = []

    outage = by_check.get(OUTAGE, [])
    down = [r for r in outage if r["status"] == "down"]
    if not down:
        out.append(f"{OUTAGE}: no outage seen in this run ({len(outage)} result(s), none down)")
    else:
        first = down[0]["ts"]
        back = [r for r in outage if r["ts"] > first and r["status"] in ("up", "degraded")]
        end = f"up again at {_clock(back[0]['ts'], tz)}" if back else "still down at the end"
        out.append(f"{OUTAGE}: down at {_clock(first, tz)} ({len(down)} down result(s)), {end}")
    service = OUTAGE.partition("/")[0]
    told = [m for m in received if f"service {service} " in str(m.get("title", ""))]
    fired = [m for m in told if m.get("type") != "success"]
    cleared = [m for m in told if m.get("type") == "success"]
    out.append(
        f"on-call receiver: {len(received)} message(s); for {service}: "
        + (f"firing at {_clock(fired[0]['received'], tz)}" if fired else "no firing message")
        + ", "
        + (f"resolved at {_clock(cleared[-1]['received'], tz)}" if cleared else "not resolved")
    )
    for m in received:
        out.append(f"  {_clock(m['received'], tz)} [{m.get('type', '')}] {m.get('title', '')}")

    flaky = by_check.get(FLAKY, [])
    hidden = [r for r in flaky if r["attempts"] > 1 and r["status"] != "down"]
    extra = sum(r["attempts"] - 1 for r in flaky)
    leaked = [r for r in flaky if r["status"] == "down"]
    out.append(
        f"{FLAKY}: {len(flaky)} result(s); retries hid {len(hidden)} blip(s) "
        f"({extra} retry attempt(s)); {len(leaked)} counted down"
        + ("" if leaked else ": no downtime from the blips")
    )
    for check_id, what in ((SLOW, "the page is slow"), (CERT, "the certificate expires soon")):
        got = by_check.get(check_id, [])
        degraded = sum(1 for r in got if r["status"] == "degraded")
        word = f"degraded ({what})" if degraded else "never degraded"
        out.append(f"{check_id}: {degraded} of {len(got)} result(s) {word}")
    return out


def _summary(cfg: Config, config: Path, start: float, end: float, password: Path) -> None:
    from typer.testing import CliRunner

    from threenines.app.cli import app

    window = f"{max(1, round(end - start))}s"
    month = dt.datetime.fromtimestamp(end, ZoneInfo(cfg.timezone)).strftime("%Y-%m")
    report = STATE / f"threenines-availability-{month}.html"
    runner = CliRunner()
    c = str(config)
    for args in (
        ["status"],
        ["availability", "--window", window],
        ["report", "--period", month, "--format", "html", "--out", str(report)],
    ):
        res = runner.invoke(app, [*args, "-c", c])
        print(f"\n$ threenines {' '.join(args)} -c {c}\n{res.output}", end="")
    listen = cfg.server.listen
    print(
        f"\nThe board report: {report.resolve() if report.exists() else '(not written)'}\n"
        f"The console is served by `threenines run` (here while the demo ran): http://{listen}/ "
        f"(user demo, password in {password}).\n"
        f"Add a user: {_exe()} user add NAME --role viewer|operator|admin -c {c}",
        flush=True,
    )


def _exe() -> str:
    """How to call ``threenines`` here: the venv's script, relative to the working directory
    when it is under it."""
    exe = Path(sys.executable).parent / "threenines"
    try:
        return str(exe.relative_to(Path.cwd()))
    except ValueError:
        return str(exe) if exe.exists() else "threenines"


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
