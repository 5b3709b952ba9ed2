"""Browser journeys: Debian's Chromium through Playwright against a loopback portal.

Each journey starts a browser (seconds here), so the cases are few and each checks much.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from typing import Any

import psutil
import pytest
from conftest import require
from probe_servers import PortalHandler
from pydantic import ValidationError

from threenines.core.results import Status
from threenines.probes import browser, journey

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def portal() -> Iterator[str]:
    require(browser.CHROMIUM.exists(), f"needs {browser.CHROMIUM} (Debian package chromium)")
    server = ThreadingHTTPServer(("127.0.0.1", 0), PortalHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join(2)


def journey_cfg(base: str, steps: list[dict[str, Any]], **kw: Any) -> browser.Config:
    data = {"type": "browser", "name": "b", "base_url": base, "steps": steps, **kw}
    return browser.Config.model_validate(data)


LOGIN = [
    {"goto": "/login"},
    {"fill": {"selector": "#user", "value": "alice"}},
    {"fill": {"selector": "#password", "value": "{password}"}},
    {"name": "sign-in", "click": "#go"},
    {"expect_url": "/app$"},
    {"expect_text": "Welcome, resident"},
]


async def test_login_journey_and_a_js_failure_only_a_browser_sees(portal: str, monkeypatch) -> None:
    monkeypatch.setenv("TN_PORTAL_PASSWORD", "s3cret")
    c = journey_cfg(portal, LOGIN, variables={"password": "${TN_PORTAL_PASSWORD}"})
    r = await browser.probe(c, timeout=60)
    assert r.status is Status.UP, r
    assert {"1-goto", "sign-in", "6-expect_text", "total"} <= set(r.phases)
    pages = {p["url"]: p for p in r.details["pages"]}
    assert pages[f"{portal}/app"]["ttfb"] is not None and pages[f"{portal}/app"]["fcp"] > 0
    assert "s3cret" not in repr(r)

    # /broken answers 200 with the portal's title: the HTTP journey is up ...
    http_journey = journey.Config.model_validate(
        {"type": "journey", "name": "j", "base_url": portal,
         "steps": [{"name": "app", "url": "/broken", "body_contains": "Council portal"}]}
    )  # fmt: skip
    assert (await journey.probe(http_journey, timeout=10)).status is Status.UP
    # ... the browser sees the script fail and the page never render
    steps = [{"goto": "/broken"}, {"expect_text": "Welcome, resident"}]
    r = await browser.probe(journey_cfg(portal, steps, step_timeout="3s"), timeout=30)
    assert (r.status, r.error) == (Status.DOWN, "expect_mismatch"), r
    assert r.reason == "step '2-expect_text': text 'Welcome, resident' never appeared"
    assert any("renderDashboard is not defined" in e for e in r.details["console_errors"]), r
    assert base64.b64decode(r.details["screenshot"])[:2] == b"\xff\xd8"  # a JPEG


async def test_slow_script_in_web_vitals_and_the_pool_limit(portal: str, monkeypatch) -> None:
    monkeypatch.setattr(browser, "MAX_BROWSERS", 1)
    monkeypatch.setattr(browser, "_POOLS", browser.weakref.WeakKeyDictionary())
    slow = journey_cfg(portal, [{"goto": "/slow"}], lcp_degraded_after="500ms")
    fast = journey_cfg(portal, [{"goto": "/login"}, {"expect_element": "#go"}])
    r_slow, r_fast = await asyncio.gather(
        browser.probe(slow, timeout=90), browser.probe(fast, timeout=90)
    )
    assert (r_slow.status, r_slow.error) == (Status.DEGRADED, "slow"), r_slow
    assert r_slow.details["pages"][0]["lcp"] >= 0.8, r_slow.details["pages"]
    assert r_slow.reason.startswith("LCP ") and "above 500 ms" in r_slow.reason
    assert r_fast.status is Status.UP, r_fast
    # one browser at a time: the second journey waited for the first
    assert max(r_slow.details["queued"], r_fast.details["queued"]) > 0.5


async def test_browser_crash_mid_journey_is_a_result(portal: str) -> None:
    c = journey_cfg(portal, [{"goto": "/login"}, {"wait": "30s"}, {"expect_element": "#go"}])
    task = asyncio.create_task(browser.probe(c, timeout=60))

    def chromium() -> list[psutil.Process]:
        me = psutil.Process()
        return [p for p in me.children(recursive=True) if "chromium" in p.name().lower()]

    for _ in range(600):  # bounded: up to 60 s for the browser to start
        procs = chromium()
        if procs:
            break
        await asyncio.sleep(0.1)
    assert procs, "chromium never started"
    await asyncio.sleep(1.0)  # let the journey reach its wait step
    for p in chromium():
        p.kill()
    r = await asyncio.wait_for(task, 60)
    assert (r.status, r.error) == (Status.DOWN, "browser_crash"), r


async def test_no_browser_is_unknown_and_steps_are_checked(monkeypatch) -> None:
    monkeypatch.setattr(browser, "CHROMIUM", browser.Path("/nonexistent/chromium"))
    r = await browser.probe(journey_cfg("http://127.0.0.1:9", [{"goto": "/"}]), timeout=30)
    assert (r.status, r.error) == (Status.UNKNOWN, "browser_unavailable"), r
    with pytest.raises(ValidationError, match="exactly one of goto, fill"):
        journey_cfg("http://x", [{"goto": "/", "click": "#a"}])
    with pytest.raises(ValidationError, match="the first step must be a goto"):
        journey_cfg("http://x", [{"click": "#a"}])
    with pytest.raises(ValidationError, match="relative URL: set base_url"):
        browser.Config.model_validate({"type": "browser", "name": "b", "steps": [{"goto": "/x"}]})
