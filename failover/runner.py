"""ansible-runner adapter: run a playbook off the event loop, stream every task event.

Contract: ``run_playbook`` blocks (call it through ``asyncio.to_thread``; ``run_playbook_async``
does) and returns a ``PlaybookResult`` for every outcome, including a missing playbook, a
timeout and a cancellation; it never raises for a failing playbook. ``on_event`` receives each
ansible-runner event as a ``TaskEvent``, in order, from the runner's thread. ``should_cancel``
is polled about twice a second; when it returns True, or the spec's timeout passes, the
playbook and every process under it are killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import psutil

from threenines.failover.config import PlaybookRun

# Events worth storing: the rest (verbose, debug, deprecated warnings) only add noise.
_SKIP = frozenset({"verbose", "debug", "deprecated", "warning", "runner_on_start"})
_LOCAL_INVENTORY = {
    "all": {
        "vars": {"ansible_connection": "local", "ansible_python_interpreter": sys.executable},
        "children": {
            "front_door": {"hosts": {"localhost": {}}},
            "mirror": {"hosts": {"localhost": {}}},
        },
    }
}


@dataclass(frozen=True, slots=True)
class TaskEvent:
    seq: int
    ts: float
    event: str
    play: str | None
    task: str | None
    host: str | None
    changed: bool
    failed: bool
    stdout: str


@dataclass(frozen=True, slots=True)
class PlaybookResult:
    status: str  # successful | failed | timeout | canceled | error
    rc: int | None
    started: float
    finished: float
    changed: int = 0  # tasks that reported a change, over all hosts
    failures: tuple[str, ...] = ()  # "host: task: message"
    error: str | None = None
    events: int = 0
    stats: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == "successful"


def to_task_event(raw: Mapping[str, Any]) -> TaskEvent | None:
    name = str(raw.get("event", ""))
    if name in _SKIP:
        return None
    data = raw.get("event_data") or {}
    res: dict[str, Any] = data["res"] if isinstance(data.get("res"), dict) else {}
    failed = name in ("runner_on_failed", "runner_on_unreachable") and not data.get("ignore_errors")
    return TaskEvent(
        seq=int(raw.get("counter", 0)),
        ts=time.time(),
        event=name,
        play=data.get("play"),
        task=data.get("task"),
        host=data.get("host"),
        changed=bool(res.get("changed")) if name == "runner_on_ok" else False,
        failed=failed,
        stdout=str(raw.get("stdout", ""))[:4000],
    )


def _failure(ev: TaskEvent, raw: Mapping[str, Any]) -> str:
    res = (raw.get("event_data") or {}).get("res") or {}
    msg = res.get("msg") if isinstance(res, dict) else None
    items = res.get("results") if isinstance(res, dict) else None
    if isinstance(items, list):  # a loop: the useful messages are the failed items'
        msgs = [str(i.get("msg")) for i in items if isinstance(i, dict) and i.get("failed")]
        msg = "; ".join(msgs) or msg
    return f"{ev.host}: {ev.task}: {msg or ev.stdout.strip()[:200]}"


def run_playbook(
    spec: PlaybookRun,
    *,
    project_dir: str | Path,
    data_dir: str | Path,
    ident: str,
    check: bool = False,
    extravars: Mapping[str, Any] | None = None,
    on_event: Callable[[TaskEvent], None] | None = None,
    should_cancel: Callable[[], bool] | None = None,
) -> PlaybookResult:
    """Run ``spec`` with ansible-runner; see the module docstring for the contract."""
    started = time.time()
    project = Path(project_dir).resolve()
    playbook = project / spec.path
    if not playbook.is_file():
        return PlaybookResult("error", None, started, time.time(), error=f"no playbook {playbook}")
    inventory: Any = _LOCAL_INVENTORY
    if spec.inventory is not None:
        inventory = str((project / spec.inventory).resolve())
        if not Path(inventory).is_file():
            return PlaybookResult(
                "error", None, started, time.time(), error=f"no inventory {inventory}"
            )
    private = Path(data_dir).resolve() / ident
    private.mkdir(parents=True, exist_ok=True)
    counts = {"changed": 0, "events": 0}
    failures: list[str] = []
    deadline = time.monotonic() + spec.timeout
    stopped: list[str] = []

    def cancel() -> bool:
        # We enforce the timeout ourselves too: ansible-runner's own kill misses Ansible's
        # workers, which run in their own sessions (see _kill_playbook).
        if not stopped and should_cancel is not None and should_cancel():
            stopped.append("canceled")
        elif not stopped and time.monotonic() > deadline:
            stopped.append("timeout")
        if stopped:
            _kill_playbook(private)
        return bool(stopped)

    def handle(raw: dict[str, Any]) -> bool:
        ev = to_task_event(raw)
        if ev is None:
            return False
        counts["events"] += 1
        counts["changed"] += ev.changed
        if ev.failed:
            failures.append(_failure(ev, raw))
        if on_event is not None:
            on_event(ev)
        return False  # we store events ourselves: no need for runner's job_events files

    try:
        r = ansible_runner.run(
            private_data_dir=str(private),
            project_dir=str(project),
            playbook=str(playbook),
            inventory=inventory,
            extravars={**spec.extravars, **(extravars or {})},
            envvars=_envvars(private),
            cmdline="--check --diff" if check else None,
            timeout=int(spec.timeout) + 60,  # a backstop only: ``cancel`` stops it first
            settings={"pexpect_timeout": 0.5, "suppress_ansible_output": True},
            quiet=True,
            event_handler=handle,
            cancel_callback=cancel,
            ident=ident,
        )
    except Exception as exc:  # a broken runner set-up is reported as the run's outcome
        return PlaybookResult("error", None, started, time.time(), error=f"ansible-runner: {exc}")
    status = stopped[0] if stopped else str(r.status)
    return PlaybookResult(
        status=status,
        rc=r.rc,
        started=started,
        finished=time.time(),
        changed=counts["changed"],
        failures=tuple(failures),
        error=None if status == "successful" else _error_text(status, failures),
        events=counts["events"],
        stats=r.stats or {},
    )


def _kill_playbook(private: Path) -> None:
    """Kill ansible-playbook and every process under it.

    Ansible's workers call setsid(), so killing the playbook's process group (what
    ansible-runner does) would leave them, and the task they run, behind. They are still its
    descendants, so walk the tree from the ansible-playbook process this run started. The tree
    is frozen (SIGSTOP) until a walk finds nothing new: a process forked between the walk and
    the kill would otherwise be orphaned and survive.
    """
    marker = str(private)
    roots: list[psutil.Process] = []
    for child in psutil.Process().children():
        with contextlib.suppress(psutil.Error):
            if marker in " ".join(child.cmdline()):
                roots.append(child)
    frozen: dict[int, psutil.Process] = {}
    for _ in range(20):
        found = {p.pid: p for r in roots for p in _tree(r)}
        new = [p for pid, p in found.items() if pid not in frozen]
        if not new:
            break
        for proc in new:
            with contextlib.suppress(psutil.Error):
                proc.suspend()
        frozen.update(found)
    for proc in frozen.values():
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _tree(root: psutil.Process) -> list[psutil.Process]:
    try:
        return [root, *root.children(recursive=True)]
    except psutil.Error:
        return []


def _error_text(status: str, failures: list[str]) -> str:
    if status == "timeout":
        return "the playbook ran past its timeout and was stopped"
    if status == "canceled":
        return "the run was cancelled"
    return "; ".join(failures[:3]) or f"ansible-playbook ended with status {status}"


def _envvars(private: Path) -> dict[str, str]:
    # ansible-playbook lives next to this interpreter (the venv), which may not be on PATH.
    bin_dir = str(Path(sys.executable).parent)
    return {
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_LOCAL_TEMP": str(private / "tmp"),
        "ANSIBLE_HOST_KEY_CHECKING": "1",
    }


async def run_playbook_async(spec: PlaybookRun, **kwargs: Any) -> PlaybookResult:
    """``run_playbook`` in a worker thread, so the event loop (and probes) never stall."""
    return await asyncio.to_thread(run_playbook, spec, **kwargs)
