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

import json
import os
import re
import sys
import threading
import time
from typing import Any

from threenines.probes import _browser_outcome as facts
from threenines.probes._browser_outcome import Outcome

RESERVE = 2.0  # seconds kept from the steps for the screenshot and a clean close
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
            out["failure"] = {
                "step": facts.current(out),
                "code": code,
                "reason": facts.first_line(exc),
            }
    outcome.done.set()
    outcome.out.pop("running", None)
    outcome.write()
    return 0


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
                "reason": facts.first_line(exc),
            }
            return
        out["launch"] = time.monotonic() - start
        pid = facts.browser_pid()
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
    context.add_init_script(facts.VITALS_SCRIPT)
    page = context.new_page()
    crashed: list[bool] = []
    page.on("crash", lambda _p: crashed.append(True))
    page.on(
        "console",
        lambda m: facts.keep(out["console_errors"], m.text) if m.type == "error" else None,
    )
    page.on("pageerror", lambda e: facts.keep(out["console_errors"], f"uncaught: {e}"))
    page.on("requestfailed", lambda r: facts.keep(out["failed_requests"], f"{r.url}: {r.failure}"))
    page.on(
        "response",
        lambda r: (
            facts.keep(out["failed_requests"], f"{r.url}: HTTP {r.status}")
            if r.status >= 400
            else None
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
            {
                "name": step["name"],
                "duration": time.monotonic() - t,
                "url": facts.bare(page.url),
            }
        )
        if out["failure"] is not None:
            break
        if step["kind"] in ("goto", "click"):
            facts.vitals(page, out)
    if crashed or not browser.is_connected():
        return  # nothing to read or close: the caller's Playwright exit ends the driver
    if out["failure"] is not None:
        facts.vitals(page, out)
        facts.screenshot(page, out)
    context.close()


def _step(page: Any, step: dict[str, Any], variables: dict[str, str], base: str | None) -> None:
    from playwright.sync_api import TimeoutError as PwTimeout

    kind, arg = step["kind"], step["arg"]
    try:
        if kind == "goto":
            url = render(arg, variables)
            response = page.goto(_join(base, url), wait_until="load")
            if response is not None and response.status >= 400:
                raise StepFailed(
                    "http_status", f"{facts.bare(response.url)} answered {response.status}"
                )
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
            "expect_url": (
                "expect_mismatch",
                f"URL {facts.bare(page.url)!r} never matched /{arg}/",
            ),
        }.get(kind, ("timeout", f"{kind} did not finish in time"))
        raise StepFailed(*what) from None


def _classify(
    exc: Exception, step: dict[str, Any], crashed: list[bool], browser: Any
) -> tuple[str, str]:
    text = facts.first_line(exc)
    if crashed or not browser.is_connected() or "crash" in text.lower() or "closed" in text:
        return "browser_crash", f"the browser crashed or was closed ({text[:120]})"
    for name, code in NET_ERRORS.items():
        if f"net::{name}" in text:
            return code, f"{step['kind']}: net::{name}"
    return "navigation", f"{step['kind']}: {text[:200]}"


def _join(base: str | None, url: str) -> str:
    if base is None or "://" in url:
        return url
    return base.rstrip("/") + "/" + url.lstrip("/")


if __name__ == "__main__":
    sys.exit(main())
