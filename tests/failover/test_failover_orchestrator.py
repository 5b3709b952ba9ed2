"""The orchestrator end to end on loopback: decision, approval, lease, playbook, verification,
events and audit, on SQLite and PostgreSQL, with the real playbooks and a real HAProxy."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from failover_helpers import (
    SLOW_PLAYBOOK,
    FrontDoor,
    config_yaml,
    primary_down,
    start_front_door,
)

from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.core.tables import events
from threenines.failover.decide import FailoverDecision
from threenines.failover.lease import Lease
from threenines.failover.orchestrator import Orchestrator, RunOutcome
from threenines.failover.store import failover_run_events, failover_runs


def setup(tmp: Path, fd: FrontDoor, db_url: str, **kw):
    cfg = parse_config(config_yaml(tmp, fd, db_url=db_url, **kw))
    engine = make_engine(db_url)
    migrate(engine)
    return cfg, engine, Orchestrator(cfg, engine)


def stages(engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(events).where(events.c.source == "failover").order_by(events.c.id)
        )
        return [(r.kind, r.severity) for r in rows]


def runs(engine) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(failover_runs).order_by(failover_runs.c.id)))


async def test_auto_failover_verified_then_waits(
    front_door: FrontDoor, tmp_path: Path, db_url: str
):
    _cfg, engine, orch = setup(tmp_path, front_door, db_url)
    primary_down(engine, time.time())
    out = await orch.tick("main-to-mirror")
    assert isinstance(out, RunOutcome), out
    assert out.state == "verified", out
    assert front_door.served_by() == "dc-mirror"
    assert out.verification and out.verification.all_green_at
    kinds = [k for k, _ in stages(engine)]
    assert kinds[0] == "decided" and kinds[1] == "started"
    assert kinds.count("play") == 3 and kinds[-2:] == ["finished", "verified"]
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(failover_run_events)).scalar()
    assert n and n > 10
    assert [k for k, *_ in orch.ledger.audit_rows("main-to-mirror")] and len(
        orch.ledger.audit_rows(run_id=out.run_id)
    ) == len(kinds) - 1
    again = await orch.tick("main-to-mirror")
    assert isinstance(again, FailoverDecision) and again.reason == "failed_over"
    assert len(runs(engine)) == 1

    back = await orch.failback("main-to-mirror", by="alice")
    assert back and back.state == "succeeded"
    assert front_door.served_by() == "dc-main"
    later = await orch.tick("main-to-mirror")
    assert isinstance(later, FailoverDecision) and later.reason == "cooldown"


async def test_approve_mode(front_door: FrontDoor, tmp_path: Path, db_url: str):
    _cfg, engine, orch = setup(tmp_path, front_door, db_url, mode="approve")
    primary_down(engine, time.time())
    d = await orch.tick("main-to-mirror")
    assert isinstance(d, FailoverDecision) and d.reason == "needs_approval"
    assert stages(engine) == [("decided", "critical")]
    assert front_door.served_by() == "dc-main"
    orch.approve("main-to-mirror", by="alice", note="bridge call 14:02")
    out = await orch.tick("main-to-mirror")
    assert isinstance(out, RunOutcome) and out.state == "verified"
    assert runs(engine)[0].trigger == "approved"
    assert orch.ledger.approvals("main-to-mirror", time.time())[0].used_by_run == out.run_id


async def test_refusals_page_and_run_nothing(front_door: FrontDoor, tmp_path: Path, db_url: str):
    _cfg, engine, orch = setup(tmp_path, front_door, db_url)
    primary_down(engine, time.time(), down_from=("lib-grays",))
    d = await orch.tick("main-to-mirror")
    assert isinstance(d, FailoverDecision) and d.reason == "quorum_not_met"
    primary_down(engine, time.time(), mirror="down")
    d = await orch.tick("main-to-mirror")
    assert isinstance(d, FailoverDecision) and d.reason == "mirror_unhealthy"
    assert stages(engine) == [("decided", "info"), ("decided", "critical")]
    assert runs(engine) == [] and front_door.served_by() == "dc-main"


async def test_not_verified_is_critical(front_door: FrontDoor, tmp_path: Path, db_url: str):
    _cfg, engine, orch = setup(tmp_path, front_door, db_url, expect="never-matches")
    primary_down(engine, time.time())
    out = await orch.tick("main-to-mirror")
    assert isinstance(out, RunOutcome) and out.state == "unverified"
    assert stages(engine)[-1] == ("failed", "critical")
    assert front_door.served_by() == "dc-mirror"  # failed over, but not verified


async def test_dry_run_changes_nothing(front_door: FrontDoor, tmp_path: Path, db_url: str):
    _cfg, engine, orch = setup(tmp_path, front_door, db_url)
    primary_down(engine, time.time())
    out = await orch.run_manual("main-to-mirror", by="alice", check=True)
    assert isinstance(out, RunOutcome) and out.state == "succeeded"
    assert out.playbook.changed == 2 and runs(engine)[0].check_mode
    assert front_door.served_by() == "dc-main"
    real = await orch.tick("main-to-mirror")  # a dry run is no run for the guards
    assert isinstance(real, RunOutcome) and real.state == "verified"


async def test_cancel_from_another_instance(front_door: FrontDoor, tmp_path: Path, db_url: str):
    cfg, engine, orch = setup(tmp_path, front_door, db_url, playbook=str(SLOW_PLAYBOOK))
    other = Orchestrator(cfg, engine, actor="operator-console")

    def cancel_when_started() -> None:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        other.cancel("main-to-mirror")

    threading.Thread(target=cancel_when_started, daemon=True).start()
    out = await orch.run_manual("main-to-mirror", by="alice", force=True)
    assert isinstance(out, RunOutcome) and out.state == "canceled"
    assert stages(engine)[-1] == ("failed", "critical")


def test_recover_marks_only_dead_runs(tmp_path: Path, db_url: str):
    engine = make_engine(db_url)
    migrate(engine)
    cfg = parse_config("organisation: x")
    orch = Orchestrator(cfg, engine, clock=lambda: 1000.0, actor="b")
    dead = orch.ledger.create_run(900.0, "p1", "failover")
    Lease(engine, "plan:p1", "a", 30).acquire(900.0, dead)  # expired at 930
    alive = orch.ledger.create_run(990.0, "p2", "failover")
    Lease(engine, "plan:p2", "a", 30).acquire(990.0, alive)  # valid until 1020
    orphan = orch.ledger.create_run(990.0, "p3", "failover")  # no lease at all
    assert sorted(orch.recover()) == [dead, orphan]
    assert orch.ledger.run(alive).state == "running"
    assert orch.ledger.run(dead).state == "interrupted"
    assert orch.recover() == []  # idempotent
    assert stages(engine) == [("failed", "critical"), ("failed", "critical")]


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)
