"""Single flight across processes: the lease, two instances on one database, a crash mid-run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
import sqlalchemy as sa
from failover_helpers import (
    SLOW_PLAYBOOK,
    FrontDoor,
    config_yaml,
    primary_down,
    start_front_door,
)

from threenines.app.config import load_config
from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.failover.decide import FailoverDecision
from threenines.failover.lease import Lease
from threenines.failover.orchestrator import Orchestrator
from threenines.failover.store import failover_runs

PROC = Path(__file__).parent / "failover_proc.py"


def test_lease_contention_expiry_and_renewal(db_url: str):
    engine = make_engine(db_url)
    migrate(engine)
    a, b = Lease(engine, "plan:x", "a", 10), Lease(engine, "plan:x", "b", 10)
    assert a.acquire(100.0)
    assert not b.acquire(105.0)
    assert a.acquire(106.0)  # re-entrant for its holder
    assert a.renew(109.0)  # now valid until 119
    assert not b.acquire(118.0)
    assert b.acquire(119.5)  # expired: taken over
    assert not a.renew(120.0)  # and the old holder knows it lost it
    b.release()
    assert a.acquire(121.0)


def write_config(tmp: Path, fd: FrontDoor, db_url: str, **kw) -> Path:
    path = tmp / "threenines.yaml"
    path.write_text(config_yaml(tmp, fd, db_url=db_url, **kw))
    return path


def spawn(cfg: Path, action: str, start_at: float) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PROC), str(cfg), action, str(start_at)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
        start_new_session=True,
    )


def all_runs(engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(failover_runs)))


@pytest.mark.slow
@pytest.mark.parametrize("action", ["tick", "manual"])
def test_two_instances_one_run(front_door: FrontDoor, tmp_path: Path, db_url: str, action: str):
    cfg = write_config(tmp_path, front_door, db_url)
    engine = make_engine(db_url)
    migrate(engine)
    primary_down(engine, time.time() + 15)  # fresh for the whole test
    start_at = time.time() + 4  # both processes are up and importing by then
    procs = [spawn(cfg, action, start_at) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    lines = sorted(o.strip() for o, _ in outs)
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    assert sum(line.startswith("RUN") for line in lines) == 1, lines
    assert len(all_runs(engine)) == 1
    assert front_door.served_by() == "dc-mirror"


def _kill_tree(pid: int) -> None:
    try:
        parent = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    for proc in [*parent.children(recursive=True), parent]:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


@pytest.mark.slow
def test_crash_mid_run_is_interrupted_not_rerun(front_door: FrontDoor, tmp_path: Path, db_url: str):
    cfg_path = write_config(tmp_path, front_door, db_url, playbook=str(SLOW_PLAYBOOK))
    engine = make_engine(db_url)
    migrate(engine)
    proc = spawn(cfg_path, "manual", time.time())
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.1)
    _kill_tree(proc.pid)  # kill -9 the instance (and its ansible-playbook) mid-run
    proc.wait(10)
    [run] = all_runs(engine)
    assert run.state == "running"

    cfg = load_config(cfg_path)
    orch = Orchestrator(cfg, engine, actor="restarted")
    assert orch.recover() == []  # the lease (2 s) has not expired yet: maybe still alive
    time.sleep(2.5)
    assert orch.recover() == [run.id]
    assert orch.ledger.run(run.id).state == "interrupted"
    with engine.connect() as conn:
        ev = conn.execute(sa.select(events).where(events.c.kind == "failed")).one()
    assert ev.severity == "critical" and ev.details["state"] == "interrupted"

    primary_down(engine, time.time())
    import asyncio

    d = asyncio.run(orch.tick("main-to-mirror"))
    assert isinstance(d, FailoverDecision) and d.reason == "interrupted"
    assert len(all_runs(engine)) == 1  # never re-run


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)
