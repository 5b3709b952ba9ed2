"""One browser journey in its own process: ``python -m threenines.probes._browser_worker``.

Reads one job (JSON) on stdin, drives a headless Chromium through Playwright's sync API, and
writes one outcome (JSON) on stdout; nothing else goes to stdout. The parent
(``probes.browser``) owns the deadline and kills this process group if it is passed, so a
browser that hangs or crashes can never hold the scheduler. The job carries the rendered
variables (secrets included): they travel on the pipe, never in argv or the outcome.

Outcome: ``{"launch": s, "steps": [{name, duration, url}], "pages": [{url, ttfb, fcp, lcp,
cls}], "console_errors": [...], "failed_requests": [...], "failure": null | {step, code,
reason}, "screenshot": base64 JPEG | null}``; times in seconds.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import threading
import time
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
READ_VITALS = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  const v = window.__threenines_vitals || {};
  return {url: location.href, ttfb: n ? n.responseStart : null, fcp: v.fcp, lcp: v.lcp,
          cls: v.cls};
}"""
RESERVE = 2.0  # seconds kept from the steps for the screenshot and a clean close
MAX_LIST = 20  # console errors / failed requests kept per journey
MAX_SCREENSHOT = 256 * 1024
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

# Chromium's net errors -> our error codes (the rest: "navigation")
NET_ERRORS = {
    "ERR_CONNECTION_REFUSED": "refused",
    "ERR_NAME_NOT_RESOLVED": "dns",
    "ERR_CONNECTION_TIMED_OUT": "connect_timeout",
    "ERR_TIMED_OUT": "timeout",
    "ERR_ADDRESS_UNREACHABLE": "unreachable",
    "ERR_CERT_DATE_INVALID": "tls_expired",
    "ERR_CERT_COMMON_NAME_INVALID": "tls_hostname",
    "ERR_CERT_AUTHORITY_INVALID": "tls_untrusted",
    "ERR_SSL_PROTOCOL_ERROR": "tls_handshake",
}


class StepFailed(Exception):
    """(code, reason) for the step being run."""


def render(template: str, variables: dict[str, str]) -> str:
    return _VAR.sub(lambda m: variables.get(m.group(1), m.group(0)), template)


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
            _scrub(self.out, self.secrets)
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
                    self.out["failure"] = {"step": _current(self.out), "code": "browser_crash",
                                           "reason": reason}  # fmt: skip
                self.write()
                os._exit(0)


def _current(out: dict[str, Any]) -> str | None:
    return out.get("running")


def main() -> int:
    job = json.loads(sys.stdin.read())
    outcome = Outcome(job)
    try:
        run(job, outcome)
    except Exception as exc:  # a bug or an unusable browser: still one outcome on stdout
        out = outcome.out
        out.setdefault("failure", None)
        if out["failure"] is None:
            code = "browser_crash" if "closed" in str(exc) or "crash" in str(exc) else "internal"
            out["failure"] = {"step": _current(out), "code": code, "reason": _first_line(exc)}
    outcome.done.set()
    outcome.out.pop("running", None)
    outcome.write()
    return 0


def _browser_pid() -> int | None:
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


def run(job: dict[str, Any], outcome: Outcome) -> None:
    from playwright.sync_api import Error, sync_playwright

    out = outcome.out
    out["failure"] = None
    start = time.monotonic()
    deadline = start + float(job["timeout"]) - RESERVE
    with sync_playwright() as pw:
        args = ["--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        try:
            browser = pw.chromium.launch(
                executable_path=job["executable_path"], headless=True, args=args
            )
        except Error as exc:
            out["failure"] = {
                "step": None,
                "code": "browser_unavailable",
                "reason": _first_line(exc),
            }
            return
        out["launch"] = time.monotonic() - start
        pid = _browser_pid()
        if pid is not None:
            threading.Thread(target=outcome.watch, args=(pid,), daemon=True).start()
        try:
            _journey(browser, job, out, deadline)
        finally:
            outcome.done.set()
            try:
                browser.close()
            except Error:
                pass


def _journey(browser: Any, job: dict[str, Any], out: dict[str, Any], deadline: float) -> None:
    from playwright.sync_api import Error

    context = browser.new_context(
        ignore_https_errors=not job["verify"],
        viewport={"width": job["viewport"][0], "height": job["viewport"][1]},
    )
    context.add_init_script(VITALS_SCRIPT)
    page = context.new_page()
    crashed: list[bool] = []
    page.on("crash", lambda _p: crashed.append(True))
    page.on(
        "console", lambda m: _keep(out["console_errors"], m.text) if m.type == "error" else None
    )
    page.on("pageerror", lambda e: _keep(out["console_errors"], f"uncaught: {e}"))
    page.on("requestfailed", lambda r: _keep(out["failed_requests"], f"{r.url}: {r.failure}"))
    page.on(
        "response",
        lambda r: (
            _keep(out["failed_requests"], f"{r.url}: HTTP {r.status}") if r.status >= 400 else None
        ),
    )
    variables: dict[str, str] = job["variables"]
    for step in job["steps"]:
        left = deadline - time.monotonic()
        if left <= 0:
            out["failure"] = {"step": step["name"], "code": "timeout", "reason": "no time left"}
            break
        page.set_default_timeout(min(left, float(job["step_timeout"])) * 1000)
        out["running"] = step["name"]
        t = time.monotonic()
        try:
            _step(page, step, variables, job.get("base_url"))
        except StepFailed as exc:
            out["failure"] = {"step": step["name"], "code": exc.args[0], "reason": exc.args[1]}
        except Error as exc:
            code, reason = _classify(exc, step, crashed, browser)
            out["failure"] = {"step": step["name"], "code": code, "reason": reason}
        out["steps"].append(
            {"name": step["name"], "duration": time.monotonic() - t, "url": _bare(page.url)}
        )
        if out["failure"] is not None:
            break
        if step["kind"] in ("goto", "click"):
            _vitals(page, out)
    if crashed or not browser.is_connected():
        return  # nothing to read or close: the caller's Playwright exit ends the driver
    if out["failure"] is not None:
        _vitals(page, out)
        _screenshot(page, out)
    context.close()


def _step(page: Any, step: dict[str, Any], variables: dict[str, str], base: str | None) -> None:
    from playwright.sync_api import TimeoutError as PwTimeout

    kind, arg = step["kind"], step["arg"]
    try:
        if kind == "goto":
            url = render(arg, variables)
            response = page.goto(_join(base, url), wait_until="load")
            if response is not None and response.status >= 400:
                raise StepFailed("http_status", f"{_bare(response.url)} answered {response.status}")
        elif kind == "fill":
            page.fill(arg["selector"], render(arg["value"], variables))
        elif kind == "click":
            page.click(arg)
            page.wait_for_load_state("load")
        elif kind == "wait":  # in slices, so that a crash ends the wait
            until = time.monotonic() + float(arg)
            while (left := until - time.monotonic()) > 0:
                page.wait_for_timeout(min(left, 0.25) * 1000)
                if page.is_closed() or not page.context.browser.is_connected():
                    raise StepFailed("browser_crash", "the browser went away during a wait")
        elif kind == "expect_element":
            page.wait_for_selector(arg, state="visible")
        elif kind == "expect_text":
            page.get_by_text(arg["text"]).first.wait_for(state="visible")
        elif kind == "expect_url":
            page.wait_for_url(re.compile(arg))
    except PwTimeout:
        what = {
            "goto": ("timeout", f"{arg!r} did not load in time"),
            "fill": ("element_missing", f"no field {arg.get('selector')!r} to fill"),
            "click": ("element_missing", f"nothing to click at {arg!r}"),
            "expect_element": ("expect_mismatch", f"no visible element {arg!r}"),
            "expect_text": ("expect_mismatch", f"text {arg['text']!r} never appeared"),
            "expect_url": ("expect_mismatch", f"URL {_bare(page.url)!r} never matched /{arg}/"),
        }.get(kind, ("timeout", f"{kind} did not finish in time"))
        raise StepFailed(*what) from None


def _classify(
    exc: Exception, step: dict[str, Any], crashed: list[bool], browser: Any
) -> tuple[str, str]:
    text = _first_line(exc)
    if crashed or not browser.is_connected() or "crash" in text.lower() or "closed" in text:
        return "browser_crash", f"the browser crashed or was closed ({text[:120]})"
    for name, code in NET_ERRORS.items():
        if f"net::{name}" in text:
            return code, f"{step['kind']}: net::{name}"
    return "navigation", f"{step['kind']}: {text[:200]}"


def _vitals(page: Any, out: dict[str, Any]) -> None:
    from playwright.sync_api import Error

    try:
        got = page.evaluate(READ_VITALS)
    except Error:
        return
    got = {
        k: (v / 1000 if isinstance(v, int | float) and k != "cls" else v) for k, v in got.items()
    }
    got["url"] = _bare(got["url"])
    pages = out["pages"]
    if pages and pages[-1]["url"] == got["url"]:
        pages[-1] = got  # the same document, read later: LCP may have grown
    else:
        pages.append(got)


def _screenshot(page: Any, out: dict[str, Any]) -> None:
    from playwright.sync_api import Error

    try:
        shot = page.screenshot(type="jpeg", quality=50, timeout=3000)
    except Error:
        return
    if len(shot) <= MAX_SCREENSHOT:
        out["screenshot"] = base64.b64encode(shot).decode()


def _scrub(out: dict[str, Any], secrets: list[str]) -> None:
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


def _keep(items: list[str], text: str) -> None:
    if len(items) < MAX_LIST:
        items.append(text[:300])


def _join(base: str | None, url: str) -> str:
    if base is None or "://" in url:
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


def _bare(url: str) -> str:
    """No query or fragment: tokens travel there."""
    return url.split("?", 1)[0].split("#", 1)[0]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
