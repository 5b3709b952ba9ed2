"""Long-running processes inside lab namespaces, tracked by pidfiles in the state directory.

A pidfile ``pids/<ns>.<name>.json`` records the pid and argv; a process counts as running only
when that pid is alive, not a zombie, and still has the recorded command line (so a recycled pid
is never mistaken for ours, nor killed). ``lab down`` does not rely on pidfiles: it kills
everything ``ip netns pids`` reports in ``tn-*`` namespaces.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from threenines.lab.netns import _running
from threenines.lab.state import LabError, State
from threenines.lab.topology import PREFIX


@dataclass(frozen=True)
class Proc:
    ns: str
    name: str
    pid: int
    argv: tuple[str, ...]
    started: float
    running: bool


def _pidfile(state: State, ns: str, name: str) -> Path:
    return state.pids / f"{ns}.{name}.json"


def _cmdline(pid: int) -> tuple[str, ...]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ()
    return tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)


def get(state: State, ns: str, name: str) -> Proc | None:
    data = state.read_json(_pidfile(state, ns, name), None)
    if data is None:
        return None
    pid, argv = int(data["pid"]), tuple(data["argv"])
    running = _running(pid) and _cmdline(pid) == argv
    return Proc(ns, name, pid, argv, float(data["started"]), running)


def all_procs(state: State) -> list[Proc]:
    out: list[Proc] = []
    for path in sorted(state.pids.glob("*.json")) if state.pids.exists() else []:
        ns, _, name = path.stem.partition(".")
        proc = get(state, ns, name)
        if proc is not None:
            out.append(proc)
    return out


def spawn(
    state: State,
    ns: str,
    name: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    user: str | None = None,
) -> Proc:
    """Start ``argv`` in namespace ``ns`` in the background (unless already running).

    The process outlives the caller (its own session, output to ``logs/<ns>.<name>.log``).
    With ``user`` it runs as that user (and the user's groups): ``setpriv`` execs ``argv``, so
    the recorded pid is still the service's own (PostgreSQL refuses to run as root).
    """
    ns = ns if ns.startswith(PREFIX) else PREFIX + ns
    current = get(state, ns, name)
    if current is not None and current.running:
        return current
    state.ensure()
    log = state.logs / f"{ns}.{name}.log"
    as_user = [] if user is None else [
        "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups", "--",
    ]  # fmt: skip
    with open(log, "ab") as out:
        child = subprocess.Popen(
            ["ip", "netns", "exec", ns, *as_user, *argv],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, **(env or {})},
            cwd=cwd,
        )
    # Popen would warn about an unreaped child at interpreter exit; the child is meant to live
    # on, and _running() reaps it if it dies while we are still around.
    child.returncode = 0
    # `ip netns exec` execs the command, so the pid becomes the service's own: wait for that
    # exec (fork -> ip -> argv), so the recorded command line can identify it later.
    deadline = time.monotonic() + 5.0
    while _cmdline(child.pid) != tuple(argv) and time.monotonic() < deadline:
        if not _running(child.pid):
            break
        time.sleep(0.005)
    started = time.time()
    state.write_json(
        _pidfile(state, ns, name), {"pid": child.pid, "argv": list(argv), "started": started}
    )
    proc = get(state, ns, name)
    if proc is None or not proc.running:
        tail = log.read_text(errors="replace")[-600:] if log.exists() else ""
        raise LabError(f"{name} in {ns} exited at once; last output:\n{tail}")
    return proc


def stop(
    state: State, ns: str, name: str, *, grace: float = 5.0, sig: int = signal.SIGTERM
) -> bool:
    """``sig`` (then SIGKILL after ``grace``) to a tracked process; True if one was running."""
    ns = ns if ns.startswith(PREFIX) else PREFIX + ns
    proc = get(state, ns, name)
    was_running = proc is not None and proc.running
    if proc is not None and proc.running:
        _kill(proc.pid, sig)
        deadline = time.monotonic() + grace
        while _running(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _running(proc.pid):
            _kill(proc.pid, signal.SIGKILL)
            while _running(proc.pid) and time.monotonic() < deadline + 2.0:
                time.sleep(0.05)
    with contextlib.suppress(FileNotFoundError):
        _pidfile(state, ns, name).unlink()
    return was_running


def _kill(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)
