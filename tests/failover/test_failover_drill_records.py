"""A drill's records stand up to audit: its SLA-exclusion period is append-only (the end is a
new record, with who, when and why, shown in the drill report's history), and the operators'
decisions (approve, run, cancel, the drill's start and end, each sign-off) are rows of the
hash-chained audit log, written in the same transaction as the decision. SQLite and
PostgreSQL; no playbook runs (fast)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from failover_helpers import config_yaml
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.config import parse_config
from threenines.app.db import make_engine, migrate
from threenines.availability.history import DRILLS, records, windows
from threenines.availability.store import drill_periods
from threenines.core import audit
from threenines.failover.drill import DrillRunner
from threenines.failover.orchestrator import Orchestrator

PLAN = "main-to-mirror"
NO_FRONT_DOOR = SimpleNamespace(socket="/nonexistent/haproxy.sock", port=9)


@pytest.fixture
def orch(db_url: str, tmp_path: Path):
    text = config_yaml(tmp_path, NO_FRONT_DOOR, db_url=db_url, mode="approve")  # type: ignore[arg-type]
    (tmp_path / "cfg.yaml").write_text(text)
    engine = make_engine(db_url)
    migrate(engine)
    o = Orchestrator(parse_config(text), engine)
    yield o
    engine.dispose()


def _open_and_close(orch: Orchestrator, at: float) -> int:
    """A real-fault drill's bookkeeping as the runner does it (no fault, no playbook)."""
    runner = DrillRunner(orch)
    plan = orch.plan(PLAN)
    orch.clock = lambda: at  # type: ignore[method-assign]
    drill_id = runner._open(plan, "dc-cut", "alice", at)
    assert orch.ledger.active_drill(PLAN, at + 1) == drill_id
    orch.clock = lambda: at + 95  # type: ignore[method-assign]
    runner._close(plan, drill_id, "dc-cut", [])
    return drill_id


def test_a_drill_period_is_ended_by_a_new_record_not_in_place(orch: Orchestrator) -> None:
    at = time.time() - 3600
    drill_id = _open_and_close(orch, at)
    with orch.engine.connect() as conn:
        rows = conn.execute(sa.select(drill_periods).order_by(drill_periods.c.id)).all()
    first, end = rows
    planned = first.end
    assert first.start == at and planned > at + 600  # the first record is as it was written
    assert (end.action, end.revision_of, end.start, end.end) == ("change", first.id, at, at + 95)
    assert end.created_by == "alice" and end.created_at == at + 95
    assert f"drill {drill_id} finished" in end.reason
    # what counts is the record in effect: the drill's 95 s, not the planned period
    (win,) = windows(orch.engine, drill_periods, DRILLS)
    assert (win.start, win.end, win.record) == (at, at + 95, end.id)
    assert [r.action for r in records(orch.engine, drill_periods)] == ["add", "change"]
    assert orch.ledger.active_drill(PLAN, at + 96) is None  # its period has ended
    actions = [r["action"] for r in reversed(audit.rows(orch.engine, "drill:"))]
    assert actions == ["drill_add", "drill_change"]
    assert audit.verify(orch.engine).ok


def test_the_drill_report_shows_the_period_s_history(orch: Orchestrator, tmp_path: Path) -> None:
    at = time.time() - 3600
    drill_id = _open_and_close(orch, at)
    res = CliRunner().invoke(app, ["drill", "report", str(drill_id), "-c",
                                   str(tmp_path / "cfg.yaml")])  # fmt: skip
    assert res.exit_code == 0, res.output
    html = res.stdout
    assert "Exclusion records" in html
    assert "added by alice" in html and "changed by alice" in html
    assert f"drill {drill_id} finished" in html
    assert html.count("<tr class='record'>") == 2


def test_operator_decisions_are_rows_of_the_audit_chain(orch: Orchestrator) -> None:
    approval = orch.approve(PLAN, "carol", "change ticket 42")
    assert orch.cancel(PLAN, by="dave") == []  # nothing runs: nothing to cancel, no row
    run = asyncio.run(orch.run_manual(PLAN, by="erin"))  # refused: no outage
    assert run.action == "refuse"  # type: ignore[union-attr]
    rows = list(reversed(audit.rows(orch.engine, "failover:")))
    got = [(r["actor"], r["action"], r["subject"]) for r in rows]
    assert ("carol", "failover_approved", f"failover:{PLAN}") in got
    approved = next(r for r in rows if r["action"] == "failover_approved")
    assert approved["detail"]["details"]["approval_id"] == approval
    assert approved["detail"]["details"]["note"] == "change ticket 42"
    assert any(a == "failover_decided" for _, a, _ in got)
    assert audit.verify(orch.engine).ok
    # one transaction: the failover audit row and its chain row are both there or neither
    from threenines.failover.store import failover_audit

    with orch.engine.connect() as conn:
        kept = conn.execute(sa.select(sa.func.count()).select_from(failover_audit)).scalar()
    assert kept == len(rows)


def test_a_drill_sign_off_is_recorded_audited_and_shown(orch: Orchestrator, tmp_path: Path) -> None:
    at = time.time() - 3600
    drill_id = _open_and_close(orch, at)
    cfg = str(tmp_path / "cfg.yaml")
    cli = CliRunner()

    def sign(*args: str):
        return cli.invoke(app, ["drill", "sign", *args, "-c", cfg])

    res = sign(str(drill_id), "--role", "DR lead", "--by", "Fiona Grant", "--note", "RTO ok")
    assert res.exit_code == 0 and f"drill {drill_id} signed off as DR lead by Fiona Grant" in (
        res.output), res.output  # fmt: skip
    again = sign(str(drill_id), "--role", "DR lead", "--by", "someone else")
    assert again.exit_code == 1
    assert f"drill {drill_id} was signed off as DR lead by Fiona Grant" in again.output
    assert "Traceback" not in again.output
    bad = sign(str(drill_id), "--role", "Janitor", "--by", "x")
    assert bad.exit_code == 2 and "unknown role 'Janitor' (one of: DR lead, Service owner, " \
        "Witness)" in bad.output  # fmt: skip
    assert sign("999", "--role", "Witness", "--by", "x").exit_code == 2
    assert "no drill 999" in sign("999", "--role", "Witness", "--by", "x").output

    (row,) = audit.rows(orch.engine, f"drill-signoff:{drill_id}")
    assert (row["actor"], row["action"]) == ("Fiona Grant", "drill_signed")
    assert row["detail"] == {"drill": drill_id, "role": "DR lead", "note": "RTO ok"}
    html = cli.invoke(app, ["drill", "report", str(drill_id), "-c", cfg]).stdout
    assert "<tr><th>DR lead</th><td>Fiona Grant</td>" in html and "RTO ok" in html
    assert "<tr><th>Witness</th><td></td>" in html  # not signed yet: an empty line to sign
    listed = cli.invoke(app, ["drill", "list", "-c", cfg], env={"COLUMNS": "200"}).stdout
    assert f"{drill_id}  {PLAN}  dc-cut  " in listed and listed.rstrip().endswith("DR lead")


def test_a_running_drill_cannot_be_signed_off(orch: Orchestrator, tmp_path: Path) -> None:
    runner = DrillRunner(orch)
    drill_id = runner._open(orch.plan(PLAN), "dc-cut", "alice", time.time())
    res = CliRunner().invoke(app, ["drill", "sign", str(drill_id), "--role", "Witness",
                                   "--by", "x", "-c", str(tmp_path / "cfg.yaml")])  # fmt: skip
    assert res.exit_code == 1 and f"drill {drill_id} is still running" in res.output
