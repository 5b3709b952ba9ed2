"""The console and the public status page against a real ``threenines run`` (loopback target,
SQLite), over HTTP and in Debian's Chromium through Playwright.

One service process and one browser for the module; the cases are few and each checks much.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
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
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"  # harmless: each leaves a marker
VANTAGES = "lib-a, lib-b"
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
  - {{name: dc-main, kind: datacentre}}
  - {{name: dc-mirror, kind: datacentre, mirror_of: dc-main}}
  - {{name: lib}}
vantage_points:
  - {{name: lib-a, site: lib}}
  - {{name: lib-b, site: lib}}
services:
  - name: web-tcp
    site: dc1
    public: {{group: Online services, title: Council website}}
    checks:
      - {{name: tcp, type: tcp, host: 127.0.0.1, port: {target.port}, interval: 300ms,
         timeout: 500ms, retries: 0}}
  # the failover plan's services: their results are written by the test (no agent runs them)
  - name: portal
    site: dc-main
    checks: [{{name: http, type: tcp, host: 127.0.0.1, port: 9, vantage: [{VANTAGES}]}}]
  - name: portal-mirror
    site: dc-mirror
    checks: [{{name: http, type: tcp, host: 127.0.0.1, port: 9, vantage: [{VANTAGES}]}}]
failover:
  evaluate_every: 200ms
  project_dir: "{PLAYBOOKS}"
  data_dir: "{tmp / "runs"}"
  plans:
    - name: main-to-mirror
      primary: dc-main
      mirror: dc-mirror
      trigger: {{datacentre: dc-main, confirm_for: 1s, quorum: 2}}
      guards: {{mode: approve, approval_ttl: 5m}}
      playbook: {{path: switch.yml, inventory: inventory/local.yml, timeout: 60s,
                 extravars: {{marker: "{tmp / "switched"}"}}}}
      failback: {{path: back.yml, inventory: inventory/local.yml,
                 extravars: {{marker: "{tmp / "back"}"}}}}
""")
    pw = tmp / "pw"
    pw.write_text(PASSWORD + "\n")
    for name, role in (("alice", "operator"), ("victor", "viewer"), ("ada", "admin")):
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


def test_the_status_page_announces_maintenance_without_internals(console: Console) -> None:
    """Upcoming and current windows in effect are announced for the public services they cover,
    by public title and times only; a retroactive window waiting for approval is not."""
    from threenines.app.config import load_config
    from threenines.availability.maintenance import add
    from threenines.console import views

    cfg = load_config(console.cfg)
    engine = make_engine(f"sqlite:///{console.db}")
    now = time.time()

    def local(ts: float) -> str:
        return datetime.fromtimestamp(ts, cfg.tz).strftime("%Y-%m-%dT%H:%M")

    start = (int(now) // 60 + 1440) * 60.0  # tomorrow, on a minute
    try:
        add(engine, cfg, "core switch firmware", local(start), None, "2h", ["web-tcp"], [],
            "swap the 127.0.0.1 uplink", by="bob", now=now)  # fmt: skip
        add(engine, cfg, "portal patch", local(start), None, "1h", ["portal"], [],
            "not a public service", by="bob", now=now)  # fmt: skip
        add(engine, cfg, "quiet fix", local(now - 1800), None, "2h", ["web-tcp"], [],
            "pending a second admin", by="bob", now=now)  # fmt: skip
        svc = [s for s in cfg.services if s.name == "web-tcp"]
        during = views.announcements(engine, cfg, svc, {"web-tcp": "Council website"}, start + 60)
        # the 2 s rebuild reuses today's bars for TODAY_FOR (the states are always recomputed)
        first = views.public_status(engine, cfg, now)
        again = views.public_status(engine, cfg, now + 1, first.past, first.current)
        later = views.public_status(engine, cfg, now + views.TODAY_FOR, first.past, first.current)
    finally:
        engine.dispose()
    assert [(a.titles, a.start, a.current) for a in during] == [
        (("Council website",), start, True)]  # fmt: skip
    assert again.current is first.current and again.generated == now + 1
    assert later.current is not first.current and later.current.at == now + views.TODAY_FOR

    def announced() -> str | None:
        html = httpx.get(f"{console.url}/status", timeout=20).text
        return html if "Scheduled" in html else None

    html = until("the status page to announce the window", announced, 30, 0.5)
    section = html.split('id="maint-h"')[1].split("</section>")[0]
    assert section.count("<li") == 1 and "Council website" in section
    assert "In progress" not in section  # the pending retroactive window is not announced
    shown = datetime.fromtimestamp(start, cfg.tz).strftime("%Y-%m-%d %H:%M:%S %Z")
    assert shown in section
    for internal in ("core switch", "uplink", "bob", "portal", "quiet fix", *INTERNAL):
        assert internal not in html, internal
    doc = httpx.get(f"{console.url}/api/v1/status", timeout=20).json()
    assert [m["titles"] for m in doc["maintenance"]] == [["Council website"]]


@pytest.mark.slow
def test_status_page_without_javascript_is_accessible(console: Console, browser: Any) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    try:
        page = ctx.new_page()
        page.goto(f"{console.url}/status")
        assert page.get_by_role("heading", name="Online services").is_visible()
        assert page.get_by_role("heading", name="Planned maintenance").is_visible()
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


# -- the service, incident and failover pages -----------------------------------------------


def test_a_timeline_strip_covers_its_window_once() -> None:
    """The drawn geometry: spans left to right, gaps shown as no data, widths adding up to 100."""
    from threenines.availability.timeline import Seg
    from threenines.console.service_view import strip

    tl = [Seg(-50, 10, "up"), Seg(30, 60, "down", "refused"), Seg(60, 80, "up"),
          Seg(120, 200, "up")]  # fmt: skip
    spans = strip(tl, 0, 100, lambda t: f"t{t:g}")
    assert [(round(s.x, 6), round(s.w, 6), s.state) for s in spans] == [
        (0, 10, "up"), (10, 20, "unknown"), (30, 30, "down"), (60, 20, "up"), (80, 20, "unknown"),
    ]  # fmt: skip
    assert abs(sum(s.w for s in spans) - 100) < 1e-9
    assert spans[2].words == "t30 to t60: down (refused)" and spans[1].words.endswith("no data")
    assert strip([], 0, 100, str)[0].state == "unknown" and strip(tl, 5, 5, str) == ()
    blip = strip([Seg(0, 99.99, "up"), Seg(99.99, 100, "down")], 0, 100, str)
    assert [round(s.drawn, 2) for s in blip] == [99.99, 0.4]  # a blip stays visible,
    assert round(blip[1].drawn_x, 2) == 99.6  # inside the strip


def _mark(db: Path, check_id: str, state: str, since: float, now: float) -> None:
    """Open intervals of ``check_id`` from both vantage points (what their agents would send)."""
    from threenines.core.tables import state_intervals

    engine = make_engine(f"sqlite:///{db}")
    try:
        with engine.begin() as conn:
            si = state_intervals.c
            old = (si.check_id == check_id, si.end.is_(None))
            conn.execute(state_intervals.update().where(*old).values(end=since))
            conn.execute(state_intervals.insert(), [
                {"check_id": check_id, "vantage": v, "state": state, "start": since, "end": None,
                 "last_seen": now, "reason": ""} for v in ("lib-a", "lib-b")])  # fmt: skip
    finally:
        engine.dispose()


def test_the_service_page_shows_the_engines_figures(console: Console) -> None:
    from threenines.app.config import load_config
    from threenines.availability.display import percent
    from threenines.availability.maintenance import add
    from threenines.availability.query import figures_document

    cfg = load_config(console.cfg)
    engine = make_engine(f"sqlite:///{console.db}")
    try:  # a retroactive window: recorded now for an hour ago (waits for a second admin)
        now = time.time()
        past = datetime.fromtimestamp(now - 3600, cfg.tz).strftime("%Y-%m-%dT%H:%M")
        add(engine, cfg, "router swap", past, None, "10m", ["web-tcp"], [], "forgot to book",
            by="bob", now=now)  # fmt: skip
        with httpx.Client(base_url=console.url, timeout=20) as c:
            assert _sign_in(c, "victor").status_code == 303  # a viewer sees the page
            page = c.get("/services/web-tcp")
            assert c.get("/services/nope").status_code == 404
        # the page's figures are those of `threenines availability --service web-tcp`
        from threenines.console.service_view import service_page

        at = time.time()
        doc = figures_document(engine, cfg, at, service="web-tcp", window="30d")
        view = service_page(engine, cfg, "web-tcp", now=at)
    finally:
        engine.dispose()
    assert page.status_code == 200
    html = page.text
    for words in ("Last 24 hours", "Last 30 days", "This month", "Burn rate", "tcp @ central",
                  "check tcp", "Recent results", "retroactive, pending approval", "router swap",
                  "forgot to book"):  # fmt: skip
        assert words in html, words
    row = doc["rows"][0]
    assert view.windows[1].availability == percent(row["availability"], target=row["target"],
                                                   met=row["met"])  # fmt: skip
    assert view.windows[1].burn == row["burn"] and view.windows[1].met == row["met"]
    assert re.search(r"Last 30 days</th>\s*<td>[\d.]+\u00a0%", html)
    data = json.loads(re.search(r'id="rt-data">(.*?)</script>', html, re.S).group(1))  # type: ignore[union-attr]
    assert data["series"][0]["label"] == "total (ms)" and len(data["x"]) > 0
    assert len(data["x"]) == len(data["series"][0]["values"])
    assert '<tr class="result" data-status="up">' in html
    assert html.count("<form") == 1 and 'action="/logout"' in html  # a viewer only signs out


def _incident(c: httpx.Client) -> int:
    """The console's newest incident of web-tcp (its target stopped, if it was not yet)."""
    if console_target_running[0] is not None and console_target_running[0].running:
        console_target_running[0].stop()

    def found() -> int | None:
        m = re.search(r'data-incident="(\d+)"', c.get("/incidents").text)
        return int(m.group(1)) if m else None

    return int(until("an incident for web-tcp", found, 60, 0.3))


console_target_running: list[Target | None] = [None]


def test_operators_resolve_note_and_silence_and_viewers_may_not(console: Console) -> None:
    console_target_running[0] = console.target
    with httpx.Client(base_url=console.url, timeout=20) as viewer:
        assert _sign_in(viewer, "victor").status_code == 303
        iid = _incident(viewer)
        page = viewer.get(f"/incidents/{iid}").text
        assert "Timeline" in page and "Add a note" not in page
        for op in ("resolve", "note", "silence"):
            r = viewer.post(f"/incidents/{iid}/{op}", data={"csrf": _csrf(page), "text": "x"})
            assert r.status_code == 403 and "you are a viewer" in r.text, op
        assert viewer.get("/failover").status_code == 200
        assert viewer.get("/failover/main-to-mirror/approve").status_code == 403
        r = viewer.post("/failover/main-to-mirror/approve",
                        data={"csrf": _csrf(page), "confirm": "yes", "note": "x"})  # fmt: skip
        assert r.status_code == 403
    with httpx.Client(base_url=console.url, timeout=20) as c:
        assert _sign_in(c, "alice").status_code == 303
        page = c.get(f"/incidents/{iid}").text
        token = _csrf(page)
        assert c.post(f"/incidents/{iid}/note", data={"text": "x"}).status_code == 403  # no CSRF
        r = c.post(f"/incidents/{iid}/note", data={"csrf": token, "text": "  "})
        assert r.status_code == 400 and "needs some text" in r.text
        for text, public in (("Engineer on site", "1"), ("router 127.0.0.1 replaced", "")):
            form = {"csrf": token, "text": text, "public": public}
            r = c.post(f"/incidents/{iid}/note", data=form)
            assert r.status_code == 303
        r = c.post(f"/incidents/{iid}/silence", data={"csrf": token, "for": "1h", "comment": ""})
        assert r.status_code == 400 and "say why" in r.text
        r = c.post(f"/incidents/{iid}/silence",
                   data={"csrf": token, "for": "1h", "comment": "known, on it"})  # fmt: skip
        assert r.status_code == 303
        r = c.post(f"/incidents/{iid}/resolve", data={"csrf": token, "note": "fixed"})
        assert r.status_code == 303, r.text
        page = c.get(f"/incidents/{iid}").text
        for words in ("Note by alice (published on the status page): Engineer on site",
                      "alice silenced the service", "known, on it",
                      "alice resolved: &#34;fixed&#34;", "Opened: "):  # fmt: skip
            assert words in page, words
        assert "s-resolved" in page
        silences = c.get("/api/v1/alerts/silences")  # a session reads the API (never writes)
    with sqlite3.connect(console.db) as db:
        actions = {a for (a,) in db.execute("SELECT action FROM audit_log WHERE actor = 'alice'")}
        silenced = db.execute("SELECT author, comment FROM alert_silences").fetchall()
    assert {"incident_note", "incident_silence", "incident_resolve"} <= actions
    assert ("alice", "known, on it") in silenced and silences.status_code == 200

    def published() -> str | None:  # the public page: the published note, not the other one
        html = httpx.get(f"{console.url}/status", timeout=10).text
        return html if "Engineer on site" in html else None

    html = until("the public page to show the published note", published, 30, 0.5)
    assert "127.0.0.1" not in html and "replaced" not in html


def test_security_findings_accept_with_a_reason(console: Console) -> None:
    from threenines.security.findings import Finding, RunResult
    from threenines.security.store import SecurityStore

    engine = make_engine(f"sqlite:///{console.db}")
    try:
        found = Finding.make("port_opened", "port_opened/198.18.1.10/23", "major", "exposure:x",
                             "198.18.1.10:23", "telnet open on 198.18.1.10")  # fmt: skip
        SecurityStore(engine).record(RunResult("exposure:x", [found]), now=time.time())
        (row,) = SecurityStore(engine).find("open")
    finally:
        engine.dispose()
    fid = row["id"]
    with httpx.Client(base_url=console.url, timeout=20) as viewer:
        assert _sign_in(viewer, "victor").status_code == 303
        page = viewer.get("/security").text
        assert "telnet open" in page and "Accept the risk" not in page
        r = viewer.post(f"/security/{fid}/accept", data={"csrf": _csrf(page), "reason": "x"})
        assert r.status_code == 403
    with httpx.Client(base_url=console.url, timeout=20) as c:
        assert _sign_in(c, "alice").status_code == 303
        token = _csrf(c.get("/security").text)
        assert c.post(f"/security/{fid}/accept", data={"reason": "x"}).status_code == 403
        r = c.post(f"/security/{fid}/accept", data={"csrf": token, "reason": " ", "until": "7d"})
        assert r.status_code == 400 and "give a reason" in r.text
        form = {"csrf": token, "reason": "lab switch, isolated", "until": "30d"}
        assert c.post(f"/security/{fid}/accept", data=form).status_code == 303
        assert c.post(f"/security/{fid}/accept", data=form).status_code == 409  # not open now
        page = c.get("/security?status=accepted").text
        assert "accepted</span> by alice until" in page and "lab switch, isolated" in page


def test_reports_rendered_and_downloaded(console: Console) -> None:
    month = datetime.now().strftime("%Y-%m")
    with httpx.Client(base_url=console.url, timeout=60) as c:
        assert _sign_in(c, "victor").status_code == 303  # a viewer may read reports
        assert month[:4] in c.get("/reports").text
        html = c.get("/reports/render", params={"period": month, "format": "html"})
        assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
        assert "web-tcp" in html.text and html.headers["content-disposition"].startswith("inline")
        csv = c.get("/reports/render", params={"period": month, "format": "csv", "site": "dc1"})
        assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
        assert "web-tcp" in csv.text
        bad = c.get("/reports/render", params={"period": "2026-13", "format": "html"})
        assert bad.status_code == 400 and "Traceback" not in bad.text
        assert (
            c.get("/reports/render", params={"period": month, "format": "exe"}).status_code == 400
        )


def test_drills_listed_with_their_reports(console: Console) -> None:
    from threenines.failover.store import drills

    engine = make_engine(f"sqlite:///{console.db}")
    try:  # a tabletop drill as `threenines drill` records one
        with engine.begin() as conn:
            now = time.time()
            did = conn.execute(drills.insert().values(
                plan="main-to-mirror", scenario="tabletop", state="done", started=now - 600,
                finished=now - 60, actor="alice", summary={})).inserted_primary_key[0]  # fmt: skip
    finally:
        engine.dispose()
    with httpx.Client(base_url=console.url, timeout=60) as c:
        assert _sign_in(c, "victor").status_code == 303
        page = c.get("/failover").text
        assert f"#{did}" in page and "tabletop" in page and "not signed off" in page
        report = c.get(f"/failover/drills/{did}/report")
        assert report.status_code == 200 and "main-to-mirror" in report.text
        assert c.get("/failover/drills/999/report").status_code == 404


def test_admins_manage_users_in_the_browser_and_others_may_not(console: Console) -> None:
    """List, add (with a role) and disable through the store ``threenines user`` uses; each
    form needs the CSRF token, each change is audited with the admin's name; viewers and
    operators get 403."""
    pw = "another good password"
    for who in ("victor", "alice"):
        with httpx.Client(base_url=console.url, timeout=20) as c:
            assert _sign_in(c, who).status_code == 303
            token = _csrf(c.get("/").text)
            assert 'href="/users"' not in c.get("/").text
            assert c.get("/users").status_code == 403
            form = {"csrf": token, "name": "mallory", "role": "admin", "password": pw}
            assert c.post("/users", data=form).status_code == 403
            assert c.post("/users/victor/disable", data={"csrf": token}).status_code == 403
    with httpx.Client(base_url=console.url, timeout=20) as c:
        assert _sign_in(c, "ada").status_code == 303
        page = c.get("/users")
        assert page.status_code == 200 and 'aria-current="page">Users' in page.text
        for name in ("alice", "victor", "ada"):
            assert f'data-user="{name}" data-status="enabled"' in page.text
        token = _csrf(page.text)
        form = {"name": "olive", "role": "operator", "password": pw}
        assert c.post("/users", data=form).status_code == 403  # no CSRF token
        assert c.post("/users", data={**form, "csrf": "wrong"}).status_code == 403
        assert c.post("/users", data={**form, "csrf": token}).status_code == 303
        again = c.post("/users", data={**form, "csrf": token})
        assert again.status_code == 409 and "user &#39;olive&#39; exists already" in again.text
        bad = c.post("/users", data={**form, "name": "oscar", "role": "root", "csrf": token})
        assert bad.status_code == 400 and "is not one of viewer, operator, admin" in bad.text
        short = c.post("/users", data={**form, "name": "oscar", "password": "x", "csrf": token})
        assert short.status_code == 400 and "Traceback" not in short.text
        assert 'data-user="olive" data-status="enabled"' in c.get("/users").text
        with httpx.Client(base_url=console.url, timeout=20) as o:
            assert _sign_in(o, "olive", pw).status_code == 303  # the new operator signs in
            assert o.get("/").status_code == 200
            assert c.post("/users/olive/disable", data={}).status_code == 403
            assert c.post("/users/olive/disable", data={"csrf": token}).status_code == 303
            assert o.get("/", follow_redirects=False).status_code == 303  # session ended
        assert 'data-user="olive" data-status="disabled"' in c.get("/users").text
        assert c.post("/users/olive/disable", data={"csrf": token}).status_code == 404
        assert c.post("/users/ada/disable", data={"csrf": token}).status_code == 409
        assert _sign_in(httpx.Client(base_url=console.url), "olive", pw).status_code != 303
    with sqlite3.connect(console.db) as db:
        rows = db.execute("SELECT actor, action, subject FROM audit_log WHERE subject = "
                          "'user:olive' ORDER BY id").fetchall()  # fmt: skip
    assert rows == [("ada", "user_added", "user:olive"), ("ada", "user_disabled", "user:olive")]


def _browser_sign_in(ctx: Any, console: Console, name: str = "alice") -> Any:
    page = ctx.new_page()
    page.goto(f"{console.url}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{console.url}/")
    return page


@pytest.mark.slow
def test_service_incident_and_failover_pages_in_the_browser(console: Console, browser: Any) -> None:
    """Each page passes axe-core; the chart is drawn by the vendored uPlot; the service page is
    reached from the overview by keyboard."""
    ctx = browser.new_context()
    try:
        page = _browser_sign_in(ctx, console)
        for _ in range(40):  # keyboard alone: Tab to the service's link, Enter
            page.keyboard.press("Tab")
            if page.evaluate("() => document.activeElement.textContent") == "web-tcp":
                break
        else:
            pytest.fail("Tab never reached the service's link")
        page.keyboard.press("Enter")
        page.wait_for_url(f"{console.url}/services/web-tcp")
        page.wait_for_selector("div.chart canvas", timeout=10000)  # uPlot drew the chart
        assert page.locator("svg.timeline").count() >= 3  # service, check, vantage point
        assert _axe_serious(page) == []
        page.goto(f"{console.url}/incidents")
        assert _axe_serious(page) == []
        page.locator("#incidents a").first.click()
        page.wait_for_selector("#timeline")
        assert _axe_serious(page) == []
        page.goto(f"{console.url}/failover")
        assert _axe_serious(page) == []
        page.goto(f"{console.url}/security?status=all")
        assert _axe_serious(page) == []
        page.goto(f"{console.url}/reports")
        assert _axe_serious(page) == []
        page.goto(f"{console.url}/devices")
        assert _axe_serious(page) == []
    finally:
        ctx.close()
    ctx = browser.new_context()
    try:
        page = _browser_sign_in(ctx, console, "ada")
        page.goto(f"{console.url}/users")
        assert _axe_serious(page) == []
    finally:
        ctx.close()


@pytest.mark.slow
def test_approve_a_failover_in_the_browser(console: Console, browser: Any) -> None:
    """dc-main down from both vantage points, the mirror up: the plan (approve mode) waits for
    approval; an operator approves it with the confirmation step; the service runs the playbook
    (a harmless one that leaves a marker) and the page shows the mirror serving."""
    now = time.time()
    _mark(console.db, "portal-mirror/http", "up", now - 3600, now)
    _mark(console.db, "portal/http", "down", now - 60, now)
    ctx = browser.new_context()
    try:
        page = _browser_sign_in(ctx, console)

        def asks() -> bool:
            page.goto(f"{console.url}/failover")
            return page.locator('.decision[data-reason="needs_approval"]').count() == 1

        until("the plan to ask for approval", asks, 60, 0.5)
        assert page.locator(".serving").get_attribute("data-side") == "primary"
        assert _axe_serious(page) == []
        page.get_by_role("link", name=re.compile("Approve a failover of main-to-mirror")).click()
        page.wait_for_selector(".confirm")  # the confirmation step: nothing approved yet
        assert _axe_serious(page) == []
        page.fill("#approve-note", "bridge call 03:10")
        page.get_by_role("button", name="Yes, approve the failover").click()
        page.wait_for_url(f"{console.url}/failover")

        def on_mirror() -> bool:
            page.goto(f"{console.url}/failover")
            return page.locator(".serving").get_attribute("data-side") == "mirror"

        until("the mirror to serve", on_mirror, 90, 0.5)
        assert page.locator("tr.run").first.get_attribute("data-state") == "verified"
        page.locator("tr.run a").first.click()
        page.wait_for_selector("text=Ansible tasks")
        assert "Leave a marker" in page.inner_text("main")
        assert (console.cfg.parent / "switched").exists()
    finally:
        ctx.close()
    with sqlite3.connect(console.db) as db:
        approved = db.execute(
            "SELECT actor FROM failover_audit WHERE action = 'approved'").fetchall()  # fmt: skip
    assert approved == [("console:alice",)]


def test_a_large_status_page_is_compact_and_each_group_has_its_bars() -> None:
    """Over COMPACT_AT public services: one line each (state, days below target), the daily
    bars on each group's page; the public view's past days are reused, today's recomputed."""
    from types import SimpleNamespace

    from threenines.app.config import parse_config
    from threenines.console import views, web

    cfg = parse_config("organisation: Big Council\n")
    days = tuple(views.Day(f"2026-09-{d:02d}", 99.0 if d == 7 else 100.0, d != 7)
                 for d in range(1, 31))  # fmt: skip
    svc = [views.PublicService(f"Service {i}", "All", "up", "Operational", None, 99.9, days)
           for i in range(web.COMPACT_AT + 1)]  # fmt: skip
    view = views.PublicStatus("Big Council", 0.0, (("All", tuple(svc)),), ())
    ctx = SimpleNamespace(config=cfg)
    html = web.render("status.html", ctx, view=view, total=len(svc), compact=True, only=0)  # type: ignore[arg-type]
    assert 'class="bars"' not in html and 'href="/status?group=1"' in html
    assert html.count('<th scope="row">') == len(svc) and "1 (latest 2026-09-07)" in html
    html = web.render("status.html", ctx, view=view, total=len(svc), compact=True, only=1)  # type: ignore[arg-type]
    assert html.count('class="bars"') == len(svc)


def test_the_devices_page_shows_each_device_and_uplink(tmp_path: Path) -> None:
    """From stored poll intervals (the server's vantage point), on a store of its own."""
    from types import SimpleNamespace

    from threenines.app.areas import COMPOSITION
    from threenines.app.config import parse_config
    from threenines.console import web
    from threenines.console.devices_view import devices
    from threenines.core.tables import state_intervals

    cfg = parse_config(f"""
storage: {{url: "sqlite:///{tmp_path}/d.db"}}
snmp:
  credentials: {{lab: {{version: v2c, community: not-public}}}}
  devices:
    - {{name: lib-rtr, address: 127.0.0.1, site: library, auth: lab, uplinks: [ge0]}}
sites:
  - {{name: library, devices: ["lib-rtr/if:ge0"]}}
services:
  - {{name: catalogue, site: library, checks: [{{name: c, type: tcp, host: 127.0.0.1, port: 9}}]}}
""")
    engine = make_engine(f"sqlite:///{tmp_path}/d.db")
    try:
        COMPOSITION.migrate(engine)
        now, v = time.time(), cfg.server.vantage
        with engine.begin() as conn:
            conn.execute(state_intervals.insert(), [
                {"check_id": "device:lib-rtr", "vantage": v, "state": "up", "start": now - 7200,
                 "end": None, "last_seen": now, "reason": ""},
                {"check_id": "device:lib-rtr/if:ge0", "vantage": v, "state": "up",
                 "start": now - 7200, "end": now - 600, "last_seen": now - 600, "reason": ""},
                {"check_id": "device:lib-rtr/if:ge0", "vantage": v, "state": "down",
                 "start": now - 600, "end": None, "last_seen": now, "reason": "oper down"},
            ])  # fmt: skip
        (dev,) = devices(engine, cfg, now)
    finally:
        engine.dispose()
    assert [(p.label, p.state) for p in dev.parts] == [("lib-rtr", "up"), ("uplink ge0", "down")]
    assert dev.parts[1].needed_by == ("site library",)
    assert dev.parts[1].spans[-1].words.endswith("down (oper down)")
    ctx = SimpleNamespace(config=cfg)
    me = Identity("victor", "viewer")
    html = web.render("devices.html", ctx, devices=[dev], here="devices", me=me, csrf="x")  # type: ignore[arg-type]
    assert 'data-state="down"' in html and "needed by site library" in html
