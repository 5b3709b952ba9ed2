"""Failover records never block on bad data: text cleaned, a refused row quarantined, the
other rows written. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from threenines.app.db import make_engine, migrate
from threenines.core.quarantine import quarantined
from threenines.core.tables import events
from threenines.failover.ledger import Ledger
from threenines.failover.runner import TaskEvent


@pytest.fixture
def ledger(db_url: str) -> Iterator[Ledger]:
    engine = make_engine(db_url)
    migrate(engine)
    yield Ledger(engine, "threenines@test")
    engine.dispose()


def _events(ledger: Ledger) -> list[tuple[str, str]]:
    with ledger.engine.connect() as conn:
        return [(r.kind, r.message) for r in conn.execute(sa.select(events).order_by(events.c.id))]


def test_stage_text_is_cleaned_and_a_refused_audit_row_is_quarantined(ledger: Ledger) -> None:
    ledger.stage(10, "web", "failed", "playbook said \x00\udc80", details={"out": "\x00"})
    assert _events(ledger) == [("failed", "playbook said \ufffd\ufffd")]
    (audit,) = ledger.audit_rows()
    assert audit.message == "playbook said \ufffd\ufffd" and audit.details["out"] == "\ufffd"
    ledger.stage(20, None, "decided", "switch to dr", details={"reason": "down"})  # type: ignore[arg-type]
    assert _events(ledger)[-1] == ("decided", "switch to dr")  # the alert still goes out
    assert len(ledger.audit_rows()) == 1
    (kept,) = quarantined(ledger.engine, "failover_audit")
    assert json.loads(kept["raw"])["action"] == "decided"


def test_a_refused_task_event_does_not_hold_up_the_others(ledger: Ledger) -> None:
    run_id = ledger.create_run(5, "web", "failover")
    batch = [TaskEvent(i, 5.0 + i, "runner_on_ok", "p", "t", "h", False, False, f"ok {i}\x00")
             for i in range(10)]  # fmt: skip
    batch[4] = TaskEvent(None, 9.0, "runner_on_ok", None, None, None, False, False, "")  # type: ignore[arg-type]
    ledger.add_events(run_id, batch)
    rows = ledger.events_after(run_id)
    assert [r.seq for r in rows] == [0, 1, 2, 3, 5, 6, 7, 8, 9]
    assert rows[0].stdout == "ok 0\ufffd"
    assert len(quarantined(ledger.engine, "failover_run_events")) == 1
    assert ledger.update_run(run_id, state="failed", error="rc 2: \x00")
    run = ledger.run(run_id)
    assert run is not None and run.error == "rc 2: \ufffd"
