"""The console and the public status page against a real ``threenines run`` (loopback target,
SQLite), over HTTP and in Debian's Chromium through Playwright.

One service process and one browser for the module; the cases are few and each checks much.
"""

from __future__ import annotations

import asyncio
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import require
from typer.testing import CliRunner

from bench._wait import until
from threenines.app.cli import app as cli
from threenines.console.identity import Identity, SessionStore
from threenines.core.db import make_engine

CHROMIUM = Path("/usr/bin/chromium")
PASSWORD = "correct horse battery"
# what an anonymous caller must never see: addresses, error strings, vantage, check and type
INTERNAL = ("127.0.0.1", "refused", "central", "connect", "tcp", "probe", "web-tcp")


class Target:
    """A TCP listener on loopback that accepts and closes; ``stop`` makes it refuse."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        end = time.monotonic() + 900
        while self.running and time.monotonic() < end:
            try:
                conn, _ = self.sock.accept()
                conn.close()
            except OSError:
                continue

    def stop(self) -> None:
        self.running = False
        self.thread.join(5)
        self.sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Console:
    url: str
    cfg: Path
    db: Path
    target: Target
    proc: subprocess.Popen[bytes]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    tmp = tmp_path_factory.mktemp("console")
    target, port = Target(), _free_port()
    cfg = tmp / "c.yaml"
    cfg.write_text(f"""
organisation: Test Council
storage: {{url: "sqlite:///{tmp}/c.db", flush_interval: 50ms, spool: "{tmp}/spool.db"}}
server: {{listen: "127.0.0.1:{port}"}}
sites:
  - {{name: dc1, kind: datacentre}}
services:
  - name: web-tcp
    site: dc1
    public: {{group: Online services, title: Council website}}
    checks:
      - {{name: tcp, type: tcp, host: 127.0.0.1, port: {target.port}, interval: 300ms,
         timeout: 500ms, retries: 0}}
""")
    pw = tmp / "pw"
    pw.write_text(PASSWORD + "\n")
    for name, role in (("alice", "operator"), ("victor", "viewer")):
        out = CliRunner().invoke(cli, ["user", "add", name, "--role", role,
                                       "--password-file", str(pw), "-c", str(cfg)])  # fmt: skip
        assert out.exit_code == 0, out.output
    exe = str(Path(sys.executable).parent / "threenines")
    log = (tmp / "run.log").open("wb")
    proc = subprocess.Popen([exe, "run", "-c", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            body = httpx.get(f"{url}/api/v1/status", timeout=2).json()
        except (httpx.HTTPError, ValueError):
            return False
        return any(s["state"] == "up" for s in body.get("services", []))

    try:
        until("the service up and its target seen up", up, limit=60)
        yield Console(url, cfg, tmp / "c.db", target, proc)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        if target.running:
            target.stop()


def _csrf(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, html[:500]
    return m.group(1)


def _sign_in(c: httpx.Client, name: str, password: str = PASSWORD) -> httpx.Response:
    token = _csrf(c.get("/login").text)
    return c.post("/login", data={"csrf": token, "name": name, "password": password})


def test_user_add_refuses_bad_input_in_one_line(console: Console, tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD)
    for args, msg in (
        (["alice", "--role", "operator"], "user 'alice' exists already"),
        (["bob", "--role", "root"], "--role: 'root' is not one of viewer, operator, admin"),
    ):
        out = CliRunner().invoke(cli, ["user", "add", *args, "--password-file", str(pw),
                                       "-c", str(console.cfg)])  # fmt: skip
        assert out.exit_code == 2 and msg in out.output and "Traceback" not in out.output


def test_sign_in_csrf_roles_and_anonymous_status(console: Console) -> None:
    with httpx.Client(base_url=console.url, timeout=10) as c:
        assert c.get("/").status_code == 303  # no session: to the sign-in page
        # the sign-in form without its CSRF token, or with another one, is refused
        c.get("/login")
        r = c.post("/login", data={"name": "alice", "password": PASSWORD})
        assert r.status_code == 403 and "tn_session" not in c.cookies
        r = _sign_in(c, "alice", "wrong password")
        assert r.status_code == 401 and "Wrong user name or password" in r.text
        r = _sign_in(c, "alice")
        assert r.status_code == 303 and r.headers["location"] == "/"
        cookie = r.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
        page = c.get("/")
        assert page.status_code == 200 and "web-tcp" in page.text
        assert "alice (operator)" in page.text
        assert c.post("/logout", data={}).status_code == 403  # a form without the token
        full = c.get("/api/v1/status").json()  # a console session: the full view
        assert "checks" in full and "agents" in full

    with httpx.Client(base_url=console.url, timeout=10) as anon:
        body = anon.get("/api/v1/status").text
        html = anon.get("/status").text
        assert "Council website" in body and "Council website" in html
        for word in INTERNAL:
            assert word not in body, word
            assert word not in html.replace('"/static/', ""), word
        assert anon.get("/api/v1/status", headers={"Authorization": "Bearer x"}).status_code == 401


def test_viewer_cannot_acknowledge_and_sessions_expire(console: Console) -> None:
    with httpx.Client(base_url=console.url, timeout=10) as c:
        assert _sign_in(c, "victor").status_code == 303
        page = c.get("/").text
        assert "victor (viewer)" in page and "Acknowledge" not in page
        r = c.post("/incidents/1/ack", data={"csrf": _csrf(page), "note": "x"})
        assert r.status_code == 403 and "viewer" in r.text
        assert c.post("/incidents/1/ack", data={"note": "x"}).status_code == 403  # no CSRF
    engine = make_engine(f"sqlite:///{console.db}")
    try:
        store = SessionStore(engine)
        token, _ = store.start(Identity("victor", "viewer"), now=1000.0, ttl=60)
        assert store.get(token, now=1059.0) is not None
        assert store.get(token, now=1060.0) is None
    finally:
        engine.dispose()


async def test_sign_in_is_throttled(console: Console) -> None:
    """On an app of its own (its own throttle), so the module's other sign-ins are unaffected."""
    from threenines.app.api import create_app
    from threenines.app.config import load_config
    from threenines.app.service import build_context

    ctx = build_context(load_config(console.cfg))
    try:
        transport = httpx.ASGITransport(app=create_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
            codes = []
            for _ in range(6):
                token = _csrf((await c.get("/login")).text)
                r = await c.post("/login", data={"csrf": token, "name": "alice",
                                                 "password": "not it"})  # fmt: skip
                codes.append(r.status_code)
            assert codes == [401] * 5 + [429]
            token = _csrf((await c.get("/login")).text)
            r = await c.post("/login", data={"csrf": token, "name": "alice",
                                             "password": PASSWORD})  # fmt: skip
            assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    finally:
        await asyncio.to_thread(ctx.engine.dispose)


# -- in the browser -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    require(CHROMIUM.exists(), f"needs {CHROMIUM} (Debian package chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


def _axe_serious(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']}" for v in found
            if v["impact"] in ("serious", "critical")]  # fmt: skip


@pytest.mark.slow
def test_status_page_without_javascript_is_accessible(console: Console, browser: Any) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(f"{console.url}/status")
        assert page.get_by_role("heading", name="Online services").is_visible()
        assert "Council website" in page.inner_text("main")
        bars = page.locator("ol.bars li")
        assert bars.count() == 90
        assert "available" in bars.last.inner_text() or "no data" in bars.last.inner_text()
    finally:
        ctx.close()
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(f"{console.url}/status")
        assert _axe_serious(page) == []
        page.keyboard.press("Tab")  # the first stop is the skip link, and it works
        assert page.evaluate("() => document.activeElement.textContent") == "Skip to main content"
        page.keyboard.press("Enter")
        assert page.evaluate("() => document.activeElement.id") == "main"
    finally:
        ctx.close()


@pytest.mark.slow
def test_see_it_go_down_acknowledge_it_and_the_public_page(console: Console, browser: Any) -> None:
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.goto(f"{console.url}/login")
        page.fill("#name", "alice")
        page.fill("#password", PASSWORD)
        page.keyboard.press("Enter")  # the form by keyboard alone
        page.wait_for_url(f"{console.url}/")
        row = page.locator('tr.svc[data-service="web-tcp"]')
        assert row.get_attribute("data-state") == "up"
        assert _axe_serious(page) == []
        page.wait_for_function("() => document.querySelector('#live[hx-ext]') && window.htmx")

        console.target.stop()  # the target fails: the page updates itself, no reload
        failed = time.monotonic()
        page.wait_for_selector('tr.svc[data-service="web-tcp"][data-state="down"]', timeout=30000)
        shown = time.monotonic() - failed
        print(f"\ntarget stopped -> console shows down: {shown:.2f} s (interval 0.3 s, no retries)")
        ack = page.get_by_role("button", name=re.compile("Acknowledge incident"))
        ack.first.wait_for(timeout=30000)
        for _ in range(40):  # keyboard alone: Tab to the button, Enter
            page.keyboard.press("Tab")
            label = page.evaluate("() => document.activeElement.getAttribute('aria-label')")
            if label and label.startswith("Acknowledge incident"):
                break
        else:
            pytest.fail("Tab never reached the Acknowledge button")
        page.keyboard.press("Enter")
        page.wait_for_selector("tr.incident .s-acknowledged", timeout=30000)
        assert "by alice" in page.locator("tr.incident").first.inner_text()

        with sqlite3.connect(console.db) as db:
            rows = db.execute(
                "SELECT actor, action FROM audit_log WHERE action = 'incident_ack'"
            ).fetchall()
            acked = db.execute("SELECT acked_by FROM alert_incidents").fetchall()
        assert ("alice", "incident_ack") in rows and ("alice",) in acked

        public = ctx.new_page()  # the public view is reused for 2 s: reload until it shows

        def acknowledged() -> str | None:
            public.goto(f"{console.url}/status")
            text: str = public.inner_text("main")
            return text if "Identified: being worked on" in text else None

        text = until("the public page to show the incident acknowledged", acknowledged, 30, 0.5)
        assert "Council website" in text
        assert "Outage" in text or "Status unknown" in text
        html = public.content()
        for word in INTERNAL:
            assert word not in html.replace('"/static/', ""), word
    finally:
        ctx.close()
