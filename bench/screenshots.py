"""Screenshots of the console for the README, from the demo: ``python -m bench.screenshots``.

Runs the loopback demo's estate (``config/demo.yaml`` and its targets on 127.0.0.1,
``threenines.demo.targets``) in a temporary directory, with 30 days of earlier history written
first (a fixed seed: mostly up, a few short outages, so the figures and the 90-day bars have
something to show; the demo itself has only minutes), every service listed on the public page.
It waits for the demo's housing outage (12-32 s after the start) to open an incident, then
Debian's Chromium (Playwright) signs in and saves the overview, housing's service page and the
public status page as PNG files under ``docs/screenshots/``. Bounded: one run, fixed waits with
time limits; everything stops at the end. ``--out DIR`` writes elsewhere.
"""

from __future__ import annotations

import argparse
import random
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
DAYS = 30
PASSWORD = "demo console password"
# the public page's titles and groups (the demo config names services for staff)
PUBLIC = {
    "portal": ("Online services", "Residents' portal"),
    "planning": ("Online services", "Planning applications"),
    "payments": ("Online services", "Payments"),
    "housing": ("Online services", "Housing repairs"),
    "email": ("Contact", "Email to the council"),
    "dns": ("Contact", "Council website address"),
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(tmp: Path) -> Path:
    doc = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    doc["storage"] = {"url": f"sqlite:///{tmp / 'demo.db'}", "spool": str(tmp / "spool.jsonl"),
                      "flush_interval": "200ms"}  # fmt: skip
    doc["server"]["listen"] = f"127.0.0.1:{_free_port()}"
    for svc in doc["services"]:
        if svc["name"] in PUBLIC:
            group, title = PUBLIC[svc["name"]]
            svc["public"] = {"group": group, "title": title}
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _history(path: Path) -> int:
    """30 days of closed state intervals before now for every configured check (fixed seed)."""
    from threenines.app.areas import COMPOSITION
    from threenines.app.config import load_config
    from threenines.availability.status import configured_checks
    from threenines.core.db import make_engine
    from threenines.core.tables import state_intervals

    cfg = load_config(path)
    engine = make_engine(str(cfg.storage.url))
    try:
        COMPOSITION.migrate(engine)
        rng, now, rows = random.Random(13), time.time() - 5, []
        for c in configured_checks(cfg):
            t = now - DAYS * 86400
            while t < now:
                down = rng.random() < 0.06
                end = min(t + (rng.uniform(60, 900) if down else rng.uniform(3 * 3600, 4 * 86400)),
                          now)  # fmt: skip
                rows.append({"check_id": c.check_id, "vantage": c.vantage,
                             "state": "down" if down else "up", "start": t, "end": end,
                             "last_seen": end, "error": "timeout" if down else None,
                             "reason": ""})  # fmt: skip
                t = end
        with engine.begin() as conn:
            conn.execute(state_intervals.insert(), rows)
        return len(rows)
    finally:
        engine.dispose()


def _until(what: str, cond: Any, limit: float) -> Any:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.5)
    raise SystemExit(f"screenshots: gave up waiting for {what} after {limit:.0f} s")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="bench.screenshots")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    if not CHROMIUM.exists():
        raise SystemExit(f"screenshots: needs {CHROMIUM} (Debian package chromium)")
    import tempfile

    from playwright.sync_api import sync_playwright

    exe = str(Path(sys.executable).parent / "threenines")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = _config(tmp)
        print(f"{_history(path)} state intervals of history written")
        pw = tmp / "pw"
        pw.write_text(PASSWORD + "\n")
        subprocess.run([exe, "user", "add", "oncall", "--role", "operator", "--password-file",
                        str(pw), "-c", str(path)], check=True, capture_output=True)  # fmt: skip
        state = tmp / "targets"
        state.mkdir()
        targets = subprocess.Popen([sys.executable, "-m", "threenines.demo.targets", str(state)])
        log = (tmp / "run.log").open("wb")
        proc = None
        try:
            _until("the demo's targets", lambda: (state / "ready").exists(), 20)
            proc = subprocess.Popen([exe, "run", "-c", str(path)], stdout=log,
                                    stderr=subprocess.STDOUT)  # fmt: skip
            url = "http://" + yaml.safe_load(path.read_text())["server"]["listen"]

            def housing_down() -> bool:  # the public view: "Housing repairs" in an outage
                try:
                    body = httpx.get(f"{url}/api/v1/status", timeout=2).json()
                except (httpx.HTTPError, ValueError):
                    return False
                return any(s["title"] == "Housing repairs" and s["state"] == "down"
                           for s in body.get("services", []))  # fmt: skip

            _until("the demo's housing outage", housing_down, 90)
            time.sleep(2.5)  # its incident opened and the public view (reused for 2 s) renewed
            args.out.mkdir(parents=True, exist_ok=True)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    page.goto(f"{url}/login")
                    page.fill("#name", "oncall")
                    page.fill("#password", PASSWORD)
                    page.keyboard.press("Enter")
                    page.wait_for_url(f"{url}/")
                    shots = (("overview", "/"), ("service", "/services/housing"),
                             ("status", "/status"))  # fmt: skip
                    for name, where in shots:
                        page.goto(f"{url}{where}")
                        if name == "service":
                            page.wait_for_selector("div.chart canvas", timeout=10000)
                        target = args.out / f"{name}.png"
                        page.screenshot(path=str(target), full_page=True)
                        print(f"wrote {target}")
                finally:
                    browser.close()
        finally:
            if proc is not None:
                proc.terminate()
                try:
                    proc.wait(20)
                except subprocess.TimeoutExpired:
                    proc.kill()
            targets.terminate()
            targets.wait(10)
            log.close()
            if proc is not None and proc.returncode not in (0, -15):
                shutil.copy(tmp / "run.log", args.out / "last-run.log")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
