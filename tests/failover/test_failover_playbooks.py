"""The real playbooks, run by ansible-runner against a real HAProxy on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import require
from failover_helpers import (
    PLAYBOOKS,
    FrontDoor,
    free_port,
    haproxy_vars,
    start_front_door,
    venv_bin,
)

from threenines.failover.config import PlaybookRun
from threenines.failover.runner import TaskEvent, run_playbook

SLOW = Path(__file__).parent / "playbooks"
SECONDS = f"60.{os.getpid()}"  # a unique sleep, so the test can tell its own process apart
FAILOVER = PlaybookRun(path="failover.yml", inventory="inventory/local.yml")
FAILBACK = PlaybookRun(path="failback.yml", inventory="inventory/local.yml")


def run(spec: PlaybookRun, tmp: Path, fd: FrontDoor, check: bool = False, **extra: object):
    events: list[TaskEvent] = []
    result = run_playbook(
        spec,
        project_dir=PLAYBOOKS,
        data_dir=tmp / "runs",
        ident=f"t{time.monotonic_ns()}",
        check=check,
        extravars={**haproxy_vars(fd), **extra},
        on_event=events.append,
    )
    return result, events


def env() -> dict[str, str]:
    return {**os.environ, "PATH": venv_bin() + os.pathsep + os.environ["PATH"]}


@pytest.mark.parametrize("playbook", ["failover.yml", "failback.yml"])
@pytest.mark.parametrize("inventory", ["inventory/local.yml", "inventory/example.yml"])
def test_syntax_check(playbook: str, inventory: str) -> None:
    out = subprocess.run(
        ["ansible-playbook", "--syntax-check", "-i", inventory, playbook],
        cwd=PLAYBOOKS,
        env=env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.slow
def test_ansible_lint_passes() -> None:
    exe = Path(venv_bin()) / "ansible-lint"
    require(exe.exists(), "needs ansible-lint (pip install -e '.[dev]')")
    out = subprocess.run(
        [
            str(exe),
            "failover.yml",
            "failback.yml",
            "promote_store.yml",
            "store_sync.yml",
            "roles",
            "inventory",
        ],
        cwd=PLAYBOOKS,
        env=env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_failover_check_mode_idempotence_and_failback(
    front_door: FrontDoor, tmp_path: Path
) -> None:
    fd = front_door
    assert fd.served_by() == "dc-main"

    dry, _ = run(FAILOVER, tmp_path, fd, check=True)
    assert dry.ok and dry.changed == 2  # would make the mirror ready and the primary maint
    assert fd.served_by() == "dc-main", "check mode changed HAProxy"

    first, events = run(FAILOVER, tmp_path, fd)
    assert first.ok, first.error
    assert first.changed == 2
    assert all(fd.served_by() == "dc-mirror" for _ in range(5))
    assert {e.play for e in events if e.event == "playbook_on_play_start"} >= {
        "Switch the front door to the mirror"
    }
    assert [e.task for e in events if e.changed] == [
        "Put the serving server in service",
        "Take the other server out of service",
    ]

    again, _ = run(FAILOVER, tmp_path, fd)
    assert again.ok and again.changed == 0, "failover.yml is not idempotent"

    back, _ = run(FAILBACK, tmp_path, fd)
    assert back.ok and back.changed == 2
    assert all(fd.served_by() == "dc-main" for _ in range(5))
    back_again, _ = run(FAILBACK, tmp_path, fd)
    assert back_again.ok and back_again.changed == 0


def test_unknown_server_fails_clearly(front_door: FrontDoor, tmp_path: Path) -> None:
    result, _ = run(FAILOVER, tmp_path, front_door, haproxy_switch_mirror="dc-nowhere")
    assert result.status == "failed"
    assert "HAProxy has no server main/dc-nowhere" in (result.error or "")
    assert front_door.served_by() == "dc-main"


def test_mirror_services_started_once_then_stopped(front_door: FrontDoor, tmp_path: Path) -> None:
    port = free_port()
    pidfile = tmp_path / "svc.pid"
    svc = {
        "name": "portal",
        "manager": "command",
        "start": f"{sys.executable} -c \"import os,http.server as h; open('{pidfile}','w')"
        f".write(str(os.getpid())); h.HTTPServer(('127.0.0.1',{port}),"
        f'h.SimpleHTTPRequestHandler).serve_forever()"',
        "check": f'{sys.executable} -c "import socket; '
        f"socket.create_connection(('127.0.0.1',{port}),1)\"",
        "stop": f"pkill -F {pidfile}",
        "wait": 20,
    }
    try:
        first, _ = run(FAILOVER, tmp_path, front_door, mirror_services_list=[svc])
        assert first.ok, first.error
        assert first.changed == 3  # started + the two HAProxy changes
        second, _ = run(FAILOVER, tmp_path, front_door, mirror_services_list=[svc])
        assert second.ok and second.changed == 0
        back, _ = run(
            FAILBACK, tmp_path, front_door, mirror_services_list=[svc], failback_stop_mirror=True
        )
        assert back.ok, back.error
        assert back.changed == 3
    finally:
        if pidfile.exists():
            subprocess.run(["pkill", "-F", str(pidfile)], check=False)


def test_missing_playbook_is_a_result(tmp_path: Path) -> None:
    r = run_playbook(
        PlaybookRun(path="nope.yml"), project_dir=PLAYBOOKS, data_dir=tmp_path, ident="x"
    )
    assert r.status == "error" and "no playbook" in (r.error or "")


def _slow(tmp_path: Path, timeout: float, cancel: threading.Event) -> tuple[float, object]:
    t = time.monotonic()
    r = run_playbook(
        PlaybookRun(path="slow.yml", timeout=timeout),
        project_dir=SLOW,
        data_dir=tmp_path / "runs",
        ident=f"slow{time.monotonic_ns()}",
        extravars={"marker": str(tmp_path / "started"), "seconds": SECONDS},
        should_cancel=cancel.is_set,
    )
    return time.monotonic() - t, r


def test_timeout_stops_a_long_run(tmp_path: Path) -> None:
    # 10 s: ansible-playbook alone can take several seconds to reach its first task on a busy
    # machine, and the point is to stop it in the middle of the long task
    took, r = _slow(tmp_path, 10, threading.Event())
    assert r.status == "timeout" and not r.ok  # type: ignore[attr-defined]
    assert took < 30
    assert (tmp_path / "started").exists()


def test_cancel_stops_a_long_run(tmp_path: Path) -> None:
    cancel = threading.Event()

    def cancel_once_started() -> None:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cancel.set()

    threading.Thread(target=cancel_once_started, daemon=True).start()
    took, r = _slow(tmp_path, 120, cancel)
    assert r.status == "canceled"  # type: ignore[attr-defined]
    assert took < 30
    time.sleep(0.5)
    left = subprocess.run(["pgrep", "-f", f"sleep {SECONDS}"], capture_output=True, text=True)
    assert not left.stdout.strip(), "the cancelled playbook left its sleep behind"


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)
