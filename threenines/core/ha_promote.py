"""A standby node's promotion of its store replica (``server.ha.promote``, see ``core.ha``).

The node only decides *when* to ask: after ``after`` seconds without a writable store, at most
once per ``after``. Whether promoting is safe is the command's decision (in the lab,
playbooks/promote_store.yml: the replicated lease ran out, no WAL streams, witnesses agree).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Promotion:
    """What a node does when no writable store has answered it for ``after`` seconds: run
    ``command`` (which decides for itself whether promoting is safe, and may refuse)."""

    command: tuple[str, ...]
    after: float
    timeout: float


def run_command(command: tuple[str, ...], timeout: float) -> tuple[int | None, str]:
    """Exit code (None: timed out) and one line of what it said (an Ansible message, else
    on failure its last error line, else its last line); never raises."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL)  # fmt: skip
    except subprocess.TimeoutExpired:
        return None, f"no answer in {timeout:g}s"
    except OSError as exc:
        return 127, f"{type(exc).__name__}: {exc.strerror or exc}"
    lines = [ln.strip() for ln in (done.stdout + done.stderr).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "fatal" in ln.lower() or "error" in ln.lower()]
    said = [m for m in map(_ansible_msg, lines) if m]  # an Ansible message: its own words
    said = said or (errors if done.returncode else []) or lines
    return done.returncode, (said[-1] if said else "")[:300]


def _ansible_msg(line: str) -> str:
    """The ``msg`` of an Ansible result line (``"msg": "..."``, or a failed task's one-line
    ``fatal: [host]: FAILED! => {...}``), else ''."""
    if line.startswith('"msg":'):
        return line
    head, sep, body = line.partition("=> ")
    if not sep or not head.startswith("fatal:"):
        return ""
    try:
        msg = json.loads(body).get("msg")
    except (ValueError, AttributeError):
        return ""
    return f'"msg": {json.dumps(msg)}' if isinstance(msg, str) else ""
