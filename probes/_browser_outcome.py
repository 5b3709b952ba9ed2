"""What a browser journey reports (``probes._browser_worker``): the outcome record, written
once, and what is read from the page: Web Vitals, a screenshot, console and request failures,
every text scrubbed of the journey's variable values.
"""

from __future__ import annotations

import base64
import json
import os
import sys
import threading
from typing import Any

# Web Vitals as the browser reports them (PerformanceObserver, buffered): LCP, CLS, FCP; TTFB
# from navigation timing. INP needs real user input, so it is not measured.
VITALS_SCRIPT = """(() => {
  const v = {lcp: null, cls: 0, fcp: null};
  const watch = (type, fn) => {
    try {
      new PerformanceObserver(l => l.getEntries().forEach(fn)).observe({type, buffered: true});
    } catch (e) {}
  };
  watch('largest-contentful-paint', e => { v.lcp = e.renderTime || e.loadTime || e.startTime; });
  watch('layout-shift', e => { if (!e.hadRecentInput) v.cls += e.value; });
  watch('paint', e => { if (e.name === 'first-contentful-paint') v.fcp = e.startTime; });
  Object.defineProperty(window, '__threenines_vitals', {value: v});
})();"""
# A page may not have painted yet when its load event fires, and observer callbacks run after
# a paint: wait for the first contentful paint (at most 1 s), then one frame, then read.
READ_VITALS = """async () => {
  const fcp = () => performance.getEntriesByName('first-contentful-paint')[0];
  const until = performance.now() + 1000;
  while (!fcp() && performance.now() < until) await new Promise(r => setTimeout(r, 50));
  await new Promise(r => { setTimeout(r, 100); requestAnimationFrame(() => setTimeout(r)); });
  const n = performance.getEntriesByType('navigation')[0];
  const paint = fcp();
  const v = window.__threenines_vitals || {};
  return {url: location.href, ttfb: n ? n.responseStart : null,
          fcp: v.fcp ?? (paint ? paint.startTime : null), lcp: v.lcp, cls: v.cls};
}"""
MAX_LIST = 20  # console errors / failed requests kept per journey
MAX_SCREENSHOT = 256 * 1024


class Outcome:
    """The outcome, written once: by the journey at its end, or by the watchdog when the
    browser process dies under a call that Playwright never returns from."""

    def __init__(self, job: dict[str, Any]):
        self.out: dict[str, Any] = {
            "steps": [],
            "pages": [],
            "console_errors": [],
            "failed_requests": [],
        }
        self.secrets = [v for v in job.get("variables", {}).values() if len(v) >= 3]
        self.lock = threading.Lock()
        self.done = threading.Event()  # set when the journey no longer needs the browser

    def write(self) -> None:
        with self.lock:
            if self.written:
                return
            self.written = True
            scrub(self.out, self.secrets)
            sys.stdout.write(json.dumps(self.out))
            sys.stdout.flush()

    written = False

    def watch(self, browser_pid: int) -> None:
        """Poll the browser's main process; when it is gone mid-journey, report and exit."""
        import psutil

        try:
            proc = psutil.Process(browser_pid)
        except psutil.Error:
            return
        while not self.done.wait(0.2):
            try:
                alive = proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
            except psutil.Error:
                alive = False
            if not alive and not self.done.is_set():
                if self.out.get("failure") is None:
                    reason = "the browser process ended during the journey"
                    self.out["failure"] = {"step": current(self.out), "code": "browser_crash",
                                           "reason": reason}  # fmt: skip
                self.write()
                os._exit(0)


def current(out: dict[str, Any]) -> str | None:
    return out.get("running")


def browser_pid() -> int | None:
    """The launched Chromium's main process: the first chromium among our descendants."""
    import psutil

    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if "chrom" in proc.name().lower():
                found.append((proc.create_time(), proc.pid))
        except psutil.Error:
            continue
    return min(found)[1] if found else None


def vitals(page: Any, out: dict[str, Any]) -> None:
    from playwright.sync_api import Error

    try:
        got = page.evaluate(READ_VITALS)
    except Error:
        return
    got = {
        k: (v / 1000 if isinstance(v, int | float) and k != "cls" else v) for k, v in got.items()
    }
    got["url"] = bare(got["url"])
    pages = out["pages"]
    if pages and pages[-1]["url"] == got["url"]:
        pages[-1] = got  # the same document, read later: LCP may have grown
    else:
        pages.append(got)


def screenshot(page: Any, out: dict[str, Any]) -> None:
    from playwright.sync_api import Error

    try:
        shot = page.screenshot(type="jpeg", quality=50, timeout=3000)
    except Error:
        return
    if len(shot) <= MAX_SCREENSHOT:
        out["screenshot"] = base64.b64encode(shot).decode()


def scrub(out: dict[str, Any], secrets: list[str]) -> None:
    """No variable's value (passwords, tokens) in any text of the outcome."""

    def clean(text: str) -> str:
        for value in secrets:
            text = text.replace(value, "***")
        return text

    for key in ("console_errors", "failed_requests"):
        out[key] = [clean(t) for t in out[key]]
    for item in [*out["steps"], *out["pages"]]:
        item["url"] = clean(item["url"])
    if out.get("failure"):
        out["failure"]["reason"] = clean(out["failure"]["reason"])


def keep(items: list[str], text: str) -> None:
    if len(items) < MAX_LIST:
        items.append(text[:300])


def bare(url: str) -> str:
    """No query or fragment: tokens travel there."""
    return url.split("?", 1)[0].split("#", 1)[0]


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
