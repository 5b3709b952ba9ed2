"""`threenines failover ...` and `threenines drill ...` against a real HAProxy on loopback, and
the drill timeline figures (pure)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from failover_helpers import FrontDoor, config_yaml, primary_down, start_front_door
from typer.testing import CliRunner

from threenines.app.cli import app
from threenines.app.db import make_engine, migrate
from threenines.availability.store import drill_periods
from threenines.core.tables import events
from threenines.failover.config import Plan
from threenines.failover.drill_report import render_html, timeline_svg
from threenines.failover.store import failover_runs
from threenines.failover.timeline import Mark, summarise

cli = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    res = cli.invoke(app, list(args), env={"COLUMNS": "200"})
    return res.exit_code, res.output


@pytest.fixture
def setup(front_door: FrontDoor, tmp_path: Path):
    url = f"sqlite:///{tmp_path}/t.db"
    path = tmp_path / "cfg.yaml"
    path.write_text(config_yaml(tmp_path, front_door, db_url=url, mode="approve"))
    engine = make_engine(url)
    migrate(engine)
    return str(path), engine, front_door


@pytest.mark.parametrize(
    "cmd", ["status", "plan", "run", "approve", "cancel", "failback", "history", "watch", "auto"]
)
def test_failover_help(cmd: str):
    code, text = invoke("failover", cmd, "--help")
    assert code == 0 and "Usage" in text


@pytest.mark.parametrize("cmd", ["run", "report", "list", "sign"])
def test_drill_help(cmd: str):
    code, text = invoke("drill", cmd, "--help")
    assert code == 0 and "Usage" in text


def test_operator_commands(setup):
    cfg, engine, fd = setup
    code, text = invoke("failover", "plan", "main-to-mirror", "-c", cfg)
    assert code == 0 and "dc-main -> dc-mirror" in text and "wait: no_data" in text
    code, text = invoke("failover", "run", "nope", "-c", cfg)
    assert code == 2 and "no failover plan 'nope'" in text

    code, text = invoke("failover", "run", "main-to-mirror", "--dry-run", "-c", cfg)
    assert code == 0 and "succeeded (2 change(s)" in text
    assert fd.served_by() == "dc-main"

    primary_down(engine, time.time())
    code, text = invoke("failover", "auto", "--once", "-c", cfg)
    assert "refuse: needs_approval" in text and fd.served_by() == "dc-main"
    code, text = invoke("failover", "approve", "main-to-mirror", "--by", "alice", "-c", cfg)
    assert code == 0 and "valid for 300s" in text
    code, text = invoke("failover", "auto", "--once", "-c", cfg)
    assert "verified" in text and fd.served_by() == "dc-mirror"

    code, text = invoke("failover", "watch", "-c", cfg)
    assert code == 0 and "PLAY Switch the front door to the mirror" in text
    assert "changed" in text and "verified" in text
    code, text = invoke("failover", "status", "-c", cfg)
    assert code == 0 and "failed_over" in text
    code, text = invoke("failover", "failback", "main-to-mirror", "--by", "alice", "-c", cfg)
    assert code == 0 and fd.served_by() == "dc-main"
    code, text = invoke("failover", "history", "-c", cfg)
    assert code == 0 and "failback" in text and "failover (check)" in text
    code, text = invoke("failover", "cancel", "-c", cfg)
    assert code == 0 and "nothing runs" in text


def test_tabletop_drill_and_report(setup, tmp_path: Path):
    cfg, engine, fd = setup
    code, text = invoke("drill", "run", "main-to-mirror", "--scenario", "tabletop", "-c", cfg)
    assert code == 0, text
    assert "drill 1: done" in text and fd.served_by() == "dc-main"
    with engine.connect() as conn:
        tags = [r.details["tags"] for r in conn.execute(sa.select(events))]
        periods = conn.execute(sa.select(drill_periods)).all()
        runs = conn.execute(sa.select(failover_runs).order_by(failover_runs.c.id)).all()
    assert tags and all("drill" in t for t in tags)  # every event of the drill is tagged
    assert periods == []  # a tabletop injects no fault: none of its time is excluded
    assert [(r.kind, r.trigger, r.check_mode) for r in runs] == [
        ("failover", "drill", True), ("failback", "drill", True)]  # fmt: skip

    html_file, pdf_file = tmp_path / "d.html", tmp_path / "d.pdf"
    assert invoke("drill", "report", "1", "-o", str(html_file), "-c", cfg)[0] == 0
    html = html_file.read_text()
    assert "<svg" in html and "Playbook started" in html and "Failback done" in html
    assert "no time is excluded from the SLA figures" in html and "tagged as a drill" not in html
    assert "not applicable: no fault was injected" in html and "not reached" not in html
    assert html.count("<td>Failover decided</td>") == 1  # every stage once
    assert " GMT</td>" in html and " UTC</td>" not in html  # the configured zone
    assert "check mode (nothing changed)" in html and "tasks that would change:<ul><li>" in html
    assert "Sign-off" in html and "Participants:" in html and "first recorded drill" in html
    code, _ = invoke("drill", "report", "1", "-o", str(pdf_file), "-c", cfg)
    assert code == 0 and pdf_file.read_bytes().startswith(b"%PDF")
    text = subprocess.run(["pdftotext", str(pdf_file), "-"], capture_output=True, text=True)
    if text.returncode == 0:
        assert "DR drill 1" in text.stdout
    assert "tabletop" in invoke("drill", "list", "-c", cfg)[1]


PLAN = Plan.model_validate(
    {
        "name": "p",
        "primary": "a",
        "mirror": "b",
        "trigger": {"services": ["x"]},
        "playbook": {"path": "f.yml"},
        "failback": {"path": "b.yml"},
        "preflight": {"rpo": "5m", "replication_lag": {"command": ["lag"]}},
        "objectives": {"rto": "30s"},
    }
)


def test_summary_figures_and_objectives():
    marks = [
        Mark(100, "fault_injected"),
        Mark(103, "first_failed_probe"),
        Mark(112, "confirmed_down"),
        Mark(112.5, "preflight", details={"replication_lag": 4.0, "capacity": 0.6}),
        Mark(113, "decision"),
        Mark(113.1, "playbook_start"),
        Mark(118, "playbook_end"),
        Mark(119, "first_user_probe_ok"),
        Mark(121.5, "all_journeys_green"),
    ]
    s = summarise(PLAN, marks)
    assert (s.rto, s.detection, s.rpo, s.capacity) == (21.5, 12, 4.0, 0.6)
    assert [o.met for o in s.objectives] == [True, True, True]
    assert s.problems == ()
    slow = summarise(PLAN, [*marks[:-1], Mark(140, "all_journeys_green")])
    assert slow.objectives[0].met is False and slow.rto == 40
    missing = summarise(PLAN, marks[:3])
    assert missing.rto is None and missing.objectives[0].met is None
    assert "never reached: All user journeys green (RTO)" in missing.problems


def test_timeline_chart_has_one_point_per_mark():
    marks = [Mark(0, "fault_injected"), Mark(5, "confirmed_down"), Mark(20, "all_journeys_green")]
    svg = timeline_svg(marks)
    assert svg.count("<circle") == 3 and "+20.0s" in svg
    html = render_html(
        {
            "id": 3,
            "plan": "p",
            "scenario": "dc-cut",
            "state": "done",
            "started": 0,
            "finished": 30,
            "actor": "me",
            "summary": {"problems": ["x<y"]},
        },
        marks,
    )
    assert "x&lt;y" in html  # escaped


@pytest.fixture
def front_door(tmp_path: Path) -> Iterator[FrontDoor]:
    yield from start_front_door(tmp_path)


def test_real_drill_report_states_exclusion_rpo_and_the_previous_drill():
    from zoneinfo import ZoneInfo

    from threenines.failover.drill_facts import DrillFacts, RunFacts

    marks = [Mark(1_790_000_000, "fault_injected", "dc-cut"),
             Mark(1_790_000_012, "confirmed_down"),
             Mark(1_790_000_013, "decision", "run 7 (approved) by n1"),
             Mark(1_790_000_013.5, "decision", "run 7 (approved) by n1"),
             Mark(1_790_000_040, "all_journeys_green")]  # fmt: skip
    summary = summarise(PLAN, [*marks, Mark(1_790_000_012.5, "preflight",
                                            details={"replication_lag": 6.7})])  # fmt: skip
    drill = {"id": 9, "plan": "p", "scenario": "dc-cut", "state": "done",
             "started": 1_790_000_000, "finished": 1_790_000_090, "actor": "alice",
             "summary": summary.as_dict()}  # fmt: skip
    prev = {**drill, "id": 4, "summary": {"rto": 55.0, "detection": 20.0, "rpo": 9.1}}
    runs = (RunFacts(7, "failover", "approved", False, "verified", 1_790_000_013,
                     1_790_000_040, ("Switch the front door (lb)",)),
            RunFacts(8, "failback", "drill", False, "succeeded", 1_790_000_060,
                     1_790_000_080, ()))  # fmt: skip
    facts = DrillFacts(plan=PLAN, runs=runs, participants=("alice", "bob"),
                       excluded=(1_790_000_000, 1_790_000_090), previous=prev)  # fmt: skip
    html = render_html(drill, marks, "Council", facts, ZoneInfo("Europe/London"))
    assert "is tagged as a drill and excluded from the SLA figures" in html
    assert "2026-09-21 15:13:20 BST" in html  # local, as the board report
    assert "<td>6.7s</td><td class='met'>met</td>" in html  # measured RPO against 5m
    assert "<td>40.0s</td>" in html and "missed" in html  # RTO 40 s against 30 s
    assert "Previous drill of this plan: 4" in html and "<td>55.0s</td><td>40.0s</td>" in html
    assert "Participants: alice, bob." in html and "tasks that changed:" in html
    assert html.count("<td>Failover decided</td>") == 1
    assert "<td>failback</td><td>drill</td>" in html
