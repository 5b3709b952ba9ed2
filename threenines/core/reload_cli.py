"""``threenines reload``: make a running ``threenines run`` read its config file again.

Either by signal (``--pid-file F`` as written by ``run --pid-file``, or ``--pid N``: SIGHUP,
as ``systemctl reload`` sends), then the outcome read back from the server's open
``/healthz``; or through the API (``POST /api/v1/config/reload``, an admin token from
``--token-file`` or ``THREENINES_TOKEN``). The server is ``--server URL``, else the config's
``server.listen``. What the server did is printed (``--json``: its answer as is); the exit status is
0 applied or unchanged, 1 partially applied (some parts need a restart) or the server could not
be asked, 2 refused (the running config is kept).
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import typer

from threenines.core.cli import ConfigOption, err, load_or_exit, out
from threenines.core.client import SERVER_ENV, TOKEN_FILE_ENV

SIGNAL_WAIT = 30.0  # seconds to wait for the outcome of a SIGHUP on /healthz
EXIT = {"applied": 0, "unchanged": 0, "partial": 1, "refused": 2}


def _base(server: str | None, config: Path) -> str:
    if server:
        return server.rstrip("/")
    cfg = load_or_exit(config, warnings=[])  # the secrets are the server's, not needed here
    host, _, port = cfg.server.listen.rpartition(":")
    host = host.strip("[]")
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _fail(line: str, code: int = 1) -> typer.Exit:
    err.print(line, markup=False, highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _reloads(client: Any, base: str) -> dict[str, Any] | None:
    import httpx

    try:
        state: dict[str, Any] = client.get(f"{base}/healthz", timeout=5).json()["config"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    return state


def _pid(pid: int | None, pid_file: Path | None) -> int:
    if pid is not None:
        return pid
    assert pid_file is not None
    try:
        text = pid_file.read_text().strip()
    except OSError as exc:
        raise _fail(f"--pid-file: cannot read {pid_file}: {exc.strerror}") from None
    if not text.isdigit() or int(text) <= 1:
        raise _fail(f"--pid-file: {pid_file} does not hold a process id")
    return int(text)


def _by_signal(base: str, pid: int) -> dict[str, Any] | None:
    """SIGHUP to ``pid``; the outcome from ``/healthz`` (None if it cannot be read)."""
    import httpx

    with httpx.Client() as client:
        before = _reloads(client, base)
        try:
            os.kill(pid, signal.SIGHUP)
        except ProcessLookupError:
            raise _fail(f"no process {pid}: is the service running?") from None
        except PermissionError:
            raise _fail(f"not allowed to signal process {pid} (run as its user or root)") from None
        if before is None:
            return None
        deadline = time.monotonic() + SIGNAL_WAIT
        while time.monotonic() < deadline:
            now = _reloads(client, base)
            if now is not None and now.get("reloads", 0) > before.get("reloads", 0):
                last: dict[str, Any] | None = now.get("last_reload")
                return last
            time.sleep(0.1)
    return None


def _by_api(base: str, token_file: Path | None) -> dict[str, Any]:
    from threenines.core.client import ApiError, Client, read_token

    token = read_token(token_file)
    if not token:
        raise _fail(
            "reloading through the API needs an admin token (--token-file or THREENINES_TOKEN); "
            "or signal the service: --pid-file F (run --pid-file) or `systemctl reload threenines`",
            2,
        )
    try:
        body = Client(base, token).call("POST", "/api/v1/config/reload", accept=(422,))
    except ApiError as exc:
        if exc.status == 0:
            raise _fail(exc.detail) from None
        raise _fail(f"the server refused the request: {exc.status} {exc.detail}") from None
    if isinstance(body, dict) and "result" in body:
        return body
    raise _fail("the server's answer is not a reload's outcome")


def reload(
    config: Path = ConfigOption,
    server: str | None = typer.Option(
        None,
        "--server",
        envvar=SERVER_ENV,
        help="The running server's URL (default: from the config's listen)",
    ),
    token_file: Path | None = typer.Option(
        None,
        "--token-file",
        envvar=TOKEN_FILE_ENV,
        help="File holding an admin API token (or THREENINES_TOKEN)",
    ),
    pid_file: Path | None = typer.Option(
        None, "--pid-file", help="Signal the process in this file (run --pid-file) instead"
    ),
    pid: int | None = typer.Option(None, "--pid", min=2, help="Signal this process instead"),
    as_json: bool = typer.Option(False, "--json", help="The server's answer as JSON"),
) -> None:
    """Make the running service read its config file again and apply it in place.

    Unchanged checks keep their schedule. A part of the config taken at
    start-up (storage, server, the alert receivers, ...) is not applied, and
    the answer says so. An invalid file is refused, the running config kept.

    Exit 0 applied, 1 partly applied, 2 refused.
    """
    base = _base(server, config)
    if pid is not None or pid_file is not None:
        target = _pid(pid, pid_file)
        answer = _by_signal(base, target)
        if answer is None:
            out.print(f"sent SIGHUP to {target}; the outcome is in the service's log "
                      f"(its /healthz at {base} did not say)", markup=False)  # fmt: skip
            return
    else:
        answer = _by_api(base, token_file)
    if as_json:
        print(json.dumps(answer, indent=2))
    else:
        for line in _lines(answer):
            (out if answer["result"] in ("applied", "unchanged") else err).print(
                line, markup=False, highlight=False, soft_wrap=True
            )
    raise typer.Exit(EXIT.get(answer["result"], 1))


def _lines(answer: dict[str, Any]) -> list[str]:
    lines = [str(answer.get("summary", answer["result"]))]
    lines += [f"  {p}" for p in answer.get("problems", [])]
    lines += [f"  {k}: not applied: {v}" for k, v in answer.get("not_applied", {}).items()]
    c = answer.get("checks", {})
    for what in ("added", "removed", "changed"):
        if c.get(what):
            lines.append(f"  checks {what}: {', '.join(c[what])}")
    lines += [f"  error: {e}" for e in answer.get("errors", [])]
    return lines


def register(app: typer.Typer) -> None:
    app.command()(reload)
